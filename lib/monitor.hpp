// monitor.hpp: the watchdog thread (Go's sysmon): one per process, started by the first
// scheduler's installation (monitor_hook.hpp), joined at exit. Each tick it samples every
// scheduler (SchedulerSample: a few relaxed loads, under the process-wide registry list lock)
// and hands the samples to the two detectors, stall.hpp and deadlock.hpp.
//
// How often it ticks:
//   - a scheduler is busy (not idle) and stall reports are on: every threshold / 4, >= 10 ms;
//   - the deadlock detector is timing a candidate episode: every grace / 4, >= 10 ms;
//   - otherwise it sleeps long (1 s, or the threshold if longer); with stall reports on, it
//     sets monitor_parked first and the first scheduler to leave idle wakes it. Settings
//     changes and exit wake it too. Falling asleep wakes nobody, so a deadlock episode starts
//     at most one long sleep late.
//
// Invariants: (1) the monitor never installs a scheduler and never parks: it only reads
// scheduler state and prints; (2) it reads a registry only while holding the registry list
// lock (so the registry, and its thread, are alive); (3) it runs only in the process that
// started it: a forked child has no watchdog (and does not join the parent's thread at exit).
//
// Thread-safety: sample_schedulers() on any thread. Blocking: the monitor thread sleeps on a
// futex between ticks; a stall report waits up to 100 ms for the stalled thread's backtrace.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace gofer::detail {

using monitor_clock = std::chrono::steady_clock;

// SchedulerSample: one scheduler at one tick.
struct SchedulerSample {
  int index;             // TaskRegistry::index()
  bool idle;             // Reactor::is_idle()
  bool timer;            // idle with a deadline (a timer is armed)
  std::size_t watching;  // fds watched by its poller
  bool inbox_empty;      // no remote wake queued
  // resumes: TaskRegistry::switches().
  std::uint64_t resumes;
  bool task_running;  // running() != nullptr
  long tid;

  // asleep: nothing of this thread's own can wake it.
  bool asleep() const noexcept { return idle && !timer && watching == 0 && inbox_empty; }
};

// sample_schedulers: every installed scheduler, in index order.
std::vector<SchedulerSample> sample_schedulers();

}  // namespace gofer::detail
