#include <atomic>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::test::Watchdog;

class OnRuntime : public testing::TestWithParam<std::size_t> {};

TEST_P(OnRuntime, GoPlacesTasksRoundRobin) {
  Watchdog dog;
  gofer::Runtime rt(GetParam());
  EXPECT_EQ(rt.size(), GetParam());
  std::vector<gofer::Task<std::thread::id>> tasks;
  for (std::size_t i = 0; i < 4 * GetParam(); ++i) {
    tasks.push_back(rt.go([] { return std::this_thread::get_id(); }));
  }
  std::set<std::thread::id> ids;
  for (auto& t : tasks) {
    ids.insert(t.wait());
  }
  EXPECT_EQ(ids.size(), GetParam());
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);
}

TEST_P(OnRuntime, TaskStaysOnItsHomeThread) {
  Watchdog dog;
  gofer::Runtime rt(GetParam());
  auto t = rt.go_on(GetParam() - 1, [] {
    const auto home = std::this_thread::get_id();
    for (int i = 0; i < 100; ++i) {
      gofer::sleep_for(10us);
      gofer::yield();
      if (std::this_thread::get_id() != home) {
        return false;
      }
    }
    return true;
  });
  EXPECT_TRUE(t.wait());
}

TEST_P(OnRuntime, ShutdownWaitsForTasksAndTheirChildren) {
  Watchdog dog;
  std::atomic<int> done{0};
  gofer::Runtime rt(GetParam());
  for (int i = 0; i < 20; ++i) {
    rt.go([&done] {
      gofer::sleep_for(2ms);
      gofer::go([&done] {
        gofer::sleep_for(2ms);
        ++done;
      });
      ++done;
    });
  }
  rt.shutdown(gofer::shutdown_mode::wait);
  EXPECT_EQ(done.load(), 40);
}

// The destructor is std::jthread's: it requests stop on every task, then joins. A task
// blocked forever ends with gofer::cancelled instead of hanging the destructor.
TEST_P(OnRuntime, DestructorStopsTasksBlockedForever) {
  Watchdog dog;
  gofer::Chan<int> never;
  std::vector<gofer::Task<void>> tasks;
  {
    gofer::Runtime rt(GetParam());
    for (std::size_t i = 0; i < 2 * GetParam(); ++i) {
      tasks.push_back(rt.go([never]() mutable { (void)never.recv(); }));
      tasks.push_back(rt.go([] { gofer::sleep_for(std::chrono::hours(1)); }));
    }
  }
  for (auto& t : tasks) {
    EXPECT_THROW(t.wait(), gofer::cancelled);
  }
}

TEST_P(OnRuntime, RequestStopStopsLiveAndLaterTasksWithoutJoining) {
  Watchdog dog;
  gofer::Runtime rt(GetParam());
  gofer::Chan<int> never;
  std::vector<gofer::Task<void>> tasks;
  for (std::size_t i = 0; i < 2 * GetParam(); ++i) {
    tasks.push_back(rt.go([never]() mutable { (void)never.recv(); }));
    tasks.push_back(rt.go([] { gofer::sleep_for(std::chrono::hours(1)); }));
  }
  // From one of its own threads too (shutdown() may not be called there).
  rt.go([&rt] { rt.request_stop(); }).wait();
  for (auto& t : tasks) {
    EXPECT_THROW(t.wait(), gofer::cancelled);
  }
  rt.request_stop();  // idempotent
  EXPECT_THROW(rt.go([] { gofer::sleep_for(std::chrono::hours(1)); }).wait(), gofer::cancelled);
}

// A task that spawns while its Runtime shuts down is being stopped: go() throws
// gofer::cancelled into it (not a logic_error reported as an unobserved exception).
TEST_P(OnRuntime, GoWhileShuttingDownThrowsCancelled) {
  Watchdog dog;
  gofer::Runtime rt(GetParam());
  gofer::Chan<int> started;
  auto spawner = rt.go([&rt, started]() mutable {
    (void)started.send(1);
    for (;;) {
      try {
        gofer::sleep_for(1h);
      } catch (const gofer::cancelled&) {
      }
      rt.go([] {});  // once the inboxes are closed this throws gofer::cancelled
    }
  });
  (void)started.recv();
  rt.shutdown(gofer::shutdown_mode::stop_tasks);
  EXPECT_THROW(spawner.wait(), gofer::cancelled);
}

