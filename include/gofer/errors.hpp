// errors.hpp: the exceptions gofer throws.
//
// - gofer::cancelled: thrown by a blocking gofer call (sleep, channel operation, select, task
//   wait, later I/O) in a task whose request_stop() has been called. It deliberately does not
//   derive from std::system_error, so `catch (const std::system_error&)` around I/O does not
//   swallow a cancellation.
// - Misuse (a moved-from Chan or Task, waiting twice, a bad capacity) throws std::logic_error or
//   std::invalid_argument with a message that starts with "gofer: " and says what and why.
// - System call failures throw std::system_error carrying errno (see lib/errno_error.hpp).
// - A call on a File, TcpStream, TcpListener or UdpSocket that is closed, or is closed while
//   the call runs (by any task or thread), throws std::system_error with the error code
//   gofer::errc::closed (Go's net.ErrClosed): "gofer: accept 127.0.0.1:5000: use of closed
//   file or socket". Test it with `e.code() == gofer::errc::closed`.
#pragma once

#include <exception>
#include <new>
#include <string>
#include <system_error>
#include <type_traits>
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

// errc: gofer's own error codes, of gofer_category(); a std::error_code enum, so
// `e.code() == gofer::errc::closed` works on a caught std::system_error.
enum class errc {
  closed = 1,  // the file or socket was closed before or during the call
};

// gofer_category: the category of errc ("gofer"); its messages: closed -> "use of closed file
// or socket".
const std::error_category& gofer_category() noexcept;

// make_error_code: errc as a std::error_code of gofer_category() (found by ADL).
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), gofer_category()};
}

namespace detail {
// type_name: the demangled name of a type ("std::runtime_error"), for reports and task names.
std::string type_name(const std::type_info& t);
}  // namespace detail

}  // namespace gofer

template <>
struct std::is_error_code_enum<gofer::errc> : std::true_type {};
