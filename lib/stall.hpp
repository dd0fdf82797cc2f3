// stall.hpp: the stall detector: a task that runs too long without parking or yielding.
//
// A scheduler stalls when its reactor is not idle, a task is running (running() != nullptr),
// and switches() (task_registry.hpp) has not moved, in consecutive monitor samples spanning the
// threshold. Then it prints one report (debug.hpp shows it): the task, its scheduler and
// thread; the system call the thread is blocked in, if any (from
// /proc/self/task/<tid>/{stat,syscall}); and the thread's backtrace (thread_backtrace.hpp). A
// stall is reported once; the detector re-arms when switches() moves or the thread goes idle.
//
// Not signalled for a backtrace: a thread inside a system call that a signal handler would end
// with EINTR even under SA_RESTART (sleeps, poll/select/epoll, connect...; signal(7)): taking
// a backtrace must not change what the program does. Only calls the kernel restarts (read,
// write, futex, wait4...) or user code are interrupted. (A thread that enters such a call in
// the microseconds between the /proc read and the signal can still see EINTR.)
//
// Thread-safety: a StallDetector belongs to the monitor thread. Blocking: check() prints, and
// waits up to 100 ms for a backtrace.
#pragma once

#include <chrono>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "monitor.hpp"

namespace gofer::detail {

class StallDetector {
 public:
  // check: one tick; reports the stalls that reached `threshold`.
  void check(const std::vector<SchedulerSample>& samples, monitor_clock::time_point now,
             std::chrono::milliseconds threshold);

 private:
  struct Watch {
    std::uint64_t resumes;
    monitor_clock::time_point since;  // the first busy sample with these resumes
    bool reported;
  };
  std::unordered_map<int, Watch> watches_;  // by scheduler index; busy schedulers only
};

// stall_reports: how many stall reports were printed (for tests).
std::uint64_t stall_reports() noexcept;

}  // namespace gofer::detail
