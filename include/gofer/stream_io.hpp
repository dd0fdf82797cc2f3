// stream_io.hpp: the read and write calls File, TcpStream and UnixStream share.
//
//   while (auto line = conn.read_line(30s)) { ... }         // the same on a File or UnixStream
//   std::array<char, 8> header;
//   conn.read_exact(header, 5s);                            // all 8 bytes, or fewer only at EOF
//   auto rest = file.read_all();
//   conn.write(reply, gofer::Deadline(1s));
//
// StreamIo<Derived> is the one definition of that set (a CRTP base: File, TcpStream,
// UnixStream and TlsStream (tls.hpp) derive from it); each call takes a trailing
// gofer::Deadline (default: never).
// Every object reads through one buffer: bytes received but not yet returned (buffered())
// are what the next read returns first, whichever call made the buffer hold them.
//
// Results and errors, the same on every stream: EOF is not an error (read() returns 0,
// read_exact() fewer bytes, read_chunk() an empty string, read_line() nullopt, read_all()
// what came before it). A deadline passing throws std::system_error(errc::timed_out) having
// lost no byte: what a read received stays buffered for the next one; a write that timed out
// may have sent a prefix. The object's own deadlines (set_read_deadline...) bound every call
// too. request_stop() on the task throws gofer::cancelled, with the same no-byte-lost rule; a
// call on a closed object, or parked when another task or thread closes it, throws
// std::system_error(gofer::errc::closed). A line longer than max_line_length() throws
// std::system_error(errc::message_size), its bytes staying buffered for read(). Other
// failures are std::system_error naming the operation and the stream ("gofer: read
// 127.0.0.1:80: Connection reset by peer"); an empty or moved-from object gives EBADF.
//
// Invariants: every call forwards to the object's FdStream (lib/fd_stream.hpp), so one engine
// decides waiting, buffering and error text for every kind of stream.
// Thread-safety: one task may read while another writes; close(), is_open() and the
// set_*deadline() calls may run on any task or thread at any time.
// Blocking: the reads and write() may park the calling task, never its thread (on a plain
// thread they run the thread's loop); close() may park until the calls it woke have left.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <gofer/deadline.hpp>

namespace gofer {

namespace detail {
class FdStream;
}

class File;
class TcpStream;
class UnixStream;

// StreamIo: the read and write set of a stream type Derived, which provides
// `detail::FdStream* stream_if_any() const noexcept` (nullptr for an empty or moved-from
// object) and befriends StreamIo<Derived>. Defined in lib/stream_io_impl.hpp, instantiated
// for File, TcpStream, UnixStream and TlsStream only.
template <class Derived>
class StreamIo {
 public:
  // default_max_line_length: read_line()'s limit on a new stream (64 KiB, as Go's
  // bufio.Scanner).
  static constexpr std::size_t default_max_line_length = 64 * 1024;
  // default_chunk: read_chunk()'s default size.
  static constexpr std::size_t default_chunk = 64 * 1024;

  // is_open: false after close() or for a default-constructed or moved-from object.
  bool is_open() const noexcept;
  // fd: the descriptor (-1 when closed); still owned by the object.
  int fd() const noexcept;

  // read: up to buf.size() bytes, what arrives first; returns 0 only at EOF (or for an empty
  // buf).
  std::size_t read(std::span<char> buf, Deadline d = {});
  // read_exact: fills buf; returns fewer than buf.size() bytes only at EOF. On a timeout or
  // cancellation the bytes received so far stay buffered (none is lost).
  std::size_t read_exact(std::span<char> buf, Deadline d = {});
  // read_chunk: what arrives first, at most n bytes (NimGo's readChunk); empty at EOF.
  std::string read_chunk(std::size_t n = default_chunk, Deadline d = {});
  // read_line: the next line without "\n" (or "\r\n"); the last line may lack one; nullopt at
  // EOF. A line longer than max_line_length() throws std::system_error(errc::message_size)
  // naming the stream and the limit; its bytes stay buffered for read().
  std::optional<std::string> read_line(Deadline d = {});
  // read_all: everything up to EOF (no length limit).
  std::string read_all(Deadline d = {});
  // buffered: bytes received and not yet returned, which the next read returns without a
  // syscall (Go's bufio.Reader.Buffered): a server can flush its replies when it is 0.
  std::size_t buffered() const;

  // max_line_length / set_max_line_length: read_line()'s limit in bytes, not counting the
  // "\n" or "\r\n" (default_max_line_length). set_max_line_length throws
  // std::invalid_argument for 0, std::system_error(EBADF) on an empty or moved-from object.
  std::size_t max_line_length() const;
  void set_max_line_length(std::size_t n);

  // write: writes all of bytes or throws (a timed-out write may have written a prefix).
  void write(std::string_view bytes, Deadline d = {});

  // set_read_deadline / set_write_deadline / set_deadline (both): the object's own deadlines,
  // as Go's SetReadDeadline: a call waits until the earliest of its own and the object's; one
  // that has passed makes every later call of that direction throw timed_out at once; setting
  // one wakes the calls parked in that direction to wait until the new one;
  // Deadline::never() clears it. Any task or thread, at any time. Throws gofer::errc::closed
  // on a closed object, EBADF on an empty or moved-from one.
  void set_read_deadline(Deadline d);
  void set_write_deadline(Deadline d);
  void set_deadline(Deadline d);
  // close: wakes every call parked on the object (they throw gofer::errc::closed), waits for
  // them to leave, then closes the fd and drops buffered bytes; idempotent; any task or
  // thread. Once it returns no call runs on the object, which may then be destroyed.
  void close() noexcept;

 protected:
  StreamIo() = default;
  ~StreamIo() = default;
  StreamIo(const StreamIo&) = default;
  StreamIo& operator=(const StreamIo&) = default;

  // stream: the object's FdStream; throws std::system_error(EBADF) naming op for an empty or
  // moved-from object.
  detail::FdStream& stream(const char* op) const;
};

extern template class StreamIo<File>;
extern template class StreamIo<TcpStream>;
extern template class StreamIo<UnixStream>;

}  // namespace gofer
