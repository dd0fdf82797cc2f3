#include "fd_wait.hpp"

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

bool wait_fd(int fd, Interest interest, clock::time_point deadline) {
  Poller& poller = Scheduler::local().poller();
  FdWaiter w;
  w.waiter.what = interest == Interest::readable ? "fd readable" : "fd writable";
  poller.watch(fd, interest, &w);
  auto nothing = [] {};
  const wake_reason r = park(w.waiter, deadline, nothing);
  if (r != wake_reason::fired) {
    poller.unwatch(fd, interest, &w);  // the watch must not outlive w
  }
  throw_if_cancelled(r);
  return r == wake_reason::fired;
}

void forget_fd(int fd) noexcept {
  if (Scheduler* s = Scheduler::installed()) {
    s->poller().forget(fd);
  }
}

}  // namespace gofer::detail
