// deadlock.hpp: the deadlock detector: every task asleep and nothing left that can wake one.
//
// An episode starts at a tick where every scheduler is asleep (SchedulerSample::asleep: idle,
// no timer (a sleep, a timed wait, or a pending gofer::Timer/Ticker/after/after_func, which
// bounds the idle deadline), no fd watched (gofer-signal's signalfds count: once signal_chan
// is used, a signal may wake a task, as in Go), no wake queued), no blocking-pool job is
// outstanding, no child process is unreaped, and every thread owning a Runtime has a
// scheduler (which is then asleep, i.e. parked in gofer) (activity.hpp). It lasts while later
// ticks see the same schedulers with the same switches() counts, all still asleep. Once it has
// lasted the grace period, the detector looks for a stuck wait: on some scheduler, more parked
// contexts (tasks plus the thread's own) than open service loops (TaskRegistry::service_waits:
// a Runtime worker or a ThreadServer waiting for work). If there is one, it prints "gofer: all
// tasks are asleep: deadlock?" and dump_tasks(), then aborts if the action says so. Either way the
// episode is done: nothing more happens until something moves (a switch, a scheduler coming or
// going, one waking), which ends it.
//
// Why this gives no false report for what gofer can see: a parked task is woken only by
// another task or thread (which would be busy, or resume something, or be a blocking job or
// a Runtime owner, all of which end the episode), by a timer or fd (excluded), by a child's
// exit (excluded) or by request_stop from some running code (the same). What it cannot see is
// in debug.hpp.
//
// Thread-safety: a DeadlockDetector belongs to the monitor thread. Blocking: check() takes the
// registry locks briefly and prints; with deadlock_action::abort it does not return.
#pragma once

#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

#include <gofer/debug.hpp>

#include "monitor.hpp"

namespace gofer::detail {

class DeadlockDetector {
 public:
  // check: one tick. Returns true while an episode is being timed (the monitor then keeps
  // ticking at grace / 4).
  bool check(const std::vector<SchedulerSample>& samples, monitor_clock::time_point now,
             std::chrono::milliseconds grace, deadlock_action action);

 private:
  enum class phase { none, timing, done };
  phase phase_ = phase::none;
  std::vector<std::pair<int, std::uint64_t>> episode_;  // (scheduler index, resumes)
  monitor_clock::time_point since_{};
};

// deadlock_reports: how many deadlock reports were printed (for tests).
std::uint64_t deadlock_reports() noexcept;

}  // namespace gofer::detail
