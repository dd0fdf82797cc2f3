// wait_group.hpp: wait for a collection of tasks or threads to finish (Go's sync.WaitGroup).
//
//   gofer::WaitGroup wg;
//   for (int i = 0; i < 10; ++i) {
//     wg.add();
//     rt.go([&wg] { work(); wg.done(); });
//   }
//   wg.wait();  // parks this task (or blocks this plain thread) until all ten called done()
//
// Invariants: the counter never goes below zero (add() that would make it negative throws
// std::logic_error and leaves it unchanged); every waiter parked while the counter was positive
// is woken once it reaches zero. Thread-safety: all members may be called from any task or
// thread. Blocking: wait() parks through the common Waiter (detail/waiter.hpp) and throws
// gofer::cancelled if the calling task is stopped. Lifetime (Go's guarantee, the pattern
// `WaitGroup wg(1); go(... wg.done()); wg.wait(); return`): once wait() returns, the done()
// that woke it no longer touches the WaitGroup, so a stack WaitGroup may go out of scope at
// once; otherwise a WaitGroup must outlive every call on it.
#pragma once

#include <cstddef>

#include <gofer/deadline.hpp>
#include <gofer/detail/spin_lock.hpp>
#include <gofer/detail/waiter.hpp>

namespace gofer {

class WaitGroup {
 public:
  explicit WaitGroup(std::ptrdiff_t initial = 0);
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  // add: adds n (may be negative) to the counter; at zero, wakes every waiter.
  void add(std::ptrdiff_t n = 1);
  // done: add(-1).
  void done() { add(-1); }
  // count: the counter now (a snapshot).
  std::ptrdiff_t count() const;

  // wait: parks until the counter is zero.
  void wait() {
    (void)wait(Deadline::never());  // always true: there is no deadline
  }
  // wait(d): false if the counter is still positive at the deadline d.
  [[nodiscard]] bool wait(Deadline d);

 private:
  mutable detail::SpinLock lock_;
  std::ptrdiff_t count_;
  detail::WaitQueue waiters_;
};

}  // namespace gofer
