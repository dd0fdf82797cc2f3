// net.hpp: TCP and UDP sockets that park the task, not the thread (NimGo's gonet).
//
//   auto listener = gofer::TcpListener::bind("127.0.0.1", 0);   // port 0: the kernel picks
//   gofer::go([&] {
//     for (;;) {
//       gofer::go([conn = listener.accept()]() mutable {          // one task per connection
//         while (auto line = conn.read_line()) {
//           conn.write(*line + "\n");
//         }
//       });
//     }
//   });
//   auto s = gofer::TcpStream::connect("127.0.0.1", listener.local_port(), 2s);
//   s.write("hello\n");
//   auto reply = s.read_line(500ms);                               // "hello"
//
// Sockets are non-blocking. A call that cannot proceed (accept with no pending connection,
// connect in progress, read with nothing received, write into a full socket buffer) parks the
// calling task in the thread's poller until the socket is ready, so one scheduler thread
// serves thousands of connections. Host names are resolved with getaddrinfo on the blocking
// pool (blocking.hpp), never on the scheduler thread; numeric addresses ("127.0.0.1", "::1",
// "[::1]") are parsed in place.
//
// Deadlines and cancellation. Every call that can park takes a trailing gofer::Deadline
// (deadline.hpp: a duration such as 500ms or 1.5s, a steady_clock time point, or never, the
// default); when it passes, the call throws std::system_error with std::errc::timed_out and
// the object stays usable: bytes a TcpStream read before the deadline stay buffered for the
// next read (nothing is lost); a write that timed out may have sent a prefix. The deadline of
// connect() covers name resolution and every address tried. Each socket also has deadlines of
// its own, as Go's net.Conn: set_read_deadline(), set_write_deadline(), set_deadline() (both;
// the only one of a TcpListener, for accept). A call then waits until the earliest of its own
// deadline and the socket's; a socket deadline that has passed makes every later call of that
// direction throw timed_out at once; setting one wakes the calls parked in that direction,
// from any task or thread, so a passed deadline ends them now and a later one lets them wait
// longer; Deadline::never() clears it. request_stop() on the task makes a parked call throw
// gofer::cancelled.
//
// Close means close. close() may be called from any task or thread, also while other tasks
// (of any threads) are parked in accept, read, write, send_to or recv_from on the socket: it
// wakes them all, and their calls throw std::system_error with gofer::errc::closed ("gofer:
// accept 127.0.0.1:5000: use of closed file or socket", errors.hpp), as Go's net.ErrClosed;
// so does every call made after the close. close() returns once every call has left the
// socket, and only then closes the fd (its number cannot be reused under a running call); the
// object may then be destroyed.
// Memory and line length. A TcpStream's read buffer exists only while it holds unread bytes: it
// starts at 4 KiB, grows (doubling) only while read_line() needs room for one line, and is freed
// once drained, so an idle connection costs no buffer. read_line() returns lines of at most
// max_line_length() bytes (default_max_line_length, 64 KiB, as Go's bufio.Scanner; change it
// per stream with set_max_line_length()); past that it throws std::system_error with
// std::errc::message_size ("gofer: read_line 127.0.0.1:5000: line longer than max_line_length
// 65536 bytes ...") having buffered at most the limit and "\r\n", so a peer that never sends
// a newline cannot grow the process; no byte is lost: read() returns them next, in order.
//
// Errors: std::system_error naming the operation and the peer ("gofer: connect 127.0.0.1:9:
// Connection refused"). A name that does not resolve gives an error of resolve_category()
// ("gofer: connect no.such.host.invalid:80: lookup failed: Name or service not known"). A peer
// reset or a write to a closed connection gives std::system_error (ECONNRESET, EPIPE), never
// SIGPIPE. EOF is not an error: read() returns 0 and read_line() nullopt. Using a closed
// socket throws gofer::errc::closed, an empty or moved-from object std::system_error(EBADF).
//
// Thread-safety: a socket object may be moved between tasks and threads. A TcpStream may be
// used by one reading task and one writing task at the same time (as a Go net.Conn), on the
// same thread or on different ones; close(), is_open() and the set_*deadline() calls may run on
// any task or thread at any time; other calls (shutdown, set_nodelay) must not run
// concurrently with a close. Any number of tasks may accept on one TcpListener at once, and
// send and receive on one UdpSocket at once (each datagram goes and comes whole).
// Blocking: accept, connect, the reads and the writes, send_to and recv_from may park the task
// (on a plain thread, they run the thread's loop); close() parks, not cancellably, while calls
// it woke are still leaving the socket (they leave as soon as their tasks run); nothing here
// blocks the OS thread except close(2) itself.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include <gofer/deadline.hpp>
#include <gofer/socket_address.hpp>
#include <gofer/stream_io.hpp>

