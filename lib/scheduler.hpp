// scheduler.hpp: gofer's per-thread Boost.Fiber scheduling algorithm.
//
// One Scheduler per OS thread, installed lazily by ensure_scheduler() on the thread's first
// gofer call (a task spawn, a wait, a channel operation, even on a plain thread). It keeps a
// FIFO ready queue; when nothing is ready, Boost calls suspend_until() and the thread spins
// briefly (adaptive, bounded by the idle-spin setting) and then sleeps in its Poller
// (epoll_wait), which also dispatches fd readiness. A task woken from another thread is
// posted to this scheduler's inbox (post_remote: one CAS on the cache line notify() writes
// anyway; timed waits go through Boost's remote-ready queue instead), and the waking thread
// then calls notify(), which writes the eventfd only when this thread is asleep or about to
// be. The dispatcher drains the inbox in pick_next().
//
// Adaptive spin: a thread spins at most the idle-spin limit (set_idle_spin). After a sleep
// that a notify() ended, it compares when the wake was asked for with when it went idle: if
// that was within the limit, the next idle period spins the full limit again; otherwise (and
// after a sleep that a timer ended) it spins half as long, down to not spinning at all. So a
// cross-thread ping-pong keeps both threads spinning, while an idle thread stops burning CPU
// after a few idle periods (measured: an idle Runtime(2) uses ~0.004% of a core).
//
// Wake protocol (no lost wake-up). All accesses to notified_ and state_ are seq_cst.
//   notify():        if notified_.exchange(true) was false and state_ == sleeping: wake().
//   suspend_until(): if notified_.exchange(false): return.  Spin (bounded) on notified_.
//                    state_ = sleeping; if notified_.exchange(false): state_ = running, return.
//                    poller.wait(deadline); state_ = running; notified_.exchange(false).
// Proof sketch. A waker links its fiber into the inbox (or Boost's remote queue) before
// notify(). (a) If its exchange reads false, it sets the flag: if it then reads state_ ==
// sleeping, the eventfd write ends the wait; if it reads running, the scheduler's store of
// sleeping comes later in the single seq_cst order, so the scheduler's following exchange
// reads true and it does not sleep. (b) If its exchange reads true, an earlier notify is still
// unconsumed; the scheduler consumes it only by an exchange(false) that reads the waker's
// write (or a later one), so it synchronizes with the waker and its dispatcher, which drains
// both queues after every return from suspend_until(), sees the linked fiber. Returning
// early is always safe: Boost's dispatcher loops. Tests: scheduler_test's wake stress.
//
// Thread-safety: notify() from any thread; everything else on the owning thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>

#include <boost/fiber/algo/algorithm.hpp>
#include <boost/fiber/scheduler.hpp>

#include <gofer/detail/waiter.hpp>

#include "poller.hpp"

namespace gofer::detail {

class Scheduler final : public boost::fibers::algo::algorithm {
 public:
  // local: this thread's Scheduler, installing it first if needed.
  static Scheduler& local();
  // installed: this thread's Scheduler, or nullptr.
  static Scheduler* installed() noexcept;

  Scheduler();
  ~Scheduler() override;

  void awakened(boost::fibers::context* ctx) noexcept override;
  boost::fibers::context* pick_next() noexcept override;
  bool has_ready_fibers() const noexcept override;
  void suspend_until(const std::chrono::steady_clock::time_point& tp) noexcept override;
  void notify() noexcept override;

  Poller& poller() noexcept { return poller_; }

  // Live tasks whose home is this thread (each task links its TaskControl here while it runs).
  void task_started(TaskControl& tc) noexcept;
  void task_finished(TaskControl& tc) noexcept;
  std::size_t live_tasks() const noexcept { return live_; }
  // stop_all: request_stop on every live task of this thread.
  void stop_all() noexcept;
  // report_live: one line per live task of this thread (at most `max_lines`, then a count):
  // "<prefix> task <id> (<name>): blocked in <what>".
  void report_live(std::FILE* out, const char* prefix, std::size_t max_lines) const noexcept;
  // wait_idle: parks the caller until this thread has no live task (or the deadline).
  // Returns false on timeout; throws gofer::cancelled in a cancelled task.
  bool wait_idle(clock::time_point deadline);

  // begin_remote_wake / end_remote_wake: bracket a wake of one of this scheduler's waiters
  // (from any thread); the thread does not exit while one is in progress (waiter.hpp).
  void begin_remote_wake() noexcept { remote_wakers_.fetch_add(1, std::memory_order_acq_rel); }
  void end_remote_wake() noexcept { remote_wakers_.fetch_sub(1, std::memory_order_acq_rel); }
  // quiesce: at thread exit, waits until no other thread is inside a wake of this one.
  void quiesce() const noexcept;
  // post_remote: called on another thread by the winner of w (an untimed wait, already
  // done): makes w's context ready here. One CAS onto the inbox, then notify().
  void post_remote(Waiter& w) noexcept;

  // Counters for tests and benchmarks.
  std::uint64_t sleeps() const noexcept { return sleeps_; }

 private:
  enum : int { running = 0, sleeping = 1 };

  // drain_inbox: on the dispatcher: schedules every posted context, oldest first.
  void drain_inbox() noexcept;
  // spin_round: polls notified_ 64 times (with a pause); true when it consumed a notify.
  bool spin_round() noexcept;

  // The fields other threads write (notify, remote wakes) live on cache lines of their own:
  // a remote wake must not take the owner's ready queue's line away from it, and wakers
  // counting themselves must not disturb a spin on notified_.
  alignas(cache_line) std::atomic<bool> notified_{false};
  std::atomic<int> state_{running};
  std::atomic<Waiter*> inbox_{nullptr};  // posted Waiters, newest first (a Treiber stack)
  std::atomic<std::chrono::steady_clock::rep> notify_stamp_{0};  // when a sleeper was woken
  alignas(cache_line) std::atomic<int> remote_wakers_{0};

  alignas(cache_line) Poller poller_;
  boost::fibers::scheduler::ready_queue_type ready_;
  std::chrono::nanoseconds spin_{0};
  std::uint64_t sleeps_ = 0;
  unsigned dispatcher_passes_ = 0;
  boost::fibers::context* dispatcher_ = nullptr;  // Boost's dispatcher fiber, once seen
  unsigned picks_since_dispatcher_ = 0;
  static constexpr unsigned dispatcher_period = 16;

  TaskControl* live_head_ = nullptr;
  std::size_t live_ = 0;
  WaitQueue idle_waiters_;
};

// idle_spin_limit: the longest an idle scheduler spins before it sleeps (process-wide).
std::chrono::nanoseconds idle_spin_limit() noexcept;
void set_idle_spin_limit(std::chrono::nanoseconds limit);

}  // namespace gofer::detail
