// buffered_writer.hpp: gofer::BufferedWriter, Go's bufio.Writer: many small writes, few
// syscalls.
//
//   gofer::BufferedWriter out(conn);                  // conn: a TcpStream, UnixStream, File...
//   while (auto line = conn.read_line()) {
//     out.write(reply_to(*line));                     // into the buffer, no syscall
//     if (conn.buffered() == 0) {
//       out.flush();                                  // nothing more to read at once: send
//     }
//   }
//   out.flush();
//
// BufferedWriter collects writes in a buffer of size() bytes (default_size, 4 KiB, as Go) and
// hands them to its target's write(bytes, Deadline) when the buffer is full or on flush(). A
// write that does not fit fills the buffer, flushes it, and then buffers the rest, or, when
// the rest is larger than the buffer, writes it straight through: big writes are not copied.
// The bytes reach the target in the order they were written, byte for byte.
//
// Target. Any object with a `write(std::string_view, gofer::Deadline)` member (File,
// TcpStream, UnixStream, or a type of yours) is taken by reference, type-erased (a pointer and
// a function pointer, so BufferedWriter is one non-template type): it must outlive the writer
// and must not be written to directly while bytes are buffered (they would arrive out of
// order).
//
// Errors are sticky, as Go's: once a write to the target throws (std::system_error,
// errc::timed_out, gofer::cancelled: after any of them the target may have taken a prefix, so
// the stream's position is unknown), the writer is failed: failed() is true, the buffered bytes
// are dropped, and every later write() and flush() rethrows that same exception without
// touching the target. Flushing on destruction. The destructor flushes what is still buffered
// (best effort, with no deadline) unless the writer failed; it cannot throw, so an error there
// is lost: call flush() before the writer goes out of scope when the error matters (Go leaves
// Flush to the caller altogether).
//
// Invariants: (1) buf_.size() <= size_; (2) buf_ owns no memory until the first write that
// buffers; (3) once error_ is set, the target is never called again and buf_ is empty.
// Thread-safety: one task at a time (it may move between tasks and threads).
// Blocking: write() may park in the target's write when the buffer fills, flush() does when
// anything is buffered; the destructor may park to flush.
#pragma once

#include <cstddef>
#include <exception>
#include <string>
#include <string_view>

#include <gofer/deadline.hpp>

namespace gofer {

// byte_writer: what BufferedWriter can write to.
template <class W>
concept byte_writer = requires(W& w, std::string_view bytes, Deadline d) {
  w.write(bytes, d);
};

class BufferedWriter {
 public:
  // default_size: the buffer size unless given (4 KiB, as Go's bufio.Writer).
  static constexpr std::size_t default_size = 4096;

  // BufferedWriter(target, size): a writer of size bytes in front of target. Throws
  // std::invalid_argument for size 0.
  template <byte_writer W>
  explicit BufferedWriter(W& target, std::size_t size = default_size)
      : BufferedWriter(&target, &write_to<W>, size) {}
  // BufferedWriter(&&): takes over o's target, buffered bytes and error; o is left empty
  // (its calls throw std::logic_error, its destructor does nothing).
  BufferedWriter(BufferedWriter&& o) noexcept;
  // operator=(&&): flushes this writer as the destructor does, then takes over o's state.
  BufferedWriter& operator=(BufferedWriter&& o) noexcept;
  BufferedWriter(const BufferedWriter&) = delete;
  BufferedWriter& operator=(const BufferedWriter&) = delete;
  // ~BufferedWriter: flushes, best effort (see the header comment: an error here is lost).
  ~BufferedWriter();

  // write: buffers bytes, writing to the target whenever the buffer fills (see the header
  // comment). Throws the target's exception (and stays failed), or std::logic_error when
  // moved-from.
  void write(std::string_view bytes, Deadline d = {});
  // flush: writes every buffered byte to the target. Throws as write().
  void flush(Deadline d = {});

  // buffered: bytes written but not yet handed to the target.
  std::size_t buffered() const noexcept { return buf_.size(); }
  // available: how many more bytes fit before the buffer must be flushed.
  std::size_t available() const noexcept { return size_ - buf_.size(); }
  // size: the buffer's size in bytes.
  std::size_t size() const noexcept { return size_; }
  // failed: a write to the target has thrown; every later call rethrows its exception.
  bool failed() const noexcept { return static_cast<bool>(error_); }

 private:
  using WriteFn = void (*)(void* target, std::string_view bytes, Deadline d);

  template <class W>
  static void write_to(void* target, std::string_view bytes, Deadline d) {
    static_cast<W*>(target)->write(bytes, d);
  }

  BufferedWriter(void* target, WriteFn fn, std::size_t size);
  // check: throws the sticky error, or std::logic_error naming op when moved-from.
  void check(const char* op) const;
  // emit: bytes to the target; on a throw the writer becomes failed (invariant 3).
  void emit(std::string_view bytes, Deadline d);
  // flush_quietly: the destructor's flush; swallows (and so loses) any error.
  void flush_quietly() noexcept;

  void* target_ = nullptr;
  WriteFn write_ = nullptr;
  std::size_t size_ = 0;
  std::string buf_;
  std::exception_ptr error_;
};

}  // namespace gofer