namespace gofer {

// shutdown_how: which directions TcpStream::shutdown closes.
enum class shutdown_how {
  read,   // further reads return EOF
  write,  // sends a FIN: the peer reads EOF once it has read everything sent before
  both,
};

// TcpStream: one TCP connection, with a read buffer (so read_line does not issue a syscall per
// byte). Connected and accepted streams have TCP_NODELAY set, as in Go.
class TcpStream : public StreamIo<TcpStream> {
 public:
  // connect: opens a connection to host:port, trying each address the host resolves to in
  // turn. Throws std::system_error naming host:port: the last address's error (e.g.
  // ECONNREFUSED), a resolution error (resolve_category()), or errc::timed_out.
  static TcpStream connect(const std::string& host, std::uint16_t port, Deadline d = {});
  // connect: to one address.
  static TcpStream connect(const SocketAddress& to, Deadline d = {});

  TcpStream() noexcept;
  TcpStream(TcpStream&&) noexcept;
  TcpStream& operator=(TcpStream&&) noexcept;
  ~TcpStream();

  // is_open, fd (the socket), the read and write set (read, read_exact, read_chunk, read_line,
  // read_all, buffered, max_line_length, set_max_line_length, write), the stream's own
  // deadlines (set_read_deadline, set_write_deadline, set_deadline; see "Deadlines" above) and
  // close() come from StreamIo (stream_io.hpp). close() wakes every call parked on the stream
  // (they throw gofer::errc::closed), waits for them to leave, closes the socket and drops
  // buffered bytes; idempotent; any task or thread.

  // shutdown: shuts down one or both directions (shutdown(2)); the fd stays open.
  void shutdown(shutdown_how how = shutdown_how::write);
  // set_nodelay: TCP_NODELAY on (the default) or off (Nagle's algorithm).
  void set_nodelay(bool on);
  // peer_address / local_address: the addresses of the two ends (print them, or take
  // .to_string(): "127.0.0.1:80" or "[::1]:80").
  SocketAddress peer_address() const;
  SocketAddress local_address() const;

 private:
  class Impl;
  friend class StreamIo<TcpStream>;
  explicit TcpStream(std::unique_ptr<Impl> impl) noexcept;
  Impl& impl(const char* op) const;
  detail::FdStream* stream_if_any() const noexcept;

  std::unique_ptr<Impl> impl_;

  friend class TcpListener;
  friend class TlsStream;  // wraps the stream (tls.hpp)
};

// TcpListener: a listening TCP socket.
class TcpListener {
 public:
  // bind: listens on host:port with SO_REUSEADDR. port 0 picks a free port (see
  // local_port()). host "" or "0.0.0.0" is every IPv4 interface, "::" every IPv6 and (Linux's
  // default) IPv4 interface; a name binds to the first address it resolves to. backlog: how
  // many connections the kernel completes and queues before they are accepted; by default
  // (nullopt) the system maximum, as in Go: /proc/sys/net/core/somaxconn (SOMAXCONN if it
  // cannot be read), so a burst of connects is queued rather than made to wait out a 1 s SYN
  // retry. An explicit backlog is capped by somaxconn too. Throws std::invalid_argument for a
  // negative backlog, std::system_error ("gofer: bind 127.0.0.1:80: Permission denied"). The
  // deadline bounds the name resolution.
  static TcpListener bind(const std::string& host, std::uint16_t port,
                          std::optional<int> backlog = std::nullopt, Deadline d = {});

