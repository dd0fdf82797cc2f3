// poll_fd.hpp: one fd that tasks on any threads use, and that any task or thread may close or
// give deadlines, waking the tasks parked on it (Go's pollDesc and fdMutex in one).
//
// Every call on the fd holds a Use for its whole length (PollFd::Use: one atomic add and one
// compare-and-swap while the fd is open), and parks through wait(). close() first marks the fd
// closed and wakes every task parked in wait() (their calls throw gofer::errc::closed), then
// waits until the last Use has ended, and only then closes the fd. So the fd number is never
// closed (and reused by another open) while a task of any thread is still registering it with
// its poller, parked on it, or inside a syscall on it; and once close() returns, no call on the
// object is running any more, so the object may be destroyed.
//
// Deadlines. Each direction (Interest) has an object deadline (Go's SetReadDeadline /
// SetWriteDeadline), `never` unless set. A Use of a direction whose deadline has passed fails
// at once with errc::timed_out; wait() parks until the earlier of the call's and the object's
// deadline. set_deadline() wakes the tasks parked in that direction, which then wait again
// until the new deadline (later: they wait longer, after one more try of their syscall;
// passed: they throw timed_out at once).
//
// Pollers. The fd is registered once (edge-triggered) in the poller of each thread that waits
// on it, under this object's key (Poller::watch_owned), and stays registered until close()
// forgets it in the closing thread's poller; another thread's poller keeps a Record the kernel
// emptied when the fd was closed, which the key tells it not to trust for a reused number.
//
// Invariants: (1) state_ holds the closed bit and the number of live Uses; once closed is set
// it is never cleared, and a Use ends (decrements) under lock_, so close() that sees zero Uses
// under lock_ knows no Use runs or will touch the fd (a Use begun after closed fails at once,
// touching only state_ and the name it throws with); (2) a task parked in wait() has a node in
// queues_[interest] (under lock_) and a watch in its own thread's poller; whoever claims its
// Waiter first wakes it (the poller: ready; close: closed; set_deadline: re-check); after
// waking it removes the watch (on its own thread) and the node (under lock_) before it ends its
// Use; (3) a task links its node only after re-reading, under lock_, the closed bit and the
// deadline it parks with, so a close() or set_deadline() that ran before is never missed, and
// one that runs after finds the node.
//
// Thread-safety: every member may be called from any task or thread at any time, except the
// destructor (no Use may run). Blocking: wait() parks the task (a plain thread runs its loop);
// close() parks (not cancellably) while Uses are still running, which ends as soon as the tasks
// it woke have run; everything else never blocks.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include <gofer/detail/spin_lock.hpp>
#include <gofer/detail/waiter.hpp>

#include "fd.hpp"
#include "poller.hpp"

namespace gofer::detail {

class PollFd {
 public:
  PollFd() noexcept = default;
  explicit PollFd(UniqueFd fd) noexcept : fd_(fd.release()), key_(next_key()) {}
  // ~PollFd: closes the fd if close() did not (no Use may be running).
  ~PollFd() { close(); }
  PollFd(const PollFd&) = delete;
  PollFd& operator=(const PollFd&) = delete;

  // fd: the descriptor; -1 once closed (or never set).
  int fd() const noexcept { return fd_.load(std::memory_order_acquire); }
  // is_open: not closed (a snapshot).
  bool is_open() const noexcept {
    return (state_.load(std::memory_order_acquire) & closed_bit) == 0 && fd() >= 0;
  }

  // Use: holds the fd open for one call. Throws std::system_error errc::closed (naming op and
  // name) when the fd is closed, errc::timed_out when the object deadline of `dir` has passed
  // (a Use without a direction, for calls that never wait, checks no deadline).
  class Use {
   public:
    Use(PollFd& p, Interest dir, std::string_view op, std::string_view name) : p_(p) {
      p.begin_use(&dir, op, name);
    }
    Use(PollFd& p, std::string_view op, std::string_view name) : p_(p) {
      p.begin_use(nullptr, op, name);
    }
    ~Use() { p_.end_use(); }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

