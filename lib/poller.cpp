// poller.cpp: Poller (see poller.hpp for registrations, owners and their invariants).
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
// The wake pipe's epoll data; fd registrations carry their tag and fd number instead, and no
// fd number is 0xffffffff.
constexpr std::uint64_t wake_data = ~std::uint64_t{0};

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
  ev.data.u64 = wake_data;
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
    if (events[i].data.u64 == wake_data) {
      std::uint64_t value;
      while (read(wakefd_.load(std::memory_order_relaxed), &value, sizeof value) > 0) {
      }
    } else {
      dispatch(events[i].data.u64, events[i].events);
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
    if (events[i].data.u64 != wake_data) {
      dispatch(events[i].data.u64, events[i].events);
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

Poller::Record* Poller::find(int fd) noexcept {
  const auto chunk = static_cast<std::size_t>(fd) >> chunk_bits;
  if (fd < 0 || chunk >= chunks_.size() || chunks_[chunk] == nullptr) {
    return nullptr;
  }
  return &chunks_[chunk][fd & (chunk_size - 1)];
}

Poller::Record& Poller::record(int fd) {
  const auto chunk = static_cast<std::size_t>(fd) >> chunk_bits;
  if (chunk >= chunks_.size()) {
    chunks_.resize(chunk + 1);
  }
  if (chunks_[chunk] == nullptr) {
    chunks_[chunk] = std::make_unique<Record[]>(chunk_size);
  }
  return chunks_[chunk][fd & (chunk_size - 1)];
}

void Poller::dispatch(std::uint64_t data, std::uint32_t events) noexcept {
  const int fd = static_cast<int>(static_cast<std::uint32_t>(data));
  Record* r = find(fd);
  if (r == nullptr || !r->registered || r->tag != static_cast<std::uint32_t>(data >> 32)) {
    return;  // an old registration of a file still open elsewhere (invariant 4)
  }
  if ((events & (EPOLLPRI | EPOLLRDHUP | failed)) != 0) {
    r->unusual = true;
  }
  // Take the lists this edge fires (invariant 2); an interest nobody watches keeps the edge
  // in its flag (invariant 3). Then run the watches.
  FdWatch* fired[2] = {nullptr, nullptr};
  for (int i = 0; i < 2; ++i) {
    if ((events & fires[i]) == 0) {
      continue;
    }
    if (r->watches[i] != nullptr) {
      fired[i] = std::exchange(r->watches[i], nullptr);
    } else {
      r->ready[i] = true;
    }
  }
  // A one-shot registration is disarmed now: re-arm it for the watches still linked.
  if (r->owner == 0 && (r->watches[0] != nullptr || r->watches[1] != nullptr)) {
    enroll(*r, fd, watched_mask(*r), 0);
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

int Poller::enroll(Record& r, int fd, std::uint32_t mask, std::uint64_t owner) noexcept {
  const std::uint32_t tag = ++next_tag_;
  epoll_event ev{};
  // Owned: edge-triggered, for good. Otherwise one-shot, as an fd of unknown history is
  // re-registered by each watch anyway: no edges reach the poller between its waits.
  ev.events = mask | (owner != 0 ? EPOLLET | EPOLLPRI : EPOLLONESHOT);
  ev.data.u64 = (std::uint64_t{tag} << 32) | static_cast<std::uint32_t>(fd);
  // ENOENT: the fd was closed and its number reused, and the kernel dropped the registration
  // with the old file. EEXIST (not expected: forget() deletes what it drops) is mended the
  // same way, the other way round.
  const int first = r.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  ++registrations_;
  int ok = epoll_ctl(epfd_, first, fd, &ev);
  if (ok != 0 && errno == (first == EPOLL_CTL_MOD ? ENOENT : EEXIST)) {
    ++registrations_;
    ok = epoll_ctl(epfd_, first == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
  }
  if (ok != 0) {
    return errno;
  }
  if (!r.registered || r.owner != owner) {  // what earlier edges said is not about this file
    r.unusual = false;
  }
  if (!r.registered) {
    r.registered = true;
    ++registered_;
  }
  r.owner = owner;
  r.tag = tag;
  r.mask = mask;
  // Epoll reports the fd's current state for the new registration (invariant 3).
  r.ready[0] = r.ready[1] = false;
  return 0;
}

std::uint32_t Poller::watched_mask(const Record& r) noexcept {
  std::uint32_t mask = 0;
  for (int i = 0; i < 2; ++i) {
    if (r.watches[i] != nullptr) {
      mask |= asks[i];
    }
  }
  return mask;
}

void Poller::enroll_or_throw(Record& r, int fd, Interest interest, std::uint64_t owner) {
  // Edge-triggered, asking more than is watched costs nothing, and keeps the edges of an
  // interest asked before; one-shot (level), an interest nobody watches that is ready would
  // fire, disarm and be re-armed on every poll.
  std::uint32_t mask = asks[index_of(interest)] | watched_mask(r);
  if (owner != 0 && r.registered) {
    mask |= r.mask;
  }
  if (const int err = enroll(r, fd, mask, owner); err != 0) {
    throw_errno_value(err, "epoll_ctl", "fd " + std::to_string(fd));
  }
}

void Poller::link(Record& r, Interest interest, FdWatch* w) noexcept {
  FdWatch*& list = r.watches[index_of(interest)];
  w->next_ = list;
  list = w;
  add_pending(1);
}

void Poller::watch(int fd, Interest interest, FdWatch* w) {
  if (fd < 0) {
    throw_errno_value(EBADF, "epoll_ctl", "fd " + std::to_string(fd));
  }
  if (epfd_ < 0) {
    open();
  }
  Record& r = record(fd);
  enroll_or_throw(r, fd, interest, 0);
  link(r, interest, w);
}

bool Poller::watch_owned(int fd, Interest interest, FdWatch* w, std::uint64_t owner) {
  if (fd < 0) {
    throw_errno_value(EBADF, "epoll_ctl", "fd " + std::to_string(fd));
  }
  if (epfd_ < 0) {
    open();
  }
  Record& r = record(fd);
  const int i = index_of(interest);
  if (!r.registered || r.owner != owner || (r.mask & asks[i]) != asks[i]) {
    enroll_or_throw(r, fd, interest, owner);
  } else if (r.ready[i]) {
    r.ready[i] = false;
    return true;
  }
  link(r, interest, w);
  return false;
}

bool Poller::short_read_drains(int fd, std::uint64_t owner) noexcept {
  const Record* r = find(fd);
  return r != nullptr && r->registered && r->owner == owner && !r->unusual;
}

void Poller::unwatch(int fd, Interest interest, FdWatch* w) noexcept {
  Record* r = find(fd);
  if (r == nullptr) {
    return;
  }
  for (FdWatch** p = &r->watches[index_of(interest)]; *p != nullptr; p = &(*p)->next_) {
    if (*p == w) {
      *p = std::exchange(w->next_, nullptr);
      add_pending(-1);
      return;
    }
  }
}

void Poller::forget(int fd) noexcept {
  Record* r = find(fd);
  if (r == nullptr || !r->registered) {
    return;
  }
  ++registrations_;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  FdWatch* lists[2] = {std::exchange(r->watches[0], nullptr),
                       std::exchange(r->watches[1], nullptr)};
  *r = Record{};
  --registered_;
  for (FdWatch* list : lists) {
    run(list, failed);
  }
}

}  // namespace gofer::detail
