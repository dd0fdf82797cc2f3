// rw.cpp: the read and write family: read, readv, recv, recvfrom, recvmsg, write, writev,
// send, sendto, sendmsg, each through io_call (park_io.hpp), which gives them blocking
// semantics in a task by parking it.
//
// Invariants: (1) a call with MSG_DONTWAIT is the real call alone (the caller asked not to
// wait); (2) a write resumed after a partial write sends the bytes after those already sent
// and nothing twice: a vector write resumed in the middle of an element first sends the rest
// of that element alone, then the following elements from the caller's own array, and
// sendmsg's control data goes only with the first part.
// Thread-safety and blocking: see park_io.hpp.
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstddef>

#include "hook_list.hpp"
#include "park_io.hpp"
#include "real.hpp"

namespace gofer::hooks::detail {

namespace {

std::size_t total_of(const iovec* iov, int n) noexcept {
  std::size_t sum = 0;
  for (int i = 0; i < n; ++i) {
    sum += iov[i].iov_len;
  }
  return sum;
}

// IovTail: where a vector write resumes after `done` bytes: element k, `skip` bytes in.
struct IovTail {
  int k = 0;
  std::size_t skip = 0;
};

IovTail tail_of(const iovec* iov, int n, std::size_t done) noexcept {
  IovTail t;
  while (t.k < n && done >= iov[t.k].iov_len) {
    done -= iov[t.k].iov_len;
    ++t.k;
  }
  t.skip = done;
  return t;
}

}  // namespace

}  // namespace gofer::hooks::detail

using gofer::hooks::detail::Interest;
using gofer::hooks::detail::io_call;
namespace hd = gofer::hooks::detail;

extern "C" {

ssize_t read(int fd, void* buf, size_t n) {
  return io_call(fd, Interest::readable, "read", 0,
                 [=](std::size_t) { return hd::real_read(fd, buf, n); });
}

ssize_t readv(int fd, const iovec* iov, int n) {
  return io_call(fd, Interest::readable, "readv", 0,
                 [=](std::size_t) { return hd::real_readv(fd, iov, n); });
}

ssize_t recv(int fd, void* buf, size_t n, int flags) {
  if ((flags & MSG_DONTWAIT) != 0) {
    return hd::real_recv(fd, buf, n, flags);
  }
  // MSG_WAITALL: on the non-blocking fd underneath each try returns what is there; io_call
  // then goes on until all n bytes (or EOF) are in, as the blocking call does.
  const std::size_t whole = (flags & MSG_WAITALL) != 0 ? n : 0;
  return io_call(fd, Interest::readable, "recv", whole, [=](std::size_t done) {
    return hd::real_recv(fd, static_cast<char*>(buf) + done, n - done, flags);
  });
}

ssize_t recvfrom(int fd, void* buf, size_t n, int flags, sockaddr* addr, socklen_t* len) {
  if ((flags & MSG_DONTWAIT) != 0) {
    return hd::real_recvfrom(fd, buf, n, flags, addr, len);
  }
  return io_call(fd, Interest::readable, "recvfrom", 0,
                 [=](std::size_t) { return hd::real_recvfrom(fd, buf, n, flags, addr, len); });
}

ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  if ((flags & MSG_DONTWAIT) != 0) {
    return hd::real_recvmsg(fd, msg, flags);
  }
  return io_call(fd, Interest::readable, "recvmsg", 0,
                 [=](std::size_t) { return hd::real_recvmsg(fd, msg, flags); });
}

ssize_t write(int fd, const void* buf, size_t n) {
  return io_call(fd, Interest::writable, "write", n, [=](std::size_t done) {
    return hd::real_write(fd, static_cast<const char*>(buf) + done, n - done);
  });
}

ssize_t writev(int fd, const iovec* iov, int n) {
  const std::size_t whole = hd::total_of(iov, n);
  return io_call(fd, Interest::writable, "writev", whole, [=](std::size_t done) -> ssize_t {
    if (done == 0) {
      return hd::real_writev(fd, iov, n);
    }
    const hd::IovTail t = hd::tail_of(iov, n, done);
    if (t.skip != 0) {
      return hd::real_write(fd, static_cast<const char*>(iov[t.k].iov_base) + t.skip,
                            iov[t.k].iov_len - t.skip);
    }
    return hd::real_writev(fd, iov + t.k, n - t.k);
  });
}

ssize_t send(int fd, const void* buf, size_t n, int flags) {
  if ((flags & MSG_DONTWAIT) != 0) {
    return hd::real_send(fd, buf, n, flags);
  }
  return io_call(fd, Interest::writable, "send", n, [=](std::size_t done) {
    return hd::real_send(fd, static_cast<const char*>(buf) + done, n - done, flags);
  });
}

ssize_t sendto(int fd, const void* buf, size_t n, int flags, const sockaddr* addr, socklen_t len) {
  if ((flags & MSG_DONTWAIT) != 0) {
    return hd::real_sendto(fd, buf, n, flags, addr, len);
  }
  return io_call(fd, Interest::writable, "sendto", n, [=](std::size_t done) {
    return hd::real_sendto(fd, static_cast<const char*>(buf) + done, n - done, flags, addr, len);
  });
}

ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  if ((flags & MSG_DONTWAIT) != 0) {
    return hd::real_sendmsg(fd, msg, flags);
  }
  const std::size_t whole = hd::total_of(msg->msg_iov, static_cast<int>(msg->msg_iovlen));
  return io_call(fd, Interest::writable, "sendmsg", whole, [=](std::size_t done) -> ssize_t {
    if (done == 0) {
      return hd::real_sendmsg(fd, msg, flags);
    }
    const int n = static_cast<int>(msg->msg_iovlen);
    const hd::IovTail t = hd::tail_of(msg->msg_iov, n, done);
    if (t.skip != 0) {
      return hd::real_send(fd, static_cast<const char*>(msg->msg_iov[t.k].iov_base) + t.skip,
                           msg->msg_iov[t.k].iov_len - t.skip, flags);
    }
    msghdr rest = *msg;  // the control data went with the first part
    rest.msg_iov = msg->msg_iov + t.k;
    rest.msg_iovlen = static_cast<std::size_t>(n - t.k);
    rest.msg_control = nullptr;
    rest.msg_controllen = 0;
    return hd::real_sendmsg(fd, &rest, flags);
  });
}

}  // extern "C"

namespace gofer::hooks::detail {

namespace {

const HookSymbol symbols[] = {
    {"read", as_address(&::read)},       {"readv", as_address(&::readv)},
    {"recv", as_address(&::recv)},       {"recvfrom", as_address(&::recvfrom)},
    {"recvmsg", as_address(&::recvmsg)}, {"write", as_address(&::write)},
    {"writev", as_address(&::writev)},   {"send", as_address(&::send)},
    {"sendto", as_address(&::sendto)},   {"sendmsg", as_address(&::sendmsg)},
};

}  // namespace

const HookList rw_hooks = list_of(symbols);

}  // namespace gofer::hooks::detail
