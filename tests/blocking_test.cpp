#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
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

namespace {

// Gate: a plain-thread latch the blocking jobs sleep on (they are OS threads, not tasks).
class Gate {
 public:
  void open() {
    std::lock_guard g(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void pass() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [this] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// LimitGuard: restores the pool limit a test changed.
struct LimitGuard {
  std::size_t saved = gofer::blocking_pool_limit();
  ~LimitGuard() { gofer::set_blocking_pool_limit(saved); }
};

}  // namespace

TEST(SpawnBlocking, ReturnsTheResultToAPlainThread) {
  Watchdog dog;
  auto t = gofer::spawn_blocking([](int a, std::string b) { return b + std::to_string(a); }, 7,
                                 std::string("x"));
  EXPECT_EQ(t.wait(), "x7");
}

TEST(SpawnBlocking, RunsOffTheSchedulerThread) {
  Watchdog dog;
  const auto here = std::this_thread::get_id();
  auto where = gofer::go_and_wait(
      [] { return gofer::spawn_blocking([] { return std::this_thread::get_id(); }).wait(); });
  EXPECT_NE(where, here);
}

TEST(SpawnBlocking, PropagatesExceptions) {
  Watchdog dog;
  auto t = gofer::go([] {
    return gofer::spawn_blocking([]() -> int { throw std::runtime_error("disk on fire"); }).wait();
  });
  try {
    t.wait();
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "disk on fire");
  }
}

TEST(SpawnBlocking, OtherTasksKeepRunningWhileJobsBlock) {
  Watchdog dog;
  const int jobs = 1000 / gofer::test::sanitizer_scale;
  Gate gate;
  std::atomic<long> ticks{0};
  gofer::with_event_loop([&] {
    // The jobs cannot finish before the ticker, a task of this thread, has ticked 20 times:
    // if a job blocked the scheduler thread, this would deadlock (and the watchdog fire).
    auto ticker = gofer::go([&] {
      while (ticks.load() < 20) {
        ++ticks;
        gofer::sleep_for(100us);
      }
      gate.open();
    });
    std::vector<gofer::Task<int>> waiters;
    for (int i = 0; i < jobs; ++i) {
      waiters.push_back(gofer::go([i, &gate] {
        return gofer::spawn_blocking([i, &gate] {
                 gate.pass();  // blocks its pool thread
                 return i;
               })
            .wait();
      }));
    }
    for (int i = 0; i < jobs; ++i) {
      EXPECT_EQ(waiters[static_cast<std::size_t>(i)].wait(), i);
    }
    ticker.wait();
  });
  auto failing = gofer::spawn_blocking([]() -> int { throw std::out_of_range("job 7"); });
  EXPECT_THROW(failing.wait(), std::out_of_range);
}

TEST(SpawnBlocking, GrowsUpToTheLimitAndQueuesBeyond) {
  Watchdog dog;
  LimitGuard guard;
  gofer::set_blocking_pool_limit(3);
  Gate gate;
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  std::vector<gofer::Task<int>> jobs;
  for (int i = 0; i < 12; ++i) {
    jobs.push_back(gofer::spawn_blocking([&, i] {
      const int now = ++running;
      int seen = peak.load();
      while (now > seen && !peak.compare_exchange_weak(seen, now)) {
      }
      gate.pass();
      --running;
      return i;
    }));
  }
  while (peak.load() < 3) {
    std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(peak.load(), 3);
  EXPECT_LE(gofer::blocking_pool_threads(), 3u);
  gate.open();
  auto results = gofer::wait_all(jobs);
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(results[static_cast<std::size_t>(i)], i);
  }
  EXPECT_EQ(peak.load(), 3);
}

TEST(SpawnBlocking, ARejectedLimitSaysWhy) {
  try {
    gofer::set_blocking_pool_limit(0);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("set_blocking_pool_limit"), std::string::npos);
  }
}

TEST(SpawnBlocking, WaitForTimesOutAndTheResultStaysAvailable) {
  Watchdog dog;
  Gate gate;
  auto t = gofer::spawn_blocking([&] {
    gate.pass();
    return 5;
  });
  EXPECT_FALSE(t.wait(2ms).has_value());
  gate.open();
  EXPECT_EQ(t.wait(), 5);
}

TEST(SpawnBlocking, StopBeforeItRunsSkipsTheJob) {
  Watchdog dog;
  LimitGuard guard;
  gofer::set_blocking_pool_limit(1);
  Gate gate;
  auto first = gofer::spawn_blocking([&] { gate.pass(); });
  std::atomic<bool> ran{false};
  auto second = gofer::spawn_blocking([&] { ran = true; });
  second.request_stop();
  gate.open();
  first.wait();
  EXPECT_THROW(second.wait(), gofer::cancelled);
  EXPECT_FALSE(ran.load());
}

TEST(SpawnBlocking, AStoppedWaiterIsCancelledButTheJobCompletes) {
  Watchdog dog;
  Gate gate;
  std::atomic<bool> finished{false};
  auto job = gofer::spawn_blocking([&] {
    gate.pass();
    finished = true;
  });
  gofer::with_event_loop([&] {
    auto waiter = gofer::go([&] { job.wait(); });
    gofer::sleep_for(1ms);
    waiter.request_stop();
    EXPECT_THROW(waiter.wait(), gofer::cancelled);
  });
  gate.open();
  while (!finished.load()) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_TRUE(job.wait(5s));
}

TEST(SpawnBlocking, WakesTasksOnEveryRuntimeThread) {
  Watchdog dog;
  gofer::Runtime rt(2);
  std::vector<gofer::Task<int>> tasks;
  for (int i = 0; i < 40; ++i) {
    tasks.push_back(rt.go([i] {
      int sum = 0;
      for (int k = 0; k < 5; ++k) {
        sum += gofer::spawn_blocking([i, k] { return i + k; }).wait();
      }
      return sum;
    }));
  }
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(tasks[static_cast<std::size_t>(i)].wait(), 5 * i + 10);
  }
}
