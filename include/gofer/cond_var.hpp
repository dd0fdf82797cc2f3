// cond_var.hpp: a condition variable for gofer::Mutex that parks tasks, not threads.
//
//   std::unique_lock lock(m);
//   cv.wait(lock, [&] { return !queue.empty(); });   // parks; m is released meanwhile
//
// wait() releases the mutex and parks in one step (no lost notification), and holds the mutex
// again whenever it returns or throws. It wakes only on notify_one/notify_all, the deadline or
// request_stop (no spurious wake-ups, though the predicate overloads are still the safe way).
// notify_one wakes the longest waiter (FIFO). Thread-safety: any task or thread may wait or
// notify; notifying without holding the mutex is allowed. Blocking: waits park through the
// common Waiter (detail/waiter.hpp) and throw gofer::cancelled if the calling task is stopped,
// with the mutex held again. Lifetime (Go's and POSIX's guarantee): once a wait returns, the
// notify that woke it no longer touches the CondVar, so it may be destroyed then, provided the
// notify ran under the mutex (a notify after unlocking may race a waiter that never slept);
// otherwise a CondVar must outlive every call on it.
#pragma once

#include <concepts>
#include <mutex>

#include <gofer/deadline.hpp>
#include <gofer/detail/spin_lock.hpp>
#include <gofer/detail/waiter.hpp>
#include <gofer/mutex.hpp>

namespace gofer {

class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void wait(std::unique_lock<Mutex>& lock) {
    (void)wait(lock, Deadline::never());  // always true: there is no deadline
  }
  template <std::predicate Pred>
  void wait(std::unique_lock<Mutex>& lock, Pred pred) {
    while (!pred()) {
      wait(lock);
    }
  }
  // wait(lock, d): false if no notify came by the deadline d.
  [[nodiscard]] bool wait(std::unique_lock<Mutex>& lock, Deadline d);
  // wait(lock, pred, d): pred() at the end (false means the deadline passed with it still
  // false).
  template <std::predicate Pred>
  [[nodiscard]] bool wait(std::unique_lock<Mutex>& lock, Pred pred, Deadline d) {
    while (!pred()) {
      if (!wait(lock, d)) {
        return pred();
      }
    }
    return true;
  }

  void notify_one();
  void notify_all();

 private:
  detail::SpinLock lock_;
  detail::WaitQueue waiters_;
};

}  // namespace gofer
