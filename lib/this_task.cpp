// this_task.cpp: the running task's std::stop_token, made on first use (this_task.hpp).
//
// Invariants: a TaskControl's stop_source is written once, by its own task, under its lock;
// request_stop() reads it under the same lock. Whichever of the two comes second requests the
// source, so a stop that races the first stop_token() call is never lost.
// Thread-safety: stop_token() acts on the calling task only. Blocking: none.
#include <mutex>
#include <utility>

#include <gofer/this_task.hpp>

namespace gofer::this_task {

std::stop_token stop_token() {
  detail::TaskControl* const tc = detail::current_control();
  if (tc == nullptr) {
    return {};
  }
  {
    std::lock_guard guard(tc->lock);
    if (tc->stop_source.stop_possible()) {
      return tc->stop_source.get_token();
    }
  }
  std::stop_source fresh;  // allocates: outside the lock
  std::stop_token token = fresh.get_token();
  bool stopped = false;
  {
    std::lock_guard guard(tc->lock);
    tc->stop_source = fresh;
    stopped = tc->stop_requested.load(std::memory_order_relaxed);
  }
  if (stopped) {
    fresh.request_stop();
  }
  return token;
}

}  // namespace gofer::this_task