   private:
    PollFd& p_;
  };

  // check_open: throws errc::closed (naming op and name) once close() has begun; a caller
  // holding a Use checks it before each syscall of a loop that may not park, so close() does
  // not wait for a loop that data keeps busy.
  void check_open(std::string_view op, std::string_view name) const {
    if ((state_.load(std::memory_order_relaxed) & closed_bit) != 0) {
      throw_closed_for(op, name);
    }
  }

  // wait: parks until fd is ready for `interest`, or the earliest of `deadline` and the
  // object's deadline passes (throws errc::timed_out), or close() (errc::closed), or
  // request_stop() (gofer::cancelled). Returns without parking when an edge of `interest`
  // reached this thread's poller while nobody waited (Poller::watch_owned), and after
  // set_deadline() woke it with a deadline still ahead; either may be spurious: call it only
  // after the syscall said EAGAIN, and on return try the syscall again.
  // The caller holds a Use. std::system_error from the poller (EPERM: a regular file)
  // propagates. `op` is static text; `name` lives while parked.
  void wait(Interest interest, clock::time_point deadline, const char* op, const std::string& name);

  // set_level_triggered: every later wait() re-registers the fd (one epoll_ctl) and returns
  // only when the fd is ready now, never on an earlier edge: for an fd its user reads or
  // writes once per wait, without going on until EAGAIN (a blocking fd, FdStream's readiness
  // mode). Call it before the first wait, from the owning task.
  void set_level_triggered() noexcept { key_ = 0; }
  // short_read_drains: whether this thread's poller lets a short read of this TCP socket
  // count as proof that it is empty (Poller::short_read_drains). Call while holding a Use.
  bool short_read_drains() const noexcept;

  // deadline / set_deadline: the object deadline of one direction (no_deadline: none).
  clock::time_point deadline(Interest dir) const noexcept {
    return clock::time_point(
        clock::duration(deadlines_[index(dir)].load(std::memory_order_acquire)));
  }
  void set_deadline(Interest dir, clock::time_point tp) noexcept;

  // close: marks the fd closed, wakes the parked tasks, waits for every Use to end, then runs
  // before_close() (the owner settles what still uses the fd) and closes the fd (forgetting
  // this thread's poller registration first). Idempotent: only the first call does this; a
  // concurrent second call returns at once.
  template <class F>
  void close(F before_close) noexcept {
    if (shut()) {
      before_close();
      release();
    }
  }
  void close() noexcept {
    close([] {});
  }

 private:
  static constexpr std::uint32_t closed_bit = 1U << 31;
  static constexpr std::uint32_t use_mask = closed_bit - 1;

  static int index(Interest i) noexcept { return i == Interest::writable ? 1 : 0; }
  // next_key: a process-wide key never given out before (one relaxed fetch_add).
  static std::uint64_t next_key() noexcept;
  void begin_use(const Interest* dir, std::string_view op, std::string_view name);
  [[noreturn]] static void throw_closed_for(std::string_view op, std::string_view name);
  void end_use() noexcept;
  // shut: true for the first caller, once it marked closed, woke the waiters and saw every
  // Use end.
  bool shut() noexcept;
  // release: forgets and closes the fd.
  void release() noexcept;

  std::atomic<int> fd_{-1};
  // key_: this object's owner key in the pollers (Poller::watch_owned): the fd stays one open
  // file for the object's life, so a poller that registered it for key_ may trust that. 0:
  // level-triggered waits (Poller::watch).
  std::uint64_t key_ = 0;
  std::atomic<std::uint32_t> state_{0};
  std::atomic<clock::rep> deadlines_[2] = {no_deadline.time_since_epoch().count(),
                                           no_deadline.time_since_epoch().count()};
  SpinLock lock_;
  WaitQueue queues_[2];  // tasks parked in wait(), by Interest
  WaitQueue closers_;    // a close() waiting for the last Use to end
};

}  // namespace gofer::detail
