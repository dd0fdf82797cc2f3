// tls.hpp: TLS over a TcpStream (OpenSSL 3), with the read and write set of every gofer stream.
//
//   auto ctx = gofer::TlsContext::client();                      // the system trust store
//   auto s = gofer::TlsStream::connect("example.com", 443, ctx, 5s);
//   s.write("GET / HTTP/1.0\r\nHost: example.com\r\n\r\n", 5s);
//   while (auto line = s.read_line(5s)) { ... }
//
//   gofer::TlsConfig config;
//   config.certificate_file = "cert.pem";
//   config.private_key_file = "key.pem";
//   auto server_ctx = gofer::TlsContext::server(config);
//   gofer::go([&](gofer::TcpStream tcp) {                       // one task per connection
//     auto s = gofer::TlsStream::server(std::move(tcp), server_ctx);
//     s.handshake(10s);
//     while (auto line = s.read_line(1min)) s.write(*line + "\n");
//     s.shutdown(5s);                                            // close_notify: a clean EOF
//   }, listener.accept());
//
// This is a separate library: link gofer::tls (CMake target gofer_tls), which brings OpenSSL;
// gofer::gofer alone needs no libssl. <gofer/gofer.hpp> does not include this header.
//
// A TlsContext holds what many connections share (an SSL_CTX): the trusted CAs (a CA file, or
// the system trust store), this end's certificate and key, ALPN protocols, the minimum version.
// Verification of the peer is on by default for a client: its certificate must chain to a
// trusted CA and name the host given to TlsStream::client (a DNS name is also sent as SNI; an
// IP address is checked against the certificate's IP entries). TlsConfig::
// dangerous_skip_verification turns that off, for tests only.
//
// A TlsStream takes ownership of a connected TcpStream. handshake(d) runs the handshake; the
// first read or write runs it too when handshake() was not called (as Go's tls.Conn).
// shutdown(d) sends close_notify (the peer reads a clean EOF); close() closes the socket
// without it. Reading returns EOF at the peer's close_notify, and also when the peer closes TCP
// without one (as Go does; close_notify_received() tells the two apart). Renegotiation is
// refused.
//
// Reads, writes and deadlines are StreamIo's (stream_io.hpp): read, read_exact, read_chunk,
// read_line, read_all, buffered, write, set_read_deadline/set_write_deadline/set_deadline,
// close, with the same results and errors as on a TcpStream. A write returns once its bytes are
// encrypted and handed to the kernel; a write that timed out may have sent a prefix, and bytes
// it already encrypted are sent by the next call on the stream.
//
// Errors: TLS failures throw std::system_error with a code of tls_category() whose what()
// names the operation, the peer and OpenSSL's reason: "gofer: TLS handshake with
// 127.0.0.1:4433 (example.com): certificate verify failed: hostname mismatch". Socket errors
// stay std::system_error of the system category (ECONNRESET...); deadlines errc::timed_out;
// a closed stream gofer::errc::closed; request_stop() gofer::cancelled. Bad arguments (a
// client without a server name while verifying, a server context without a certificate, a
// TcpStream that is closed or has buffered bytes) throw std::invalid_argument; a CA,
// certificate or key file that cannot be loaded throws tls_errc::bad_configuration naming it.
//
// Invariants: (1) a TlsStream's reads and writes go through its TcpStream's FdStream (lib/
// fd_stream.hpp), which calls the TLS engine instead of recv/send and parks in the TcpStream's
// PollFd when OpenSSL wants the socket readable or writable, so deadlines, close() from
// anywhere and request_stop() work as on a TcpStream; (2) OpenSSL's socket I/O goes through
// gofer's own BIO: reads are recv() on the non-blocking socket, writes are queued encrypted
// bytes that each call sends (MSG_NOSIGNAL: never SIGPIPE) before it returns or parks.
// Thread-safety: a TlsContext may be shared by any tasks and threads. Once the handshake has
// completed, a TlsStream may be used by one reading task and one writing task at the same
// time, on the same thread or on different ones (a mutex serializes OpenSSL's calls; it is
// held only while a non-blocking SSL call runs, never while a task is parked); until then, by
// one task at a time (call handshake() before starting a second task). close(), is_open() and
// the set_*deadline() calls may run on any task or thread at any time.
// Blocking: connect, handshake, shutdown, the reads and the writes park the calling task (on a
// plain thread, they run the thread's loop), never the thread; TlsContext's factories read
// files (call them at startup); close() parks as TcpStream's does.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include <gofer/deadline.hpp>
#include <gofer/net.hpp>
#include <gofer/socket_address.hpp>
#include <gofer/stream_io.hpp>

