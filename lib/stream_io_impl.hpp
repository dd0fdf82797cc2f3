// stream_io_impl.hpp: the definitions of StreamIo's calls (stream_io.hpp), each forwarding to
// the object's FdStream. A stream type's library instantiates them for its type after
// defining stream_type_label for it: stream_io.cpp for File, TcpStream and UnixStream,
// lib/tls/stream.cpp for TlsStream (so gofer's core never includes the TLS module).
//
// Invariants: no call here buffers, waits or builds an error itself: FdStream does, so the
// stream types cannot drift apart.
// Thread-safety and blocking: as FdStream's (fd_stream.hpp).
#pragma once

#include <cerrno>
#include <string>

#include <gofer/stream_io.hpp>

#include "errno_error.hpp"
#include "fd_stream.hpp"

namespace gofer {

// stream_type_label: the class name error messages give for misuse; each instantiating file
// specializes it for its type.
template <class T>
extern const char* const stream_type_label;

template <class Derived>
detail::FdStream& StreamIo<Derived>::stream(const char* op) const {
  detail::FdStream* s = static_cast<const Derived&>(*this).stream_if_any();
  if (s == nullptr) {
    detail::throw_errno_value(
        EBADF, op, std::string("(empty or moved-from ") + stream_type_label<Derived> + ")");
  }
  return *s;
}

template <class Derived>
bool StreamIo<Derived>::is_open() const noexcept {
  const detail::FdStream* s = static_cast<const Derived&>(*this).stream_if_any();
  return s != nullptr && s->is_open();
}

template <class Derived>
int StreamIo<Derived>::fd() const noexcept {
  const detail::FdStream* s = static_cast<const Derived&>(*this).stream_if_any();
  return s != nullptr ? s->fd() : -1;
}

template <class Derived>
std::size_t StreamIo<Derived>::read(std::span<char> buf, Deadline d) {
  return stream("read").read_some(buf.data(), buf.size(), d.time_point());
}

template <class Derived>
std::size_t StreamIo<Derived>::read_exact(std::span<char> buf, Deadline d) {
  return stream("read_exact").read_exact(buf.data(), buf.size(), d.time_point());
}

template <class Derived>
std::string StreamIo<Derived>::read_chunk(std::size_t n, Deadline d) {
  return stream("read_chunk").read_chunk(n, d.time_point());
}

template <class Derived>
std::optional<std::string> StreamIo<Derived>::read_line(Deadline d) {
  return stream("read_line").read_line(d.time_point());
}

template <class Derived>
std::string StreamIo<Derived>::read_all(Deadline d) {
  return stream("read_all").read_all(d.time_point());
}

template <class Derived>
std::size_t StreamIo<Derived>::buffered() const {
  return stream("buffered").buffered();
}

template <class Derived>
std::size_t StreamIo<Derived>::max_line_length() const {
  return stream("max_line_length").max_line_length();
}

template <class Derived>
void StreamIo<Derived>::set_max_line_length(std::size_t n) {
  stream("set_max_line_length")
      .set_max_line_length(
          n, std::string("gofer::") + stream_type_label<Derived> + "::set_max_line_length");
}

template <class Derived>
void StreamIo<Derived>::write(std::string_view bytes, Deadline d) {
  stream("write").write_all(bytes, d.time_point());
}

template <class Derived>
void StreamIo<Derived>::set_read_deadline(Deadline d) {
  auto& s = stream("set_read_deadline");
  s.check_open("set_read_deadline");
  s.set_deadline(detail::Interest::readable, d.time_point());
}

template <class Derived>
void StreamIo<Derived>::set_write_deadline(Deadline d) {
  auto& s = stream("set_write_deadline");
  s.check_open("set_write_deadline");
  s.set_deadline(detail::Interest::writable, d.time_point());
}

template <class Derived>
void StreamIo<Derived>::set_deadline(Deadline d) {
  auto& s = stream("set_deadline");
  s.check_open("set_deadline");
  s.set_deadline(detail::Interest::readable, d.time_point());
  s.set_deadline(detail::Interest::writable, d.time_point());
}

template <class Derived>
void StreamIo<Derived>::close() noexcept {
  if (detail::FdStream* s = static_cast<const Derived&>(*this).stream_if_any()) {
    s->close();
  }
}

}  // namespace gofer
