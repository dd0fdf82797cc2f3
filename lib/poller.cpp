#include "poller.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "errno_error.hpp"

namespace gofer::detail {

namespace {

constexpr int max_events = 64;
// The wake pipe's epoll data; fd watches carry their FdWatch pointer instead.
void* const wake_tag = nullptr;

}  // namespace

Poller::Poller() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) {
    throw_errno("epoll_create1");
  }
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd_ < 0) {
    int err = errno;
    close(epfd_);
    throw_errno_value(err, "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = wake_tag;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev) != 0) {
    int err = errno;
    close(wakefd_);
    close(epfd_);
    throw_errno_value(err, "epoll_ctl", "(wake pipe)");
  }
}

Poller::~Poller() {
  close(wakefd_);
  close(epfd_);
}

void Poller::wait(std::chrono::steady_clock::time_point deadline) noexcept {
  std::array<epoll_event, max_events> events;
  int n;
  if (deadline == std::chrono::steady_clock::time_point::max()) {
    n = epoll_wait(epfd_, events.data(), max_events, -1);
  } else {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left < left.zero()) {
      left = left.zero();
    }
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    if (pwait2_) {
      timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
      n = epoll_pwait2(epfd_, events.data(), max_events, &ts, nullptr);
      if (n < 0 && errno == ENOSYS) {
        pwait2_ = false;
      }
    }
    if (!pwait2_) {
      // Round up to whole milliseconds so the wait never ends before the deadline.
      long long ms = (ns + 999'999) / 1'000'000;
      n = epoll_wait(epfd_, events.data(), max_events, static_cast<int>(std::min(ms, 1LL << 30)));
    }
  }
  if (n < 0) {
    if (errno != EINTR) {
      std::perror("gofer: epoll_wait");
      std::abort();
    }
    return;
  }
  for (int i = 0; i < n; ++i) {
    if (events[i].data.ptr == wake_tag) {
      std::uint64_t value;
      while (read(wakefd_, &value, sizeof value) > 0) {
      }
    } else {
      static_cast<FdWatch*>(events[i].data.ptr)->ready(events[i].events);
    }
  }
}

void Poller::poll_now() noexcept {
  std::array<epoll_event, max_events> events;
  int n = epoll_wait(epfd_, events.data(), max_events, 0);
  for (int i = 0; i < n; ++i) {
    if (events[i].data.ptr != wake_tag) {
      static_cast<FdWatch*>(events[i].data.ptr)->ready(events[i].events);
    }
  }
}

void Poller::wake() noexcept {
  std::uint64_t one = 1;
  wakeups_.fetch_add(1, std::memory_order_relaxed);
  // EAGAIN means the counter is saturated: the poller will wake anyway.
  [[maybe_unused]] auto r = write(wakefd_, &one, sizeof one);
}

void Poller::watch(int fd, std::uint32_t events, FdWatch* w) {
  epoll_event ev{};
  ev.events = events | EPOLLONESHOT;
  ev.data.ptr = w;
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0) {
    return;
  }
  if (errno != ENOENT) {
    throw_errno("epoll_ctl", "fd " + std::to_string(fd));
  }
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    throw_errno("epoll_ctl", "fd " + std::to_string(fd));
  }
  ++watched_;
}

void Poller::unwatch(int fd) noexcept {
  if (epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr) == 0) {
    --watched_;
  }
}

}  // namespace gofer::detail
