// timer.hpp: Go's timers and tickers: a value on a channel (or a task) when a time comes.
//
//   auto timeout = gofer::after(2s);                 // Go's time.After
//   gofer::select(gofer::on_recv(results, [](int v) { ... }),
//                 gofer::on_recv(timeout, [](auto) { std::puts("too slow"); }));
//
//   gofer::Timer t(500ms);                           // Go's time.NewTimer
//   if (t.stop()) { ... }                            // true: it will never deliver
//   t.reset(1s);                                     // armed again, from now
//
//   auto f = gofer::after_func(1s, [] { ... });      // Go's time.AfterFunc: f runs as a task
//   gofer::Ticker tick(100ms);                       // Go's time.NewTicker
//   for (auto when : tick.chan()) { ... }            // a tick every 100 ms
//
// after(d) returns a channel (capacity 1) that receives the time (steady_clock) once the
// deadline has passed. A Timer is the same with a handle: stop(), reset(d), and the channel
// from chan(). after_func(d, f) runs f() as a new task at the deadline; its FuncTimer can stop
// or reset it. A Ticker sends the time every period; a receiver slower than the period misses
// ticks rather than piling them up (the channel holds one, later ticks are dropped while it is
// full, and the next tick stays on the period's grid), as in Go.
//
// Timing: a timer never fires early (deadlines round up) and fires as soon as its thread's
// scheduler gets to it: at once when that thread idles (its epoll wait ends at the earliest
// deadline), within a few task switches when it is busy. The value sent is the time it fired.
//
// Stop and reset follow Go 1.23: once stop() or reset() returns, no value prepared before it
// will be received (a fired but unreceived value is dropped from the channel), and both return
// true when the timer was pending, counting a dropped value as pending: so `if (t.stop())`
// means "nothing will arrive", and no drain is needed. For a FuncTimer, true means f was
// prevented from starting (a started f runs to its end).
//
// Where timers live: in the timer heap of the scheduler of the thread that creates them (its
// "home"; a plain thread gets its scheduler installed, as gofer::go does). A timer costs one
// heap entry (tens of bytes, plus its channel): no task and no thread, so 100,000 pending
// timers are cheap; stop() frees the entry at once (O(log n)). An after_func task runs on the
// home thread. As with tasks spawned there, the timers of a plain thread fire only while that
// thread runs its loop (while it waits in a gofer call). Pending timers never hold up a
// shutdown: a Runtime's threads and a plain thread exit without waiting for them, and their
// pending timers then never fire (reset() on such a timer arms it on the calling thread).
//
// Thread-safety: every member may be called from any thread and any task; one object must not
// be used concurrently with its own destruction or move. Destroying a Timer, FuncTimer or
// Ticker stops it. Blocking: nothing here parks or blocks (receiving from chan() does).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include <gofer/chan.hpp>
#include <gofer/deadline.hpp>

namespace gofer {

namespace detail {
struct TimerEntry;
// TimerHandle: the shared part of Timer, FuncTimer and Ticker (owns one entry reference).
class TimerHandle {
 public:
  TimerHandle() noexcept = default;
  explicit TimerHandle(TimerEntry* e) noexcept : e_(e) {}
  TimerHandle(TimerHandle&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  TimerHandle& operator=(TimerHandle&& o) noexcept;
  ~TimerHandle();

  bool stop(const char* who) const;
  bool reset(Deadline d, const char* who) const;
  TimerEntry* entry(const char* who) const;

 private:
  TimerEntry* e_ = nullptr;
};
using time_chan = Chan<std::chrono::steady_clock::time_point>;
}  // namespace detail

// after: a channel (capacity 1) that receives the time once `d` has passed. Never blocks; a
// deadline already past fires on the thread's next scheduling pass, Deadline::never() never.
detail::time_chan after(Deadline d);

// Timer: a one-shot timer with a channel, as Go's time.Timer.
class Timer {
 public:
  // Timer: armed for `d` (never: created stopped).
  explicit Timer(Deadline d);
  Timer(Timer&&) noexcept = default;
  Timer& operator=(Timer&&) noexcept = default;
  // ~Timer: stops the timer.
  ~Timer();

  // chan: the channel the time is sent on (the same one for the Timer's life).
  detail::time_chan chan() const { return ch_; }
  // stop: disarms the timer; true when it was pending (or its value was still unreceived,
  // and is now dropped). Throws std::logic_error on a moved-from Timer.
  bool stop() { return h_.stop("gofer::Timer::stop"); }
  // reset: re-arms for `d` (from now, for a duration); returns what stop() would have.
  bool reset(Deadline d) { return h_.reset(d, "gofer::Timer::reset"); }

 private:
  detail::time_chan ch_;
  detail::TimerHandle h_;
};

// FuncTimer: the handle after_func returns, as Go's AfterFunc Timer.
class FuncTimer {
 public:
  explicit FuncTimer(detail::TimerHandle h) noexcept : h_(std::move(h)) {}
  FuncTimer(FuncTimer&&) noexcept = default;
  FuncTimer& operator=(FuncTimer&&) noexcept = default;
  // ~FuncTimer: stops the timer (f does not start unless it already has).
  ~FuncTimer();

  // stop: true when f had not been started (and now will not be).
  bool stop() { return h_.stop("gofer::FuncTimer::stop"); }
  // reset: arms it again for `d` (f runs again then, even if it already ran); returns whether
  // it was pending.
  bool reset(Deadline d) { return h_.reset(d, "gofer::FuncTimer::reset"); }

 private:
  detail::TimerHandle h_;
};

namespace detail {
TimerHandle make_func_timer(Deadline d, std::function<void()> f);
}  // namespace detail

// after_func: at `d`, runs f() as a new task on the calling thread's scheduler (the task is
// named "after_func"; an exception from f is reported as for any task nobody waits for). f may
// be move-only. Keep the FuncTimer to stop or reset it: destroying it stops the timer.
template <class F>
[[nodiscard]] FuncTimer after_func(Deadline d, F&& f) {
  auto shared = std::make_shared<std::decay_t<F>>(std::forward<F>(f));
  return FuncTimer(detail::make_func_timer(d, [shared] { (*shared)(); }));
}

// Ticker: sends the time on chan() every period, as Go's time.Ticker.
class Ticker {
 public:
  // Ticker: first tick one period from now. A zero or negative period throws
  // std::invalid_argument.
  template <class Rep, class Period>
  explicit Ticker(std::chrono::duration<Rep, Period> period)
      : Ticker(std::chrono::ceil<std::chrono::nanoseconds>(period), 0) {}
  Ticker(Ticker&&) noexcept = default;
  Ticker& operator=(Ticker&&) noexcept = default;
  // ~Ticker: stops the ticker.
  ~Ticker();

  // chan: the channel ticks are sent on (capacity 1; ticks are dropped while it is full).
  detail::time_chan chan() const { return ch_; }
  // stop: no tick is sent (or received) after it returns. The channel stays open, as in Go.
  void stop() { (void)h_.stop("gofer::Ticker::stop"); }
  // reset: ticks every `period` from now on (std::invalid_argument when not positive).
  template <class Rep, class Period>
  void reset(std::chrono::duration<Rep, Period> period) {
    reset_ns(std::chrono::ceil<std::chrono::nanoseconds>(period));
  }

 private:
  Ticker(std::chrono::nanoseconds period, int);
  void reset_ns(std::chrono::nanoseconds period);

  detail::time_chan ch_;
  detail::TimerHandle h_;
};

}  // namespace gofer
