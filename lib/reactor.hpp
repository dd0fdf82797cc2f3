// reactor.hpp: how a scheduler thread waits for work and is woken (no policy, no task list).
//
// When the ready queue is empty, Boost calls the algorithm's suspend_until(), which lands in
// Reactor::idle(): the thread spins briefly (adaptive, bounded by the idle-spin setting) and
// then sleeps in its Poller (epoll_wait), which also dispatches fd readiness. A task woken from
// another thread is posted to this reactor's inbox (post_remote: one CAS; timed waits go through
// Boost's remote-ready queue instead). A thread that is running or spinning finds the inbox
// itself (the spin reads it), so the poster calls notify() only when this thread is asleep or
// about to be: a hand-off to a spinning thread is one CAS by the waker and one read by the
// spinner on one cache line. The dispatcher drains the inbox (on_dispatcher()).
//
// Adaptive spin: a thread spins at most the idle-spin limit (set_idle_spin). After a sleep
// that a notify() ended, it compares when the wake was asked for with when it went idle: if
// that was within the limit, the next idle period spins the full limit again; otherwise (and
// after a sleep that a timer ended) it spins half as long, down to not spinning at all. So a
// cross-thread ping-pong keeps both threads spinning, while an idle thread stops burning CPU
// after a few idle periods (measured: an idle Runtime(2) uses ~0.004% of a core).
//
// Wake protocol (no lost wake-up). All accesses to notified_ and state_, the inbox CAS and the
// inbox read before sleeping are seq_cst.
//   notify():      if notified_.exchange(true) was false and state_ == sleeping: wake().
//   post_remote(): CAS w onto inbox_; if state_ == sleeping: notify().
//   idle():   if inbox_ != null or notified_.exchange(false): return.
//             Spin (bounded) on inbox_ != null and on notified_.
//             state_ = sleeping;
//             if notified_.exchange(false) or inbox_ != null: state_ = running, return.
//             poller.wait(deadline); state_ = running; notified_.exchange(false).
// Proof sketch. A waker links its fiber into the inbox (or Boost's remote queue) before
// notify(). (a) If its exchange reads false, it sets the flag: if it then reads state_ ==
// sleeping, the eventfd write ends the wait; if it reads running, the scheduler's store of
// sleeping comes later in the single seq_cst order, so the scheduler's following exchange
// reads true and it does not sleep. (b) If its exchange reads true, an earlier notify is still
// unconsumed; the scheduler consumes it only by an exchange(false) that reads the waker's
// write (or a later one), so it synchronizes with the waker and its dispatcher, which drains
// both queues after every return from idle(), sees the linked fiber. (c) post_remote without
// notify(): its state_ read saw running, so in the seq_cst order it precedes the store of
// sleeping of any idle period that could miss it, and its CAS precedes that read; so that
// period's inbox read after the store sees the Waiter (only this thread empties the inbox, by
// draining it, which schedules the Waiter). If the read saw sleeping, (a)/(b) apply. Returning
// early is always safe: Boost's dispatcher loops. Tests: scheduler_test's wake stress.
//
// Idle publication: while in idle() the reactor says so (is_idle(), and the deadline it
// waits for), so a watchdog on another thread can tell an idle thread from a busy one. On the
// way out of idle() it wakes the watchdog when that sleeps until some scheduler gets busy (one
// relaxed load of a read-mostly flag; monitor_hook.hpp).
//
// Thread-safety: notify(), post_remote(), begin/end_remote_wake() and the idle reads from any
// thread; everything else on the owning thread only. idle() blocks the thread (epoll_wait).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include <gofer/detail/waiter.hpp>

#include "poller.hpp"
#include "sched_stats.hpp"

namespace gofer::detail {

class Reactor {
 public:
  Reactor();

  Poller& poller() noexcept { return poller_; }

  // idle: the thread has nothing ready: spin, then sleep until notify(), an fd event or tp.
  void idle(clock::time_point tp) noexcept;
  // notify: returns whether it had to wake the thread's sleep (an eventfd write).
  bool notify() noexcept;
  // post_remote: called on another thread by the winner of w (an untimed wait, already
  // done): queues w's context for this thread. One CAS onto the inbox, then notify(); returns
  // notify()'s answer.
  bool post_remote(Waiter& w) noexcept;
  // wants_dispatcher: on_dispatcher() has something to do (cheap; checked on every pick).
  bool wants_dispatcher() const noexcept {
    return inbox_.load(std::memory_order_relaxed) != nullptr || poller_.watching() > 0;
  }
  // on_dispatcher: on Boost's dispatcher fiber: schedules every posted context (oldest
  // first), and on a busy thread polls fds every few passes so I/O is not starved.
  void on_dispatcher() noexcept;

  // begin_remote_wake / end_remote_wake: bracket a wake of one of this thread's waiters (from
  // any thread); the thread does not exit while one is in progress (waiter.hpp).
  void begin_remote_wake() noexcept { remote_wakers_.fetch_add(1, std::memory_order_acq_rel); }
  void end_remote_wake() noexcept { remote_wakers_.fetch_sub(1, std::memory_order_acq_rel); }
  // quiesce: at thread exit, waits until no other thread is inside a wake of this one.
  void quiesce() const noexcept;

  // is_idle: the thread is inside idle() (spinning or asleep); idle_deadline: what it waits
  // for there (no_deadline: no timer). Snapshots for watchdogs on other threads.
  bool is_idle() const noexcept { return idle_.load(std::memory_order_relaxed); }
  clock::time_point idle_deadline() const noexcept {
    return clock::time_point(clock::duration(idle_until_.load(std::memory_order_relaxed)));
  }
  // inbox_empty: no remote wake is queued (a snapshot).
  bool inbox_empty() const noexcept { return inbox_.load(std::memory_order_relaxed) == nullptr; }

  // Counters (scheduler_stats()): sleeps in the poller, idle spins that found work.
  std::uint64_t sleeps() const noexcept { return sleeps_.get(); }
  std::uint64_t spins_found_work() const noexcept { return spins_found_work_.get(); }

 private:
  enum : int { running = 0, sleeping = 1 };

  void drain_inbox() noexcept;
  // spin_round: polls notified_ 64 times (with a pause); true when it consumed a notify.
  bool spin_round() noexcept;
  void sleep(clock::time_point tp) noexcept;

  // The fields other threads write (notify, remote wakes) live on cache lines of their own:
  // a remote wake must not take the owner's ready queue's line away from it, and wakers
  // counting themselves must not disturb a spin on notified_.
  alignas(cache_line) std::atomic<bool> notified_{false};
  std::atomic<int> state_{running};
  std::atomic<Waiter*> inbox_{nullptr};      // posted Waiters, newest first (a Treiber stack)
  std::atomic<clock::rep> notify_stamp_{0};  // when a sleeper was woken
  alignas(cache_line) std::atomic<int> remote_wakers_{0};

  alignas(cache_line) Poller poller_;
  std::chrono::nanoseconds spin_{0};
  Counter sleeps_;
  Counter spins_found_work_;
  unsigned dispatcher_passes_ = 0;
  std::atomic<bool> idle_{false};
  std::atomic<clock::rep> idle_until_{0};
};

// idle_spin_limit: the longest an idle scheduler spins before it sleeps (process-wide).
std::chrono::nanoseconds idle_spin_limit() noexcept;
void set_idle_spin_limit(std::chrono::nanoseconds limit);

}  // namespace gofer::detail
