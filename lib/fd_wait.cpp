// fd_wait.cpp: parking a task on fd readiness (see fd_wait.hpp).
#include "fd_wait.hpp"

#include <string>

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

// describe_fd: "read 127.0.0.1:5000 (fd 7)", or "fd 7 readable" with no operation.
void describe_fd(const WaitInfo& info, std::string& out) {
  const auto* subject = static_cast<const std::string*>(info.subject);
  if (info.what != nullptr) {
    out += info.what;
    if (subject != nullptr && !subject->empty()) {
      out += ' ';
      out += *subject;
    }
    out += " (fd " + std::to_string(info.id) + ")";
  } else {
    out += "fd " + std::to_string(info.id) + (info.a != 0 ? " writable" : " readable");
  }
}

}  // namespace

bool wait_fd(int fd, Interest interest, clock::time_point deadline, const char* op,
             const std::string* subject) {
  Poller& poller = Scheduler::local().poller();
  FdWaiter w;
  w.waiter.info.describe = &describe_fd;
  w.waiter.info.what = op;
  w.waiter.info.subject = subject;
  w.waiter.info.id = static_cast<std::uint64_t>(fd);
  w.waiter.info.a = interest == Interest::writable ? 1 : 0;
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
