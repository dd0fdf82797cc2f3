// scheduler.hpp: gofer's per-thread Boost.Fiber scheduling algorithm, made of three parts.
//
// One Scheduler per OS thread, installed lazily by ensure_scheduler() on the thread's first
// gofer call that may park (a task spawn, a wait, a channel operation that must wait, even on
// a plain thread). It is the boost::fibers::algo::algorithm that Boost calls, and it only
// composes, each part with one job:
//   - ReadyQueue (ready_queue.hpp): the policy, which ready fiber runs next;
//   - Reactor (reactor.hpp): idle spin, the poller, the remote-wake inbox and notify();
//   - TaskRegistry (task_registry.hpp): the live tasks and their records (dumps, watchdogs).
// The reactor, registry and counters form its Home (home.hpp), which is all the waiter layer
// sees of it. On top of them it keeps what needs more than one: waiting for the thread's tasks to
// end (wait_idle), stopping them all, the thread-exit sequence, and the thread's TimerHeap
// (timer_heap.hpp), made by its first timer: while one is armed, the idle sleep ends at the
// earliest deadline and the dispatcher fires the due ones; with none armed, timers cost one
// well-predicted branch per pick and per idle period.
//
// Thread-safety: notify(), post_remote(), begin/end_remote_wake() and the registry's readers
// from any thread; everything else on the owning thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include <boost/fiber/algo/algorithm.hpp>

#include <gofer/detail/waiter.hpp>

#include "home.hpp"
#include "poller.hpp"
#include "ready_queue.hpp"
#include "timer_heap.hpp"

namespace gofer::detail {

class Scheduler final : public boost::fibers::algo::algorithm, public Home {
 public:
  // local: this thread's Scheduler, installing it first if needed.
  static Scheduler& local() {
    Scheduler* const s = installed();
    return s != nullptr ? *s : install();
  }
  // installed: this thread's Scheduler, or nullptr (its Home is the only one: the Scheduler).
  static Scheduler* installed() noexcept { return static_cast<Scheduler*>(Home::current()); }

  Scheduler();
  ~Scheduler() override;

  void awakened(boost::fibers::context* ctx) noexcept override { ready_.push(ctx); }
  boost::fibers::context* pick_next() noexcept override;
  bool has_ready_fibers() const noexcept override { return !ready_.empty(); }
  // suspend_until: Boost's dispatcher found nothing ready: idle in the reactor. The task that
  // ended the idle period (woken from another thread, or by the poller) is resumed from here
  // (see scheduler.cpp).
  void suspend_until(const std::chrono::steady_clock::time_point& tp) noexcept override;
  void notify() noexcept override { (void)reactor.notify(); }

  Poller& poller() noexcept { return reactor.poller(); }

  // Live tasks whose home is this thread (each task is registered while it runs).
  void task_started(TaskControl& tc) noexcept { registry.task_started(tc); }
  void task_finished(TaskControl& tc) noexcept {
    if (registry.task_finished(tc) == 0) [[unlikely]] {
      wake_idle_waiters();
    }
  }
  std::size_t live_tasks() const noexcept { return registry.live(); }
  // stop_all: request_stop on every live task of this thread.
  void stop_all() noexcept;
  // wait_idle: parks the caller until this thread has no live task (or the deadline).
  // Returns false on timeout; throws gofer::cancelled in a cancelled task.
  bool wait_idle(clock::time_point deadline);

  // timers: this thread's timer heap, made on first use (owner thread; may throw bad_alloc).
  const std::shared_ptr<TimerHeap>& timers();
  // detach_timers: drops every pending timer (thread exit: they never hold it up).
  void detach_timers() noexcept;

  // Counters for tests and benchmarks.
  std::uint64_t sleeps() const noexcept { return reactor.sleeps(); }

 private:
  // install: installs this thread's Scheduler (out of line: the cold half of local()).
  [[gnu::noinline]] static Scheduler& install();
  // wake_idle_waiters: the thread's last task ended: wakes wait_idle()'s callers.
  [[gnu::noinline]] void wake_idle_waiters() noexcept;

  ReadyQueue ready_;
  std::atomic<bool> timers_armed_{false};  // timers_ is non-empty (timer_heap.hpp)
  WaitQueue idle_waiters_;
  std::shared_ptr<TimerHeap> timers_;
};

}  // namespace gofer::detail
