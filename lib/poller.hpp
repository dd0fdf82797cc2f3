// poller.hpp: the thread's I/O poller: one epoll instance plus an eventfd wake pipe, made on
// the first watch; until then the thread idles on a futex and costs no fd.
//
// The poller is the only user of epoll in gofer. Its owner is one scheduler (one OS thread):
// wait(), poll_now(), watch(), unwatch() and forget() must be called on that thread. wake() is
// safe from any thread: it makes a concurrent or the next wait() return; watching() may be
// read from any thread as a snapshot (the deadlock watchdog does).
//
// wait() blocks the OS thread (that is its job: it is the scheduler's idle wait) until an fd
// event, a wake(), or the deadline, whichever comes first. Deadlines have nanosecond resolution
// (epoll_pwait2) and are rounded up, never down, so a sleep never ends early.
//
// Watches. Each watched fd has one record with two lists of watches, one per Interest
// (readable, writable), so a reader and a writer (or two tasks accepting on one listener) can
// wait on one fd at once, like Go's pollDesc. epoll's data points at the record, never at a
// watch. Invariants: (1) the fd's epoll registration is armed (EPOLLONESHOT) for exactly the
// interests that have watches, or disarmed; (2) a watch leaves its list before its ready()
// runs (it fires once); when one interest fires and the other still has watches, the
// registration is re-armed for the other before dispatch returns; (3) a record lives until
// forget(), an unwatch() that leaves it empty, or the poller's end, so every event the kernel
// reports finds it (an event for an interest nobody watches is dropped). After a watch fires,
// the disarmed registration stays in epoll, so the next watch of that fd costs one epoll_ctl
// (MOD), not an ADD and a DEL; the fd may even be closed and its number reused meanwhile
// (the kernel dropped the old registration: the MOD fails with ENOENT and an ADD follows).
//
// Lazy fds. A thread that never waits for an fd (a plain thread blocked in a channel receive,
// a Runtime worker that only computes) never opens epoll or the eventfd: wait() then sleeps on
// a futex word and wake() sets the word and FUTEX_WAKEs it. The first watch() opens both (and
// throws std::system_error, EMFILE at the fd limit, to the caller, who holds no lock). From
// then on wake() writes the eventfd. Why no wake is lost in the switch: wake() is called only
// by a notify() that saw the owner's scheduler asleep (scheduler.hpp); open() runs on the
// owner thread before any later sleep, and publishes the eventfd (release) before the
// scheduler's seq_cst store of "sleeping". A wake() that read that store sees the eventfd; one
// that read an older "sleeping" set its notify flag before the owner woke from that older
// sleep, and the owner consumes the flag before it sleeps again, so the futex token it finds
// unused is harmless.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "sched_stats.hpp"

namespace gofer::detail {

// Interest: what a watch waits for. readable includes a peer's hang-up; both include errors.
enum class Interest : std::uint8_t { readable, writable };

// FdWatch: receives the readiness event of one watch. ready() runs on the poller's thread,
// inside wait() or poll_now() (or forget()), and must not block.
class FdWatch {
 public:
  virtual void ready(std::uint32_t events) noexcept = 0;

 protected:
  virtual ~FdWatch() = default;

 private:
  friend class Poller;
  FdWatch* next_ = nullptr;  // the poller's list of watches of one fd and interest
};

class Poller {
 public:
  // Poller: opens nothing yet (see "Lazy fds"); never throws.
  Poller() noexcept = default;
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // wait: blocks until an event, a wake() or `deadline`; dispatches fd events.
  void wait(std::chrono::steady_clock::time_point deadline) noexcept;
  // poll_now: dispatches fd events that are already pending; never blocks.
  void poll_now() noexcept;
  // wake: thread-safe; one eventfd write (or, before the first watch, one futex wake).
  void wake() noexcept;

  // watch: w->ready() runs once, when fd is ready for `interest` (or in error); every watch
  // of that fd and interest fires together. Throws std::system_error when epoll refuses the
  // fd (EBADF; EPERM for a regular file) or, on the first watch, cannot be opened (EMFILE).
  void watch(int fd, Interest interest, FdWatch* w);
  // unwatch: cancels w's watch of fd if it has not fired; harmless when it has.
  void unwatch(int fd, Interest interest, FdWatch* w) noexcept;
  // forget: drops fd's registration (call it before closing fd). A watch still pending on
  // fd fires at once with EPOLLERR | EPOLLHUP, so its task wakes and sees the closed fd.
  void forget(int fd) noexcept;

  // watching: pending watches (the scheduler polls for them when it is busy; the deadlock
  // watchdog reads it from another thread: only the owner stores it, relaxed, with no
  // read-modify-write, so the count costs the owner nothing more than a plain field).
  std::size_t watching() const noexcept { return pending_.load(std::memory_order_relaxed); }
  // fd_events: watches fired so far (scheduler_stats()).
  std::uint64_t fd_events() const noexcept { return fd_events_.get(); }
  // registered: fds with a registration in epoll, armed or not (for tests).
  std::size_t registered() const noexcept { return records_.size(); }
  // has_fds: whether the epoll instance and eventfd are open (for tests).
  bool has_fds() const noexcept { return epfd_ >= 0; }
  // wakeups: eventfd writes performed by wake() (a debug counter for tests and benchmarks).
  std::uint64_t wakeups() const noexcept { return wakeups_.load(std::memory_order_relaxed); }

 private:
  struct Record {
    int fd = -1;
    FdWatch* watches[2] = {nullptr, nullptr};  // indexed by Interest
  };

  // open: creates the epoll instance and the eventfd; throws std::system_error.
  void open();
  // wait_futex: wait() before open().
  void wait_futex(std::chrono::steady_clock::time_point deadline) noexcept;
  void dispatch(Record& r, std::uint32_t events) noexcept;
  // run: fires every watch of a list already taken out of its record.
  void run(FdWatch* list, std::uint32_t events) noexcept;
  // arm: one epoll_ctl (two when the fd number was reused) making r's registration match its
  // watches; returns 0 or the errno.
  int arm(Record& r, bool fresh) noexcept;
  // erase: removes r's registration and r itself.
  void erase(Record& r) noexcept;
  // add_pending: the owner's update of pending_ (a relaxed load and store, no atomic RMW).
  void add_pending(std::ptrdiff_t delta) noexcept {
    pending_.store(pending_.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  }

  std::atomic<std::uint64_t> wakeups_{0};
  Counter fd_events_;
  std::unordered_map<int, Record> records_;
  std::atomic<std::size_t> pending_{0};
  int epfd_ = -1;
  std::atomic<int> wakefd_{-1};
  std::atomic<std::uint32_t> futex_word_{0};  // 1: a wake() not yet seen by wait_futex
  bool pwait2_ = true;
};

}  // namespace gofer::detail
