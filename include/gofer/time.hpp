// time.hpp: sleeping and yielding.
//
// sleep_for / sleep_until park the calling task (in plain code: run this thread's loop) until
// the time has passed; they never return early (deadlines round up) and throw gofer::cancelled
// if the task is stopped meanwhile. Timers live in Boost.Fiber's per-thread sleep queue, an
// ordered intrusive set: O(log n) per timer. yield() lets every other ready task of this
// thread run once before the caller continues.
//
// Cancellation points: in a task that was asked to stop (Task::request_stop, its TaskGroup
// stopping), sleep_for, sleep_until and yield throw gofer::cancelled, even with nothing to
// wait for (sleep_for(0), a past deadline): a busy loop that calls yield() ends on a stop
// requested from any thread.
//
// Thread-safety: each call acts on the calling thread's scheduler only.
#pragma once

#include <chrono>

#include <gofer/detail/waiter.hpp>

namespace gofer {

// sleep_until: parks until `deadline` (steady clock).
void sleep_until(std::chrono::steady_clock::time_point deadline);

// sleep_for: parks for at least `d`.
template <class Rep, class Period>
void sleep_for(std::chrono::duration<Rep, Period> d) {
  sleep_until(detail::deadline_after(d));
}

// yield: reschedules the caller behind the tasks that are ready now. Throws gofer::cancelled
// if the calling task's stop was requested before or during the yield.
void yield();

// set_idle_spin: how long an idle scheduler thread may spin for work from other threads before
// it sleeps in epoll_wait (process-wide; default 20 us; 0 disables spinning). Spinning makes
// cross-thread hand-offs cost well under a microsecond instead of a kernel wake-up (tens of
// microseconds); the spin adapts, shrinking to nothing on a thread whose spins go unrewarded,
// so an idle Runtime does not burn a core.
void set_idle_spin(std::chrono::nanoseconds limit);
std::chrono::nanoseconds idle_spin();

}  // namespace gofer