namespace gofer {

// tls_errc: the error codes of tls_category(); `e.code() == gofer::tls_errc::...` works on a
// caught std::system_error.
enum class tls_errc {
  handshake_failed = 1,       // the handshake failed (no common version or cipher, an alert)
  certificate_verify_failed,  // the peer's certificate was rejected (untrusted, wrong name)
  protocol_error,             // a TLS failure after the handshake (bad record, an alert)
  bad_configuration,          // a CA, certificate or key file could not be loaded
};

// tls_category: the category of tls_errc ("gofer.tls").
const std::error_category& tls_category() noexcept;

// make_error_code: tls_errc as a std::error_code of tls_category() (found by ADL).
inline std::error_code make_error_code(tls_errc e) noexcept {
  return {static_cast<int>(e), tls_category()};
}

// tls_version: the lowest protocol version a TlsContext accepts.
enum class tls_version { tls1_2, tls1_3 };

// TlsConfig: what a TlsContext is made of. Every field has a default; a client needs none.
struct TlsConfig {
  // ca_file: PEM file of the CAs to trust; empty: the system trust store (a client), or none (a
  // server not asking for client certificates).
  std::string ca_file;
  // certificate_file / private_key_file: this end's certificate chain (PEM, leaf first) and its
  // private key (PEM). Required for a server; for a client they are sent when a server asks.
  std::string certificate_file;
  std::string private_key_file;
  // alpn: the ALPN protocols this end speaks, most preferred first ("h2", "http/1.1"). A server
  // picks the first of its own that the client offers and rejects a client that offers ALPN
  // but none of them (as Go); empty: no ALPN.
  std::vector<std::string> alpn;
  // require_client_certificate: a server asks for a client certificate and verifies it against
  // ca_file, which it then needs (mutual TLS); a client without one fails the handshake.
  bool require_client_certificate = false;
  // min_version: the lowest version accepted (TLS 1.2 by default; SSL and TLS 1.0/1.1 never).
  tls_version min_version = tls_version::tls1_2;
  // dangerous_skip_verification: a client accepts ANY certificate for ANY name, so it cannot
  // tell the server from an attacker in the middle. For tests and throwaway setups only.
  bool dangerous_skip_verification = false;
};

// TlsContext: the shared, immutable setup of many TLS connections of one role. Copies share
// it (cheap); a default-constructed TlsContext is empty and rejected by TlsStream.
class TlsContext {
 public:
  // client: a context for TLS clients. Throws std::system_error(tls_errc::bad_configuration)
  // when a file cannot be loaded, std::invalid_argument for a key without a certificate (or the
  // reverse) or an ALPN name that is empty or longer than 255 bytes.
  static TlsContext client(const TlsConfig& config = {});
  // server: a context for TLS servers; certificate_file and private_key_file are required
  // (std::invalid_argument), the key must match the certificate (bad_configuration).
  static TlsContext server(const TlsConfig& config);

  TlsContext() noexcept;
  TlsContext(const TlsContext&) noexcept;
  TlsContext& operator=(const TlsContext&) noexcept;
  TlsContext(TlsContext&&) noexcept;
  TlsContext& operator=(TlsContext&&) noexcept;
  ~TlsContext();

  // is_server: made by server(); false for an empty context.
  bool is_server() const noexcept;
  // is_empty: default-constructed or moved-from.
  bool is_empty() const noexcept { return impl_ == nullptr; }

