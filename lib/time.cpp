#include <boost/fiber/operations.hpp>

#include <gofer/errors.hpp>
#include <gofer/time.hpp>

#include "describe.hpp"
#include "scheduler.hpp"
#include "stack_pool.hpp"

namespace gofer {

void sleep_until(std::chrono::steady_clock::time_point deadline) {
  detail::ensure_scheduler();
  detail::Waiter w;
  w.info.describe = &detail::describe_sleep;
  w.info.b = static_cast<std::uint64_t>(deadline.time_since_epoch().count());
  auto nothing = [] {};
  detail::throw_if_cancelled(detail::park(w, deadline, nothing));
}

namespace {
// throw_if_stopped: yield's cancellation check (a load; no lock).
void throw_if_stopped(const detail::TaskControl* tc) {
  if (tc != nullptr && tc->stop_requested.load(std::memory_order_acquire)) {
    throw cancelled();
  }
}
}  // namespace

void yield() {
  detail::Scheduler::local().counters.yields.bump();  // TaskRegistry::switches()
  detail::TaskControl* tc = detail::this_thread_running.load(std::memory_order_relaxed);
  detail::check_running_stack();
  boost::this_fiber::yield();
  detail::set_current_control(tc);
  throw_if_stopped(tc);
}

void set_idle_spin(std::chrono::nanoseconds limit) {
  detail::set_idle_spin_limit(limit);
}

std::chrono::nanoseconds idle_spin() {
  return detail::idle_spin_limit();
}

}  // namespace gofer
