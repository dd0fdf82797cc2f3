// stream.cpp: TlsStream: a TcpStream whose FdStream reads and writes through a TlsTransport
// (see tls.hpp).
//
// Invariants: (1) Impl declares ctx, then transport, then tcp, and ~Impl closes tcp first:
// once the FdStream's close() has returned no call uses the transport, which may then free its
// SSL, and the SSL never outlives the context its callbacks read;
// (2) stream_ is impl_->tcp's FdStream (its address is stable while impl_ lives), nullptr for
// an empty or moved-from TlsStream.
// Thread-safety and blocking: as tls.hpp says.
#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include <gofer/tls.hpp>

#include "../errno_error.hpp"
#include "../fd_stream.hpp"
#include "../stream_io_impl.hpp"
#include "context.hpp"
#include "transport.hpp"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace gofer {

class TlsStream::Impl {
 public:
  Impl(TcpStream stream, std::shared_ptr<const TlsContext::Impl> context, std::string peer,
       std::string name)
      : ctx(std::move(context)),
        transport(*ctx, stream.fd(), std::move(peer), name),
        tcp(std::move(stream)),
        server_name(std::move(name)) {}
  ~Impl() { tcp.close(); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // ctx: kept alive for the SSL, whose ALPN callback reads it during the handshake.
  std::shared_ptr<const TlsContext::Impl> ctx;
  detail::TlsTransport transport;
  TcpStream tcp;
  std::string server_name;  // a client's: the name it was given
};

namespace {

// peer_label: what errors call the peer: "127.0.0.1:4433 (example.com)".
std::string peer_label(const TcpStream& tcp, const std::string& server_name) {
  std::string label;
  try {
    label = tcp.peer_address().to_string();
  } catch (const std::system_error&) {  // reset already: the handshake will say so
    label = "(unconnected socket)";
  }
  if (!server_name.empty()) {
    label += " (" + server_name + ")";
  }
  return label;
}

}  // namespace

TlsStream::TlsStream() noexcept = default;

TlsStream::TlsStream(std::unique_ptr<Impl> impl) noexcept
    : impl_(std::move(impl)), stream_(impl_->tcp.stream_if_any()) {}

TlsStream::TlsStream(TlsStream&& o) noexcept
    : StreamIo<TlsStream>(),
      impl_(std::move(o.impl_)),
      stream_(std::exchange(o.stream_, nullptr)) {}

TlsStream& TlsStream::operator=(TlsStream&& o) noexcept {
  impl_ = std::move(o.impl_);
  stream_ = std::exchange(o.stream_, nullptr);
  return *this;
}

TlsStream::~TlsStream() = default;

TlsStream TlsStream::client(TcpStream tcp, std::string server_name, const TlsContext& ctx) {
  const char* who = "gofer::TlsStream::client";
  if (ctx.is_empty() || ctx.is_server()) {
    throw std::invalid_argument(std::string(who) +
                                ": needs a context made by "
                                "TlsContext::client (got " +
                                (ctx.is_empty() ? "an empty one)" : "a server context)"));
  }
  if (server_name.empty() && ctx.impl_->verify()) {
    throw std::invalid_argument(std::string(who) +
                                ": an empty server_name cannot be verified (give the "
                                "server's host name or address)");
  }
  return make(std::move(tcp), ctx, std::move(server_name), who);
}

TlsStream TlsStream::server(TcpStream tcp, const TlsContext& ctx) {
  const char* who = "gofer::TlsStream::server";
  if (!ctx.is_server()) {
    throw std::invalid_argument(std::string(who) +
                                ": needs a context made by "
                                "TlsContext::server (got " +
                                (ctx.is_empty() ? "an empty one)" : "a client context)"));
  }
  return make(std::move(tcp), ctx, {}, who);
}

TlsStream TlsStream::make(TcpStream tcp, const TlsContext& ctx, std::string server_name,
                          const char* who) {
  if (!tcp.is_open()) {
    throw std::invalid_argument(std::string(who) + ": the TcpStream is closed or empty");
  }
  if (const std::size_t n = tcp.buffered(); n > 0) {
    throw std::invalid_argument(std::string(who) + ": the TcpStream has " + std::to_string(n) +
                                " bytes buffered, which the TLS layer would never see (start "
                                "TLS before reading past the plaintext part)");
  }
  std::string peer = peer_label(tcp, server_name);
  auto impl =
      std::make_unique<Impl>(std::move(tcp), ctx.impl_, std::move(peer), std::move(server_name));
  impl->tcp.stream_if_any()->set_transport(&impl->transport);
  return TlsStream(std::move(impl));
}

TlsStream TlsStream::connect(const std::string& host, std::uint16_t port, const TlsContext& ctx,
                             Deadline d) {
  TlsStream s = client(TcpStream::connect(host, port, d), host, ctx);
  s.handshake(d);
  return s;
}

TlsStream::Impl& TlsStream::impl(const char* op) const {
  if (impl_ == nullptr) {
    detail::throw_errno_value(EBADF, op, "(empty or moved-from TlsStream)");
  }
  return *impl_;
}

void TlsStream::handshake(Deadline d) {
  Impl& i = impl("TLS handshake");
  stream_->drive(detail::Interest::readable, "TLS handshake", d.time_point(),
                 [&i] { return i.transport.handshake_step(); });
}

bool TlsStream::handshake_complete() const {
  return impl("handshake_complete").transport.with_ssl([](const SSL* ssl) {
    return SSL_is_init_finished(ssl) == 1;
  });
}

void TlsStream::shutdown(Deadline d) {
  Impl& i = impl("TLS shutdown");
  stream_->drive(detail::Interest::writable, "TLS shutdown", d.time_point(),
                 [&i] { return i.transport.shutdown_step(); });
  // The peer has its EOF; a FIN helps peers that wait for TCP's too. A peer that already reset
  // the connection makes this fail, which changes nothing for the caller: ignored.
  stream_->with_fd("TLS shutdown", [](int fd) { ::shutdown(fd, SHUT_WR); });
}

std::string TlsStream::alpn_protocol() const {
  return impl("alpn_protocol").transport.with_ssl([](const SSL* ssl) {
    const unsigned char* p = nullptr;
    unsigned int n = 0;
    SSL_get0_alpn_selected(ssl, &p, &n);
    return p != nullptr ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
  });
}

std::string TlsStream::server_name() const {
  const Impl& i = impl("server_name");
  if (!i.server_name.empty()) {
    return i.server_name;
  }
  return i.transport.with_ssl([](const SSL* ssl) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    return name != nullptr ? std::string(name) : std::string();
  });
}

