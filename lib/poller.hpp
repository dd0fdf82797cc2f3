// poller.hpp: the thread's I/O poller: one epoll instance plus an eventfd wake pipe.
//
// The poller is the only user of epoll in gofer. Its owner is one scheduler (one OS thread):
// wait(), poll_now(), watch() and unwatch() must be called on that thread. wake() is the one
// call that is safe from any thread: it makes a concurrent or the next wait() return.
//
// wait() blocks the OS thread (that is its job: it is the scheduler's idle wait) until an fd
// event, a wake(), or the deadline, whichever comes first. Deadlines have nanosecond resolution
// (epoll_pwait2) and are rounded up, never down, so a sleep never ends early. Every readiness
// event is handed to the FdWatch registered for that fd, on the poller's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace gofer::detail {

// FdWatch: receives readiness events for one registered fd. ready() runs on the poller's
// thread, inside wait() or poll_now(), and must not block.
class FdWatch {
 public:
  virtual void ready(std::uint32_t events) noexcept = 0;

 protected:
  ~FdWatch() = default;
};

class Poller {
 public:
  // Poller: creates the epoll instance and the eventfd; throws std::system_error.
  Poller();
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // wait: blocks until an event, a wake() or `deadline`; dispatches fd events.
  void wait(std::chrono::steady_clock::time_point deadline) noexcept;
  // poll_now: dispatches fd events that are already pending; never blocks.
  void poll_now() noexcept;
  // wake: thread-safe; one eventfd write.
  void wake() noexcept;

  // watch: one-shot interest in `events` (EPOLLIN/EPOLLOUT...) on fd; re-arms when the fd is
  // already known. Throws std::system_error (e.g. EBADF, EPERM for a regular file).
  void watch(int fd, std::uint32_t events, FdWatch* w);
  // unwatch: forgets fd; harmless when fd is not watched.
  void unwatch(int fd) noexcept;
  // watching: how many fds are watched (the scheduler polls them when it is busy).
  std::size_t watching() const noexcept { return watched_; }

  // wakeups: eventfd writes performed by wake() (a debug counter for tests and benchmarks).
  std::uint64_t wakeups() const noexcept { return wakeups_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> wakeups_{0};
  int epfd_ = -1;
  int wakefd_ = -1;
  std::size_t watched_ = 0;
  bool pwait2_ = true;
};

}  // namespace gofer::detail
