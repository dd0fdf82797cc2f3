// fd.cpp: UniqueFd and the fd flag helpers (see fd.hpp).
#include "fd.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace gofer::detail {

void UniqueFd::reset(int fd) noexcept {
  if (fd_ >= 0) {
    ::close(fd_);  // Linux releases the fd even when close reports EINTR: never retry
  }
  fd_ = fd;
}

bool set_nonblocking(int fd) noexcept {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) {
    return false;
  }
  return (flags & O_NONBLOCK) != 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

void set_cloexec(int fd) noexcept {
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) {
    ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
}

}  // namespace gofer::detail
