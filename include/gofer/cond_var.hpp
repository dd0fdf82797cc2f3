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

#include <chrono>
#include <condition_variable>
#include <mutex>

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
    (void)wait_until(lock, detail::no_deadline);  // always no_timeout: there is no deadline
  }
  template <class Pred>
  void wait(std::unique_lock<Mutex>& lock, Pred pred) {
    while (!pred()) {
      wait(lock);
    }
  }
  // wait_until / wait_for: std::cv_status::timeout at the deadline.
  [[nodiscard]] std::cv_status wait_until(std::unique_lock<Mutex>& lock,
                                          std::chrono::steady_clock::time_point deadline);
  template <class Rep, class Period>
  [[nodiscard]] std::cv_status wait_for(std::unique_lock<Mutex>& lock,
                                        std::chrono::duration<Rep, Period> timeout) {
    return wait_until(lock, detail::deadline_after(timeout));
  }
  // wait_for with a predicate: pred() at the end (false means it timed out still false).
  template <class Rep, class Period, class Pred>
  [[nodiscard]] bool wait_for(std::unique_lock<Mutex>& lock,
                              std::chrono::duration<Rep, Period> timeout, Pred pred) {
    const auto deadline = detail::deadline_after(timeout);
    while (!pred()) {
      if (wait_until(lock, deadline) == std::cv_status::timeout) {
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
