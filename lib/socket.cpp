// socket.cpp: the socket helpers shared by net.cpp and udp.cpp (see socket.hpp).
#include "socket.hpp"

#include <cerrno>

#include "errno_error.hpp"

namespace gofer::detail {

UniqueFd open_socket(int family, int type, std::string_view op, const std::string& what) {
  UniqueFd fd(::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    throw_errno(op, what);
  }
  return fd;
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

}  // namespace gofer::detail
