// fd_stream.hpp: buffered, deadline-aware reads and writes on one fd, parking the task.
//
// FdStream is the engine under File, TcpStream and a Process's pipes. It owns the fd and a read
// buffer, and picks one of three ways to wait, once, from what the fd is:
//   - nonblocking: the fd is O_NONBLOCK (gofer set it): try the syscall, and on EAGAIN park
//     the task in PollFd::wait() (the poller) until the fd is ready or the deadline passes;
//   - readiness: a pollable fd gofer must not switch to O_NONBLOCK because its open file
//     description is shared with other processes (stdin, stdout, stderr): park until ready,
//     then issue one read, or one write of at most 4 KiB, which the kernel then completes
//     without blocking (a pipe reports writable with at least a page free); its waits are
//     level-triggered (PollFd::set_level_triggered), as it does not read until EAGAIN;
//   - offload: regular files and block devices, which epoll cannot watch (and char devices
//     that refuse epoll, found on first use): every syscall runs on the blocking pool
//     (blocking.hpp), so the scheduler thread never waits for a disk; and the reading task
//     yields once per offloaded read, so its thread's other tasks run at least once per chunk
//     even when the page cache answers before the task could park.
// A nonblocking socket may also read and write through a transport (stream_transport.hpp: TLS)
// instead of recv/send; it waits in the same PollFd for the readiness the transport names.
//
// Batched reads. A read of fewer than 4 KiB (read_exact of a small message, read_some) that
// finds the buffer empty, on a nonblocking fd, asks the kernel for up to 64 KiB at once, into
// a per-thread scratch block: what the caller asked for is copied out, the rest is kept in the
// buffer, so the next small reads cost no syscall (Go's bufio.Reader). A read that finds the
// socket empty costs nothing more than before, and allocates nothing.
//
// Fairness. Reads and writes try the syscall first and wait only on EAGAIN, so a task fed by
// a fast peer might never wait; a thread that made 16 such syscalls in a row without a wait
// yields once (a cancellation point) before the next, and its other tasks run.
//
// The read buffer (read_buffer.hpp) exists only while it holds unread bytes: it starts at
// 4 KiB when a read needs one, grows only while read_line needs room for one line (as much
// again as it holds, never past max_line_length + 2 bytes for "\r\n") or read_all needs room,
// and is freed when drained. read_line reads no further than it takes to find the end of a line
// or to tell it is too long; bytes past that stay in the kernel.
//
// Invariants: (1) unread bytes are buf_'s; a read that times out or is cancelled, or a line
// that is too long, leaves everything received there, so no byte is lost and the stream stays
// usable; a drained buffer owns no memory; (2) in offload mode at most one read and one write
// job are in flight; a job a deadline left running is kept (pending_read_/pending_write_) and
// settled by the next call of the same kind, or by close(), before the fd is touched again:
// offloaded I/O keeps its order and a job never outlives the fd; (3) writes never raise SIGPIPE:
// sockets use MSG_NOSIGNAL, other fds block SIGPIPE in the writing thread around the write and
// consume the one it caused, so EPIPE arrives as std::system_error.
//
// Errors: std::system_error "gofer: <op> <name>: <strerror>"; a deadline passing gives
// errc::timed_out; a line longer than max_line_length() gives errc::message_size; a closed
// stream gives gofer::errc::closed; request_stop() gives gofer::cancelled. EOF is not an error.
//
// Deadlines and close (poll_fd.hpp): every call holds a PollFd::Use of the fd for its whole
// length and parks through PollFd::wait, so the effective deadline of a call is the earliest of
// its own and the stream's (set_deadline, per direction; a passed one fails calls at once), and
// close() from any task or thread wakes parked calls (errc::closed) and closes the fd only once
// every call has left; a call looping over syscalls that never need to wait checks for a
// close before each one. In offload mode, a call waiting for a disk job is not woken: it sees
// a new deadline or the close when the job ends (or at the deadline it started with).
// Thread-safety: one reading and one writing task may use an FdStream at once (read_* touch
// the buffer and pending_read_, write_all only pending_write_; both park on the fd through
// PollFd::wait, which serves both interests at once); otherwise one task at a time. It may move
// between threads. close(), set_deadline() and is_open() may run on any task or thread at any
// time, also while other threads read and write; once close() returns no call runs on the
// stream any more (it may then be destroyed). The other accessors are for the owning task.
// Blocking: every call may park the calling task (never its thread); close() may park until
// the calls it woke have left and an offloaded job the fd is lent to finishes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <gofer/detail/waiter.hpp>
#include <gofer/task.hpp>

