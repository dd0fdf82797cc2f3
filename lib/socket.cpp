// socket.cpp: the socket helpers shared by net.cpp and udp.cpp (see socket.hpp).
#include "socket.hpp"

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

void close_fd(UniqueFd& fd) noexcept {
  if (fd) {
    forget_fd(fd.get());
    fd.reset();
  }
}

void park(int fd, Interest interest, clock::time_point deadline, const char* op,
          const std::string& name) {
  if (!wait_fd(fd, interest, deadline, op, &name)) {
    throw_timed_out(op, name);
  }
}

}  // namespace gofer::detail
