#include <malloc.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "monitor.hpp"
#include "scheduler.hpp"
#include "support/scale.hpp"
#include "support/watchdog.hpp"
#include "timer_heap.hpp"

using namespace std::chrono_literals;
using gofer::test::Watchdog;
using clock_type = std::chrono::steady_clock;

namespace {

// pending_here: timers armed in this thread's heap.
std::size_t pending_here() {
  return gofer::detail::Scheduler::local().timers()->size();
}

// nothing_arrives: the channel stays empty while this thread runs its loop for `d`.
bool nothing_arrives(gofer::Chan<clock_type::time_point> ch, std::chrono::milliseconds d) {
  gofer::sleep_for(d);
  clock_type::time_point v;
  return ch.try_recv(v) == gofer::chan_status::empty;
}

}  // namespace

TEST(Timer, AfterFiresNeverEarlyAndNotAbsurdlyLate) {
  Watchdog dog;
  for (auto d : {0ms, 1ms, 20ms}) {
    const auto start = clock_type::now();
    auto ch = gofer::after(d);
    const auto v = ch.recv();
    const auto end = clock_type::now();
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(*v, start + d);
    EXPECT_GE(end - start, d);
    EXPECT_LT(end - start, d + 2s);
  }
}

TEST(Timer, TimersFireInDeadlineOrderThroughSelect) {
  Watchdog dog;
  gofer::Timer a(30ms);
  gofer::Timer b(10ms);
  auto c = gofer::after(20ms);
  std::vector<int> order;
  for (int i = 0; i < 3; ++i) {
    gofer::select(gofer::on_recv(a.chan(), [&] { order.push_back(30); }),
                  gofer::on_recv(b.chan(), [&] { order.push_back(10); }),
                  gofer::on_recv(c, [&] { order.push_back(20); }));
  }
  EXPECT_EQ(order, (std::vector<int>{10, 20, 30}));
}

TEST(Timer, StopBeforeFiringReturnsTrueAndNothingArrives) {
  Watchdog dog;
  gofer::Timer t(30ms);
  EXPECT_TRUE(t.stop());
  EXPECT_FALSE(t.stop());
  EXPECT_TRUE(nothing_arrives(t.chan(), 60ms));
}

TEST(Timer, StopAfterReceivingReturnsFalse) {
  Watchdog dog;
  gofer::Timer t(1ms);
  ASSERT_TRUE(t.chan().recv().has_value());
  EXPECT_FALSE(t.stop());
}

TEST(Timer, StopDropsAFiredButUnreceivedValueAndReportsIt) {
  Watchdog dog;
  gofer::Timer t(1ms);
  gofer::sleep_for(20ms);  // the thread's loop fires it into the channel
  clock_type::time_point v;
  // Go 1.23: no stale value is received after stop(), which counts it as pending.
  EXPECT_TRUE(t.stop());
  EXPECT_EQ(t.chan().try_recv(v), gofer::chan_status::empty);
}

TEST(Timer, ResetRearmsFromNow) {
  Watchdog dog;
  gofer::Timer t(1h);
  auto start = clock_type::now();
  EXPECT_TRUE(t.reset(10ms));
  auto v = t.chan().recv();
  ASSERT_TRUE(v.has_value());
  EXPECT_GE(*v, start + 10ms);
  start = clock_type::now();
  EXPECT_FALSE(t.reset(10ms));  // it had fired and been received
  v = t.chan().recv();
  ASSERT_TRUE(v.has_value());
  EXPECT_GE(*v, start + 10ms);
  // A reset of a pending timer moves it, and only the new deadline delivers.
  EXPECT_FALSE(t.reset(1h));
  EXPECT_TRUE(t.reset(clock_type::now() + 5ms));
  EXPECT_TRUE(t.chan().recv().has_value());
  EXPECT_TRUE(nothing_arrives(t.chan(), 20ms));
}

TEST(Timer, NeverDeadlineIsNotArmed) {
  gofer::Timer t(gofer::Deadline::never());
  EXPECT_FALSE(t.stop());
  EXPECT_TRUE(nothing_arrives(gofer::after(gofer::Deadline::never()), 5ms));
}

TEST(Timer, DestructorStopsAndFreesTheEntry) {
  const auto before = gofer::detail::live_timer_entries();
  {
    gofer::Timer t(1h);
    EXPECT_EQ(gofer::detail::live_timer_entries(), before + 1);
  }
  EXPECT_EQ(gofer::detail::live_timer_entries(), before);
}

TEST(Timer, MovedFromTimerThrowsLogicError) {
  gofer::Timer t(1h);
  gofer::Timer u(std::move(t));
  EXPECT_THROW((void)t.stop(), std::logic_error);  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(u.stop());
}

