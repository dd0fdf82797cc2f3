#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/scale.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::test::Watchdog;

TEST(WaitGroup, WaitReturnsAtOnceAtZero) {
  gofer::WaitGroup wg;
  wg.wait();
  EXPECT_TRUE(wg.wait(0ms));
  EXPECT_EQ(wg.count(), 0);
}

TEST(WaitGroup, WaitsForTasksOnSeveralThreads) {
  Watchdog dog;
  gofer::Runtime rt(2);
  gofer::WaitGroup wg;
  std::atomic<int> finished{0};
  for (int i = 0; i < 50; ++i) {
    wg.add();
    rt.go([&wg, &finished, i] {
      gofer::sleep_for(std::chrono::microseconds(100 * (i % 5)));
      ++finished;
      wg.done();
    });
  }
  wg.wait();  // a plain thread blocks here
  EXPECT_EQ(finished.load(), 50);
}

TEST(WaitGroup, TaskWaitsForPlainThreads) {
  Watchdog dog;
  gofer::WaitGroup wg(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&wg] {
      std::this_thread::sleep_for(1ms);
      wg.done();
    });
  }
  auto t = gofer::go([&wg] {
    wg.wait();
    return wg.count();
  });
  EXPECT_EQ(t.wait(), 0);
  for (auto& th : threads) {
    th.join();
  }
}

TEST(WaitGroup, TimedWaitTimesOutWhileCountIsPositive) {
  Watchdog dog;
  gofer::WaitGroup wg(1);
  EXPECT_FALSE(wg.wait(2ms));
  wg.done();
  EXPECT_TRUE(wg.wait(2ms));
}

TEST(WaitGroup, NegativeCounterThrowsAndLeavesCountUnchanged) {
  gofer::WaitGroup wg(1);
  EXPECT_THROW(wg.add(-2), std::logic_error);
  EXPECT_EQ(wg.count(), 1);
  EXPECT_THROW(gofer::WaitGroup(-1), std::invalid_argument);
}

TEST(WaitGroup, RequestStopWakesWaiter) {
  Watchdog dog;
  gofer::WaitGroup wg(1);
  auto t = gofer::go([&wg] { wg.wait(); });
  gofer::yield();
  t.request_stop();
  EXPECT_THROW(t.wait(), gofer::cancelled);
  wg.done();
}

TEST(Semaphore, TryAcquireCountsPermits) {
  gofer::Semaphore s(2);
  EXPECT_TRUE(s.try_acquire());
  EXPECT_TRUE(s.try_acquire());
  EXPECT_FALSE(s.try_acquire());
  s.release(2);
  EXPECT_EQ(s.available(), 2);
}

TEST(Semaphore, BadCountsThrowInvalidArgument) {
  EXPECT_THROW(gofer::Semaphore(-1), std::invalid_argument);
  gofer::Semaphore s(0);
  EXPECT_THROW(s.release(-1), std::invalid_argument);
}

TEST(Semaphore, TimedAcquireTimesOutAndTakesNothing) {
  Watchdog dog;
  gofer::Semaphore s(0);
  EXPECT_FALSE(s.acquire(2ms));
  s.release();
  EXPECT_EQ(s.available(), 1);
  EXPECT_TRUE(s.acquire(2ms));
  EXPECT_EQ(s.available(), 0);
}

TEST(Semaphore, ReleaseHandsPermitToParkedTask) {
  Watchdog dog;
  gofer::Semaphore s(0);
  auto t = gofer::go([&s] {
    s.acquire();
    return s.available();
  });
  gofer::yield();  // t parks
  s.release();
  EXPECT_EQ(t.wait(), 0);  // the permit went to t, not back to the count
}

