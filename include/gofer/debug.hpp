// debug.hpp: seeing inside a running program: every task with what it waits for, each
// scheduler's counters, and a watchdog that reports stalled threads and deadlocks.
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
// The watchdog. One background thread per process (started with the first scheduler; it joins
// at exit, and costs nothing while no scheduler is busy: it sleeps until one is) makes two
// reports on stderr:
//
//   Stall report: a task that has run longer than stall_threshold() (default 500 ms) without
//   parking or yielding holds up every other task of its thread. Once per stall:
//     gofer: task 7 (name) created at file.cpp:12 has run 500 ms without yielding on
//     scheduler 0 (thread "x", tid 4242)
//   then, when the thread is inside a system call, which one (a blocking call in a task is the
//   usual cause: usleep, a blocking read, a std::mutex), then its backtrace, taken on that
//   thread (a real-time signal, SIGRTMAX - 3, whose handler only calls glibc backtrace()).
//   Frames are named from the dynamic symbol table: link the program with -rdynamic (CMake:
//   set_target_properties(app PROPERTIES ENABLE_EXPORTS ON)) for names of its own functions;
//   every frame also shows module+0xoffset, for `addr2line -f -C -e module 0xoffset`.
//   A thread blocked in a system call that a signal would cut short (nanosleep, poll, epoll_wait,
//   connect...) gets no backtrace, so that the report does not change what the program does.
//
//   Deadlock report: when every task of every scheduler is parked, nothing can wake them, and
//   that lasted deadlock_grace() (default 1 s): "gofer: all tasks are asleep: deadlock?" and
//   then dump_tasks(). Once per episode. "Nothing can wake them" means, for every thread with
//   a scheduler: it sleeps with no timer armed, no fd watched and no wake-up queued, and has
//   resumed no task for the whole grace period; no spawn_blocking job is queued or running; no
//   child process is alive and unreaped; and every thread that owns a Runtime is itself parked
//   in gofer. Waiting for work (a Runtime thread with no task, an idle ThreadServer) is not
//   being stuck: at least one task or thread must be parked on something else.
//   What the watchdog cannot see: a thread that never made a gofer call that parks (so has no
//   scheduler) and owns no Runtime, which will later send on a channel or close it; or
//   another process that will write to a shared memory segment. Such a program can be
//   reported though it is not deadlocked: set_deadlock_action(deadlock_action::ignore) there,
//   or make that thread wait in gofer. Conversely, a thread with a scheduler that blocks
//   outside gofer (std::mutex, a raw read) counts as busy, so no report is made meanwhile.
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
  std::uint64_t context_switches;       // switches between contexts: each task's start and
                                        // end, and each wait that suspended or yield
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

// set_stall_threshold: how long a task may run without parking or yielding before the stall
// report (see the header comment); 0 turns stall reports off. The watchdog checks a few times
// per threshold (every threshold / 4, at least every 10 ms), so a report comes between 1 and
// about 1.25 thresholds into the stall. Throws std::invalid_argument for a negative value.
void set_stall_threshold(std::chrono::milliseconds threshold);
// stall_threshold: the current threshold (default 500 ms; 0: off).
std::chrono::milliseconds stall_threshold() noexcept;

// deadlock_action: what the watchdog does when all tasks are asleep: print the report
// (report, the default), print it and then std::abort() (abort: for tests, so a deadlocked
// test fails at once with the dump instead of timing out), or nothing (ignore: no detection).
enum class deadlock_action { report, abort, ignore };

// set_deadlock_action / get_deadlock_action: the action (default deadlock_action::report).
void set_deadlock_action(deadlock_action action) noexcept;
deadlock_action get_deadlock_action() noexcept;

// set_deadlock_grace: how long everything must stay asleep before the deadlock report
// (default 1 s). The report comes between the grace period and about a second more after the
// last task parked (the watchdog may notice that everything fell asleep only at its next
// wake-up, at most a second later, and then looks every grace / 4). Throws
// std::invalid_argument for a negative value.
void set_deadlock_grace(std::chrono::milliseconds grace);
// deadlock_grace: the current grace period.
std::chrono::milliseconds deadlock_grace() noexcept;

}  // namespace gofer