#include "fd.hpp"
#include "poll_fd.hpp"
#include "poller.hpp"
#include "read_buffer.hpp"
#include "stream_transport.hpp"

namespace gofer::detail {

// default_max_line_length: read_line's limit unless set otherwise (64 KiB, as Go's
// bufio.Scanner).
inline constexpr std::size_t default_max_line_length = 64 * 1024;

class FdStream {
 public:
  enum class io_mode { nonblocking, readiness, offload };

  // FdStream: takes ownership of fd. may_set_nonblocking: the fd is gofer's alone, so it may
  // be switched to O_NONBLOCK; otherwise its flags are left as they are. is_socket: use
  // recv/send. name: what error messages call it (a path, "stdin", a peer address).
  FdStream(UniqueFd fd, std::string name, bool may_set_nonblocking, bool is_socket = false);
  ~FdStream();
  FdStream(const FdStream&) = delete;
  FdStream& operator=(const FdStream&) = delete;

  int fd() const noexcept { return pfd_.fd(); }
  const std::string& name() const noexcept { return name_; }
  io_mode mode() const noexcept { return mode_; }
  bool is_open() const noexcept { return pfd_.is_open(); }
  // buffered: bytes received but not yet returned to the caller.
  std::size_t buffered() const noexcept { return buf_.size(); }
  // buffer_capacity: the bytes the read buffer holds memory for (0 when drained).
  std::size_t buffer_capacity() const noexcept { return buf_.capacity(); }
  // max_line_length / set_max_line_length: the longest line read_line returns, in bytes
  // without the "\n" or "\r\n". set_max_line_length throws std::invalid_argument for 0,
  // naming `who`.
  std::size_t max_line_length() const noexcept { return max_line_; }
  void set_max_line_length(std::size_t n, std::string_view who);
  // set_tcp: the fd is a TCP socket, whose reads stop short only when it is empty (or at
  // what its poller reports: PollFd::short_read_drains), so after a short read the next read
  // waits for an edge without a recv that says EAGAIN. Call before the first read.
  void set_tcp() noexcept { tcp_ = true; }

