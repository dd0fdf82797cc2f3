// errno_error.hpp: one helper turning a failed system call into std::system_error.
//
// Thread-safe; never blocks.
#pragma once

#include <string_view>

namespace gofer::detail {

// throw_errno: throws std::system_error(errno, system_category, "gofer: <op> <what>").
[[noreturn]] void throw_errno(std::string_view op, std::string_view what = {});
// throw_errno_value: the same with an explicit error number.
[[noreturn]] void throw_errno_value(int err, std::string_view op, std::string_view what = {});
// throw_timed_out: std::system_error(ETIMEDOUT) "gofer: <op> <what>: deadline passed: ...".
[[noreturn]] void throw_timed_out(std::string_view op, std::string_view what);
// throw_closed: throws std::system_error(gofer::errc::closed, "gofer: <op> <what>").
[[noreturn]] void throw_closed(std::string_view op, std::string_view what);

}  // namespace gofer::detail
