#include "errno_error.hpp"

#include <cerrno>
#include <string>
#include <system_error>

namespace gofer::detail {

void throw_errno_value(int err, std::string_view op, std::string_view what) {
  std::string msg = "gofer: ";
  msg += op;
  if (!what.empty()) {
    msg += ' ';
    msg += what;
  }
  throw std::system_error(err, std::system_category(), msg);
}

void throw_errno(std::string_view op, std::string_view what) {
  throw_errno_value(errno, op, what);
}

}  // namespace gofer::detail
