// read_buffer.hpp: the bytes an FdStream received and has not returned yet.
//
// A ReadBuffer keeps unread bytes in one heap block that exists only while it holds bytes: it
// allocates nothing until a read needs room, grows only as far as its caller asks (the caller
// asks geometrically: as much again as it holds), never zero-fills, and frees the block as soon
// as the last byte is consumed. An idle stream therefore holds no buffer at all, however long
// the lines it read, and a peer cannot make it grow past what its reader asks for.
//
// Invariants: (1) begin_ <= end_ <= capacity_; (2) block_ is null exactly when capacity_ == 0;
// (3) outside prepare()/commit(), a ReadBuffer holding no byte owns no block.
// Thread-safety: none; its owner serializes access. Blocking: never; growing may throw
// std::bad_alloc, leaving the buffer as it was.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace gofer::detail {

class ReadBuffer {
 public:
  // initial_capacity: the smallest block; a read into an empty buffer asks for this much.
  static constexpr std::size_t initial_capacity = 4096;

  // data / size: the unread bytes.
  const char* data() const noexcept { return block_.get() + begin_; }
  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return begin_ == end_; }
  // capacity: the bytes the block can hold (0 when there is none).
  std::size_t capacity() const noexcept { return capacity_; }

  // prepare: room for at least `want` bytes after the unread ones, moving them to the front of
  // the block or into a new block of exactly size() + want bytes; returns where the room
  // starts, room() says how large it is. The caller writes there, then calls commit() (also
  // after writing nothing, so an empty buffer gives its block back).
  char* prepare(std::size_t want);
  std::size_t room() const noexcept { return capacity_ - end_; }
  // commit: n bytes written at prepare()'s pointer become unread bytes.
  void commit(std::size_t n) noexcept;
  // consume: drops the first n unread bytes (n <= size()).
  void consume(std::size_t n) noexcept;
  // take: the first n unread bytes (n <= size()), consumed.
  std::string take(std::size_t n);
  // append / prepend: copies n bytes after or before the unread ones.
  void append(const char* p, std::size_t n);
  void prepend(const char* p, std::size_t n);
  // clear: drops every byte and the block.
  void clear() noexcept;

 private:
  void release_if_empty() noexcept;

  std::unique_ptr<char[]> block_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace gofer::detail
