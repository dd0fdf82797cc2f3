// unix.hpp: Unix-domain stream sockets, with the same read and write calls as TcpStream.
//
//   auto listener = gofer::UnixListener::bind("/run/app.sock");   // or "@app": abstract name
//   gofer::go([&] {
//     for (;;) {
//       gofer::go([conn = listener.accept()]() mutable {
//         while (auto line = conn.read_line()) {
//           conn.write(*line + "\n");
//         }
//       });
//     }
//   });
//   auto s = gofer::UnixStream::connect("/run/app.sock", 2s);
//   s.write("hello\n");
//   auto reply = s.read_line(500ms);                               // "hello"
//
// Paths. A path names a socket file, or, on Linux, a name in the abstract namespace (no file,
// gone with the last socket): a path that starts with '@' or with a NUL byte is abstract, the
// rest of it being the name (Go's convention, '@' being the printable spelling). local_path()
// and peer_path() report abstract names with a leading '@', and an unnamed socket (the
// client end of most connections) as "". A path holds at most max_path_length (107) bytes
// (sun_path less its terminating NUL; for an abstract name, the '@' included); a longer one,
// an empty one or one with a NUL byte inside (other than an abstract name's first) throws
// std::invalid_argument naming the path and the rule.
//
// Socket files, as in Go: bind() never removes an existing file: a stale socket file from an
// earlier run makes bind throw std::system_error(EADDRINUSE) naming the path ("gofer: bind
// /run/app.sock: Address already in use"); remove it yourself (std::filesystem::remove) if you
// know no process serves it. A listener unlinks the socket file it created when it is closed
// or destroyed (Go's default SetUnlinkOnClose(true)); abstract names need no cleanup.
//
// Reads, writes, timeouts, cancellation and errors are those of every stream (stream_io.hpp):
// a trailing gofer::Deadline, std::system_error(errc::timed_out) losing no byte,
// gofer::cancelled on request_stop(), EOF not an error, std::system_error naming the
// operation and the path ("gofer: connect /run/app.sock: Connection refused"; ENOENT when no
// socket file exists), never SIGPIPE. An accepted stream is named by the listener's path in
// error messages. connect() fails at once with EAGAIN when the listener's queue is full, as
// in Go (Unix sockets do not connect asynchronously). Close means close, as for TCP: close()
// from any task or thread wakes every call parked on the object with gofer::errc::closed;
// a call on a closed object throws errc::closed, on an empty or moved-from one EBADF.
//
// Invariants: (1) a UnixStream is an FdStream on the socket, the engine of every stream; (2)
// every fd is non-blocking and close-on-exec; (3) a listener unlinks only the file its own
// bind created, once.
// Thread-safety: as TcpStream and TcpListener (net.hpp): one reading and one writing task
// may use a UnixStream at once; any number of tasks may accept on one UnixListener; close(),
// is_open() and the set_*deadline() calls may run on any task or thread at any time.
// Blocking: accept, connect, the reads and the writes may park the task (on a plain thread,
// they run the thread's loop); nothing blocks the OS thread.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include <gofer/deadline.hpp>
#include <gofer/net.hpp>
#include <gofer/stream_io.hpp>

namespace gofer {

// UnixStream: one connection on a Unix-domain stream socket.
class UnixStream : public StreamIo<UnixStream> {
 public:
  // max_path_length: the longest path a Unix socket address holds, in bytes.
  static constexpr std::size_t max_path_length = 107;

  // connect: connects to the listener at path. Throws std::invalid_argument for a bad path,
  // std::system_error naming the path (ENOENT, ECONNREFUSED, EAGAIN, errc::timed_out),
  // gofer::cancelled.
  static UnixStream connect(const std::string& path, Deadline d = {});

  UnixStream() noexcept;
  UnixStream(UnixStream&&) noexcept;
  UnixStream& operator=(UnixStream&&) noexcept;
  ~UnixStream();

  // is_open, fd (the socket), the read and write set (read, read_exact, read_chunk, read_line,
  // read_all, buffered, max_line_length, set_max_line_length, write), the stream's own
  // deadlines (set_read_deadline, set_write_deadline, set_deadline) and close() (from any
  // task or thread, waking every parked call) come from StreamIo (stream_io.hpp).

  // shutdown: shuts down one or both directions (shutdown(2)); the fd stays open.
  void shutdown(shutdown_how how = shutdown_how::write);
  // local_path / peer_path: the path each end is bound to ("@name" for an abstract name, ""
  // for an unnamed socket: on a connected client local_path() is usually "", on an accepted
  // stream peer_path() is).
  std::string local_path() const;
  std::string peer_path() const;

 private:
  friend class StreamIo<UnixStream>;
  friend class UnixListener;
  explicit UnixStream(std::unique_ptr<detail::FdStream> s) noexcept;
  detail::FdStream* stream_if_any() const noexcept { return s_.get(); }

  std::unique_ptr<detail::FdStream> s_;
};

// UnixListener: a listening Unix-domain stream socket.
class UnixListener {
 public:
  // bind: listens on path (a socket file, created with the process's umask, or an abstract
  // name). backlog as for TcpListener::bind (default: the system maximum). Throws
  // std::invalid_argument for a bad path or a negative backlog, std::system_error naming the
  // path: EADDRINUSE for an existing file (stale or not: it is never removed), ENOENT or
  // EACCES for its directory.
  static UnixListener bind(const std::string& path, std::optional<int> backlog = std::nullopt);

  UnixListener() noexcept;
  UnixListener(UnixListener&&) noexcept;
  UnixListener& operator=(UnixListener&&) noexcept;
  // ~UnixListener: close().
  ~UnixListener();

  // accept: the next connection, parking until one arrives. Throws std::system_error (EMFILE
  // when out of fds: the connection stays queued), errc::timed_out, gofer::cancelled.
  UnixStream accept(Deadline d = {});
  // set_deadline: the listener's own deadline for accept, as TcpListener's (net.hpp).
  void set_deadline(Deadline d);

  bool is_open() const noexcept;
  int fd() const noexcept;
  // local_path: the path bind was given, abstract names spelled "@name".
  std::string local_path() const;
  // close: stops listening, wakes every task parked in accept (they throw
  // gofer::errc::closed) and returns once they left, then unlinks the socket file bind
  // created; idempotent; any task or thread.
  void close() noexcept;

 private:
  class Impl;
  Impl& impl(const char* op) const;

  std::unique_ptr<Impl> impl_;
};

}  // namespace gofer
