// socket.cpp: the socket helpers shared by net.cpp, udp.cpp and unix.cpp (see socket.hpp).
#include "socket.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>

#include "errno_error.hpp"
#include "fd_stream.hpp"
#include "fd_wait.hpp"

namespace gofer::detail {

UniqueFd open_socket(int family, int type, std::string_view op, const std::string& what) {
  UniqueFd fd(::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    throw_errno(op, what);
  }
  return fd;
}

int connect_socket(int fd, const sockaddr* to, socklen_t len, clock::time_point deadline,
                   const std::string& what) {
  if (::connect(fd, to, len) == 0) {
    return 0;
  }
  // EINTR: the connection goes on asynchronously, as after EINPROGRESS.
  if (errno != EINPROGRESS && errno != EINTR) {
    return errno;
  }
  if (!wait_fd(fd, Interest::writable, deadline, "connect", &what)) {
    throw_timed_out("connect", what);
  }
  int so_error = 0;
  socklen_t size = sizeof so_error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &size) != 0) {
    so_error = errno;
  }
  return so_error;
}

namespace {

// max_backlog: the kernel's limit on a listen backlog, read once, as Go's maxListenerBacklog:
// /proc/sys/net/core/somaxconn, or SOMAXCONN when it cannot be read or says 0; at most 65535,
// which kernels before 4.1 stored in 16 bits.
int max_backlog() noexcept {
  static const int max = [] {
    long n = 0;
    const int fd = ::open("/proc/sys/net/core/somaxconn", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char text[32] = {};
      if (::read(fd, text, sizeof text - 1) > 0) {
        n = std::strtol(text, nullptr, 10);
      }
      ::close(fd);
    }
    return n > 0 ? static_cast<int>(std::min(n, 65535L)) : SOMAXCONN;
  }();
  return max;
}

}  // namespace

int listen_backlog(std::optional<int> backlog, std::string_view who) {
  if (backlog && *backlog < 0) {
    throw std::invalid_argument(std::string(who) + ": backlog " + std::to_string(*backlog) +
                                " must be >= 0");
  }
  return backlog.value_or(max_backlog());
}

UniqueFd accept_socket(PollFd& listener, clock::time_point deadline, const std::string& name,
                       sockaddr_storage& peer, socklen_t& len) {
  PollFd::Use use(listener, Interest::readable, "accept", name);
  for (;;) {
    listener.check_open("accept", name);
    len = sizeof peer;
    UniqueFd conn(::accept4(listener.fd(), reinterpret_cast<sockaddr*>(&peer), &len,
                            SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (conn) {
      return conn;
    }
    switch (errno) {
      case EAGAIN:
        listener.wait(Interest::readable, deadline, "accept", name);
        break;
      // The connection died in the queue, or (accept(2), "Error handling") a network error
      // already pending on it: that connection is gone; the next one may be fine.
      case EINTR:
      case ECONNABORTED:
      case EPROTO:
      case ENETDOWN:
      case ENOPROTOOPT:
      case EHOSTDOWN:
      case ENONET:
      case EHOSTUNREACH:
      case EOPNOTSUPP:
      case ENETUNREACH:
        break;
      case EMFILE:
      case ENFILE:
        throw_errno("accept", name +
                                  " (out of file descriptors; the connection "
                                  "stays queued until an accept succeeds)");
      default:
        throw_errno("accept", name);
    }
  }
}

void shutdown_socket(int fd, shutdown_how how, const std::string& name) {
  const int mode = how == shutdown_how::read    ? SHUT_RD
                   : how == shutdown_how::write ? SHUT_WR
                                                : SHUT_RDWR;
  if (::shutdown(fd, mode) != 0) {
    throw_errno("shutdown", name);
  }
}

}  // namespace gofer::detail
