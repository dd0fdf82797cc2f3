// waiter.cpp: park() and cancellation; the protocol is documented in detail/waiter.hpp.
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <gofer/detail/waiter.hpp>
#include <gofer/errors.hpp>

#include "home.hpp"
#include "stack_pool.hpp"

namespace gofer::detail {

TaskControl* current_control() noexcept {
  return this_thread_running.load(std::memory_order_relaxed);
}

void set_current_control(TaskControl* tc) noexcept {
  this_thread_running.store(tc, std::memory_order_relaxed);  // TaskRegistry::running()
  if (tc != nullptr) {
    set_running_stack(&tc->stack, tc->id, tc->name.empty() ? nullptr : tc->name.c_str());
  } else {
    clear_running_stack();
  }
}

Waiter::Waiter() noexcept : home(Home::current()) {
  if (home == nullptr) {
    std::fputs("gofer: internal error: a wait on a thread without a scheduler\n", stderr);
    std::abort();
  }
  TaskControl* const tc = this_thread_running.load(std::memory_order_relaxed);
  if (tc == nullptr) {
    ctx = boost::fibers::context::active();
  } else {
    if (tc->fiber == nullptr) [[unlikely]] {
      tc->fiber = boost::fibers::context::active();
    }
    ctx = tc->fiber;
  }
  waker = ctx->create_waker();
}

namespace {

// stamp_if_sampled: counts a wake in `wakes` (the waker's counter); one wake in
// run_delay_sample_period is timed (park() records the delay when the waiter runs).
void stamp_if_sampled(Waiter& w, Counter& wakes) noexcept {
  if ((wakes.bump() & (run_delay_sample_period - 1)) == 0) {
    w.woken_at = ticks();
  }
}

// complete_remote: complete() from another thread than the waiter's, or from a thread without
// a scheduler (self == nullptr). Only such a wake can race the home thread's exit (see the
// invariants), so it counts itself in the target's remote-waker count.
[[gnu::noinline]] void complete_remote(Waiter& w, Home* self) noexcept {
  Home* const target = w.home;
  target->reactor.begin_remote_wake();
  if (self != nullptr) {
    stamp_if_sampled(w, self->counters.remote_wakes);
  }
  if (w.timed) {
    w.waker.wake();
    w.state.store(Waiter::done, std::memory_order_release);
  } else {
    w.state.store(Waiter::done, std::memory_order_release);
    const bool syscall = target->reactor.post_remote(w);
    if (self != nullptr) {
      (syscall ? self->counters.eventfd_writes : self->counters.wakes_no_syscall).bump();
    }
  }
  target->reactor.end_remote_wake();
}

}  // namespace

void Waiter::complete(wake_reason r, int index) noexcept {
  reason = r;
  fired = index;
  // current(), not local(): waking never installs a scheduler on the waking thread.
  Home* const self = Home::current();
  if (home != self) {
    complete_remote(*this, self);
    return;
  }
  stamp_if_sampled(*this, self->counters.local_wakes);
  if (timed) {
    waker.wake();
    state.store(done, std::memory_order_release);
  } else {
    const boost::fibers::waker wake_it = waker;
    state.store(done, std::memory_order_release);
    wake_it.wake();
  }
}

namespace {

// await_done: the waiter's side of a timed race: the winner may still be inside wake().
void await_done(const Waiter& w) noexcept {
  for (int spins = 0; w.state.load(std::memory_order_acquire) != Waiter::done; ++spins) {
    if (spins < 64) {
      spin_pause();
    } else {
      std::this_thread::yield();
    }
  }
}

}  // namespace

wake_reason park(Waiter& w, clock::time_point deadline, void (*unlock)(void*), void* arg) noexcept {
  TaskControl* const self = this_thread_running.load(std::memory_order_relaxed);
  // The record a dump (and request_stop) finds w through: the task's, or the thread's own.
  TaskControl* const rec = self != nullptr ? self : &w.home->registry.thread_record();
  w.timed = deadline != no_deadline;
  w.since = ticks();
  bool must_suspend = true;
  {
    std::lock_guard guard(rec->lock);
    if (w.cancellable && rec->stop_requested) {
      if (w.try_claim()) {
        w.reason = wake_reason::cancelled;
        w.state.store(Waiter::done, std::memory_order_release);
        must_suspend = false;
      }
    } else {
      rec->parked = &w;
    }
  }
  unlock(arg);
  if (must_suspend) {
    check_running_stack();
    SchedCounters& counters = w.home->counters;
    counters.parks.bump();  // as it suspends: TaskRegistry::switches() moves with the switch
    if (deadline == no_deadline) {
      w.ctx->suspend();
    } else {
      // Boost wants a lock to release after the switch; ours are already released.
      boost::fibers::detail::spinlock unused;
      boost::fibers::detail::spinlock_lock lk(unused);
      boost::fibers::waker timer_waker = w.waker;
      w.ctx->wait_until(deadline, lk, std::move(timer_waker));
    }
    if (w.state.load(std::memory_order_acquire) == Waiter::pending && w.try_claim()) {
      w.reason = wake_reason::timeout;
      w.state.store(Waiter::done, std::memory_order_release);
      counters.timers_fired.bump();
    }
    await_done(w);
    if (w.woken_at != 0) {
      const std::uint64_t now = ticks();
      counters.run_delay.record(now > w.woken_at ? now - w.woken_at : 0);
    }
  }
  {
    std::lock_guard guard(rec->lock);
    rec->parked = nullptr;
  }
  set_current_control(self);
  return w.reason;
}

bool park_on(SpinLock& lock, WaitQueue& q, clock::time_point deadline, const WaitInfo& info,
             bool cancellable) {
  Waiter w;
  w.cancellable = cancellable;
  w.info = info;
  WaitNode node{&w};
  q.push_back(node);
  auto unlock = [&lock] { lock.unlock(); };
  const wake_reason r = park(w, deadline, unlock);
  if (r != wake_reason::fired) {
    std::lock_guard g(lock);
    q.unlink_if_linked(node);
  }
  throw_if_cancelled(r);
  return r == wake_reason::fired;
}

void set_stop(TaskControl& tc) noexcept {
  std::lock_guard guard(tc.lock);
  tc.stop_requested.store(true, std::memory_order_release);
  if (tc.parked != nullptr && tc.parked->cancellable && tc.parked->try_claim()) {
    tc.parked->complete(wake_reason::cancelled, -1);
  }
}

void request_stop(TaskControl& tc) noexcept {
  // unrequested: tc's stop_source if it has one not requested yet, else an empty one.
  auto unrequested = [&tc]() noexcept {
    std::lock_guard guard(tc.lock);
    return tc.stop_source.stop_possible() && !tc.stop_source.stop_requested()
               ? tc.stop_source
               : std::stop_source(std::nostopstate);
  };
  unrequested().request_stop();  // no state: does nothing
  set_stop(tc);
  unrequested().request_stop();
}

void StopBatch::add(TaskControl& tc) noexcept {
  if (size_ == capacity) {
    full_ = true;
    return;
  }
  std::lock_guard guard(tc.lock);
  if (tc.stop_source.stop_possible() && !tc.stop_source.stop_requested()) {
    sources_[size_++].emplace(tc.stop_source);
  }
}

bool StopBatch::request_all() noexcept {
  const bool was_full = full_ || size_ == capacity;
  for (std::size_t i = 0; i < size_; ++i) {
    sources_[i]->request_stop();
    sources_[i].reset();
  }
  size_ = 0;
  full_ = false;
  return was_full;
}

void throw_if_cancelled(wake_reason r) {
  if (r == wake_reason::cancelled) {
    throw cancelled();
  }
}

}  // namespace gofer::detail
