// mutex.hpp: a mutual-exclusion lock that parks tasks, not threads.
//
//   gofer::Mutex m;
//   { std::lock_guard lock(m); shared.push_back(x); }   // parks this task while another holds it
//
// Mutex satisfies Lockable and TimedLockable (std::lock_guard, std::unique_lock, try_lock_for).
// It is not recursive. unlock() hands the lock directly to the longest-waiting parked task or
// thread (FIFO, no barging), which makes it fair under contention. Thread-safety: any task or
// thread may lock it. As in Go, a locked Mutex belongs to no task: any task or thread may
// unlock it, not only the one that locked it (a lock taken by one task can be released by
// another it handed the work to). Misuse (unlock of an unlocked Mutex) throws
// std::logic_error. Blocking: lock() parks through the common Waiter
// (detail/waiter.hpp) and throws gofer::cancelled if the calling task is stopped while it
// waits (it then does not hold the lock). Lifetime (Go's and POSIX's guarantee): once lock()
// returns, the unlock() that handed the Mutex over no longer touches it, so the new holder may
// unlock and destroy it at once; otherwise a Mutex must outlive every call on it.
#pragma once

#include <chrono>

#include <gofer/deadline.hpp>
#include <gofer/detail/spin_lock.hpp>
#include <gofer/detail/waiter.hpp>

namespace gofer {

class Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() { lock_until(detail::no_deadline, true); }
  // lock(d): true once held; false if the deadline d passed first.
  [[nodiscard]] bool lock(Deadline d) { return lock_until(d.time_point(), true); }
  // try_lock: takes the lock if it is free now; true then.
  [[nodiscard]] bool try_lock();
  // try_lock_for / try_lock_until: lock(d) under the names TimedLockable requires, so that
  // std::unique_lock(m, 50ms) works.
  template <class Rep, class Period>
  [[nodiscard]] bool try_lock_for(std::chrono::duration<Rep, Period> timeout) {
    return lock(timeout);
  }
  template <class Duration>
  [[nodiscard]] bool try_lock_until(std::chrono::time_point<Deadline::clock, Duration> tp) {
    return lock(tp);
  }
  void unlock();

 private:
  friend class CondVar;
  // lock_until: true once held; false at the deadline; throws gofer::cancelled only when
  // `cancellable` (CondVar re-acquires with cancellable = false, so the lock is held again
  // whenever its wait returns or throws).
  bool lock_until(std::chrono::steady_clock::time_point deadline, bool cancellable);

  detail::SpinLock lock_;
  bool locked_ = false;
  detail::WaitQueue waiters_;
};

}  // namespace gofer
