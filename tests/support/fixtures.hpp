// fixtures.hpp: run a test on every placement a user can pick, with a leak check on teardown.
//
// OnEveryPlacement is parameterized over where the test's tasks run: the test's own thread
// (plain code driving its scheduler while it waits), or a Runtime of 1, 2 or 4 threads.
// Tests spawn through spawn(), which places tasks accordingly, and wait from the test thread.
// TearDown() checks that every task stack taken during the test was given back (stacks of
// finished tasks are released lazily by the scheduler, so it lets the loop run for up to a few
// seconds before it fails).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "stack_pool.hpp"

namespace gofer::test {

class OnEveryPlacement : public testing::TestWithParam<std::size_t> {
 protected:
  void SetUp() override {
    stacks_before_ = live_stacks();
    if (GetParam() > 0) {
      rt_.emplace(GetParam());
    }
  }

  void TearDown() override {
    rt_.reset();  // joins the threads: their tasks' stacks are released
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (live_stacks() > stacks_before_ && std::chrono::steady_clock::now() < deadline) {
      gofer::sleep_for(std::chrono::milliseconds(1));  // lets this thread reap finished tasks
    }
    // LE, not EQ: a stack an earlier test's task left for lazy release may go meanwhile.
    EXPECT_LE(live_stacks(), stacks_before_) << "task stacks leaked";
  }

  // spawn: f as a task on this test's placement.
  template <class F>
  auto spawn(F&& f) {
    return rt_ ? rt_->go(std::forward<F>(f)) : gofer::go(std::forward<F>(f));
  }

  // threads: how many scheduler threads the tasks run on.
  std::size_t threads() const { return rt_ ? rt_->size() : 1; }

 private:
  static std::size_t live_stacks() {
    return detail::live_guarded_stacks() + detail::live_canary_stacks();
  }

  std::size_t stacks_before_ = 0;
  std::optional<gofer::Runtime> rt_;
};

// placement_name: "PlainThread", "Runtime1", ... for INSTANTIATE_TEST_SUITE_P.
inline std::string placement_name(const testing::TestParamInfo<std::size_t>& info) {
  return info.param == 0 ? "PlainThread" : "Runtime" + std::to_string(info.param);
}

}  // namespace gofer::test
