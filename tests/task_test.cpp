#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/scale.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::test::Watchdog;

TEST(Task, GoAndWaitFromPlainCode) {
  Watchdog dog;
  auto t = gofer::go([](int x) { return x * 2; }, 21);
  EXPECT_TRUE(t.valid());
  EXPECT_EQ(t.wait(), 42);
  EXPECT_TRUE(t.done());
}

TEST(Task, VoidTaskAndFreeWait) {
  Watchdog dog;
  int hit = 0;
  auto t = gofer::go([&hit] { ++hit; });
  gofer::wait(t);
  EXPECT_EQ(hit, 1);
}

TEST(Task, MoveOnlyArgumentsAndResult) {
  Watchdog dog;
  auto t = gofer::go([](std::unique_ptr<int> p) { return std::make_unique<int>(*p + 1); },
                     std::make_unique<int>(1));
  EXPECT_EQ(*t.wait(), 2);
}

TEST(Task, ExceptionReachesWaiter) {
  Watchdog dog;
  auto t = gofer::go([]() -> int { throw std::runtime_error("boom"); });
  EXPECT_THROW(
      {
        try {
          t.wait();
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "boom");
          throw;
        }
      },
      std::runtime_error);
}

TEST(Task, WaitingTwiceThrowsLogicError) {
  Watchdog dog;
  auto t = gofer::go([] { return 1; });
  EXPECT_EQ(t.wait(), 1);
  EXPECT_THROW(t.wait(), std::logic_error);
}

TEST(Task, MovedFromTaskThrowsLogicError) {
  auto t = gofer::go([] { return 1; });
  auto u = std::move(t);
  EXPECT_FALSE(t.valid());  // NOLINT(bugprone-use-after-move): testing exactly that
  EXPECT_THROW(t.wait(), std::logic_error);
  EXPECT_THROW((void)t.done(), std::logic_error);
  EXPECT_EQ(u.wait(), 1);
}

TEST(Task, TaskIdsAreUnique) {
  auto a = gofer::go([] {});
  auto b = gofer::go([] {});
  EXPECT_NE(a.id(), b.id());
  a.wait();
  b.wait();
}

TEST(Task, InTaskIsTrueOnlyInsideTasks) {
  EXPECT_FALSE(gofer::in_task());
  EXPECT_TRUE(gofer::go_and_wait([] { return gofer::in_task(); }));
  EXPECT_FALSE(gofer::in_task());
}

TEST(Task, TasksInterleaveOnOneThread) {
  Watchdog dog;
  std::vector<int> order;
  auto a = gofer::go([&] {
    order.push_back(1);
    gofer::yield();
    order.push_back(3);
  });
  auto b = gofer::go([&] {
    order.push_back(2);
    gofer::yield();
    order.push_back(4);
  });
  gofer::wait_all(a, b);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
}

TEST(Task, WaitForTimesOutAndTaskKeepsRunning) {
  Watchdog dog;
  auto t = gofer::go([] {
    gofer::sleep_for(50ms);
    return 7;
  });
  auto early = t.wait(1ms);
  EXPECT_FALSE(early.has_value());
  auto later = gofer::wait(t, 10s);
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(*later, 7);
}

TEST(Task, WaitAllReturnsResultsInOrder) {
  Watchdog dog;
  std::vector<gofer::Task<int>> tasks;
  for (int i = 0; i < 10; ++i) {
    tasks.push_back(gofer::go([i] {
      gofer::sleep_for(std::chrono::milliseconds(10 - i));
      return i;
    }));
  }
  auto results = gofer::wait_all(tasks);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(results[i], i);
  }
}

TEST(Task, WaitAllVariadicMixesVoid) {
  auto a = gofer::go([] { return std::string("a"); });
  auto b = gofer::go([] {});
  auto [x, y] = gofer::wait_all(a, b);
  EXPECT_EQ(x, "a");
  (void)y;
}

TEST(Task, WaitAllRethrowsFirstError) {
  std::vector<gofer::Task<int>> tasks;
  tasks.push_back(gofer::go([] { return 1; }));
  tasks.push_back(gofer::go([]() -> int { throw std::runtime_error("second"); }));
  EXPECT_THROW(gofer::wait_all(tasks), std::runtime_error);
}

TEST(Task, WaitAllWithTimeout) {
  Watchdog dog;
  std::vector<gofer::Task<void>> tasks;
  tasks.push_back(gofer::sleep_task(1ms));
  tasks.push_back(gofer::sleep_task(200ms));
  EXPECT_FALSE(gofer::wait_all(tasks, 5ms));
  EXPECT_TRUE(gofer::wait_all(tasks, 10s));
}

TEST(Task, WaitAnyReturnsFirstDone) {
  Watchdog dog;
  std::vector<gofer::Task<int>> tasks;
  tasks.push_back(gofer::go([] {
    gofer::sleep_for(200ms);
    return 0;
  }));
  tasks.push_back(gofer::go([] {
    gofer::sleep_for(1ms);
    return 1;
  }));
  EXPECT_EQ(gofer::wait_any(tasks), 1u);
  EXPECT_EQ(tasks[1].wait(), 1);
  tasks[0].request_stop();
  EXPECT_THROW(tasks[0].wait(), gofer::cancelled);
}

