// socket.cpp: the socket helpers shared by net.cpp and udp.cpp (see socket.hpp).
#include "socket.hpp"

#include <fcntl.h>

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

void park_writable(int fd, UniqueFd& wait_dup, clock::time_point deadline, std::string_view op,
                   const std::string& name) {
  if (!wait_dup) {
    wait_dup.reset(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!wait_dup) {
      throw_errno(op, name + " (duplicating the socket for the writer's wait)");
    }
  }
  if (!wait_fd(wait_dup.get(), fd_writable(), deadline)) {
    throw_timed_out(op, name);
  }
}

void park_readable(int fd, clock::time_point deadline, std::string_view op,
                   const std::string& name) {
  if (!wait_fd(fd, fd_readable(), deadline)) {
    throw_timed_out(op, name);
  }
}

}  // namespace gofer::detail
