// transport.hpp: TlsTransport, one SSL connection as the StreamTransport of a TcpStream's
// FdStream (see tls.hpp for the user's view).
//
// OpenSSL reads and writes the socket through a BIO of ours: a read is one recv() on the
// non-blocking socket (EAGAIN becomes WANT_READ); a write appends the encrypted bytes to out_,
// which every call sends (send, MSG_NOSIGNAL) before it returns or parks. So SSL_write never
// waits for the socket (no half-written record to retry with the same buffer after a deadline),
// and a call that still holds bytes for the peer parks for writable before it parks for
// readable (a handshake never waits for a reply to bytes it did not send).
//
// Invariants: (1) every SSL call, and every access to out_, tcp_eof_ and sys_errno_, happens
// with mu_ held; mu_ is never held while a task parks; (2) out_ holds at most one write()'s
// records (64 KiB of data plus their overhead) or a handshake flight: a call sends it first and
// accepts no new data until it is empty; (3) OpenSSL's thread-local error queue is cleared
// before each SSL call and read, on the same thread, right after a failed one.
// Thread-safety: read() (the reading task) and write(), flush(), handshake_step(),
// shutdown_step() and with_ssl() (any task) may run at the same time on different threads.
// Blocking: never parks; mu_ may make a thread wait while another runs one SSL call.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>

#include "../stream_transport.hpp"
#include "context.hpp"

#include <openssl/ssl.h>

namespace gofer::detail {

class TlsTransport final : public StreamTransport {
 public:
  // TlsTransport: an SSL of ctx over fd (not owned: the FdStream owns it), naming peer in
  // errors. A client's server_name (a DNS name or an IP address; empty: none) is verified when
  // ctx verifies, and a DNS name is sent as SNI.
  TlsTransport(const TlsContext::Impl& ctx, int fd, std::string peer,
               const std::string& server_name);
  ~TlsTransport();
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  IoStep read(char* out, std::size_t n) override;
  IoStep write(const char* p, std::size_t n) override;
  std::optional<Interest> flush() override;
  // handshake_step: advances the handshake; nullopt once it is complete and its last flight
  // sent.
  std::optional<Interest> handshake_step();
  // shutdown_step: queues close_notify (once) and sends it; nullopt once sent. Throws
  // tls_errc::protocol_error before the handshake completed.
  std::optional<Interest> shutdown_step();

  // with_ssl: f(ssl) under mu_, for the read-only accessors.
  template <class F>
  auto with_ssl(F f) const {
    std::lock_guard guard(mu_);
    return f(static_cast<const SSL*>(ssl_));
  }
  // close_notify_received: the peer's EOF was its close_notify, not a bare TCP EOF.
  bool close_notify_received() const;

 private:
  static int bio_read(BIO* b, char* out, std::size_t n, std::size_t* done);
  static int bio_write(BIO* b, const char* p, std::size_t n, std::size_t* done);
  static long bio_ctrl(BIO* b, int cmd, long num, void* ptr);

  // send_queued: sends out_; the readiness to wait for, nullopt when out_ is empty; a socket
  // error is thrown (throwing) or left for the next call (not throwing). mu_ held.
  std::optional<Interest> send_queued(bool throwing);
  // after_failure: the readiness an SSL call that returned r asks for, or throws its error
  // ("gofer: <op> <peer>: <reason>"), op naming the handshake while it has not completed.
  // mu_ held; runs right after the call (invariant 3).
  std::optional<Interest> after_failure(int r, const char* op);

  mutable std::mutex mu_;
  SSL* ssl_ = nullptr;
  int fd_;
  std::string peer_;
  std::string out_;  // encrypted bytes not yet sent, from out_[sent_]
  std::size_t sent_ = 0;
  bool tcp_eof_ = false;  // recv() returned 0
  int sys_errno_ = 0;     // the errno of a failed recv() in the last SSL call
  bool close_notify_queued_ = false;
};

}  // namespace gofer::detail
