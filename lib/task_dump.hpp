// task_dump.hpp: reading task records into TaskInfo (debug.hpp) and printing them.
//
// snapshot() reads one record: the caller holds its registry's lock (TaskRegistry::for_each),
// and snapshot() takes the record's own lock, under which a parked Waiter and everything its
// WaitInfo points to is alive (waiter.hpp). It allocates (the strings), so it must not be
// called from a signal handler.
//
// Thread-safety: any thread. Blocks only on the registries' and records' short locks.
#pragma once

#include <cstddef>
#include <cstdio>
#include <vector>

#include <gofer/debug.hpp>
#include <gofer/detail/waiter.hpp>

#include "task_registry.hpp"

namespace gofer::detail {

// snapshot: the TaskInfo of a live task of r (r's lock held by the caller).
TaskInfo snapshot(TaskControl& tc, const TaskRegistry& r);
// thread_snapshot: r's thread record as a pseudo-task, when it is parked in a gofer call.
bool thread_snapshot(TaskRegistry& r, TaskInfo& out);

// report_live: one line per live task of r (at most max_lines, then a count):
// "<prefix> task <id> (<name>): <state>: <wait>".
void report_live(const TaskRegistry& r, std::FILE* out, const char* prefix, std::size_t max_lines);

}  // namespace gofer::detail
