// scheduler.cpp: installing the per-thread scheduler, thread exit, and waiting for a thread's
// tasks (the parts are in ready_queue.hpp, reactor.cpp and task_registry.cpp).
#include "scheduler.hpp"

#include <boost/fiber/operations.hpp>

#include "monitor_hook.hpp"
#include "stack_pool.hpp"

namespace gofer::detail {

namespace {

// ThreadExit: destroyed at thread exit before Boost's own per-thread scheduler (it is created
// after it), so that tasks still alive are asked to stop and run to completion while the
// thread's loop still works; Boost would otherwise wait for them forever.
struct ThreadExit {
  ~ThreadExit() {
    Scheduler* s = Scheduler::installed();
    if (s == nullptr) {
      return;
    }
    s->detach_timers();
    if (s->live_tasks() > 0) {
      s->stop_all();
      s->wait_idle(no_deadline);
    }
    s->reactor.quiesce();
  }
};

}  // namespace

void ensure_scheduler() {
  (void)Scheduler::local();
}

Scheduler& Scheduler::install() {
  boost::fibers::context::active();  // Boost's per-thread state first: it must die last
  auto* s = new Scheduler();
  boost::fibers::context::active()->get_scheduler()->set_algo(
      boost::fibers::algo::algorithm::ptr_t(s));
  set_current(s);
  install_overflow_handler();
  start_monitor();
  thread_local ThreadExit exit_guard;
  (void)exit_guard;
  return *s;
}

Scheduler::Scheduler() = default;

Scheduler::~Scheduler() {
  detach_timers();
  if (Home::current() == this) {
    set_current(nullptr);
  }
}

boost::fibers::context* Scheduler::pick_next() noexcept {
  const bool timers = timers_armed_.load(std::memory_order_relaxed);
  if ((reactor.wants_dispatcher() || timers) &&
      boost::fibers::context::active()->is_context(boost::fibers::type::dispatcher_context)) {
    reactor.on_dispatcher();
    if (timers) {
      timers_->fire_due();  // on the dispatcher: the tasks it wakes or spawns run after it
    }
  }
  return ready_.pop();
}

void Scheduler::suspend_until(const std::chrono::steady_clock::time_point& tp) noexcept {
  const bool timers = timers_armed_.load(std::memory_order_relaxed);
  reactor.idle(timers ? timers_->bound(tp) : tp);
  // What ended the idle period (a task woken from another thread, usually within the idle
  // spin, or fd readiness the poller dispatched) runs now, resumed from here as Boost's dispatch
  // loop would resume it, instead of after one more pass of that loop (its finished-fiber
  // sweep, remote-queue spinlock and clock read): a cross-thread hand-off or an I/O wake-up
  // then costs the thread one dispatcher pass instead of two. The dispatcher is scheduled
  // behind the task (context::resume's argument, as Boost's loop does) and makes its full pass
  // when it next runs. With timers armed the usual pass runs first, so that due timers fire
  // in deadline order.
  if (timers) {
    return;
  }
  if (!reactor.inbox_empty()) {
    reactor.on_dispatcher();
  }
  if (boost::fibers::context* next = ready_.pop()) {
    next->resume(boost::fibers::context::active());
  }
}

const std::shared_ptr<TimerHeap>& Scheduler::timers() {
  if (timers_ == nullptr) {
    timers_ = std::make_shared<TimerHeap>(reactor, timers_armed_);
  }
  return timers_;
}

void Scheduler::detach_timers() noexcept {
  if (timers_ != nullptr) {
    timers_->detach();
  }
}

void Scheduler::wake_idle_waiters() noexcept {
  WakeList wake;
  wake.take_all(idle_waiters_);
}

void Scheduler::stop_all() noexcept {
  stop_tasks([this](auto f) noexcept { registry.for_each(f); });
}

bool Scheduler::wait_idle(clock::time_point deadline) {
  if (registry.live() == 0) {
    return true;
  }
  Waiter w;
  w.info.what = "waiting for this thread's tasks to finish";
  WaitNode node{&w};
  idle_waiters_.push_back(node);
  auto nothing = [] {};
  wake_reason r = park(w, deadline, nothing);
  idle_waiters_.unlink_if_linked(node);
  throw_if_cancelled(r);
  return r == wake_reason::fired;
}

}  // namespace gofer::detail
