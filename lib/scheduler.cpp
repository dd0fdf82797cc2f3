#include "scheduler.hpp"

#include <algorithm>
#include <mutex>
#include <thread>

#include <boost/fiber/operations.hpp>

#include "stack_pool.hpp"

namespace gofer::detail {

namespace {

std::atomic<std::int64_t> spin_limit_ns{20'000};
thread_local Scheduler* this_thread_scheduler = nullptr;

// ThreadExit: destroyed at thread exit before Boost's own per-thread scheduler (it is created
// after it), so that tasks still alive are asked to stop and run to completion while the
// thread's loop still works; Boost would otherwise wait for them forever.
struct ThreadExit {
  ~ThreadExit() {
    Scheduler* s = this_thread_scheduler;
    if (s == nullptr) {
      return;
    }
    if (s->live_tasks() > 0) {
      s->stop_all();
      s->wait_idle(no_deadline);
    }
    s->quiesce();
  }
};

}  // namespace

std::chrono::nanoseconds idle_spin_limit() noexcept {
  return std::chrono::nanoseconds(spin_limit_ns.load(std::memory_order_relaxed));
}

void set_idle_spin_limit(std::chrono::nanoseconds limit) {
  spin_limit_ns.store(std::max<std::int64_t>(0, limit.count()), std::memory_order_relaxed);
}

void ensure_scheduler() {
  if (this_thread_scheduler == nullptr) {
    Scheduler::local();
  }
}

bool can_park() noexcept {
  return this_thread_scheduler != nullptr;
}

Scheduler* Scheduler::installed() noexcept {
  return this_thread_scheduler;
}

Scheduler& Scheduler::local() {
  if (this_thread_scheduler == nullptr) {
    boost::fibers::context::active();  // Boost's per-thread state first: it must die last
    auto* s = new Scheduler();
    boost::fibers::context::active()->get_scheduler()->set_algo(
        boost::fibers::algo::algorithm::ptr_t(s));
    this_thread_scheduler = s;
    install_overflow_handler();
    thread_local ThreadExit exit_guard;
    (void)exit_guard;
  }
  return *this_thread_scheduler;
}

Scheduler::Scheduler() : spin_(idle_spin_limit()) {}

Scheduler::~Scheduler() {
  if (this_thread_scheduler == this) {
    this_thread_scheduler = nullptr;
  }
}

void Scheduler::awakened(boost::fibers::context* ctx) noexcept {
  ctx->ready_link(ready_);
}

void Scheduler::post_remote(Waiter& w) noexcept {
  Waiter* head = inbox_.load(std::memory_order_relaxed);
  do {
    w.next_posted = head;
  } while (!inbox_.compare_exchange_weak(head, &w, std::memory_order_release,
                                         std::memory_order_relaxed));
  notify();  // w may already be gone: only this scheduler is touched from here on
}

void Scheduler::drain_inbox() noexcept {
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
    sched->schedule(oldest_first->ctx);  // links it into ready_; it runs after we return
    oldest_first = next;
  }
}

boost::fibers::context* Scheduler::pick_next() noexcept {
  // Remote wake-ups posted to the inbox are taken on the dispatcher only: there the waking
  // task has certainly switched out (a task calls pick_next while it is still suspending).
  if (inbox_.load(std::memory_order_relaxed) != nullptr &&
      boost::fibers::context::active()->is_context(boost::fibers::type::dispatcher_context)) {
    drain_inbox();
  }
  // Fd readiness is checked when the thread idles (suspend_until); a busy thread also checks
  // every few passes of its dispatcher so I/O is not starved by runnable tasks.
  if (poller_.watching() > 0 &&
      boost::fibers::context::active()->is_context(boost::fibers::type::dispatcher_context) &&
      (++dispatcher_passes_ & 7) == 0) {
    poller_.poll_now();
  }
  // Boost re-queues its dispatcher each time it resumes a task, so with two busy tasks every
  // other switch would go through it. While tasks are ready, it runs once every
  // dispatcher_period picks instead: it then drains remote wake-ups, due timers and finished
  // fibers, which so wait at most that many switches (Go checks its global queue every 61).
  if (++picks_since_dispatcher_ >= dispatcher_period && dispatcher_ != nullptr &&
      dispatcher_->ready_is_linked()) {
    dispatcher_->ready_unlink();
    picks_since_dispatcher_ = 0;
    return dispatcher_;
  }
  if (ready_.empty()) {
    return nullptr;
  }
  boost::fibers::context* ctx = &ready_.front();
  ready_.pop_front();
  if (ctx->is_context(boost::fibers::type::dispatcher_context)) {
    dispatcher_ = ctx;
    if (ready_.empty() || picks_since_dispatcher_ >= dispatcher_period) {
      picks_since_dispatcher_ = 0;
      return ctx;
    }
    ctx->ready_link(ready_);
    ctx = &ready_.front();
    ready_.pop_front();
  }
  return ctx;
}

bool Scheduler::has_ready_fibers() const noexcept {
  return !ready_.empty();
}

void Scheduler::suspend_until(const std::chrono::steady_clock::time_point& tp) noexcept {
  if (notified_.exchange(false)) {
    return;
  }
  const auto limit = idle_spin_limit();
  spin_ = std::min(spin_, limit);
  // A cross-thread hand-off usually arrives within the first round: no clock read before it.
  if (spin_.count() > 0 && spin_round()) {
    return;
  }
  const auto idle_start = std::chrono::steady_clock::now();
  if (spin_.count() > 0) {
    const auto spin_end = std::min(idle_start + spin_, tp);
    do {
      if (spin_round()) {
        return;
      }
    } while (std::chrono::steady_clock::now() < spin_end);
    if (tp <= spin_end) {
      return;  // a timer is due: let the dispatcher run it
    }
  }
  state_.store(sleeping);
  if (notified_.exchange(false)) {
    state_.store(running);
    return;
  }
  ++sleeps_;
  poller_.wait(tp);
  state_.store(running);
  if (notified_.exchange(false)) {
    // Adapt the spin to when the wake-up was asked for (stamped by notify): within the limit,
    // a full spin would have caught it; later, spinning was wasted, so spin half as long.
    const auto asked = std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(notify_stamp_.load(std::memory_order_relaxed)));
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

bool Scheduler::spin_round() noexcept {
  for (int i = 0; i < 64; ++i) {
    if (notified_.load(std::memory_order_relaxed) && notified_.exchange(false)) {
      return true;
    }
    spin_pause();
  }
  return false;
}

void Scheduler::notify() noexcept {
  if (!notified_.exchange(true) && state_.load() == sleeping) {
    notify_stamp_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                        std::memory_order_relaxed);
    poller_.wake();
  }
}

void Scheduler::quiesce() const noexcept {
  while (remote_wakers_.load(std::memory_order_acquire) != 0) {
    std::this_thread::yield();
  }
}

void Scheduler::task_started(TaskControl& tc) noexcept {
  tc.live_prev = nullptr;
  tc.live_next = live_head_;
  if (live_head_ != nullptr) {
    live_head_->live_prev = &tc;
  }
  live_head_ = &tc;
  ++live_;
}

void Scheduler::task_finished(TaskControl& tc) noexcept {
  if (tc.live_prev != nullptr) {
    tc.live_prev->live_next = tc.live_next;
  } else {
    live_head_ = tc.live_next;
  }
  if (tc.live_next != nullptr) {
    tc.live_next->live_prev = tc.live_prev;
  }
  tc.live_prev = tc.live_next = nullptr;
  if (--live_ == 0) {
    WakeList wake;
    wake.take_all(idle_waiters_);
  }
}

void Scheduler::stop_all() noexcept {
  for (TaskControl* tc = live_head_; tc != nullptr; tc = tc->live_next) {
    request_stop(*tc);
  }
}

void Scheduler::report_live(std::FILE* out, const char* prefix,
                            std::size_t max_lines) const noexcept {
  std::size_t shown = 0;
  for (TaskControl* tc = live_head_; tc != nullptr; tc = tc->live_next, ++shown) {
    if (shown == max_lines) {
      std::fprintf(out, "%s ... and %zu more task(s)\n", prefix, live_ - shown);
      return;
    }
    const char* what;
    {
      std::lock_guard guard(tc->lock);
      what = tc->parked != nullptr ? tc->parked->what : nullptr;
    }
    std::fprintf(out, "%s task %llu (%s): %s%s\n", prefix, static_cast<unsigned long long>(tc->id),
                 tc->name.empty() ? "unnamed" : tc->name.c_str(),
                 what != nullptr ? "blocked in " : "",
                 what != nullptr ? what : "running or not cancellable");
  }
}

bool Scheduler::wait_idle(clock::time_point deadline) {
  if (live_ == 0) {
    return true;
  }
  Waiter w;
  w.what = "waiting for this thread's tasks to finish";
  WaitNode node{&w};
  idle_waiters_.push_back(node);
  auto nothing = [] {};
  wake_reason r = park(w, deadline, nothing);
  idle_waiters_.unlink_if_linked(node);
  throw_if_cancelled(r);
  return r == wake_reason::fired;
}

}  // namespace gofer::detail