TEST(Semaphore, BoundsConcurrencyAcrossThreads) {
  Watchdog dog;
  gofer::Runtime rt(2);
  gofer::Semaphore slots(3);
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::vector<gofer::Task<void>> tasks;
  const int n = 200 / gofer::test::sanitizer_scale;
  for (int i = 0; i < n; ++i) {
    tasks.push_back(rt.go([&] {
      slots.acquire();
      const int now = ++inside;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      gofer::sleep_for(50us);
      --inside;
      slots.release();
    }));
  }
  std::thread plain([&] {
    for (int i = 0; i < n / 4; ++i) {
      slots.acquire();  // a plain thread competes too
      const int now = ++inside;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      --inside;
      slots.release();
    }
  });
  gofer::wait_all(tasks);
  plain.join();
  EXPECT_LE(most.load(), 3);
  EXPECT_GE(most.load(), 1);
  EXPECT_EQ(slots.available(), 3);
}

TEST(Semaphore, RequestStopWakesAcquirerWithoutTakingAPermit) {
  Watchdog dog;
  gofer::Semaphore s(0);
  auto t = gofer::go([&s] { s.acquire(); });
  gofer::yield();
  t.request_stop();
  EXPECT_THROW(t.wait(), gofer::cancelled);
  s.release();
  EXPECT_EQ(s.available(), 1);
}

TEST(Mutex, ExcludesTasksOnSeveralThreadsAndPlainThreads) {
  Watchdog dog;
  gofer::Runtime rt(2);
  gofer::Mutex m;
  long counter = 0;  // guarded by m only: TSan checks the exclusion
  const int rounds = 2000 / gofer::test::sanitizer_scale;
  std::vector<gofer::Task<void>> tasks;
  for (int t = 0; t < 4; ++t) {
    tasks.push_back(rt.go([&] {
      for (int i = 0; i < rounds; ++i) {
        std::lock_guard lock(m);
        ++counter;
        if (i % 64 == 0) {
          gofer::yield();  // hold the lock across a switch: others must park
        }
      }
    }));
  }
  std::thread plain([&] {
    for (int i = 0; i < rounds; ++i) {
      std::lock_guard lock(m);
      ++counter;
    }
  });
  gofer::wait_all(tasks);
  plain.join();
  std::lock_guard lock(m);
  EXPECT_EQ(counter, 5L * rounds);
}

TEST(Mutex, TryLockAndTimedLock) {
  Watchdog dog;
  gofer::Mutex m;
  EXPECT_TRUE(m.try_lock());
  EXPECT_FALSE(m.try_lock());
  auto t = gofer::go([&m] { return m.lock(2ms); });
  EXPECT_FALSE(t.wait());
  auto u = gofer::go([&m] { return m.lock(std::chrono::steady_clock::now() + 1.5ms); });
  EXPECT_FALSE(u.wait());
  // TimedLockable: std::unique_lock's timed constructors call try_lock_for / try_lock_until.
  auto v = gofer::go([&m] { return std::unique_lock(m, 2ms).owns_lock(); });
  EXPECT_FALSE(v.wait());
  m.unlock();
  EXPECT_TRUE(m.lock(2ms));
  m.unlock();
  {
    std::unique_lock held(m, std::chrono::steady_clock::now() + 2ms);
    EXPECT_TRUE(held.owns_lock());
  }
  EXPECT_TRUE(m.try_lock());
  m.unlock();
}

TEST(Mutex, UnlockOfUnlockedMutexThrows) {
  gofer::Mutex m;
  EXPECT_THROW(m.unlock(), std::logic_error);
}

// As in Go, a Mutex belongs to no task: one task locks it, another (on another thread)
// unlocks it, and a parked locker gets it.
TEST(Mutex, AnotherTaskMayUnlockIt) {
  Watchdog dog;
  gofer::Runtime rt(2);
  gofer::Mutex m;
  rt.go_on(0, [&m] { m.lock(); }).wait();
  auto locker = rt.go_on(0, [&m] {
    m.lock();
    m.unlock();
    return true;
  });
  rt.go_on(1, [&m] { m.unlock(); }).wait();
  EXPECT_TRUE(locker.wait());
  EXPECT_TRUE(m.try_lock());
  m.unlock();
}

