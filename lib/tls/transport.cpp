// transport.cpp: TlsTransport (see transport.hpp for the BIO, the send queue and invariants).
#include "transport.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <stdexcept>
#include <string>

#include "../errno_error.hpp"
#include "errors.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace gofer::detail {

namespace {

// max_write: the most plaintext one write() encrypts (four full records).
constexpr std::size_t max_write = 64 * 1024;
// kept_queue: out_ keeps its memory up to this size between calls; more is freed when sent.
constexpr std::size_t kept_queue = 20 * 1024;

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

}  // namespace

int TlsTransport::bio_read(BIO* b, char* out, std::size_t n, std::size_t* done) {
  auto* t = static_cast<TlsTransport*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  *done = 0;
  for (;;) {
    const ssize_t r = ::recv(t->fd_, out, n, 0);
    if (r > 0) {
      *done = static_cast<std::size_t>(r);
      return 1;
    }
    if (r == 0) {
      t->tcp_eof_ = true;
      return 0;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      BIO_set_retry_read(b);
      return 0;
    }
    t->sys_errno_ = errno;
    return 0;
  }
}

long TlsTransport::bio_ctrl(BIO* b, int cmd, long /*num*/, void* /*ptr*/) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;         // writes are queued by us and sent by each call
    case BIO_CTRL_EOF:  // OpenSSL asks after a read of 0: EOF, rather than a failed recv()
      return static_cast<TlsTransport*>(BIO_get_data(b))->tcp_eof_ ? 1 : 0;
    default:
      return 0;
  }
}

int TlsTransport::bio_write(BIO* b, const char* p, std::size_t n, std::size_t* done) {
  auto* t = static_cast<TlsTransport*>(BIO_get_data(b));
  try {
    t->out_.append(p, n);
  } catch (const std::bad_alloc&) {  // no exception may cross OpenSSL's C frames
    t->sys_errno_ = ENOMEM;
    *done = 0;
    return 0;
  }
  *done = n;
  return 1;
}

TlsTransport::TlsTransport(const TlsContext::Impl& ctx, int fd, std::string peer,
                           const std::string& server_name)
    : fd_(fd), peer_(std::move(peer)) {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "gofer socket");
    if (m != nullptr) {
      BIO_meth_set_read_ex(m, &TlsTransport::bio_read);
      BIO_meth_set_write_ex(m, &TlsTransport::bio_write);
      BIO_meth_set_ctrl(m, &TlsTransport::bio_ctrl);
      BIO_meth_set_create(m, &bio_create);
    }
    return m;
  }();
  ssl_ = method != nullptr ? SSL_new(ctx.ctx()) : nullptr;
  BIO* bio = ssl_ != nullptr ? BIO_new(method) : nullptr;
  if (bio == nullptr) {
    SSL_free(ssl_);
    ERR_clear_error();
    throw std::bad_alloc();
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);  // the SSL owns the BIO now
  if (ctx.server()) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  bool ok = true;
  if (!server_name.empty()) {
    ASN1_OCTET_STRING* ip = a2i_IPADDRESS(server_name.c_str());
    if (ip != nullptr) {
      ASN1_OCTET_STRING_free(ip);
      // RFC 6066: SNI carries host names only; an address is checked against the IP entries.
      ok = !ctx.verify() ||
           X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), server_name.c_str()) == 1;
    } else {
      ok = SSL_set_tlsext_host_name(ssl_, server_name.c_str()) == 1;
      if (ok && ctx.verify()) {
        SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ok = SSL_set1_host(ssl_, server_name.c_str()) == 1;
      }
    }
  }
  if (!ok) {
    const std::string reason = openssl_reason();
    SSL_free(ssl_);
    throw std::invalid_argument("gofer::TlsStream::client: server name \"" + server_name +
                                "\" is not usable: " + reason);
  }
}

TlsTransport::~TlsTransport() {
  SSL_free(ssl_);
}

std::optional<Interest> TlsTransport::send_queued(bool throwing) {
  while (sent_ < out_.size()) {
    const ssize_t r = ::send(fd_, out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL);
    if (r >= 0) {
      sent_ += static_cast<std::size_t>(r);
      continue;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return Interest::writable;
    }
    if (!throwing) {
      return std::nullopt;  // the next call meets the error again and reports it
    }
    throw_errno("TLS write", peer_);
  }
  sent_ = 0;
  if (out_.capacity() > kept_queue) {
    std::string().swap(out_);
  } else {
    out_.clear();
  }
  return std::nullopt;
}