// Every task stopped by shutdown gets gofer::cancelled from its first Runtime::go, whichever
// thread round-robin picks (not only once every thread's inbox is closed).
TEST_P(OnRuntime, GoFromATaskStoppedByShutdownThrowsCancelledAtOnce) {
  Watchdog dog;
  for (int round = 0; round < 20; ++round) {
    gofer::Runtime rt(GetParam());
    gofer::Chan<int> started = gofer::Chan<int>::unbounded();
    std::atomic<int> refused{0};
    std::atomic<int> accepted{0};
    std::vector<gofer::Task<void>> tasks;
    for (std::size_t i = 0; i < rt.size(); ++i) {
      tasks.push_back(rt.go_on(i, [&, started]() mutable {
        (void)started.send(1);
        try {
          gofer::sleep_for(1h);
        } catch (const gofer::cancelled&) {
        }
        for (std::size_t k = 0; k < 4; ++k) {
          try {
            rt.go([] {});
            ++accepted;
          } catch (const gofer::cancelled&) {
            ++refused;
          }
        }
      }));
    }
    for (std::size_t i = 0; i < rt.size(); ++i) {
      (void)started.recv();
    }
    rt.shutdown(gofer::shutdown_mode::stop_tasks);
    for (auto& t : tasks) {
      t.wait();
    }
    ASSERT_EQ(accepted.load(), 0) << "round " << round;
    ASSERT_EQ(refused.load(), 4 * static_cast<int>(rt.size()));
  }
}

TEST_P(OnRuntime, ShutdownCanStopBlockedTasks) {
  Watchdog dog;
  gofer::Runtime rt(GetParam());
  gofer::Chan<int> never;
  std::vector<gofer::Task<void>> tasks;
  for (std::size_t i = 0; i < 3 * GetParam(); ++i) {
    tasks.push_back(rt.go([never]() mutable { (void)never.recv(); }));
  }
  rt.shutdown(gofer::shutdown_mode::stop_tasks);
  for (auto& t : tasks) {
    EXPECT_THROW(t.wait(), gofer::cancelled);
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, OnRuntime, testing::Values(1, 2, 4));

TEST(Runtime, BadArgumentsThrow) {
  EXPECT_THROW(gofer::Runtime(0), std::invalid_argument);
  gofer::Runtime rt(1);
  EXPECT_THROW(rt.go_on(1, [] {}), std::out_of_range);
  rt.shutdown();
  EXPECT_THROW(rt.go([] {}), std::logic_error);
}

// A shutdown that waits for a task blocked forever says every 5 seconds which task it waits
// for and in what (here until the test closes the channel).
TEST(Runtime, ShutdownReportNamesTheBlockedTaskAndItsWait) {
  Watchdog dog;
  gofer::Runtime rt(1);
  gofer::Chan<int> never;
  gofer::TaskOptions opts;
  opts.name = "stuck-reader";
  auto t = rt.go_on(0, opts, [never]() mutable { (void)never.recv(); });
  testing::internal::CaptureStderr();
  std::thread closer([never]() mutable {
    std::this_thread::sleep_for(5500ms);
    never.close();
  });
  rt.shutdown(gofer::shutdown_mode::wait);
  closer.join();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("shutdown still waiting for 1 task(s)"), std::string::npos) << err;
  EXPECT_NE(err.find("task " + std::to_string(t.id()) + " (stuck-reader): parked in chan " +
                     std::to_string(gofer::chan_state(never).id()) + " receive (capacity 0"),
            std::string::npos)
      << err;
  t.wait();
}

TEST(Runtime, ShutdownFromOwnThreadThrows) {
  Watchdog dog;
  gofer::Runtime rt(1);
  auto t = rt.go([&rt] { rt.shutdown(); });
  EXPECT_THROW(t.wait(), std::logic_error);
}

TEST(Runtime, ExceptionsCrossThreads) {
  gofer::Runtime rt(2);
  auto t = rt.go([]() -> int { throw std::runtime_error("far away"); });
  EXPECT_THROW(t.wait(), std::runtime_error);
}
