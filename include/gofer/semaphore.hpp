// semaphore.hpp: a counting semaphore that parks tasks, not threads.
//
//   gofer::Semaphore slots(4);            // at most four at a time
//   slots.acquire();                      // parks this task while none is free
//   use_the_resource();
//   slots.release();
//
// Invariants: the count of free permits is never negative. release() hands permits directly to
// parked acquirers in FIFO order before it adds the rest to the count, so a woken acquirer
// always owns its permit (no barging, no lost permit). A timed-out or cancelled acquire takes
// nothing. Thread-safety: all members may be called from any task or thread. Blocking:
// acquire parks through the common Waiter (detail/waiter.hpp) and throws gofer::cancelled if
// the calling task is stopped. Lifetime (Go's and POSIX's guarantee): once acquire() returns,
// the release() that woke it no longer touches the Semaphore, so it may be destroyed at once;
// otherwise a Semaphore must outlive every call on it.
#pragma once

#include <cstddef>

#include <gofer/deadline.hpp>
#include <gofer/detail/spin_lock.hpp>
#include <gofer/detail/waiter.hpp>

namespace gofer {

class Semaphore {
 public:
  // Semaphore: `initial` free permits (>= 0, else std::invalid_argument).
  explicit Semaphore(std::ptrdiff_t initial);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // acquire: takes one permit, parking while none is free.
  void acquire() {
    (void)acquire(Deadline::never());  // always true: there is no deadline
  }
  // acquire(d): as acquire, but false if no permit came by the deadline d.
  [[nodiscard]] bool acquire(Deadline d);
  // try_acquire: takes a permit if one is free now; true then.
  [[nodiscard]] bool try_acquire();
  // release: returns n permits (n >= 0, else std::invalid_argument).
  void release(std::ptrdiff_t n = 1);
  // available: free permits now (a snapshot).
  std::ptrdiff_t available() const;

 private:
  mutable detail::SpinLock lock_;
  std::ptrdiff_t count_;
  detail::WaitQueue waiters_;
};

}  // namespace gofer
