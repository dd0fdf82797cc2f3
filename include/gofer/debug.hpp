// debug.hpp: seeing inside a running program: every task with what it waits for, and each
// scheduler's counters.
//
//   for (const gofer::TaskInfo& t : gofer::tasks()) { ... }   // a snapshot, any thread
//   gofer::dump_tasks();                                       // Go-style dump to stderr
//   std::string metrics = gofer::stats_prometheus();          // for a /metrics endpoint
//
// tasks() lists every live task of every scheduler in the process, oldest first within a
// scheduler, plus one pseudo-task per plain thread (or scheduler thread's own context) that
// is blocked in a gofer call, named after the thread. It runs while the program runs (no
// stop-the-world): each scheduler's task list is locked in turn, briefly, and each task's
// record is read under that task's own lock, so every entry is consistent in itself; the
// list as a whole is not one instant (a task may finish or start while it is taken).
//
// What a parked task waits for (TaskInfo::wait), by kind:
//   "chan 3 receive (capacity 0, 0 buffered)"     "chan 3 send (capacity 8, 8 buffered)"
//   "select over 2 cases: chan 3 receive, chan 4 send"     "sleep (1.5 s left)"
//   "read 127.0.0.1:5000 (fd 7)"   "accept 0.0.0.0:8080 (fd 5)"   "connect 10.0.0.1:80 (fd 6)"
//   "Mutex::lock 0x7f..."   "CondVar::wait 0x..."   "WaitGroup::wait 0x..."
//   "Semaphore::acquire 0x..."   "wait for task 12"   "wait for blocking job 14"
//   "wait_any over 3 tasks"   "wait for exit of child sleep (pid 4242) (fd 8)"
// Channel ids are process-unique numbers given at creation; the same channel has the same id
// in every entry, so a dump shows who waits on whom.
//
// Thread-safety: every function here may be called from any thread, in or out of a task.
// None of them blocks on a task or a scheduler (they take short internal locks).
#pragma once

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace gofer {

// task_state: runnable (ready, or woken and not yet running), running (on its thread now),
// parked (blocked in a gofer call), finished (its body returned; it is leaving the list).
enum class task_state { runnable, running, parked, finished };

// to_string: "runnable", "running", "parked", "finished".
const char* to_string(task_state s) noexcept;

struct TaskInfo {
  std::uint64_t id;        // the task's id (Task::id); a pseudo-task's own unique id
  std::string name;        // TaskOptions::name; a pseudo-task: the thread's name
  std::string created_at;  // "file.cpp:12" where go() was called; a pseudo-task: "thread <tid>"
  int scheduler;           // the home scheduler's index (0, 1, ... in installation order)
  task_state state;
  std::string wait;                      // what it waits for, when parked (see above); else empty
  std::chrono::nanoseconds waiting_for;  // how long it has been parked (a few ms resolution)
};

// tasks: a snapshot of every live task (see the header comment).
std::vector<TaskInfo> tasks();

// dump_tasks: a text dump like Go's goroutine dump, one block per task, grouped by scheduler:
//
//   gofer: 3 task(s) on 2 scheduler(s)
//
//   scheduler 0 (thread "server", tid 4242): 2 task(s)
//     task 7 "conn 127.0.0.1:51000" [parked 1.2 s]: read 127.0.0.1:51000 (fd 9)
//         created at echo_server.cpp:41
//   ...
void dump_tasks(std::FILE* out = stderr);

// dump_tasks_on_signal: opt-in: from now on, signal `sig` prints dump_tasks() to stderr and the
// program goes on (as SIGQUIT does in Go, minus the exit). The handler only wakes a gofer
// thread that prints the dump outside the handler. Replaces any handler of `sig`. Throws
// std::invalid_argument for a signal that cannot be caught, std::system_error if the handler
// or its pipe cannot be set up.
void dump_tasks_on_signal(int sig = SIGQUIT);

// SchedulerStats: one scheduler's counters, each monotonically increasing since the scheduler
// was installed (except live_tasks, a gauge). Counted by the scheduler's own thread in plain
// thread-local stores (no shared atomic operation on the hot path); read as a snapshot.
// Wakes are counted by the thread that makes them, if it has a scheduler: wakes made by
// threads without one (plain threads, the blocking pool) appear in no entry.
struct SchedulerStats {
  int scheduler;       // the scheduler's index (as TaskInfo::scheduler)
  std::string thread;  // its thread's name
  std::uint64_t tasks_spawned;
  std::uint64_t live_tasks;
  std::uint64_t context_switches;       // resumptions of a task (or the thread's own context)
                                        // at its start and after each wait or yield
  std::uint64_t parks;                  // waits that suspended on this thread
  std::uint64_t local_wakes;            // wakes of this thread's waiters made by this thread
  std::uint64_t remote_wakes;           // wakes of other threads' waiters made by this thread
  std::uint64_t eventfd_writes;         // remote wakes that had to wake a sleeping thread
  std::uint64_t wakes_without_syscall;  // remote wakes that found the target spinning/running
  std::uint64_t idle_spins_found_work;  // idle periods ended by work found while spinning
  std::uint64_t epoll_sleeps;           // idle periods that went to sleep in the poller
  std::uint64_t fd_events;              // fd readiness events dispatched to waiting tasks
  std::uint64_t timers_fired;           // waits on this thread that ended at their deadline
  // run_delay: from a task's wake-up to its running again, sampled (1 wake in 16): the number
  // of samples, their sum, and the 50th/99th percentiles (within 13%) and maximum (exact).
  struct RunDelay {
    std::uint64_t samples;
    std::chrono::nanoseconds sum, p50, p99, max;
  } run_delay;
};

// scheduler_stats: one entry per installed scheduler, in index order.
std::vector<SchedulerStats> scheduler_stats();

// stats_prometheus: the same in the Prometheus text exposition format (version 0.0.4), for a
// service's /metrics endpoint: counters gofer_<name>_total{scheduler="0",thread="..."}, the
// gauge gofer_live_tasks, and the summary gofer_run_delay_seconds{quantile="0.5"|"0.99"} with
// _sum and _count, plus the gauge gofer_run_delay_max_seconds.
std::string stats_prometheus();

}  // namespace gofer
