// file.hpp: files, pipes and the standard streams, read and written without blocking the thread.
//
//   auto f = gofer::File::open("data.txt");                  // read-only
//   while (auto line = f.read_line()) { ... }                // nullopt at end of file
//   auto& in = gofer::stdin_file();
//   auto chunk = in.read_chunk(4096, 500ms);                 // throws errc::timed_out if idle
//   gofer::stdout_file().write("done\n");
//
// A File owns one fd and a read buffer (so read_line() does not issue a syscall per byte).
// How it waits depends on what the fd is, and never blocks the scheduler thread:
//   - pipes, FIFOs, terminals, sockets and other pollable fds park the task in the poller
//     until the fd is ready;
//   - regular files (and block devices) cannot be polled: their reads and writes run on the
//     blocking pool (blocking.hpp) while the task is parked, so a slow disk stalls only the
//     task that reads it.
// File::from_fd switches the fd to O_NONBLOCK (where the fd allows it). stdin_file(),
// stdout_file() and stderr_file() never change the flags of fds 0, 1, 2, which the process
// shares with its parent (the terminal would be left non-blocking): they wait for readiness,
// then read, or write at most 4 KiB, in one call the kernel completes at once.
//
// Memory and line length. The read buffer exists only while it holds unread bytes: it starts
// at 4 KiB, grows (doubling) only while read_line() needs room for one line, and is freed once
// drained, so an idle File costs no buffer. read_line() returns lines of at most
// max_line_length() bytes (default_max_line_length, 64 KiB, as Go's bufio.Scanner; change it
// with set_max_line_length()); past that it throws std::system_error with
// std::errc::message_size ("gofer: read_line <path>: line longer than max_line_length 65536
// bytes ...") having buffered at most the limit and "\r\n" (plus one 64 KiB read on a regular
// file): no byte is lost, read() returns them next, in order. read_all() has no limit.
//
// Deadlines. Every blocking call takes a trailing gofer::Deadline (deadline.hpp: 500ms, 1.5s,
// a steady_clock time point; never by default); when it passes the call throws
// std::system_error with std::errc::timed_out and the File stays usable: bytes read before the
// deadline stay buffered for the next call (nothing is lost). A write that times out may have
// written a prefix. A File also has deadlines of its own, as Go's os.File:
// set_read_deadline(), set_write_deadline(), set_deadline() (both): a call waits until the
// earliest of its own and the File's; a File deadline that has passed makes every later call
// of that direction throw timed_out at once; setting one (from any task or thread) wakes the
// calls parked on a pipe, terminal or socket so they wait until the new one;
// Deadline::never() clears it. On a regular file a timed-out read or write keeps running on
// the pool; the next call of the same kind (or close()) takes it over, so order is kept; a
// call already waiting for the disk sees a new File deadline, or a close, only when that job
// ends (or at the deadline it started with): a disk read cannot be interrupted.
// Cancellation: request_stop() on the task makes a parked call throw gofer::cancelled (a
// disk read already running completes; its bytes are kept for the next read).
// Close means close: close() from any task or thread wakes the calls parked on the File (they
// throw std::system_error with gofer::errc::closed, errors.hpp, as Go's os.ErrClosed), and
// returns once every call has left; only then is the fd closed, so its number cannot be
// reused under a running call; the File may then be destroyed.
// Errors: std::system_error naming the operation and the path ("gofer: open /no/such:
// No such file or directory"); EOF is not an error (read() returns 0, read_line() nullopt).
// Using a closed File throws gofer::errc::closed, an empty or moved-from one
// std::system_error(EBADF). Writes never raise SIGPIPE: a closed pipe gives EPIPE as
// std::system_error.
//
// Thread-safety: a File is read by one task and written by one task at a time (it may be
// moved between tasks and threads); close(), is_open() and the set_*deadline() calls may run
// on any task or thread at any time. stdin_file()/stdout_file()/stderr_file() return
// process-wide objects: serialize their use yourself (a Mutex), as with FILE*.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <gofer/deadline.hpp>
#include <gofer/stream_io.hpp>

namespace gofer {

// open_mode: how File::open opens a path.
enum class open_mode {
  read,        // read only; the file must exist
  write,       // write only; created (0644 & ~umask) or truncated
  append,      // write only, at the end; created if missing
  read_write,  // read and write; the file must exist
  create_new,  // write only; fails with EEXIST if the file exists
};

class File : public StreamIo<File> {
 public:
  // open: opens path, on the blocking pool (opening a FIFO waits for its other end). Throws
  // std::system_error ("gofer: open <path>: <reason>"); errc::timed_out at the deadline d and
  // gofer::cancelled on request_stop, while the open(2) itself, which nothing can interrupt,
  // keeps its pool thread until it returns (for a FIFO: until the other end opens or the
  // process exits), and the fd it then opens is closed at once.
  static File open(const std::string& path, open_mode mode = open_mode::read, Deadline d = {});
  // from_fd: takes ownership of fd (closed by the File) and sets it non-blocking where
  // possible. name is used in error messages (default "fd <n>"). Throws std::invalid_argument
  // for a negative fd.
  static File from_fd(int fd, std::string name = {});

  File() noexcept;
  // File(stream): adopts an FdStream (gofer-internal: Process pipes are made this way).
  explicit File(std::unique_ptr<detail::FdStream> s) noexcept;
  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  ~File();

  // name: the path or the name given to from_fd.
  const std::string& name() const noexcept;

  // is_open, fd, the read and write set (read, read_exact, read_chunk, read_line, read_all,
  // buffered, max_line_length, set_max_line_length, write), the File's own deadlines
  // (set_read_deadline, set_write_deadline, set_deadline; see "Deadlines" above) and close()
  // come from StreamIo (stream_io.hpp). close() wakes the calls parked on the File (they throw
  // gofer::errc::closed), waits for them and for an offloaded disk job to end, then closes the
  // fd; idempotent; any task or thread.

 private:
  friend class StreamIo<File>;
  detail::FdStream* stream_if_any() const noexcept { return s_.get(); }

  std::unique_ptr<detail::FdStream> s_;
};

// stdin_file / stdout_file / stderr_file: the process's standard streams as Files (on
// duplicates of fds 0, 1, 2, so closing one leaves the original open).
File& stdin_file();
File& stdout_file();
File& stderr_file();

}  // namespace gofer