  TcpListener() noexcept;
  TcpListener(TcpListener&&) noexcept;
  TcpListener& operator=(TcpListener&&) noexcept;
  ~TcpListener();

  // accept: the next connection, parking until one arrives. Throws std::system_error when
  // accept(2) fails, e.g. EMFILE when the process is out of fds (the pending connection stays
  // queued; accept again once fds are free), gofer::errc::closed when the listener is (or
  // gets) closed.
  TcpStream accept(Deadline d = {});
  // set_deadline: the listener's own deadline for accept (see "Deadlines" above).
  void set_deadline(Deadline d);

  bool is_open() const noexcept;
  int fd() const noexcept;
  // local_port: the bound port (the kernel's choice when bind was given 0).
  std::uint16_t local_port() const;
  // local_address: the bound address ("0.0.0.0:8080" or "[::]:8080" as text).
  SocketAddress local_address() const;
  // close: stops listening; wakes every task parked in accept (they throw
  // gofer::errc::closed) and returns once they left; idempotent; any task or thread.
  void close() noexcept;

 private:
  class Impl;
  Impl& impl(const char* op) const;

  std::unique_ptr<Impl> impl_;
};

// Datagram: what UdpSocket::recv_from received.
struct Datagram {
  std::size_t size = 0;    // bytes stored in the caller's buffer
  SocketAddress from;      // the sender
  bool truncated = false;  // the datagram was longer than the buffer; the rest is lost
};

// UdpSocket: a UDP socket.
class UdpSocket {
 public:
  // bind: a socket bound to host:port (port 0: any free port; host as for TcpListener::bind;
  // the host's family fixes the socket's: bind to "::" or "::1" to talk IPv6).
  static UdpSocket bind(const std::string& host, std::uint16_t port, Deadline d = {});

  UdpSocket() noexcept;
  UdpSocket(UdpSocket&&) noexcept;
  UdpSocket& operator=(UdpSocket&&) noexcept;
  ~UdpSocket();

  // send_to: sends one datagram (whole, or throws, e.g. EMSGSIZE).
  void send_to(std::string_view bytes, const SocketAddress& to, Deadline d = {});
  // send_to: to host:port, resolved first (to an address of the socket's family).
  void send_to(std::string_view bytes, const std::string& host, std::uint16_t port,
               Deadline d = {});
  // recv_from: the next datagram, into buf.
  Datagram recv_from(std::span<char> buf, Deadline d = {});

  // connect: sets the default peer: send() goes there and only its datagrams are received.
  void connect(const std::string& host, std::uint16_t port, Deadline d = {});
  // send / recv: on a connected socket; recv returns the datagram's size (truncated to buf).
  void send(std::string_view bytes, Deadline d = {});
  std::size_t recv(std::span<char> buf, Deadline d = {});

  // set_read_deadline / set_write_deadline / set_deadline (both): the socket's own deadlines
  // for receiving and sending (see "Deadlines" above).
  void set_read_deadline(Deadline d);
  void set_write_deadline(Deadline d);
  void set_deadline(Deadline d);

  bool is_open() const noexcept;
  int fd() const noexcept;
  std::uint16_t local_port() const;
  SocketAddress local_address() const;
  // close: wakes every task parked in a send or receive (they throw gofer::errc::closed) and
  // returns once they left; idempotent; any task or thread.
  void close() noexcept;

 private:
  class Impl;
  Impl& impl(const char* op) const;

  std::unique_ptr<Impl> impl_;
};

}  // namespace gofer
