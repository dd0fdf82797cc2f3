#include "poller.hpp"

#include <linux/futex.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <utility>

#include "errno_error.hpp"

namespace gofer::detail {

namespace {

constexpr int max_events = 64;
// The wake pipe's epoll data; fd registrations carry their Record's address instead.
void* const wake_tag = nullptr;

constexpr std::uint32_t failed = EPOLLERR | EPOLLHUP;
// What each Interest asks epoll for, and which reported events fire it.
constexpr std::uint32_t asks[2] = {EPOLLIN | EPOLLRDHUP, EPOLLOUT};
constexpr std::uint32_t fires[2] = {EPOLLIN | EPOLLRDHUP | EPOLLPRI | failed, EPOLLOUT | failed};

int index_of(Interest i) noexcept {
  return static_cast<int>(i);
}

}  // namespace

Poller::~Poller() {
  if (epfd_ >= 0) {
    close(wakefd_.load(std::memory_order_relaxed));
    close(epfd_);
  }
}

void Poller::open() {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    throw_errno("epoll_create1", "(the thread's I/O poller)");
  }
  const int wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wfd < 0) {
    const int err = errno;
    close(ep);
    throw_errno_value(err, "eventfd", "(the thread's I/O poller)");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = wake_tag;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, wfd, &ev) != 0) {
    const int err = errno;
    close(wfd);
    close(ep);
    throw_errno_value(err, "epoll_ctl", "(wake pipe)");
  }
  epfd_ = ep;
  // Published before the owner next sleeps: a wake() that saw it asleep since then sees it.
  wakefd_.store(wfd, std::memory_order_release);
}

void Poller::wait_futex(std::chrono::steady_clock::time_point deadline) noexcept {
  if (futex_word_.exchange(0, std::memory_order_acquire) != 0) {
    return;  // a wake() came first
  }
  timespec ts{};
  timespec* timeout = nullptr;
  if (deadline != std::chrono::steady_clock::time_point::max()) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= left.zero()) {
      return;
    }
    // Round up to the next microsecond so the wait never ends before the deadline.
    const auto ns = std::chrono::ceil<std::chrono::microseconds>(left).count() * 1000;
    ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    timeout = &ts;
  }
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&futex_word_), FUTEX_WAIT_PRIVATE, 0, timeout,
          nullptr, 0);
  futex_word_.store(0, std::memory_order_relaxed);
}

void Poller::wait(std::chrono::steady_clock::time_point deadline) noexcept {
  if (epfd_ < 0) {
    wait_futex(deadline);
    return;
  }
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
      while (read(wakefd_.load(std::memory_order_relaxed), &value, sizeof value) > 0) {
      }
    } else {
      dispatch(*static_cast<Record*>(events[i].data.ptr), events[i].events);
    }
  }
}

void Poller::poll_now() noexcept {
  if (epfd_ < 0) {
    return;
  }
  std::array<epoll_event, max_events> events;
  int n = epoll_wait(epfd_, events.data(), max_events, 0);
  for (int i = 0; i < n; ++i) {
    if (events[i].data.ptr != wake_tag) {
      dispatch(*static_cast<Record*>(events[i].data.ptr), events[i].events);
    }
  }
}

void Poller::wake() noexcept {
  wakeups_.fetch_add(1, std::memory_order_relaxed);
  const int wfd = wakefd_.load(std::memory_order_acquire);
  if (wfd >= 0) {
    std::uint64_t one = 1;
    // EAGAIN means the counter is saturated: the poller will wake anyway.
    [[maybe_unused]] auto r = write(wfd, &one, sizeof one);
    return;
  }
  futex_word_.store(1, std::memory_order_release);
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&futex_word_), FUTEX_WAKE_PRIVATE, 1, nullptr,
          nullptr, 0);
}

void Poller::dispatch(Record& r, std::uint32_t events) noexcept {
  // The one-shot event disarmed the registration (invariant 1): take the lists it fires
  // (invariant 2), re-arm for the rest, then run the watches.
  FdWatch* fired[2] = {nullptr, nullptr};
  for (int i = 0; i < 2; ++i) {
    if (r.watches[i] != nullptr && (events & fires[i]) != 0) {
      fired[i] = std::exchange(r.watches[i], nullptr);
    }
  }
  if (r.watches[0] != nullptr || r.watches[1] != nullptr) {
    arm(r, false);
  }
  for (FdWatch* list : fired) {
    run(list, events);
  }
}

void Poller::run(FdWatch* list, std::uint32_t events) noexcept {
  while (list != nullptr) {
    FdWatch* next = std::exchange(list->next_, nullptr);
    add_pending(-1);
    fd_events_.bump();
    list->ready(events);
    list = next;
  }
}

int Poller::arm(Record& r, bool fresh) noexcept {
  epoll_event ev{};
  ev.events = EPOLLONESHOT;
  for (int i = 0; i < 2; ++i) {
    if (r.watches[i] != nullptr) {
      ev.events |= asks[i];
    }
  }
  ev.data.ptr = &r;
  if (epoll_ctl(epfd_, fresh ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, r.fd, &ev) == 0) {
    return 0;
  }
  // ENOENT: the fd was closed and its number reused, and the kernel dropped the old
  // registration with the old file; EEXIST: the fd is still registered from before.
  if (errno == (fresh ? EEXIST : ENOENT) &&
      epoll_ctl(epfd_, fresh ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, r.fd, &ev) == 0) {
    return 0;
  }
  return errno;
}

void Poller::erase(Record& r) noexcept {
  const int fd = r.fd;  // a copy: erasing destroys r
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  records_.erase(fd);
}

void Poller::watch(int fd, Interest interest, FdWatch* w) {
  if (epfd_ < 0) {
    open();
  }
  auto [it, fresh] = records_.try_emplace(fd);
  Record& r = it->second;
  r.fd = fd;
  FdWatch*& list = r.watches[index_of(interest)];
  const bool was_armed = list != nullptr;
  w->next_ = list;
  list = w;
  if (was_armed) {
    add_pending(1);
    return;
  }
  if (const int err = arm(r, fresh); err != 0) {
    list = nullptr;
    if (fresh) {
      records_.erase(it);
    }
    throw_errno_value(err, "epoll_ctl", "fd " + std::to_string(fd));
  }
  add_pending(1);
}

void Poller::unwatch(int fd, Interest interest, FdWatch* w) noexcept {
  auto it = records_.find(fd);
  if (it == records_.end()) {
    return;
  }
  Record& r = it->second;
  for (FdWatch** p = &r.watches[index_of(interest)]; *p != nullptr; p = &(*p)->next_) {
    if (*p == w) {
      *p = std::exchange(w->next_, nullptr);
      add_pending(-1);
      if (r.watches[index_of(interest)] != nullptr) {
        return;  // others still watch this interest: the registration is right as it is
      }
      if (r.watches[0] == nullptr && r.watches[1] == nullptr) {
        erase(r);  // the registration is still armed: it must not fire for nobody's wait
      } else {
        arm(r, false);
      }
      return;
    }
  }
}

void Poller::forget(int fd) noexcept {
  auto it = records_.find(fd);
  if (it == records_.end()) {
    return;
  }
  FdWatch* lists[2] = {it->second.watches[0], it->second.watches[1]};
  erase(it->second);
  for (FdWatch* list : lists) {
    run(list, failed);
  }
}

}  // namespace gofer::detail
