#include "fd_wait.hpp"

#include <sys/epoll.h>

#include "poller.hpp"
#include "scheduler.hpp"

namespace gofer::detail {

namespace {

// FdWaiter: the poller's callback that completes the parked Waiter.
struct FdWaiter final : FdWatch {
  void ready(std::uint32_t) noexcept override {
    if (waiter.try_claim()) {
      waiter.complete(wake_reason::fired, 0);
    }
  }
  Waiter waiter;
};

}  // namespace

std::uint32_t fd_readable() noexcept {
  return EPOLLIN | EPOLLRDHUP;
}
std::uint32_t fd_writable() noexcept {
  return EPOLLOUT;
}

bool wait_fd(int fd, std::uint32_t events, clock::time_point deadline) {
  Poller& poller = Scheduler::local().poller();
  FdWaiter w;
  poller.watch(fd, events, &w);
  auto nothing = [] {};
  const wake_reason r = park(w.waiter, deadline, nothing);
  if (r != wake_reason::fired) {
    poller.unwatch(fd);  // still armed: it must not outlive w (see the invariant)
  }
  throw_if_cancelled(r);
  return r == wake_reason::fired;
}

void forget_fd(int fd) noexcept {
  if (Scheduler* s = Scheduler::installed()) {
    s->poller().unwatch(fd);
  }
}

}  // namespace gofer::detail
