// debug.hpp: seeing inside a running program: every task with what it waits for.
//
//   for (const gofer::TaskInfo& t : gofer::tasks()) { ... }   // a snapshot, any thread
//   gofer::dump_tasks();                                       // Go-style dump to stderr
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
//   "wait_any over 3 tasks"   "wait for exit of child sleep (pid 4242)"
// Channel ids are process-unique numbers given at creation; the same channel has the same id
// in every entry, so a dump shows who waits on whom.
//
// Thread-safety: every function here may be called from any thread, in or out of a task.
// None of them blocks on a task or a scheduler (they take short internal locks).
#pragma once

#include <chrono>
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

}  // namespace gofer
