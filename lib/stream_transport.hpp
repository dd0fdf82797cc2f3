// stream_transport.hpp: a protocol layer an FdStream reads and writes through instead of
// recv/send (TLS: lib/tls/transport.hpp).
//
// An FdStream with a transport keeps its buffer, deadlines, close and error rules, and asks the
// transport for bytes; when the transport cannot go on until the socket is readable or writable
// (OpenSSL's WANT_READ / WANT_WRITE), it says which, and the FdStream parks in its PollFd.
//
// Invariants: a transport call never blocks the thread and never parks; it either makes
// progress or names the readiness it waits for. It throws std::system_error for a failure.
// Thread-safety: the FdStream calls read() from its reading task and write()/flush() from its
// writing task, possibly at the same time on different threads: the transport serializes them.
#pragma once

#include <cstddef>
#include <optional>

#include "poller.hpp"

namespace gofer::detail {

// IoStep: the outcome of one transport call: n bytes done (a read's 0 is EOF), or, when wait
// is set, nothing done: call again once the fd is ready for *wait.
struct IoStep {
  std::size_t n = 0;
  std::optional<Interest> wait;
};

class StreamTransport {
 public:
  // read: up to n (>= 1) bytes into out.
  virtual IoStep read(char* out, std::size_t n) = 0;
  // write: accepts up to n (>= 1) bytes of p (after a wait, called again with the same bytes).
  virtual IoStep write(const char* p, std::size_t n) = 0;
  // flush: sends what write() accepted and still holds; the readiness to wait for, or nullopt
  // once everything is sent.
  virtual std::optional<Interest> flush() = 0;

 protected:
  StreamTransport() = default;
  ~StreamTransport() = default;
  StreamTransport(const StreamTransport&) = default;
  StreamTransport& operator=(const StreamTransport&) = default;
};

}  // namespace gofer::detail
