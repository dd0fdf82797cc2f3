// watchdog.hpp: turns a hung test into a fast failure.
//
// A Watchdog started at the top of a concurrency test aborts the process with the test's name
// if it is still alive after `limit`, so a deadlock fails in seconds instead of eating the CI
// budget (CTest's per-test TIMEOUT is the second line of defence).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

namespace gofer::test {

class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds limit = std::chrono::seconds(30)) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::snprintf(name_, sizeof name_, "%s.%s", info ? info->test_suite_name() : "?",
                  info ? info->name() : "?");
    thread_ = std::thread([this, limit] {
      std::unique_lock lk(mu_);
      if (!cv_.wait_for(lk, limit, [this] { return done_; })) {
        std::fprintf(stderr, "watchdog: %s still running after %llds: aborting\n", name_,
                     static_cast<long long>(limit.count()));
        std::abort();
      }
    });
  }
  ~Watchdog() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  char name_[256] = {};
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace gofer::test
