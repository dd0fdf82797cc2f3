#include <stdexcept>
#include <string>

#include <gofer/event_loop.hpp>

#include "scheduler.hpp"

namespace gofer {

void detail::throw_if_in_task(const char* what) {
  if (in_task()) {
    throw std::logic_error(std::string("gofer: ") + what +
                           " called inside a task: it waits for every task of this thread, "
                           "including the caller");
  }
}

void run_event_loop() {
  detail::throw_if_in_task("run_event_loop");
  detail::Scheduler::local().wait_idle(detail::no_deadline);
}

}  // namespace gofer
