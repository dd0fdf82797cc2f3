// context.hpp: TlsContext::Impl, the SSL_CTX a TlsContext shares, and what TlsStream reads of
// it.
//
// Invariants: an Impl is immutable once built (OpenSSL only reads the SSL_CTX when it makes an
// SSL, which is thread-safe); alpn_wire is the ALPN list in wire form (length-prefixed names),
// also read by the server's selection callback.
// Thread-safety: any task or thread. Blocking: never.
#pragma once

#include <string>

#include <gofer/tls.hpp>

#include <openssl/ssl.h>

namespace gofer {

class TlsContext::Impl {
 public:
  Impl(SSL_CTX* ctx, bool server, bool verify, std::string alpn_wire) noexcept
      : ctx_(ctx), server_(server), verify_(verify), alpn_wire_(std::move(alpn_wire)) {}
  ~Impl() { SSL_CTX_free(ctx_); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  SSL_CTX* ctx() const noexcept { return ctx_; }
  bool server() const noexcept { return server_; }
  // verify: a client checks the server's certificate and name (no dangerous_skip_verification).
  bool verify() const noexcept { return verify_; }
  const std::string& alpn_wire() const noexcept { return alpn_wire_; }

 private:
  SSL_CTX* ctx_;
  bool server_;
  bool verify_;
  std::string alpn_wire_;
};

}  // namespace gofer
