// this_task.hpp: what the running task may ask about its own cancellation.
//
//   while (!gofer::this_task::stop_requested()) { crunch(); }   // a loop that never blocks
//   std::stop_callback on_stop(gofer::this_task::stop_token(), [&] { engine.abort(); });
//
// A task is stopped by Task::request_stop(), by its TaskGroup stopping (task_group.hpp), or by
// a Runtime shutting down. Its blocking gofer calls then throw gofer::cancelled, and so do
// yield() and sleep_for(0) (time.hpp); code that never blocks polls stop_requested(), and
// standard code takes the std::stop_token.
//
// In plain code (no task) nothing can stop the caller: stop_requested() is false and
// stop_token() is a token that never stops (stop_possible() is false).
//
// Thread-safety: each call acts on the calling task only. stop_token() allocates the task's
// std::stop_source on its first call (one per task that asks; a task that never asks costs
// nothing); request_stop() from any thread then requests it, running its std::stop_callbacks
// on the requesting thread with no gofer lock held, as std::stop_source does, before the
// task's blocking call sees the stop. A callback must not block in gofer (it may run in the
// middle of another task's request_stop): set a flag, close a channel, request another stop.
// Nothing here blocks.
#pragma once

#include <stop_token>

#include <gofer/detail/waiter.hpp>

namespace gofer::this_task {

// stop_requested: the calling task was asked to stop (false in plain code).
inline bool stop_requested() noexcept {
  const detail::TaskControl* tc = detail::current_control();
  return tc != nullptr && tc->stop_requested.load(std::memory_order_acquire);
}

// stop_token: a std::stop_token that stops when the calling task is asked to stop (already
// stopped if it was); in plain code, a token that never stops. May throw std::bad_alloc (the
// first call in a task).
std::stop_token stop_token();

}  // namespace gofer::this_task
