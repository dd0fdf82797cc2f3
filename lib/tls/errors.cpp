// errors.cpp: tls_category() and the exceptions TLS failures throw (see errors.hpp).
//
// Invariants: what() of a TLS failure is the text built here, not what_arg + category message
// (libstdc++'s form), so OpenSSL's reason ends the message as Go's errors do. A copy of the
// std::system_error base (a catch by value) keeps that text too, followed by the category's
// message: the peer and the reason survive slicing.
// Thread-safety: everything may run on any thread. Blocking: never.
#include "errors.hpp"

#include <array>
#include <string>
#include <system_error>

#include <openssl/err.h>

namespace gofer {

namespace {

class TlsCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "gofer.tls"; }
  std::string message(int ev) const override {
    switch (static_cast<tls_errc>(ev)) {
      case tls_errc::handshake_failed:
        return "TLS handshake failed";
      case tls_errc::certificate_verify_failed:
        return "certificate verify failed";
      case tls_errc::protocol_error:
        return "TLS protocol error";
      case tls_errc::bad_configuration:
        return "bad TLS configuration";
    }
    return "unknown TLS error " + std::to_string(ev);
  }
};

// TlsFailure: a std::system_error whose what() is a text of its own; the base holds the same
// text as its what_arg.
class TlsFailure final : public std::system_error {
 public:
  TlsFailure(tls_errc code, std::string text)
      : std::system_error(make_error_code(code), text), text_(std::move(text)) {}
  const char* what() const noexcept override { return text_.c_str(); }

 private:
  std::string text_;
};

}  // namespace

const std::error_category& tls_category() noexcept {
  static const TlsCategory category;
  return category;
}

namespace detail {

std::string openssl_reason(unsigned long* code) {
  const unsigned long first = ERR_get_error();
  ERR_clear_error();
  if (code != nullptr) {
    *code = first;
  }
  if (first == 0) {
    return {};
  }
  if (const char* reason = ERR_reason_error_string(first)) {
    return reason;
  }
  std::array<char, 256> text{};
  ERR_error_string_n(first, text.data(), text.size());
  return text.data();
}

void throw_tls(tls_errc code, std::string_view op, std::string_view peer, std::string_view reason) {
  std::string text = "gofer: ";
  text.append(op);
  if (!peer.empty()) {
    text.append(" ").append(peer);
  }
  text.append(": ").append(reason.empty() ? tls_category().message(static_cast<int>(code))
                                          : std::string(reason));
  throw TlsFailure(code, std::move(text));
}

}  // namespace detail

}  // namespace gofer