  // read_some: up to n bytes (the buffer first, else one read); 0 only at EOF or for n == 0.
  std::size_t read_some(char* out, std::size_t n, clock::time_point deadline);
  // read_exact: n bytes, or fewer only at EOF; returns how many.
  std::size_t read_exact(char* out, std::size_t n, clock::time_point deadline);
  // read_chunk: what one read gives, at most n bytes; empty at EOF.
  std::string read_chunk(std::size_t n, clock::time_point deadline);
  // read_line: the next line without its "\n" or "\r\n"; the last line may lack one;
  // nullopt at EOF. A line longer than max_line_length() throws errc::message_size and stays
  // buffered; read_line buffers at most max_line_length() + 2 bytes (on a disk file, plus
  // one 64 KiB read).
  std::optional<std::string> read_line(clock::time_point deadline);
  // read_all: everything up to EOF.
  std::string read_all(clock::time_point deadline);
  // write_all: writes every byte or throws. On a timeout a prefix may have been written.
  void write_all(std::string_view bytes, clock::time_point deadline);
  // set_deadline: the stream's deadline for reads (Interest::readable) or writes; wakes the
  // calls parked in that direction to wait again until it (no_deadline: none).
  void set_deadline(Interest dir, clock::time_point tp) noexcept { pfd_.set_deadline(dir, tp); }
  // close: wakes parked calls (errc::closed), waits for every call to leave, settles offloaded
  // jobs, then closes the fd and drops buffered bytes. Idempotent; from any task or thread.
  void close() noexcept;
  // check_open: throws std::system_error(errc::closed) naming op when the stream was closed.
  void check_open(std::string_view op) const;
  // with_fd: f(fd) while holding the fd open (a PollFd::Use), for a call that never waits
  // (shutdown, setsockopt); throws errc::closed naming op when the stream is closed.
  template <class F>
  auto with_fd(std::string_view op, F f) {
    PollFd::Use use(pfd_, op, name_);
    return f(pfd_.fd());
  }
  // set_transport: from now on reads and writes go through t (stream_transport.hpp) instead of
  // recv/send. Precondition: a nonblocking socket with nothing buffered, before any other task
  // uses the stream; t outlives every later call (its owner closes the stream first).
  void set_transport(StreamTransport* t) noexcept { transport_ = t; }
  // drive: runs step() (returning std::optional<Interest>) until it returns nullopt, parking
  // for the readiness it names in between: a protocol exchange (a TLS handshake) with the
  // deadlines, close and cancellation of a call of direction dir.
  template <class F>
  void drive(Interest dir, const char* op, clock::time_point deadline, F step) {
    PollFd::Use use(pfd_, dir, op, name_);
    for (;;) {
      pfd_.check_open(op, name_);
      const std::optional<Interest> w = step();
      if (!w) {
        return;
      }
      pfd_.wait(*w, deadline, op, name_);
    }
  }

 private:
  // fill: appends between 1 and `most` (>= 1) bytes to buf_ (an offloaded read may add up
  // to 64 KiB), growing it by at most as much as it holds; false at EOF.
  bool fill(clock::time_point deadline, std::size_t most);
  // take_some: read_some's body (the caller holds a Use).
  std::size_t take_some(char* out, std::size_t n, clock::time_point deadline);
  // effective: the earliest of a call's deadline and the stream's for dir.
  clock::time_point effective(clock::time_point deadline, Interest dir) const noexcept {
    return std::min(deadline, pfd_.deadline(dir));
  }
  // read_polled: one read of at most n bytes into out, waiting as the mode says; 0 at EOF;
  // nullopt when the stream is (or has just switched to) offload mode: nothing was read and
  // the caller must use read_offloaded. batch (only with buf_ empty and outside a fill): the
  // read asks for up to 64 KiB into the thread's scratch block, copies at most n bytes to out
  // and appends the rest to buf_.
  std::optional<std::size_t> read_polled(char* out, std::size_t n, clock::time_point deadline,
                                         bool batch);
  // read_offloaded: one read on the blocking pool (at most n bytes, unless a job an earlier
  // call started was larger), appended to buf_; returns how many, 0 at EOF.
  std::size_t read_offloaded(std::size_t n, clock::time_point deadline);
  // line_too_long: n buffered bytes without "\n", the last one `last`, exceed max_line_.
  bool line_too_long(std::size_t n, char last) const noexcept;
  [[noreturn]] void throw_line_too_long() const;
  void write_offloaded(std::string_view bytes, clock::time_point deadline);
  // await_fd: parks until fd is ready for `interest`; throws timed_out at the deadline.
  // Returns false when the fd cannot be polled (the stream then switched to offload mode).
  bool await_fd(Interest interest, clock::time_point deadline, const char* op);

  std::string name_;
  PollFd pfd_;
  io_mode mode_ = io_mode::nonblocking;
  bool socket_ = false;
  bool tcp_ = false;
  bool drained_ = false;  // the reader's last recv came up short and its poller trusts that
  ReadBuffer buf_;
  std::size_t max_line_ = default_max_line_length;
  std::optional<Task<std::string>> pending_read_;
  std::optional<Task<void>> pending_write_;
  StreamTransport* transport_ = nullptr;
};

}  // namespace gofer::detail
