// event_loop.hpp: running a thread's loop from plain code (NimGo's withEventLoop).
//
// Every thread that uses gofer has a loop (its scheduler). In plain code it runs whenever the
// thread blocks in a gofer call (wait, a channel operation, sleep). run_event_loop() runs it
// until no task of this thread is left; with_event_loop(body) runs body as a task, then the
// loop, then rethrows body's exception if it threw. Both are for plain code: called inside a
// task they would wait for themselves, so they throw std::logic_error.
#pragma once

#include <chrono>
#include <utility>

#include <gofer/task.hpp>
#include <gofer/time.hpp>

namespace gofer {

// run_event_loop: runs this thread's tasks until none is left.
void run_event_loop();

namespace detail {
// throw_if_in_task: std::logic_error naming `what` when called inside a task.
void throw_if_in_task(const char* what);
}  // namespace detail

// with_event_loop: go(body), run_event_loop(), then body's result or exception.
template <class F>
auto with_event_loop(F&& body) {
  detail::throw_if_in_task("with_event_loop");
  auto t = go(std::forward<F>(body));
  run_event_loop();
  return t.wait();
}

// sleep_task: a task that sleeps until the deadline d (NimGo's sleepTask), e.g. to race it
// with wait_any.
inline Task<void> sleep_task(Deadline d) {
  return go([d] { sleep_until(d.time_point()); });
}

}  // namespace gofer
