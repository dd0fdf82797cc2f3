// placement_test: the main primitives working together, on a plain thread and on Runtimes of
// 1, 2 and 4 threads, each test checked for leaked task stacks (support/fixtures.hpp).
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/fixtures.hpp"
#include "support/scale.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::test::OnEveryPlacement;
using gofer::test::Watchdog;

namespace {
constexpr std::int64_t messages = 20'000 / gofer::test::sanitizer_scale;
}  // namespace

TEST_P(OnEveryPlacement, ChanManyToManyDeliversEveryValueOnce) {
  Watchdog dog;
  for (std::size_t capacity : {0, 1, 64}) {
    gofer::Chan<std::int64_t> ch(capacity);
    std::atomic<int> producers_left{4};
    std::vector<gofer::Task<void>> producers;
    std::vector<gofer::Task<std::int64_t>> consumers;
    for (int p = 0; p < 4; ++p) {
      producers.push_back(spawn([ch, p, &producers_left]() mutable {
        for (std::int64_t i = p; i < messages; i += 4) {
          EXPECT_TRUE(ch.send(i));
        }
        if (--producers_left == 0) {
          ch.close();
        }
      }));
    }
    for (int c = 0; c < 3; ++c) {
      consumers.push_back(spawn([ch]() mutable {
        std::int64_t sum = 0;
        for (std::int64_t v : ch) {
          sum += v;
        }
        return sum;
      }));
    }
    gofer::wait_all(producers);
    std::int64_t total = 0;
    for (std::int64_t s : gofer::wait_all(consumers)) {
      total += s;
    }
    EXPECT_EQ(total, messages * (messages - 1) / 2) << "capacity " << capacity;
  }
}

TEST_P(OnEveryPlacement, SelectFansInFromSeveralThreads) {
  Watchdog dog;
  gofer::Chan<int> a(4);
  gofer::Chan<int> b;
  gofer::Chan<int> done;
  auto feeder = [](gofer::Chan<int> ch, int n) {
    for (int i = 1; i <= n; ++i) {
      EXPECT_TRUE(ch.send(i));
    }
    ch.close();
  };
  const int n = static_cast<int>(messages / 4);
  auto fa = spawn([=] { feeder(a, n); });
  auto fb = spawn([=] { feeder(b, n); });
  auto collector = spawn([a, b]() mutable {
    long sum = 0;
    int open = 2;
    // A drained channel is swapped for one nobody sends on (Go's nil-channel idiom).
    auto take = [&](gofer::Chan<int>& ch) {
      return [&](std::optional<int> v) {
        if (v) {
          sum += *v;
        } else {
          --open;
          ch = gofer::Chan<int>();
        }
      };
    };
    while (open > 0) {
      gofer::select(gofer::on_recv(a, take(a)), gofer::on_recv(b, take(b)));
    }
    return sum;
  });
  fa.wait();
  fb.wait();
  EXPECT_EQ(collector.wait(), 2L * n * (n + 1) / 2);
}

TEST_P(OnEveryPlacement, WaitGroupAndMutexAcrossTasks) {
  Watchdog dog;
  gofer::WaitGroup wg;
  gofer::Mutex mu;
  long counter = 0;  // guarded by mu
  std::vector<gofer::Task<void>> tasks;
  for (int t = 0; t < 8; ++t) {
    wg.add();
    tasks.push_back(spawn([&] {
      for (int i = 0; i < 200; ++i) {
        std::lock_guard g(mu);
        ++counter;
        if (i % 50 == 0) {
          gofer::yield();  // hold the lock across a switch now and then
        }
      }
      wg.done();
    }));
  }
  wg.wait();
  std::lock_guard g(mu);
  EXPECT_EQ(counter, 8 * 200);
  gofer::wait_all(tasks);
}

TEST_P(OnEveryPlacement, SpawnBlockingResultsReachTheirTasks) {
  Watchdog dog;
  std::vector<gofer::Task<int>> tasks;
  for (int t = 0; t < 16; ++t) {
    tasks.push_back(spawn([t] {
      int sum = 0;
      for (int k = 0; k < 4; ++k) {
        sum += gofer::spawn_blocking([t, k] { return t * k; }).wait();
      }
      return sum;
    }));
  }
  for (int t = 0; t < 16; ++t) {
    EXPECT_EQ(tasks[static_cast<std::size_t>(t)].wait(), t * 6);
  }
}

TEST_P(OnEveryPlacement, ExceptionsAndCancellationReachTheWaiter) {
  Watchdog dog;
  auto failing = spawn([]() -> int { throw std::runtime_error("boom"); });
  EXPECT_THROW(failing.wait(), std::runtime_error);
  gofer::Chan<int> never;
  auto blocked = spawn([never]() mutable { return never.recv(); });
  EXPECT_FALSE(blocked.wait(1ms).has_value());
  blocked.request_stop();
  EXPECT_THROW(blocked.wait(), gofer::cancelled);
}

INSTANTIATE_TEST_SUITE_P(Placements, OnEveryPlacement, testing::Values(0, 1, 2, 4),
                         gofer::test::placement_name);
