// blocking.hpp: offloading blocking work to a pool of OS threads (the proposal's FlowVar).
//
//   auto t = gofer::spawn_blocking([&] { return std::filesystem::file_size(path); });
//   // ... this task, and every other task of this thread, keeps running ...
//   auto size = t.wait();   // parks only the waiting task; rethrows the job's exception
//
// spawn_blocking(f, args...) runs f(args...) on a process-wide pool of OS threads meant for
// calls that block their thread: disk I/O, getaddrinfo, a blocking C library. It returns at
// once with a Task<R>, a one-shot channel from the pool thread back to whoever waits: the
// waiting task parks and is resumed on its own home scheduler with the result or the
// exception (Task::wait with or without a deadline, wait_any, wait_all all work, from tasks and
// plain threads).
//
// The pool starts with no thread and grows on demand, one thread per job that finds no idle
// thread, up to blocking_pool_limit() (default 64); beyond it jobs queue, first in first out.
// A thread idle for 10 seconds exits. At process exit the queued jobs are run and every
// pool thread is joined (a job that never returns therefore holds up exit).
//
// Invariants: (1) a submitted job runs exactly once, or, if its Task was request_stop()ed
// before a pool thread picked it up, never (it then ends with gofer::cancelled); (2) at most
// blocking_pool_limit() jobs run at once; (3) a job is not interrupted once running:
// request_stop() on its Task only ends a wait() with gofer::cancelled.
//
// Thread-safety: every function here may be called from any thread or task.
// Blocking: spawn_blocking never blocks (it may start a thread); waiting on its Task parks.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include <gofer/detail/task_state.hpp>
#include <gofer/task.hpp>

namespace gofer {

namespace detail {
// submit_blocking: hands st (made by make_task_state, never launched as a fiber) to the pool;
// takes one reference, released by the pool once the job finished.
void submit_blocking(TaskStateBase* st);
}  // namespace detail

// spawn_blocking: runs f(args...) on the blocking pool; arguments are decayed and moved, as
// for go(). Throws std::system_error if no pool thread exists and none can be started.
template <class F, class... A>
auto spawn_blocking(F&& f, A&&... args) {
  auto* st = detail::make_task_state(std::forward<F>(f), std::forward<A>(args)...);
  auto task = detail::adopt_task(st);
  detail::submit_blocking(st);
  return task;
}

// set_blocking_pool_limit: the most pool threads that may run at once (>= 1, else
// std::invalid_argument). Lowering it does not stop running jobs; surplus threads exit as
// they become idle.
void set_blocking_pool_limit(std::size_t threads);
// blocking_pool_limit: the current limit.
std::size_t blocking_pool_limit() noexcept;
// blocking_pool_threads: how many pool threads exist now (running a job or idle).
std::size_t blocking_pool_threads() noexcept;

}  // namespace gofer
