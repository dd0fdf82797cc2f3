// multi_wait.cpp: park_fds (multi_wait.hpp).
#include "multi_wait.hpp"

#include <cerrno>
#include <memory>
#include <new>
#include <system_error>

#include <gofer/detail/waiter.hpp>
#include <gofer/hooks.hpp>

#include "../scheduler.hpp"

namespace gofer::hooks::detail {

namespace {

using gofer::detail::Waiter;
using gofer::detail::wake_reason;

// Watch: one fd's watch, claiming the shared Waiter with its index.
struct Watch final : gofer::detail::FdWatch {
  void ready(std::uint32_t) noexcept override {
    if (waiter->try_claim()) {
      waiter->complete(wake_reason::fired, index);
    }
  }

  Waiter* waiter = nullptr;
  int index = 0;
};

}  // namespace

int park_fds(std::span<const FdInterest> fds, gofer::detail::clock::time_point deadline,
             const char* what) noexcept {
  gofer::detail::Poller& poller = gofer::detail::Scheduler::installed()->poller();
  std::unique_ptr<Watch[]> watches(new (std::nothrow) Watch[fds.size()]);
  if (watches == nullptr && !fds.empty()) {
    return ENOMEM;
  }
  Waiter waiter;
  waiter.info.what = what;
  std::size_t added = 0;
  int err = 0;
  for (; added < fds.size(); ++added) {
    Watch& w = watches[added];
    w.waiter = &waiter;
    w.index = static_cast<int>(added);
    try {
      poller.watch(fds[added].fd, fds[added].interest, &w);
    } catch (const std::system_error& e) {
      err = e.code().category() == std::system_category() ? e.code().value() : EIO;
      break;
    } catch (...) {
      err = ENOMEM;
      break;
    }
  }
  wake_reason r = wake_reason::fired;
  if (err == 0) {
    auto nothing = [] {};
    r = gofer::detail::park(waiter, deadline, nothing);
  }
  for (std::size_t i = 0; i < added; ++i) {
    poller.unwatch(fds[i].fd, fds[i].interest, &watches[i]);
  }
  if (err != 0) {
    return err;
  }
  switch (r) {
    case wake_reason::fired:
    case wake_reason::closed:
      return 0;
    case wake_reason::timeout:
      return EAGAIN;
    case wake_reason::cancelled:
      return stop_errno;
  }
  return 0;
}

}  // namespace gofer::hooks::detail