std::string TlsStream::peer_certificate_subject() const {
  return impl("peer_certificate_subject").transport.with_ssl([](const SSL* ssl) {
    X509* cert = SSL_get0_peer_certificate(ssl);
    if (cert == nullptr) {
      return std::string();
    }
    BIO* mem = BIO_new(BIO_s_mem());
    if (mem == nullptr) {
      throw std::bad_alloc();
    }
    X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    const long n = BIO_get_mem_data(mem, &data);
    std::string subject(data, static_cast<std::size_t>(n > 0 ? n : 0));
    BIO_free(mem);
    return subject;
  });
}

std::string TlsStream::version() const {
  return impl("version").transport.with_ssl(
      [](const SSL* ssl) { return std::string(SSL_get_version(ssl)); });
}

std::string TlsStream::cipher() const {
  return impl("cipher").transport.with_ssl([](const SSL* ssl) {
    const char* name = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
    return name != nullptr ? std::string(name) : std::string();
  });
}

bool TlsStream::close_notify_received() const {
  return impl("close_notify_received").transport.close_notify_received();
}

SocketAddress TlsStream::peer_address() const {
  return impl("peer_address").tcp.peer_address();
}

SocketAddress TlsStream::local_address() const {
  return impl("local_address").tcp.local_address();
}

template <>
const char* const stream_type_label<TlsStream> = "TlsStream";

template class StreamIo<TlsStream>;

}  // namespace gofer
