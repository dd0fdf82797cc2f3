// buffered_writer.cpp: BufferedWriter (see buffered_writer.hpp for the rules and invariants).
//
// Thread-safety and blocking: as in buffered_writer.hpp; nothing here parks except the
// target's write.
#include <stdexcept>
#include <string>
#include <utility>

#include <gofer/buffered_writer.hpp>

namespace gofer {

BufferedWriter::BufferedWriter(void* target, WriteFn fn, std::size_t size)
    : target_(target), write_(fn), size_(size) {
  if (size == 0) {
    throw std::invalid_argument(
        "gofer::BufferedWriter: size 0 is invalid (the buffer must hold at least 1 byte)");
  }
}

BufferedWriter::BufferedWriter(BufferedWriter&& o) noexcept
    : target_(std::exchange(o.target_, nullptr)),
      write_(std::exchange(o.write_, nullptr)),
      size_(o.size_),
      buf_(std::move(o.buf_)),
      error_(std::move(o.error_)) {
  o.buf_.clear();
  o.error_ = nullptr;
}

BufferedWriter& BufferedWriter::operator=(BufferedWriter&& o) noexcept {
  if (this != &o) {
    flush_quietly();
    target_ = std::exchange(o.target_, nullptr);
    write_ = std::exchange(o.write_, nullptr);
    size_ = o.size_;
    buf_ = std::move(o.buf_);
    error_ = std::move(o.error_);
    o.buf_.clear();
    o.error_ = nullptr;
  }
  return *this;
}

BufferedWriter::~BufferedWriter() {
  flush_quietly();
}

void BufferedWriter::flush_quietly() noexcept {
  if (target_ == nullptr || error_ || buf_.empty()) {
    return;
  }
  try {
    flush();
  } catch (...) {  // a destructor cannot report it: documented as lost (flush() reports it)
  }
}

void BufferedWriter::check(const char* op) const {
  if (error_) {
    std::rethrow_exception(error_);
  }
  if (target_ == nullptr) {
    throw std::logic_error(std::string("gofer::BufferedWriter::") + op +
                           ": the writer is empty (moved-from)");
  }
}

void BufferedWriter::emit(std::string_view bytes, Deadline d) {
  try {
    write_(target_, bytes, d);
  } catch (...) {
    error_ = std::current_exception();
    buf_.clear();
    throw;
  }
}

void BufferedWriter::write(std::string_view bytes, Deadline d) {
  check("write");
  while (bytes.size() > available()) {
    if (buf_.empty()) {
      emit(bytes, d);  // at least a whole buffer: no copy
      return;
    }
    const std::size_t n = available();
    buf_.append(bytes.substr(0, n));
    bytes.remove_prefix(n);
    flush(d);
  }
  if (!bytes.empty()) {
    if (buf_.capacity() < size_) {
      buf_.reserve(size_);
    }
    buf_.append(bytes);
  }
}

void BufferedWriter::flush(Deadline d) {
  check("flush");
  if (buf_.empty()) {
    return;
  }
  emit(buf_, d);
  buf_.clear();
}

}  // namespace gofer
