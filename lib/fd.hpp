// fd.hpp: an owning file descriptor and the small fd helpers the I/O modules share.
//
// Thread-safety: a UniqueFd is a plain value (one owner at a time); the helpers are
// thread-safe. Blocking: reset() may block only as long as the kernel's close(2) does.
#pragma once

#include <utility>

namespace gofer::detail {

// UniqueFd: owns one fd (-1 = none); closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset(std::exchange(o.fd_, -1));
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  // release: gives up ownership without closing.
  int release() noexcept { return std::exchange(fd_, -1); }
  // reset: closes the owned fd (close errors cannot be acted on and are ignored) and owns fd.
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

// set_nonblocking: sets O_NONBLOCK; false if the fd refuses (then it stays blocking).
bool set_nonblocking(int fd) noexcept;
// set_cloexec: sets FD_CLOEXEC (so a spawned child does not inherit it).
void set_cloexec(int fd) noexcept;

}  // namespace gofer::detail
