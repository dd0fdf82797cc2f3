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
#include <new>
#include <string>
#include <typeinfo>
#include <utility>

namespace gofer {

// cancelled: the calling task was asked to stop (Task::request_stop) while it was blocked.
class cancelled : public std::exception {
 public:
  const char* what() const noexcept override { return "gofer: task cancelled by request_stop"; }
};

// out_of_memory: a std::bad_alloc that says what gofer was allocating, how much, and why it
// failed (e.g. a Chan whose capacity does not fit in memory). Catch it as std::bad_alloc.
class out_of_memory : public std::bad_alloc {
 public:
  explicit out_of_memory(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

namespace detail {
// type_name: the demangled name of a type ("std::runtime_error"), for reports and task names.
std::string type_name(const std::type_info& t);
}  // namespace detail

}  // namespace gofer