TEST(Mutex, RequestStopWakesLockerWithoutGivingItTheLock) {
  Watchdog dog;
  gofer::Mutex m;
  m.lock();
  auto t = gofer::go([&m] { std::lock_guard lock(m); });
  gofer::yield();
  t.request_stop();
  EXPECT_THROW(t.wait(), gofer::cancelled);
  m.unlock();
  EXPECT_TRUE(m.try_lock());  // nobody else holds it
  m.unlock();
}

TEST(CondVar, ProducerConsumerAcrossThreads) {
  Watchdog dog;
  gofer::Runtime rt(2);
  gofer::Mutex m;
  gofer::CondVar cv;
  std::vector<int> queue;
  bool finished = false;
  const int n = 1000 / gofer::test::sanitizer_scale;
  auto consumer = rt.go_on(1, [&] {
    long sum = 0;
    std::unique_lock lock(m);
    for (;;) {
      cv.wait(lock, [&] { return !queue.empty() || finished; });
      if (queue.empty()) {
        return sum;
      }
      sum += queue.back();
      queue.pop_back();
    }
  });
  rt.go_on(0, [&] {
    for (int i = 1; i <= n; ++i) {
      {
        std::lock_guard lock(m);
        queue.push_back(i);
      }
      cv.notify_one();
    }
    std::lock_guard lock(m);
    finished = true;
    cv.notify_all();
  });
  EXPECT_EQ(consumer.wait(), static_cast<long>(n) * (n + 1) / 2);
}

TEST(CondVar, TimedWaitReturnsTimeoutHoldingTheMutex) {
  Watchdog dog;
  gofer::Mutex m;
  gofer::CondVar cv;
  std::unique_lock lock(m);
  EXPECT_FALSE(cv.wait(lock, 2ms));
  EXPECT_TRUE(lock.owns_lock());
  EXPECT_FALSE(m.try_lock());
  EXPECT_FALSE(cv.wait(
      lock, [] { return false; }, 1ms));
  EXPECT_FALSE(cv.wait(
      lock, [] { return false; }, std::chrono::steady_clock::now() + 1ms));
  EXPECT_TRUE(cv.wait(
      lock, [] { return true; }, 0ms));  // a true predicate needs no wait
}

TEST(CondVar, CancelledWaitStillHoldsTheMutex) {
  Watchdog dog;
  gofer::Mutex m;
  gofer::CondVar cv;
  auto t = gofer::go([&] {
    std::unique_lock lock(m);
    try {
      cv.wait(lock);
    } catch (const gofer::cancelled&) {
      return lock.owns_lock() && !m.try_lock();
    }
    return false;
  });
  gofer::yield();
  t.request_stop();
  EXPECT_TRUE(t.wait());
  EXPECT_TRUE(m.try_lock());  // released by the task's unique_lock
  m.unlock();
}

TEST(CondVar, NotifyAllWakesEveryWaiter) {
  Watchdog dog;
  gofer::Mutex m;
  gofer::CondVar cv;
  bool go = false;
  int woke = 0;
  std::vector<gofer::Task<void>> tasks;
  for (int i = 0; i < 5; ++i) {
    tasks.push_back(gofer::go([&] {
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return go; });
      ++woke;
    }));
  }
  gofer::yield();
  {
    std::lock_guard lock(m);
    go = true;
  }
  cv.notify_all();
  gofer::wait_all(tasks);
  EXPECT_EQ(woke, 5);
}

TEST(CondVar, WaitWithoutHoldingTheLockThrows) {
  gofer::Mutex m;
  gofer::CondVar cv;
  std::unique_lock lock(m, std::defer_lock);
  EXPECT_THROW(cv.wait(lock), std::logic_error);
}
