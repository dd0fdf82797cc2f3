// timer.cpp: after, Timer, FuncTimer, after_func and Ticker (timer.hpp) on the home
// scheduler's TimerHeap (timer_heap.hpp).
//
// Three kinds of entry: a channel entry (after, Timer) sends the time with try_send, under its
// entry lock so that stop/reset, which take that lock, see the send done or never done; a
// ticker entry does the same and asks to be re-inserted on its period's grid; a function
// entry spawns a task. It decides to under its lock and spawns after releasing it (spawning
// allocates; nothing that can throw runs under a lock), so a stop that comes after the
// decision returns false, as Go's does once f has been started.
//
// Thread-safety: see timer.hpp. Lock order: entry, heap, channel (timer_heap.hpp).
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <gofer/task.hpp>
#include <gofer/timer.hpp>

#include "scheduler.hpp"
#include "timer_heap.hpp"

namespace gofer {

namespace detail {

namespace {

using time_point = std::chrono::steady_clock::time_point;

struct ChanEntry : TimerEntry {
  explicit ChanEntry(time_chan c) noexcept : ch(std::move(c)) {}
  fired fire(clock::time_point now) noexcept override {
    time_point v = now;
    (void)ch.try_send(v);  // full (an unreceived tick): dropped, as Go's ticker does
    if (period.count() <= 0) {
      return fired::done;
    }
    // The next tick stays on the grid when+k*period, strictly after now (missed ticks are
    // skipped, not queued).
    const auto late = now - when;
    when += period * (1 + late / period);
    return fired::rearm;
  }
  bool drain() noexcept override {
    time_point stale;
    return ch.try_recv(stale) == chan_status::ok;
  }
  time_chan ch;
  clock::duration period{0};  // lock; positive for a ticker
};

void spawn_func(const std::function<void()>& f) noexcept;

struct FuncEntry : TimerEntry {
  explicit FuncEntry(std::function<void()> fn) noexcept : f(std::move(fn)) {}
  fired fire(clock::time_point) noexcept override { return fired::run; }
  void run() noexcept override { spawn_func(f); }
  std::function<void()> f;  // never changes: run() reads it with no lock
};

// home_heap: the calling thread's heap (installs its scheduler; may throw).
std::shared_ptr<TimerHeap> home_heap() {
  return Scheduler::local().timers();
}

// arm: inserts e (lock held) at `d` into its home, or into `fallback` when the home's thread
// has exited. Returns false when the fallback is needed and missing.
bool arm(TimerEntry& e, Deadline d, const std::shared_ptr<TimerHeap>& fallback) {
  e.when = d.time_point();
  if (d.is_never()) {
    return true;
  }
  if (e.home->insert(e)) {
    return true;
  }
  if (fallback == nullptr) {
    return false;
  }
  e.home = fallback;
  return e.home->insert(e);
}

// disarm: stop's work (lock held): true when the timer was pending or a value undelivered.
bool disarm(TimerEntry& e) {
  ++e.seq;  // cancels a firing already taken out of the heap
  bool pending = e.home->remove(e);
  if (e.drain()) {
    pending = true;
  }
  return pending;
}

}  // namespace

TimerHandle& TimerHandle::operator=(TimerHandle&& o) noexcept {
  if (this != &o) {
    TimerHandle old(std::move(*this));
    e_ = std::exchange(o.e_, nullptr);
  }
  return *this;
}

TimerHandle::~TimerHandle() {
  if (e_ != nullptr) {
    {
      std::lock_guard guard(e_->lock);
      (void)disarm(*e_);
    }
    e_->release();
  }
}

TimerEntry* TimerHandle::entry(const char* who) const {
  if (e_ == nullptr) {
    throw std::logic_error(std::string(who) + ": use of a moved-from timer");
  }
  return e_;
}

bool TimerHandle::stop(const char* who) const {
  TimerEntry* e = entry(who);
  std::lock_guard guard(e->lock);
  return disarm(*e);
}

bool TimerHandle::reset(Deadline d, const char* who) const {
  TimerEntry* e = entry(who);
  for (std::shared_ptr<TimerHeap> fallback;;) {
    {
      std::lock_guard guard(e->lock);
      const bool pending = disarm(*e);
      if (arm(*e, d, fallback)) {
        return pending;
      }
    }
    fallback = home_heap();  // the home thread has exited: arm on this one (may throw)
  }
}

namespace {

// spawn_func: runs a function entry's f as a new task on this (its home) thread.
void spawn_func(const std::function<void()>& f) noexcept {
  TaskControl* const was = current_control();
  set_current_control(nullptr);  // the dispatcher is plain code, not the last task that ran
  try {
    TaskOptions opts;
    opts.name = "after_func";
    (void)go(std::move(opts), f);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "gofer: after_func could not start its task: %s\n", ex.what());
  }
  set_current_control(was);
}

// new_entry: a channel or function entry armed at `d` in the calling thread's heap; returns
// it with the caller's reference.
template <class E, class... A>
E* new_entry(Deadline d, clock::duration period, A&&... args) {
  auto heap = home_heap();
  auto* e = new E(std::forward<A>(args)...);
  try {
    std::lock_guard guard(e->lock);
    e->home = std::move(heap);
    if constexpr (std::is_same_v<E, ChanEntry>) {
      e->period = period;
    }
    (void)arm(*e, d, nullptr);
  } catch (...) {
    e->release();
    throw;
  }
  return e;
}

}  // namespace

TimerHandle make_func_timer(Deadline d, std::function<void()> f) {
  return TimerHandle(new_entry<FuncEntry>(d, clock::duration(0), std::move(f)));
}

}  // namespace detail

detail::time_chan after(Deadline d) {
  detail::time_chan ch(1);
  if (d.is_never()) {
    return ch;
  }
  // The heap's reference keeps the entry until it fires; there is no handle to stop it.
  detail::new_entry<detail::ChanEntry>(d, detail::clock::duration(0), ch)->release();
  return ch;
}

Timer::Timer(Deadline d)
    : ch_(1), h_(detail::new_entry<detail::ChanEntry>(d, detail::clock::duration(0), ch_)) {}

Timer::~Timer() = default;
FuncTimer::~FuncTimer() = default;
Ticker::~Ticker() = default;

namespace {
void check_period(std::chrono::nanoseconds period, const char* who) {
  if (period.count() <= 0) {
    throw std::invalid_argument(std::string(who) + ": the period must be positive, got " +
                                std::to_string(period.count()) + "ns");
  }
}
}  // namespace

Ticker::Ticker(std::chrono::nanoseconds period, int) : ch_(1) {
  check_period(period, "gofer::Ticker");
  h_ = detail::TimerHandle(detail::new_entry<detail::ChanEntry>(period, period, ch_));
}

void Ticker::reset_ns(std::chrono::nanoseconds period) {
  check_period(period, "gofer::Ticker::reset");
  auto* e = static_cast<detail::ChanEntry*>(h_.entry("gofer::Ticker::reset"));
  for (std::shared_ptr<detail::TimerHeap> fallback;;) {
    {
      std::lock_guard guard(e->lock);
      (void)detail::disarm(*e);
      e->period = period;
      if (detail::arm(*e, period, fallback)) {
        return;
      }
    }
    fallback = detail::home_heap();
  }
}

}  // namespace gofer
