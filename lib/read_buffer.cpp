// read_buffer.cpp: ReadBuffer (see read_buffer.hpp for its invariants).
#include "read_buffer.hpp"

#include <cstdint>
#include <cstring>
#include <new>
#include <string>

namespace gofer::detail {

char* ReadBuffer::prepare(std::size_t want) {
  if (room() >= want) {
    return block_.get() + end_;
  }
  const std::size_t held = size();
  if (capacity_ - held >= want) {
    std::memmove(block_.get(), data(), held);
  } else {
    if (want > SIZE_MAX - held) {
      throw std::bad_alloc();
    }
    // Not zero-filled: only the pages a read writes into become resident.
    auto bigger = std::make_unique_for_overwrite<char[]>(held + want);
    if (held > 0) {
      std::memcpy(bigger.get(), data(), held);
    }
    block_ = std::move(bigger);
    capacity_ = held + want;
  }
  begin_ = 0;
  end_ = held;
  return block_.get() + end_;
}

void ReadBuffer::commit(std::size_t n) noexcept {
  end_ += n;
  release_if_empty();
}

void ReadBuffer::consume(std::size_t n) noexcept {
  begin_ += n;
  release_if_empty();
}

std::string ReadBuffer::take(std::size_t n) {
  if (n == 0) {
    return {};
  }
  std::string out(data(), n);
  consume(n);
  return out;
}

void ReadBuffer::append(const char* p, std::size_t n) {
  if (n == 0) {
    return;
  }
  std::memcpy(prepare(n), p, n);
  end_ += n;
}

void ReadBuffer::prepend(const char* p, std::size_t n) {
  if (n == 0) {
    return;
  }
  if (begin_ >= n) {
    begin_ -= n;
    std::memcpy(block_.get() + begin_, p, n);
    return;
  }
  const std::size_t held = size();
  prepare(n);  // room for n more bytes after the unread ones
  std::memmove(block_.get() + begin_ + n, data(), held);
  std::memcpy(block_.get() + begin_, p, n);
  end_ += n;
}

void ReadBuffer::clear() noexcept {
  begin_ = end_ = 0;
  release_if_empty();
}

void ReadBuffer::release_if_empty() noexcept {
  if (begin_ == end_) {
    block_.reset();
    capacity_ = begin_ = end_ = 0;
  }
}

}  // namespace gofer::detail
