// errors.hpp: TLS failures as std::system_error of tls_category(), with OpenSSL's reason.
//
// Thread-safety: OpenSSL's error queue is per OS thread; read_reason() must run on the thread
// (and before the task parks) of the SSL call that failed. Blocking: never.
#pragma once

#include <string>
#include <string_view>

#include <gofer/tls.hpp>

namespace gofer::detail {

// openssl_reason: the reason of the oldest error in this thread's OpenSSL error queue ("" when
// it is empty), clearing the queue; *code (when given) gets that error's code (0: none).
std::string openssl_reason(unsigned long* code = nullptr);

// throw_tls: throws std::system_error(code) whose what() is exactly
// "gofer: <op> <peer>: <reason>" (with no category text appended).
[[noreturn]] void throw_tls(tls_errc code, std::string_view op, std::string_view peer,
                            std::string_view reason);

}  // namespace gofer::detail