  class Impl;

 private:
  explicit TlsContext(std::shared_ptr<const Impl> impl) noexcept;
  std::shared_ptr<const Impl> impl_;

  friend class TlsStream;
};

// TlsStream: one TLS connection over a TcpStream it owns.
class TlsStream : public StreamIo<TlsStream> {
 public:
  // client: the client end over a connected TcpStream. server_name is the server's host name
  // (sent as SNI and checked against its certificate) or IP address (checked against it); it
  // may be empty only with dangerous_skip_verification. No byte is exchanged until handshake()
  // or the first read or write. Throws std::invalid_argument for a server context, an empty
  // context, an empty server_name while verifying, or a TcpStream that is closed or has
  // buffered bytes (they would be TLS records read past).
  static TlsStream client(TcpStream tcp, std::string server_name, const TlsContext& ctx);
  // server: the server end over an accepted TcpStream (same rules, a server context).
  static TlsStream server(TcpStream tcp, const TlsContext& ctx);
  // connect: TcpStream::connect(host, port, d), client(tcp, host, ctx) and handshake(d): Go's
  // tls.Dial. Throws as those do.
  static TlsStream connect(const std::string& host, std::uint16_t port, const TlsContext& ctx,
                           Deadline d = {});

  TlsStream() noexcept;
  TlsStream(TlsStream&& o) noexcept;
  TlsStream& operator=(TlsStream&& o) noexcept;
  ~TlsStream();

  // handshake: runs the handshake to its end, parking as the peer needs; returns at once once
  // done. Throws std::system_error of tls_category() (handshake_failed,
  // certificate_verify_failed), errc::timed_out at the deadline (also when the peer never
  // speaks), a socket error, errc::closed, or gofer::cancelled.
  void handshake(Deadline d = {});
  // handshake_complete: whether the handshake has completed.
  bool handshake_complete() const;

  // alpn_protocol: the protocol ALPN selected ("" when none, or before the handshake).
  std::string alpn_protocol() const;
  // server_name: a client's, the name it was given; a server's, the SNI the client sent ("").
  std::string server_name() const;
  // peer_certificate_subject: the subject of the peer's certificate in RFC 2253 form
  // ("CN=localhost,O=Example"), "" when the peer sent none.
  std::string peer_certificate_subject() const;
  // version / cipher: the negotiated protocol version ("TLSv1.3") and cipher suite name.
  std::string version() const;
  std::string cipher() const;
  // close_notify_received: the peer ended its side with close_notify (so the EOF a read
  // returned was not a truncation by the network or an attacker).
  bool close_notify_received() const;

  // shutdown: sends close_notify (the peer reads EOF) and shuts the TCP write side; the stream
  // can still read until the peer's EOF. Writes afterwards throw. Parks until the alert is
  // sent; throws as a write does, or tls_errc::protocol_error before the handshake completed.
  void shutdown(Deadline d = {});

  // peer_address / local_address: the TCP addresses of the two ends.
  SocketAddress peer_address() const;
  SocketAddress local_address() const;

  // is_open, fd, the reads, buffered, the max line length, write, the deadlines and close()
  // come from StreamIo (stream_io.hpp). close() closes the socket without close_notify.

  class Impl;

 private:
  friend class StreamIo<TlsStream>;
  explicit TlsStream(std::unique_ptr<Impl> impl) noexcept;
  static TlsStream make(TcpStream tcp, const TlsContext& ctx, std::string server_name,
                        const char* who);
  Impl& impl(const char* op) const;
  detail::FdStream* stream_if_any() const noexcept { return stream_; }

  std::unique_ptr<Impl> impl_;
  detail::FdStream* stream_ = nullptr;  // the TcpStream's, held in impl_ (stable while it lives)
};

extern template class StreamIo<TlsStream>;

}  // namespace gofer

template <>
struct std::is_error_code_enum<gofer::tls_errc> : std::true_type {};
