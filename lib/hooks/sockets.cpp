// sockets.cpp: socket, socketpair, connect, accept and accept4: creating sockets records them
// in the fd table (fd_table.hpp) with the caller's O_NONBLOCK choice; connect and accept park
// a task as io_call does (park_io.hpp).
//
// connect on a socket the caller believes blocking, in a task: the real connect on the
// non-blocking socket underneath, and while it is in progress the task parks until the socket
// is writable (at most SO_SNDTIMEO: then -1 with EINPROGRESS, as the kernel's blocking connect
// times out), then SO_ERROR says how it ended. A Unix socket whose listener's backlog is full
// (EAGAIN) waits the same way and tries again.
//
// Invariants: (1) every fd these calls return has a fresh table entry, whatever the thread:
// an accepted socket is blocking unless accept4 asked for SOCK_NONBLOCK (Linux does not
// inherit O_NONBLOCK from the listener, so the listener being non-blocking underneath changes
// nothing for the caller).
// Thread-safety and blocking: as park_io.hpp.
#include <sys/socket.h>

#include <cerrno>

#include "hook_list.hpp"
#include "park_io.hpp"
#include "real.hpp"

namespace gofer::hooks::detail {

namespace {

void record_socket(int fd, bool nonblock) noexcept {
  if (FdEntry* const e = entry(fd)) {
    e->record(fd, fd_kind::socket, nonblock);
  }
}

// connect_wait: the rest of a blocking connect after the first try failed with errno
// EINPROGRESS or EAGAIN.
int connect_wait(int fd, const sockaddr* addr, socklen_t len, FdEntry& e, bool task) noexcept {
  Waiting waiting(fd, Interest::writable, e, task, "connect");
  for (;;) {
    const bool in_progress = errno == EINPROGRESS;
    if (const int err = waiting.wait(); err != 0) {
      errno = err == EAGAIN && in_progress ? EINPROGRESS : err;
      return -1;
    }
    if (in_progress) {
      int so_error = 0;
      socklen_t so_len = sizeof so_error;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len) != 0) {
        return -1;
      }
      if (so_error != 0) {
        errno = so_error;
        return -1;
      }
      return 0;
    }
    if (real_connect(fd, addr, len) == 0) {
      return 0;
    }
    if (errno != EAGAIN && errno != EINPROGRESS) {
      return -1;
    }
  }
}

bool would_wait(int r) noexcept {
  return r != 0 && (errno == EINPROGRESS || errno == EAGAIN);
}

}  // namespace

}  // namespace gofer::hooks::detail

namespace hd = gofer::hooks::detail;

extern "C" {

int socket(int domain, int type, int protocol) noexcept {
  const int fd = hd::real_socket(domain, type, protocol);
  if (fd >= 0) {
    hd::record_socket(fd, (type & SOCK_NONBLOCK) != 0);
  }
  return fd;
}

int socketpair(int domain, int type, int protocol, int sv[2]) noexcept {
  const int r = hd::real_socketpair(domain, type, protocol, sv);
  if (r == 0) {
    hd::record_socket(sv[0], (type & SOCK_NONBLOCK) != 0);
    hd::record_socket(sv[1], (type & SOCK_NONBLOCK) != 0);
  }
  return r;
}

int connect(int fd, const sockaddr* addr, socklen_t len) {
  if (!hd::on_scheduler()) [[likely]] {
    const int r = hd::real_connect(fd, addr, len);
    if (!hd::would_wait(r)) [[likely]] {
      return r;
    }
    const int err = errno;
    hd::FdEntry* const e = hd::find(fd);
    if (e == nullptr || !e->has(hd::FdEntry::made_nonblock) || e->has(hd::FdEntry::user_nonblock)) {
      errno = err;
      return r;
    }
    return hd::connect_wait(fd, addr, len, *e, false);
  }
  hd::FdEntry* const e = hd::task_entry(fd);
  const int r = hd::real_connect(fd, addr, len);
  if (e == nullptr || !hd::would_wait(r)) {
    return r;
  }
  return hd::connect_wait(fd, addr, len, *e, true);
}

int accept(int fd, sockaddr* addr, socklen_t* len) {
  const auto r = hd::io_call(fd, hd::Interest::readable, "accept", 0, [=](std::size_t) {
    return static_cast<ssize_t>(hd::real_accept(fd, addr, len));
  });
  if (r >= 0) {
    hd::record_socket(static_cast<int>(r), false);
  }
  return static_cast<int>(r);
}

int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  const auto r = hd::io_call(fd, hd::Interest::readable, "accept4", 0, [=](std::size_t) {
    return static_cast<ssize_t>(hd::real_accept4(fd, addr, len, flags));
  });
  if (r >= 0) {
    hd::record_socket(static_cast<int>(r), (flags & SOCK_NONBLOCK) != 0);
  }
  return static_cast<int>(r);
}

}  // extern "C"

namespace gofer::hooks::detail {

namespace {

const HookSymbol symbols[] = {
    {"socket", as_address(&::socket)},   {"socketpair", as_address(&::socketpair)},
    {"connect", as_address(&::connect)}, {"accept", as_address(&::accept)},
    {"accept4", as_address(&::accept4)},
};

}  // namespace

const HookList socket_hooks = list_of(symbols);

}  // namespace gofer::hooks::detail
