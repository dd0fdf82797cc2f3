// errno_error.cpp: failed system calls and gofer's own error codes (errors.hpp) as
// std::system_error, with one message format: "gofer: <op> <what>: <reason>".
#include "errno_error.hpp"

#include <cerrno>
#include <string>
#include <system_error>

#include <gofer/errors.hpp>

namespace gofer {

namespace {

class GoferCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "gofer"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::closed:
        return "use of closed file or socket";
    }
    return "unknown gofer error " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& gofer_category() noexcept {
  static const GoferCategory category;
  return category;
}

}  // namespace gofer

namespace gofer::detail {

namespace {

std::string message(std::string_view op, std::string_view what) {
  std::string msg = "gofer: ";
  msg += op;
  if (!what.empty()) {
    msg += ' ';
    msg += what;
  }
  return msg;
}

}  // namespace

void throw_errno_value(int err, std::string_view op, std::string_view what) {
  throw std::system_error(err, std::system_category(), message(op, what));
}

void throw_timed_out(std::string_view op, std::string_view what) {
  std::string text(what);
  text += ": deadline passed";
  throw_errno_value(ETIMEDOUT, op, text);
}

void throw_closed(std::string_view op, std::string_view what) {
  throw std::system_error(errc::closed, message(op, what));
}

void throw_errno(std::string_view op, std::string_view what) {
  throw_errno_value(errno, op, what);
}

}  // namespace gofer::detail