TEST(AfterFunc, RunsAsATaskOnTheCreatingThread) {
  Watchdog dog;
  gofer::Runtime rt(2);
  auto t = rt.go_on(1, [] {
    gofer::Chan<std::thread::id> ran(1);
    auto f = gofer::after_func(5ms, [ran]() mutable {
      EXPECT_TRUE(gofer::in_task());
      (void)ran.try_send(std::this_thread::get_id());
    });
    return std::make_pair(std::this_thread::get_id(), ran.recv());
  });
  const auto [home, ran_on] = t.wait();
  ASSERT_TRUE(ran_on.has_value());
  EXPECT_EQ(*ran_on, home);
}

TEST(AfterFunc, StopPreventsTheCall) {
  Watchdog dog;
  std::atomic<int> calls{0};
  auto f = gofer::after_func(10ms, [&calls] { calls.fetch_add(1); });
  EXPECT_TRUE(f.stop());
  EXPECT_FALSE(f.stop());
  gofer::sleep_for(40ms);
  EXPECT_EQ(calls.load(), 0);
  // reset arms it again; after it ran, stop reports that it did.
  EXPECT_FALSE(f.reset(1ms));
  gofer::sleep_for(30ms);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_FALSE(f.stop());
}

TEST(AfterFunc, AcceptsMoveOnlyCallables) {
  Watchdog dog;
  gofer::Chan<int> got(1);
  auto p = std::make_unique<int>(7);
  auto f = gofer::after_func(1ms, [p = std::move(p), got]() mutable { (void)got.try_send(*p); });
  EXPECT_EQ(got.recv(), std::optional<int>(7));
}

TEST(Ticker, TicksAreNeverEarly) {
  Watchdog dog;
  const auto start = clock_type::now();
  gofer::Ticker tick(5ms);
  auto prev = start;
  for (int i = 1; i <= 5; ++i) {
    auto v = tick.chan().recv();
    ASSERT_TRUE(v.has_value());
    // The i-th tick received is at least i periods in: ticks are dropped, never early.
    EXPECT_GE(*v, start + i * 5ms);
    EXPECT_GT(*v, prev);
    prev = *v;
  }
  tick.stop();
  EXPECT_TRUE(nothing_arrives(tick.chan(), 20ms));
}

TEST(Ticker, DropsTicksForASlowReceiver) {
  Watchdog dog;
  gofer::Ticker tick(2ms);
  gofer::sleep_for(50ms);  // about 25 ticks come due; the channel keeps one
  clock_type::time_point v;
  EXPECT_EQ(tick.chan().try_recv(v), gofer::chan_status::ok);
  EXPECT_EQ(tick.chan().try_recv(v), gofer::chan_status::empty);
  // It keeps ticking afterwards.
  EXPECT_TRUE(tick.chan().recv().has_value());
}

TEST(Ticker, ResetChangesThePeriod) {
  Watchdog dog;
  gofer::Ticker tick(1h);
  const auto start = clock_type::now();
  tick.reset(3ms);
  auto v = tick.chan().recv();
  ASSERT_TRUE(v.has_value());
  EXPECT_GE(*v, start + 3ms);
}

TEST(Ticker, NonPositivePeriodIsInvalid) {
  EXPECT_THROW(gofer::Ticker(0ms), std::invalid_argument);
  EXPECT_THROW(gofer::Ticker(-1s), std::invalid_argument);
  gofer::Ticker tick(1h);
  EXPECT_THROW(tick.reset(0ns), std::invalid_argument);
}

TEST(Timer, StopAndResetFromAnotherRuntimeThread) {
  Watchdog dog;
  gofer::Runtime rt(2);
  auto timer = rt.go_on(0, [] { return std::make_shared<gofer::Timer>(1h); }).wait();
  EXPECT_TRUE(rt.go_on(1, [timer] { return timer->stop(); }).wait());
  // A reset from thread 1 re-arms it sooner in thread 0's heap, whose sleep must be cut short.
  auto waiter = rt.go_on(0, [timer] { return timer->chan().recv().has_value(); });
  gofer::sleep_for(20ms);  // thread 0 now sleeps with nothing armed
  const auto start = clock_type::now();
  EXPECT_FALSE(rt.go_on(1, [timer] { return timer->reset(10ms); }).wait());
  EXPECT_TRUE(waiter.wait());
  EXPECT_LT(clock_type::now() - start, 5s);
  rt.shutdown();
}

