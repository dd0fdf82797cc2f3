// poller.hpp: the thread's I/O poller: one epoll instance plus an eventfd wake pipe, made on
// the first watch; until then the thread idles on a futex and costs no fd.
//
// The poller is the only user of epoll in gofer. Its owner is one scheduler (one OS thread):
// wait(), poll_now(), watch(), watch_owned(), unwatch() and forget() must be called on that
// thread. wake() is safe from any thread: it makes a concurrent or the next wait() return;
// watching() may be read from any thread as a snapshot (the deadlock watchdog does).
//
// wait() blocks the OS thread (that is its job: it is the scheduler's idle wait) until an fd
// event, a wake(), or the deadline, whichever comes first. Deadlines have nanosecond resolution
// (epoll_pwait2) and are rounded up, never down, so a sleep never ends early.
//
// Registrations (Go's pollDesc, netpoll_epoll.go). Each fd the thread waits on has one Record
// in a table indexed by fd number. An fd with an owner (watch_owned: a PollFd's socket, pipe
// or listener) is registered in epoll edge-triggered (EPOLLET) once and kept there until
// forget(): a task that parks on a socket it parked on before costs no epoll_ctl. The
// Record holds, per Interest (readable, writable), a list of watches and a ready flag; so a
// reader and a writer (or two tasks accepting on one listener) can wait on one fd at once.
// An edge fires every watch of the interests it reports; an edge that finds no watch of an
// interest sets that interest's ready flag instead (Go's pdReady), and the next owned watch of
// it consumes the flag and returns "ready" without parking. A flag may be stale (the edge's
// bytes were read before the wait): the caller's next syscall then gives EAGAIN and it waits
// again, this time parking; so a flag is a hint to try the syscall, never a promise.
// Owned registrations also ask for EPOLLPRI, and the Record remembers (`unusual`, until the
// next registration) whether an edge ever reported urgent data, a hang-up or an error: a
// stream may then no longer take a short read for an empty socket (short_read_drains()).
// The interests asked of epoll grow on demand: the first wait for writing on a socket only
// read so far costs one EPOLL_CTL_MOD, and a thread that only reads a socket another thread
// writes gets no EPOLLOUT edges.
//
// Watches of an fd of unknown history (watch(): raw fds, a connecting socket, a pidfd)
// re-register it each time, and one-shot (EPOLLONESHOT, level), as before: such an fd gets no
// edges between its waits, and its flags are never consumed.
//
// Owners and fd-number reuse. The kernel drops an epoll registration when the file is closed,
// and may hand the same fd number to a new file, which the Record then does not describe. A
// watch_owned() names the owner of the fd (PollFd's key: unique for the process's life, and the
// owner keeps that one open file at that number for as long as it uses the key); the Record
// remembers the owner it was registered for, and an owned watch whose owner matches trusts the
// registration. Any other watch (another owner, or watch() for an fd of unknown history)
// re-registers: one EPOLL_CTL_MOD, or an ADD when the kernel had dropped the old registration
// (ENOENT); epoll then reports the fd's current readiness, so no edge is lost by the switch.
// Every (re)registration gives the Record a new tag, carried in epoll's data next to the fd
// number, and an event whose tag is not its Record's current one is dropped: that is an old
// registration of a file still open elsewhere (a dup, a child's copy) under a reused number.
//
// Invariants: (1) a Record is registered in epoll exactly when `registered` is set, with
// `mask` the interests asked and `tag` its data's tag, edge-triggered when `owner` is set and
// one-shot otherwise (re-armed, after an event, while watches remain); (2) a watch leaves its list
// before its ready() runs (it fires once), and a list is non-empty only on a registered Record; (3)
// a ready flag is set only by an edge that found its interest's list empty, and cleared by the
// owned watch that consumes it or by a re-registration (which makes epoll report the current
// state again); (4) Records are never freed before the poller's end (the table only grows, in
// chunks that never move), so every event the kernel reports finds its Record's memory; the
// tag tells whether it is still meant.
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
#include <memory>
#include <vector>

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
  // of that fd and interest fires together. For an fd whose history the caller does not know
  // (it may be a new file under a reused number): it re-registers the fd (one epoll_ctl), and
  // fires at once if the fd is ready now. Throws std::system_error when epoll refuses the fd
  // (EBADF; EPERM for a regular file) or, on the first watch, cannot be opened (EMFILE).
  void watch(int fd, Interest interest, FdWatch* w);
  // watch_owned: as watch(), for an fd that `owner` (non-zero, never reused; PollFd's key)
  // keeps open as one file while it uses the key; costs no syscall when the fd is registered
  // for that owner already. Returns true, without linking w, when an edge of `interest` came
  // while nobody watched (the ready flag, consumed here): try the syscall again before waiting.
  [[nodiscard]] bool watch_owned(int fd, Interest interest, FdWatch* w, std::uint64_t owner);
  // short_read_drains: whether a read of an owned TCP socket that returned fewer bytes than
  // asked proves it empty, so that the reader may wait for the next edge without a read that
  // says EAGAIN (the last syscall of Go's round trip, which a raw epoll server skips). True
  // while fd is registered for `owner` and none of its edges reported urgent data (a read
  // stops short at the urgent mark), a hang-up or an error (the read that returned data came
  // before the one that reports it). An edge after the read sets the ready flag, so nothing
  // that arrives later can be missed.
  bool short_read_drains(int fd, std::uint64_t owner) noexcept;
  // unwatch: cancels w's watch of fd if it has not fired; harmless when it has. Never a
  // syscall: the registration stays.
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
  // registered: fds with a registration in epoll (for tests).
  std::size_t registered() const noexcept { return registered_; }
  // registrations: epoll_ctl calls made for fds so far (for tests and benchmarks).
  std::uint64_t registrations() const noexcept { return registrations_; }
  // has_fds: whether the epoll instance and eventfd are open (for tests).
  bool has_fds() const noexcept { return epfd_ >= 0; }
  // wakeups: eventfd writes performed by wake() (a debug counter for tests and benchmarks).
  std::uint64_t wakeups() const noexcept { return wakeups_.load(std::memory_order_relaxed); }

 private:
  struct Record {
    FdWatch* watches[2] = {nullptr, nullptr};  // indexed by Interest
    std::uint64_t owner = 0;                   // 0: registered by watch() (or not at all)
    std::uint32_t tag = 0;
    std::uint32_t mask = 0;  // the interests' epoll events asked (without EPOLLET)
    bool registered = false;
    bool unusual = false;  // an edge reported EPOLLPRI, a hang-up or an error (owned only)
    bool ready[2] = {false, false};
  };
  static constexpr int chunk_bits = 8;
  static constexpr int chunk_size = 1 << chunk_bits;

  // open: creates the epoll instance and the eventfd; throws std::system_error.
  void open();
  // wait_futex: wait() before open().
  void wait_futex(std::chrono::steady_clock::time_point deadline) noexcept;
  // record: fd's Record, growing the table (may throw std::bad_alloc); find: null if absent.
  Record& record(int fd);
  Record* find(int fd) noexcept;
  void dispatch(std::uint64_t data, std::uint32_t events) noexcept;
  // run: fires every watch of a list already taken out of its record.
  void run(FdWatch* list, std::uint32_t events) noexcept;
  // enroll: registers r (fd) anew for `owner` (0: one-shot), asking `mask`, with a new tag;
  // returns 0 or the errno, leaving r as it was. enroll_or_throw: asking `interest` and what
  // r watches (and, edge-triggered, what it asked before); throws std::system_error.
  int enroll(Record& r, int fd, std::uint32_t mask, std::uint64_t owner) noexcept;
  void enroll_or_throw(Record& r, int fd, Interest interest, std::uint64_t owner);
  void link(Record& r, Interest interest, FdWatch* w) noexcept;
  // watched_mask: the epoll events of the interests r has watches for.
  static std::uint32_t watched_mask(const Record& r) noexcept;
  // add_pending: the owner's update of pending_ (a relaxed load and store, no atomic RMW).
  void add_pending(std::ptrdiff_t delta) noexcept {
    pending_.store(pending_.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  }

  std::atomic<std::uint64_t> wakeups_{0};
  Counter fd_events_;
  std::vector<std::unique_ptr<Record[]>> chunks_;  // Records of fds [i << chunk_bits, ...)
  std::size_t registered_ = 0;
  std::uint64_t registrations_ = 0;
  std::uint32_t next_tag_ = 0;
  std::atomic<std::size_t> pending_{0};
  int epfd_ = -1;
  std::atomic<int> wakefd_{-1};
  std::atomic<std::uint32_t> futex_word_{0};  // 1: a wake() not yet seen by wait_futex
  bool pwait2_ = true;
};

}  // namespace gofer::detail
