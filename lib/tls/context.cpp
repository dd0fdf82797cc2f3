// context.cpp: TlsContext: an SSL_CTX built from a TlsConfig (see tls.hpp).
//
// Invariants: every SSL_CTX made here refuses renegotiation, treats a TCP EOF without
// close_notify as EOF (SSL_OP_IGNORE_UNEXPECTED_EOF, as Go), accepts partial writes and moving
// write buffers (FdStream retries a write from wherever its loop is), and frees idle record
// buffers (many idle connections cost little).
// Thread-safety: the factories may run on any task or thread; the result is immutable.
// Blocking: the factories read the CA, certificate and key files on the calling thread (the
// system trust store once per process, on the first client context that uses it).
#include "context.hpp"

#include <memory>
#include <stdexcept>
#include <string>

#include "errors.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace gofer {

namespace {

[[noreturn]] void bad_file(const char* what, const std::string& path) {
  std::string subject = what;
  if (!path.empty()) {
    subject += " " + path;
  }
  detail::throw_tls(tls_errc::bad_configuration, "TlsContext: cannot load", subject,
                    detail::openssl_reason());
}

// alpn_wire: the ALPN list in wire form: each name preceded by its length.
std::string alpn_wire(const std::vector<std::string>& names, const char* who) {
  std::string wire;
  for (const auto& n : names) {
    if (n.empty() || n.size() > 255) {
      throw std::invalid_argument(std::string(who) + ": ALPN protocol name \"" + n +
                                  "\" is invalid (it must be 1 to 255 bytes)");
    }
    wire.push_back(static_cast<char>(n.size()));
    wire.append(n);
  }
  return wire;
}

// select_alpn: a server's choice: its first protocol the client offers; a client offering
// ALPN without any of them is refused with no_application_protocol (as Go).
int select_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen,
                const unsigned char* in, unsigned int inlen, void* arg) {
  const auto* impl = static_cast<const TlsContext::Impl*>(arg);
  const std::string& ours = impl->alpn_wire();
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, reinterpret_cast<const unsigned char*>(ours.data()),
                            static_cast<unsigned int>(ours.size()), in,
                            inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

// system_store: the system trust store, loaded once per process (as Go's system roots) and
// shared by every client context that verifies without a CA file: reading the ~150 CAs of
// Debian's bundle takes milliseconds, too long for each connection or context. Never freed.
X509_STORE* system_store() {
  static X509_STORE* const store = []() -> X509_STORE* {
    X509_STORE* s = X509_STORE_new();
    if (s != nullptr && X509_STORE_set_default_paths(s) != 1) {
      X509_STORE_free(s);
      return nullptr;
    }
    return s;
  }();
  if (store == nullptr) {
    bad_file("the system trust store", "");
  }
  return store;
}

std::shared_ptr<const TlsContext::Impl> make(const TlsConfig& config, bool server) {
  const char* who = server ? "gofer::TlsContext::server" : "gofer::TlsContext::client";
  if (config.certificate_file.empty() != config.private_key_file.empty()) {
    throw std::invalid_argument(std::string(who) +
                                ": certificate_file and private_key_file go together (one of "
                                "them is empty)");
  }
  if (server && config.certificate_file.empty()) {
    throw std::invalid_argument(std::string(who) +
                                ": a server needs certificate_file and private_key_file");
  }
  if (server && config.require_client_certificate && config.ca_file.empty()) {
    throw std::invalid_argument(std::string(who) +
                                ": require_client_certificate needs ca_file (the CAs that "
                                "issue client certificates)");
  }
  std::string wire = alpn_wire(config.alpn, who);
  ERR_clear_error();
  SSL_CTX* raw = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (raw == nullptr) {
    throw std::bad_alloc();
  }
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(raw, SSL_CTX_free);
  SSL_CTX_set_min_proto_version(
      raw, config.min_version == tls_version::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(raw, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(raw, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);

  const bool verify = !server && !config.dangerous_skip_verification;
  if (!config.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(raw, config.ca_file.c_str(), nullptr) != 1) {
      bad_file("CA file", config.ca_file);
    }
  } else if (verify) {
    SSL_CTX_set1_cert_store(raw, system_store());  // shared: set1 takes a reference
  }
  if (!config.certificate_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(raw, config.certificate_file.c_str()) != 1) {
      bad_file("certificate file", config.certificate_file);
    }
    if (SSL_CTX_use_PrivateKey_file(raw, config.private_key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      bad_file("private key file", config.private_key_file);
    }
    if (SSL_CTX_check_private_key(raw) != 1) {
      bad_file("private key file",
               config.private_key_file + " (it does not match " + config.certificate_file + ")");
    }
  }

  if (verify) {
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  } else if (server && config.require_client_certificate) {
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  } else {
    SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, nullptr);
  }

  auto impl =
      std::make_shared<const TlsContext::Impl>(ctx.release(), server, verify, std::move(wire));
  if (!impl->alpn_wire().empty()) {
    const auto* data = reinterpret_cast<const unsigned char*>(impl->alpn_wire().data());
    const auto size = static_cast<unsigned int>(impl->alpn_wire().size());
    if (server) {
      SSL_CTX_set_alpn_select_cb(impl->ctx(), select_alpn,
                                 const_cast<TlsContext::Impl*>(impl.get()));
    } else if (SSL_CTX_set_alpn_protos(impl->ctx(), data, size) != 0) {  // 0 is success here
      throw std::bad_alloc();
    }
  }
  return impl;
}

}  // namespace

TlsContext TlsContext::client(const TlsConfig& config) {
  return TlsContext(make(config, false));
}

TlsContext TlsContext::server(const TlsConfig& config) {
  return TlsContext(make(config, true));
}

TlsContext::TlsContext() noexcept = default;
TlsContext::TlsContext(std::shared_ptr<const Impl> impl) noexcept : impl_(std::move(impl)) {}
TlsContext::TlsContext(const TlsContext&) noexcept = default;
TlsContext& TlsContext::operator=(const TlsContext&) noexcept = default;
TlsContext::TlsContext(TlsContext&&) noexcept = default;
TlsContext& TlsContext::operator=(TlsContext&&) noexcept = default;
TlsContext::~TlsContext() = default;

bool TlsContext::is_server() const noexcept {
  return impl_ != nullptr && impl_->server();
}

}  // namespace gofer
