// errors.hpp: the exceptions gofer throws.
//
// - gofer::cancelled: thrown by a blocking gofer call (sleep, channel operation, select, task
//   wait, later I/O) in a task whose request_stop() has been called. It deliberately does not
//   derive from std::system_error, so `catch (const std::system_error&)` around I/O does not
//   swallow a cancellation.
// - Misuse (a moved-from Chan or Task, waiting twice, a bad capacity) throws std::logic_error or
//   std::invalid_argument with a message that starts with "gofer: " and says what and why.
// - System call failures throw std::system_error carrying errno (see lib/errno_error.hpp).
#pragma once

#include <exception>

namespace gofer {

// cancelled: the calling task was asked to stop (Task::request_stop) while it was blocked.
class cancelled : public std::exception {
 public:
  const char* what() const noexcept override { return "gofer: task cancelled by request_stop"; }
};

}  // namespace gofer
