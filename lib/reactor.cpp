// reactor.cpp: idle spin, sleep in the poller, remote wake-ups (protocol in reactor.hpp).
#include "reactor.hpp"

#include <algorithm>
#include <thread>

#include <boost/fiber/context.hpp>
#include <boost/fiber/scheduler.hpp>

#include "monitor_hook.hpp"

namespace gofer::detail {

namespace {
std::atomic<std::int64_t> spin_limit_ns{20'000};
}  // namespace

std::chrono::nanoseconds idle_spin_limit() noexcept {
  return std::chrono::nanoseconds(spin_limit_ns.load(std::memory_order_relaxed));
}

void set_idle_spin_limit(std::chrono::nanoseconds limit) {
  spin_limit_ns.store(std::max<std::int64_t>(0, limit.count()), std::memory_order_relaxed);
}

Reactor::Reactor() : spin_(idle_spin_limit()) {}

bool Reactor::post_remote(Waiter& w) noexcept {
  Waiter* head = inbox_.load(std::memory_order_relaxed);
  do {
    w.next_posted = head;
  } while (!inbox_.compare_exchange_weak(head, &w, std::memory_order_seq_cst,
                                         std::memory_order_relaxed));
  // w may already be gone: only this reactor is touched from here on. A thread that is not
  // asleep finds the inbox itself (the idle spin and the last check before sleeping read it),
  // so only a sleeper needs the notify (protocol in reactor.hpp).
  if (state_.load() != sleeping) {
    return false;
  }
  return notify();
}

void Reactor::on_dispatcher() noexcept {
  // Remote wake-ups are taken on the dispatcher only: there the waking task has certainly
  // switched out (a task calls pick_next while it is still suspending).
  if (inbox_.load(std::memory_order_relaxed) != nullptr) {
    drain_inbox();
  }
  // Fd readiness is checked when the thread idles; a busy thread also checks every few
  // passes of its dispatcher so I/O is not starved by runnable tasks.
  if (poller_.watching() > 0 && (++dispatcher_passes_ & 7) == 0) {
    poller_.poll_now();
  }
}

void Reactor::drain_inbox() noexcept {
  Waiter* w = inbox_.exchange(nullptr, std::memory_order_acquire);
  Waiter* oldest_first = nullptr;
  while (w != nullptr) {
    Waiter* next = w->next_posted;
    w->next_posted = oldest_first;
    oldest_first = w;
    w = next;
  }
  boost::fibers::scheduler* const sched = boost::fibers::context::active()->get_scheduler();
  while (oldest_first != nullptr) {
    Waiter* next = oldest_first->next_posted;
    sched->schedule(oldest_first->ctx);  // links it into the ready queue; runs after we return
    oldest_first = next;
  }
}

void Reactor::idle(clock::time_point tp) noexcept {
  idle_until_.store(tp.time_since_epoch().count(), std::memory_order_relaxed);
  idle_.store(true, std::memory_order_relaxed);
  sleep(tp);
  idle_.store(false, std::memory_order_relaxed);
  if (monitor_parked.load(std::memory_order_relaxed)) [[unlikely]] {
    wake_monitor();  // it sleeps until a scheduler gets busy (monitor_hook.hpp)
  }
}

void Reactor::sleep(clock::time_point tp) noexcept {
  if (inbox_.load(std::memory_order_relaxed) != nullptr || notified_.exchange(false)) {
    return;
  }
  const auto limit = idle_spin_limit();
  spin_ = std::min(spin_, limit);
  // A cross-thread hand-off usually arrives within the first round: no clock read before it.
  if (spin_.count() > 0 && spin_round()) {
    spins_found_work_.bump();
    return;
  }
  const auto idle_start = clock::now();
  if (spin_.count() > 0) {
    const auto spin_end = std::min(idle_start + spin_, tp);
    do {
      if (spin_round()) {
        spins_found_work_.bump();
        return;
      }
    } while (clock::now() < spin_end);
    if (tp <= spin_end) {
      return;  // a timer is due: let the dispatcher run it
    }
  }
  state_.store(sleeping);
  if (notified_.exchange(false) || inbox_.load() != nullptr) {
    state_.store(running);
    return;
  }
  sleeps_.bump();
  poller_.wait(tp);
  state_.store(running);
  if (notified_.exchange(false)) {
    // Adapt the spin to when the wake-up was asked for (stamped by notify): within the limit,
    // a full spin would have caught it; later, spinning was wasted, so spin half as long.
    const auto asked =
        clock::time_point(clock::duration(notify_stamp_.load(std::memory_order_relaxed)));
    if (asked - idle_start < limit) {
      spin_ = limit;
      return;
    }
  }
  spin_ /= 2;
  if (spin_ < std::chrono::nanoseconds(500)) {
    spin_ = std::chrono::nanoseconds(0);
  }
}

bool Reactor::spin_round() noexcept {
  for (int i = 0; i < 64; ++i) {
    // A posted Waiter is work: the dispatcher drains the inbox as soon as idle() returns.
    if (inbox_.load(std::memory_order_relaxed) != nullptr) {
      return true;
    }
    if (notified_.load(std::memory_order_relaxed) && notified_.exchange(false)) {
      return true;
    }
    spin_pause();
  }
  return false;
}

bool Reactor::notify() noexcept {
  if (!notified_.exchange(true) && state_.load() == sleeping) {
    notify_stamp_.store(clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    poller_.wake();
    return true;
  }
  return false;
}

void Reactor::quiesce() const noexcept {
  while (remote_wakers_.load(std::memory_order_acquire) != 0) {
    std::this_thread::yield();
  }
}

}  // namespace gofer::detail
