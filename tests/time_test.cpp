#include <chrono>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/scale.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::test::Watchdog;

TEST(Time, SleepNeverEndsEarly) {
  Watchdog dog;
  for (auto d : {0ms, 1ms, 3ms, 10ms}) {
    const auto start = std::chrono::steady_clock::now();
    gofer::sleep_for(d);
    EXPECT_GE(std::chrono::steady_clock::now() - start, d);
  }
}

TEST(Time, SleepUntilInThePastReturns) {
  Watchdog dog;
  const auto start = std::chrono::steady_clock::now();
  gofer::sleep_until(start - 1s);
  gofer::sleep_for(-5s);
  // A deadline in the past must not be read as a huge one (the watchdog would catch a hang;
  // this bound catches a long sleep).
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST(Time, SleepersWakeInDeadlineOrder) {
  Watchdog dog;
  std::vector<int> order;
  std::vector<gofer::Task<void>> tasks;
  for (int ms : {30, 10, 20}) {
    tasks.push_back(gofer::go([&order, ms] {
      gofer::sleep_for(std::chrono::milliseconds(ms));
      order.push_back(ms);
    }));
  }
  gofer::wait_all(tasks);
  EXPECT_EQ(order, (std::vector<int>{10, 20, 30}));
}

TEST(Time, HugeTimeoutSaturates) {
  Watchdog dog;
  auto t = gofer::go([] { gofer::sleep_for(std::chrono::hours::max()); });
  gofer::yield();
  t.request_stop();
  EXPECT_THROW(t.wait(), gofer::cancelled);
}

TEST(Time, ManyTimersOnOneThread) {
  Watchdog dog;
  constexpr int n = 10'000 / gofer::test::sanitizer_scale;
  int woke = 0;
  std::vector<gofer::Task<void>> tasks;
  tasks.reserve(n);
  for (int i = 0; i < n; ++i) {
    tasks.push_back(gofer::go([&woke, i] {
      gofer::sleep_for(std::chrono::microseconds((i * 7919) % 5000));
      ++woke;
    }));
  }
  gofer::wait_all(tasks);
  EXPECT_EQ(woke, n);
}

TEST(Time, SleepTaskCompletesAfterItsDuration) {
  Watchdog dog;
  const auto start = std::chrono::steady_clock::now();
  auto t = gofer::sleep_task(20ms);
  EXPECT_FALSE(t.done());
  t.wait();
  EXPECT_TRUE(t.done());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  auto until = gofer::sleep_task(start + 30ms);  // or until a steady_clock time point
  until.wait();
  EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms);
}

TEST(Time, IdleSpinIsConfigurable) {
  const auto old = gofer::idle_spin();
  gofer::set_idle_spin(5us);
  EXPECT_EQ(gofer::idle_spin(), 5us);
  gofer::set_idle_spin(-1ns);
  EXPECT_EQ(gofer::idle_spin(), 0ns);
  gofer::set_idle_spin(old);
}