TEST(Task, WaitAnyWithTimeoutAndEmptyInput) {
  Watchdog dog;
  std::vector<gofer::Task<void>> tasks;
  EXPECT_THROW(gofer::wait_any(tasks), std::invalid_argument);
  tasks.push_back(gofer::sleep_task(100ms));
  EXPECT_FALSE(gofer::wait_any(tasks, 1ms).has_value());
  EXPECT_EQ(gofer::wait_any(tasks, 10s), std::optional<std::size_t>(0));
}

TEST(Task, RequestStopWakesSleepingTask) {
  Watchdog dog;
  auto t = gofer::go([] { gofer::sleep_for(1h); });
  gofer::yield();  // let it start and park
  t.request_stop();
  EXPECT_THROW(t.wait(), gofer::cancelled);
}

TEST(Task, RequestStopBeforeStartCancelsFirstBlockingCall) {
  Watchdog dog;
  std::atomic<bool> reached{false};
  auto t = gofer::go([&] {
    reached = true;
    gofer::sleep_for(1h);
  });
  t.request_stop();
  EXPECT_THROW(t.wait(), gofer::cancelled);
  EXPECT_TRUE(reached);
}

TEST(Task, WaitFromAnotherThreadParksOnlyTheWaiter) {
  Watchdog dog;
  gofer::Runtime rt(2);
  gofer::Chan<int> release;
  auto slow = rt.go_on(0, [release]() mutable { return *release.recv() + 1; });
  // A waiter on thread 1 parks on a task of thread 0; thread 1 keeps running other tasks.
  auto waiter = rt.go_on(1, [&slow] { return slow.wait(); });
  auto other = rt.go_on(1, [] { return 5; });
  EXPECT_EQ(other.wait(), 5);
  EXPECT_TRUE(release.send(41));
  EXPECT_EQ(waiter.wait(), 42);
}

TEST(Task, UnobservedExceptionIsReported) {
  testing::internal::CaptureStderr();
  {
    auto t = gofer::go(gofer::TaskOptions{"reporter"},
                       [] { throw std::runtime_error("nobody listens"); });
    gofer::run_event_loop();
  }
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("nobody listens"), std::string::npos) << err;
  EXPECT_NE(err.find("(reporter)"), std::string::npos) << err;
  EXPECT_NE(err.find(": std::runtime_error: nobody listens"), std::string::npos)
      << "the exception's type is demangled: " << err;
}

TEST(Task, DetachedTaskStillRuns) {
  Watchdog dog;
  std::atomic<int> hits{0};
  gofer::go([&hits] { ++hits; });
  gofer::run_event_loop();
  EXPECT_EQ(hits, 1);
}

TEST(Task, HundredThousandLiveTasks) {
  Watchdog dog(std::chrono::seconds(60));
  // TSan maps a trace buffer per fiber and runs out of address space long before 100k.
  constexpr int n = gofer::test::under_thread_sanitizer ? 2'000 : 100'000;
  gofer::Chan<int> gate;
  std::atomic<int> started{0};
  std::vector<gofer::Task<void>> tasks;
  tasks.reserve(n);
  const auto old = gofer::stack_size();
  gofer::set_stack_size(64 * 1024);
  for (int i = 0; i < n; ++i) {
    tasks.push_back(gofer::go([gate, &started]() mutable {
      ++started;
      (void)gate.recv();
    }));
  }
  gofer::set_stack_size(old);
  while (started.load() < n) {
    gofer::yield();
  }
  gate.close();
  gofer::wait_all(tasks);
  EXPECT_EQ(started.load(), n);
}

TEST(EventLoop, WithEventLoopRunsEverything) {
  Watchdog dog;
  std::atomic<int> hits{0};
  int r = gofer::with_event_loop([&hits] {
    for (int i = 0; i < 3; ++i) {
      gofer::go([&hits, i] {
        gofer::sleep_for(std::chrono::milliseconds(3 * i));
        ++hits;
      });
    }
    return 9;
  });
  EXPECT_EQ(r, 9);
  EXPECT_EQ(hits, 3);
}

TEST(EventLoop, RunEventLoopInsideTaskThrows) {
  auto t = gofer::go([] { gofer::run_event_loop(); });
  EXPECT_THROW(t.wait(), std::logic_error);
}

TEST(EventLoop, WithEventLoopInsideTaskThrows) {
  auto t = gofer::go([] { gofer::with_event_loop([] {}); });
  EXPECT_THROW(t.wait(), std::logic_error);
}

namespace {
// recurse: unbounded recursion with a frame the optimizer cannot drop.
int recurse(int depth) {
  if (depth < 0) {
    return 0;  // never: depth only grows (keeps -Winfinite-recursion quiet)
  }
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  return recurse(depth + 1) + frame[0];
}
}  // namespace

TEST(TaskDeathTest, StackOverflowNamesTheTask) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto t = gofer::go(gofer::TaskOptions{"deep", 64 * 1024}, [] { return recurse(1); });
        t.wait();
      },
      "gofer: stack overflow in task [0-9]+ \\(deep\\)");
}