std::optional<Interest> TlsTransport::after_failure(int r, const char* op) {
  const int err = SSL_get_error(ssl_, r);
  if (err == SSL_ERROR_WANT_READ) {
    // Bytes for the peer leave first: it may be waiting for them before it answers.
    if (auto w = send_queued(true)) {
      return w;
    }
    return Interest::readable;
  }
  if (err == SSL_ERROR_WANT_WRITE) {
    return Interest::writable;
  }
  unsigned long code = 0;
  std::string reason = openssl_reason(&code);
  send_queued(false);  // the alert OpenSSL queued tells the peer why
  const bool handshaking = SSL_is_init_finished(ssl_) == 0;
  const char* what = handshaking ? "TLS handshake with" : op;
  if (sys_errno_ != 0) {
    throw_errno_value(sys_errno_, what, peer_);
  }
  tls_errc ec = handshaking ? tls_errc::handshake_failed : tls_errc::protocol_error;
  if (reason.empty()) {
    reason = tcp_eof_ ? "connection closed by the peer" : "failed (no reason given)";
  }
  if (ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    ec = tls_errc::certificate_verify_failed;
    const long v = SSL_get_verify_result(ssl_);
    if (v != X509_V_OK) {
      reason += ": ";
      reason += X509_verify_cert_error_string(v);
    }
  }
  throw_tls(ec, what, peer_, reason);
}

IoStep TlsTransport::read(char* out, std::size_t n) {
  std::lock_guard guard(mu_);
  if (auto w = send_queued(true)) {
    return {0, w};
  }
  ERR_clear_error();
  sys_errno_ = 0;
  std::size_t got = 0;
  const int r = SSL_read_ex(ssl_, out, n, &got);
  if (r == 1) {
    send_queued(false);  // a reply OpenSSL queued (a key update); the bytes read must not be lost
    return {got, std::nullopt};
  }
  if (SSL_get_error(ssl_, r) == SSL_ERROR_ZERO_RETURN && SSL_is_init_finished(ssl_) == 1) {
    ERR_clear_error();
    return {0, std::nullopt};  // EOF: close_notify, or TCP EOF (SSL_OP_IGNORE_UNEXPECTED_EOF)
  }
  return {0, after_failure(r, "TLS read")};
}

IoStep TlsTransport::write(const char* p, std::size_t n) {
  std::lock_guard guard(mu_);
  if (auto w = send_queued(true)) {
    return {0, w};
  }
  ERR_clear_error();
  sys_errno_ = 0;
  std::size_t put = 0;
  const int r = SSL_write_ex(ssl_, p, std::min(n, max_write), &put);
  if (r == 1) {
    send_queued(false);  // what is left goes at the next call, or write_all's final flush()
    return {put, std::nullopt};
  }
  return {0, after_failure(r, "TLS write")};
}

std::optional<Interest> TlsTransport::flush() {
  std::lock_guard guard(mu_);
  return send_queued(true);
}

std::optional<Interest> TlsTransport::handshake_step() {
  std::lock_guard guard(mu_);
  if (auto w = send_queued(true)) {
    return w;
  }
  if (SSL_is_init_finished(ssl_) == 1) {
    return std::nullopt;
  }
  ERR_clear_error();
  sys_errno_ = 0;
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    return send_queued(true);
  }
  return after_failure(r, "TLS handshake with");
}

std::optional<Interest> TlsTransport::shutdown_step() {
  std::lock_guard guard(mu_);
  if (!close_notify_queued_) {
    if (SSL_is_init_finished(ssl_) == 0) {
      throw_tls(tls_errc::protocol_error, "TLS shutdown", peer_,
                "the handshake has not completed (close() ends such a connection)");
    }
    ERR_clear_error();
    sys_errno_ = 0;
    const int r = SSL_shutdown(ssl_);
    if (r < 0) {
      if (auto w = after_failure(r, "TLS shutdown")) {
        return w;
      }
    }
    close_notify_queued_ = true;
  }
  return send_queued(true);
}

bool TlsTransport::close_notify_received() const {
  std::lock_guard guard(mu_);
  return (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) != 0 && !tcp_eof_;
}

}  // namespace gofer::detail
