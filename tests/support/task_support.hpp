// task_support.hpp: small helpers for tests that end tasks.
#pragma once

#include <gofer/errors.hpp>
#include <gofer/task.hpp>

// stop_and_wait: ends a task that may be parked forever (an accept loop, a reader): requests a
// stop and waits; the task's gofer::cancelled is expected and swallowed.
template <class T>
void stop_and_wait(gofer::Task<T>& t) {
  t.request_stop();
  try {
    t.wait();
  } catch (const gofer::cancelled&) {
  }
}