TEST(Timer, StopAndResetFromAPlainThread) {
  Watchdog dog;
  gofer::Runtime rt(1);
  auto timer = rt.go_on(0, [] { return std::make_shared<gofer::Timer>(1h); }).wait();
  auto waiter = rt.go_on(0, [timer] { return timer->chan().recv().has_value(); });
  bool stopped = false;
  bool reset = true;
  std::thread([&] {
    stopped = timer->stop();
    reset = timer->reset(5ms);
  }).join();
  EXPECT_TRUE(stopped);
  EXPECT_FALSE(reset);
  EXPECT_TRUE(waiter.wait());
  rt.shutdown();
}

TEST(Timer, ResetAfterItsThreadExitedArmsOnTheCaller) {
  Watchdog dog;
  std::unique_ptr<gofer::Timer> t;
  std::thread([&] { t = std::make_unique<gofer::Timer>(1h); }).join();
  EXPECT_FALSE(t->stop());  // its thread's exit dropped it
  EXPECT_FALSE(t->reset(2ms));
  EXPECT_TRUE(t->chan().recv().has_value());
}

TEST(Timer, HundredThousandPendingTimersCostHeapEntriesOnly) {
  Watchdog dog;
  const std::size_t n = 100'000 / static_cast<std::size_t>(gofer::test::sanitizer_scale);
  (void)pending_here();  // the heap itself exists before we measure
  const auto tasks_before = gofer::tasks().size();
  const auto entries_before = gofer::detail::live_timer_entries();
  std::vector<gofer::Timer> timers;
  timers.reserve(n);
  const auto heap_before = mallinfo2().uordblks;
  for (std::size_t i = 0; i < n; ++i) {
    timers.emplace_back(1h + std::chrono::microseconds(i % 1000));
  }
  const auto heap_after = mallinfo2().uordblks;
  EXPECT_EQ(gofer::tasks().size(), tasks_before);
  EXPECT_EQ(gofer::detail::live_timer_entries(), entries_before + n);
  EXPECT_EQ(pending_here(), n);
  if (gofer::test::sanitizer_scale == 1) {  // the sanitizers' allocators keep their own books
    EXPECT_LT((heap_after - heap_before) / n, 1024U) << "bytes per pending timer";
  }
  // A stopped timer leaves the heap at once.
  EXPECT_TRUE(timers[n / 2].stop());
  EXPECT_EQ(pending_here(), n - 1);
  timers.clear();
  EXPECT_EQ(pending_here(), 0U);
  EXPECT_EQ(gofer::detail::live_timer_entries(), entries_before);
}

TEST(Timer, ShutdownWithTenThousandPendingTimersIsPrompt) {
  Watchdog dog;
  const auto entries_before = gofer::detail::live_timer_entries();
  std::vector<std::shared_ptr<gofer::Timer>> kept;
  {
    gofer::Runtime rt(2);
    std::vector<gofer::Task<std::vector<std::shared_ptr<gofer::Timer>>>> made;
    for (std::size_t i = 0; i < rt.size(); ++i) {
      made.push_back(rt.go_on(i, [] {
        std::vector<std::shared_ptr<gofer::Timer>> mine;
        for (int j = 0; j < 2500; ++j) {
          (void)gofer::after(1h);
          mine.push_back(std::make_shared<gofer::Timer>(1h));
        }
        return mine;
      }));
    }
    for (auto& t : made) {
      auto mine = t.wait();
      kept.insert(kept.end(), mine.begin(), mine.end());
    }
    // A task parked on a timer's channel is a task: stop_tasks ends it.
    auto parked = rt.go([t = kept.front()] { (void)t->chan().recv(); });
    const auto start = clock_type::now();
    rt.shutdown(gofer::shutdown_mode::stop_tasks);
    EXPECT_LT(clock_type::now() - start, 2s);
    EXPECT_THROW(parked.wait(), gofer::cancelled);
  }
  EXPECT_EQ(gofer::detail::live_timer_entries(), entries_before + kept.size());
  EXPECT_FALSE(kept.back()->stop());  // its thread has exited: it never fires
  kept.clear();
  EXPECT_EQ(gofer::detail::live_timer_entries(), entries_before);
}

TEST(Timer, IdleSchedulerWithAnArmedTimerIsNotAsleep) {
  Watchdog dog;
  // The deadlock watchdog treats a scheduler whose idle sleep has a deadline as one a timer
  // can wake: a task parked on a Timer's channel bounds its thread's sleep.
  gofer::Runtime rt(1);
  auto waiter = rt.go([] {
    gofer::Timer t(300ms);
    return t.chan().recv().has_value();
  });
  std::this_thread::sleep_for(50ms);  // not a gofer wait: this thread is busy, not idle
  bool bounded = false;
  for (const auto& s : gofer::detail::sample_schedulers()) {
    if (s.idle && s.timer) {
      bounded = true;
    }
  }
  EXPECT_TRUE(bounded);
  EXPECT_TRUE(waiter.wait());
}
