// stack_pool_test.cpp: task stacks: pooling and reuse, sizes, guard pages, the mapping budget
// and canary stacks, and the overflow reports (death tests).
#include "stack_pool.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/fiber/fiber.hpp>
#include <gtest/gtest.h>

#include "support/scale.hpp"

namespace gofer::detail {
namespace {

using boost::context::stack_context;

constexpr std::size_t small_stack = std::size_t{64} * 1024;

std::size_t page() {
  return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

std::uintptr_t low_end(const stack_context& sctx) {
  return reinterpret_cast<std::uintptr_t>(sctx.sp) - sctx.size;
}

// on_fresh_thread: runs fn on a new thread, whose pool starts empty and is retired when it exits.
void on_fresh_thread(const std::function<void()>& fn) {
  std::thread(fn).join();
}

// mapping_perms: the permissions ("rw-p", "---p" …) of the /proc/self/maps line holding addr.
std::string mapping_perms(std::uintptr_t addr) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::uintptr_t begin = 0;
    std::uintptr_t end = 0;
    char dash = 0;
    std::string perms;
    fields >> std::hex >> begin >> dash >> end >> perms;
    if (begin <= addr && addr < end) {
      return perms;
    }
  }
  return "";
}

// resident_pages: how many pages of [addr, addr + len) are resident; -1 when some are unmapped.
long resident_pages(std::uintptr_t addr, std::size_t len) {
  std::vector<unsigned char> vec(len / page());
  if (::mincore(reinterpret_cast<void*>(addr), len, vec.data()) != 0) {
    return errno == ENOMEM ? -1 : -2;
  }
  long n = 0;
  for (const unsigned char v : vec) {
    n += v & 1;
  }
  return n;
}

// guarded_budget: the formula of stack_pool.hpp, (vm.max_map_count - 16384) / 2. A TSan build
// uses a smaller budget, so this bounds it too.
std::size_t guarded_budget() {
  long limit = 65530;
  std::ifstream("/proc/sys/vm/max_map_count") >> limit;
  return limit > 16384 ? static_cast<std::size_t>(limit - 16384) / 2 : 0;
}

// allocate_until_canary: allocates small stacks into `held` until the pool hands out a canary
// stack (past the guarded budget, at most budget + 1 allocations); returns that one.
stack_context allocate_until_canary(std::vector<stack_context>& held) {
  const std::size_t canary_before = live_canary_stacks();
  while (live_canary_stacks() == canary_before) {
    held.push_back(StackPool::local().allocate(small_stack));
  }
  return held.back();
}

// recurse: unbounded recursion (stop_depth is never reached) that the compiler can't turn into a
// loop, since each frame's buffer is used after the call.
volatile int stop_depth = -1;
int recurse(int depth) {
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  if (depth == stop_depth) {
    return 0;
  }
  return recurse(depth + 1) + frame[0];
}

// run_overflowing_fiber: a real fiber on PooledStack(64 KiB) that installs the handler, names
// itself task `id` and recurses until it overflows. The fiber's stack is known in advance
// because the pool is LIFO: the stack released just before is the one the fiber gets.
void run_overflowing_fiber(std::uint64_t id, const char* name) {
  PooledStack stacks(small_stack);
  stack_context probe = stacks.allocate();
  stacks.deallocate(probe);
  boost::fibers::fiber fiber(std::allocator_arg, stacks, [&] {
    const int local = 0;
    const auto here = reinterpret_cast<std::uintptr_t>(&local);
    if (here >= reinterpret_cast<std::uintptr_t>(probe.sp) || here < low_end(probe)) {
      std::abort();  // not on the predicted stack: the death test then fails on the message
    }
    install_overflow_handler();
    set_running_stack(&probe, id, name);
    recurse(0);
  });
  fiber.join();
}

TEST(StackPool, ReusesReleasedStacks) {
  on_fresh_thread([] {
    StackPool& pool = StackPool::local();
    stack_context first = pool.allocate(small_stack);
    EXPECT_EQ(first.size, small_stack);
    EXPECT_EQ(pool.cached(), 0u);
    pool.deallocate(first);
    EXPECT_EQ(pool.cached(), 1u);
    stack_context again = pool.allocate(small_stack);
    EXPECT_EQ(again.sp, first.sp);
    EXPECT_EQ(pool.cached(), 0u);
    stack_context other = pool.allocate(small_stack);
    EXPECT_NE(other.sp, first.sp);
    pool.deallocate(again);
    pool.deallocate(other);
    EXPECT_EQ(pool.cached(), 2u);
  });
}

TEST(StackPool, CountsLiveStacks) {
  on_fresh_thread([] {
    const std::size_t before = live_guarded_stacks() + live_canary_stacks();
    stack_context a = StackPool::local().allocate(small_stack);
    stack_context b = StackPool::local().allocate(small_stack);
    EXPECT_EQ(live_guarded_stacks() + live_canary_stacks(), before + 2);
    StackPool::local().deallocate(a);
    StackPool::local().deallocate(b);
    EXPECT_EQ(live_guarded_stacks() + live_canary_stacks(), before);
  });
}

TEST(StackPool, RoundsSizesUpToWholePages) {
  on_fresh_thread([] {
    stack_context sctx = StackPool::local().allocate(100'000);
    EXPECT_EQ(sctx.size % page(), 0u);
    EXPECT_GE(sctx.size, 100'000u);
    EXPECT_LT(sctx.size, 100'000u + page());
    StackPool::local().deallocate(sctx);
  });
}

TEST(StackPool, DefaultStackSizeIsRoundedAndUsedByPooledStack) {
  EXPECT_EQ(get_default_stack_size(), default_stack_size);
  set_default_stack_size(100'000);
  const std::size_t rounded = get_default_stack_size();
  EXPECT_EQ(rounded % page(), 0u);
  EXPECT_GE(rounded, 100'000u);
  PooledStack stacks;
  stack_context sctx = stacks.allocate();
  EXPECT_EQ(sctx.size, rounded);
  stacks.deallocate(sctx);
  set_default_stack_size(default_stack_size);
  EXPECT_EQ(get_default_stack_size(), default_stack_size);
}

TEST(StackPool, RejectsSizesOutOfRange) {
  EXPECT_THROW(set_default_stack_size((std::size_t{16} * 1024) - 1), std::invalid_argument);
  EXPECT_THROW(set_default_stack_size((std::size_t{1} << 30) + 1), std::invalid_argument);
  EXPECT_THROW(StackPool::local().allocate(0), std::invalid_argument);
  EXPECT_THROW(PooledStack(4096).allocate(), std::invalid_argument);
  try {
    set_default_stack_size(8192);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("gofer::set_stack_size: 8192 bytes is too small"), std::string::npos)
        << what;
    EXPECT_NE(what.find("16 KiB"), std::string::npos) << what;
  }
  EXPECT_EQ(get_default_stack_size(), default_stack_size);
  EXPECT_NO_THROW(set_default_stack_size(std::size_t{16} * 1024));
  EXPECT_NO_THROW(set_default_stack_size(std::size_t{1} << 30));
  set_default_stack_size(default_stack_size);
}

TEST(StackPool, GuardPageIsProtNone) {
  on_fresh_thread([] {
    const std::size_t guarded_before = live_guarded_stacks();
    stack_context sctx = StackPool::local().allocate(small_stack);
    ASSERT_EQ(live_guarded_stacks(), guarded_before + 1) << "expected a guarded stack";
    const std::uintptr_t low = low_end(sctx);
    EXPECT_EQ(mapping_perms(low - page()), "---p");
    EXPECT_EQ(mapping_perms(low), "rw-p");
    EXPECT_EQ(mapping_perms(reinterpret_cast<std::uintptr_t>(sctx.sp) - 1), "rw-p");
    StackPool::local().deallocate(sctx);
  });
}

TEST(StackPool, UntouchedStackCostsNoResidentMemory) {
  on_fresh_thread([] {
    stack_context sctx = StackPool::local().allocate(small_stack);
    EXPECT_EQ(resident_pages(low_end(sctx), sctx.size), 0);
    StackPool::local().deallocate(sctx);
  });
}

TEST(StackPool, StackReleasedOnAnotherThreadJoinsThatPoolAndIsUnmappedAtItsExit) {
  const std::size_t guarded_before = live_guarded_stacks();
  stack_context sctx = StackPool::local().allocate(small_stack);
  ASSERT_EQ(live_guarded_stacks(), guarded_before + 1) << "expected a guarded stack";
  const std::uintptr_t mapping = low_end(sctx) - page();
  on_fresh_thread([&] {
    StackPool::local().deallocate(sctx);
    EXPECT_EQ(StackPool::local().cached(), 1u);
    EXPECT_EQ(StackPool::local().allocate(small_stack).sp, sctx.sp);
    StackPool::local().deallocate(sctx);
  });
  EXPECT_EQ(live_guarded_stacks(), guarded_before);
  // Sanitizer runtimes map their own memory when threads come and go and may take the freed
  // range at once, so under them only the counter above is checked.
  if (gofer::test::sanitizer_scale == 1) {
    EXPECT_EQ(resident_pages(mapping, small_stack + page()), -1) << "still mapped";
  }
}

TEST(StackPool, BoundsTheCachePerThread) {
  on_fresh_thread([] {
    std::vector<stack_context> held;
    held.reserve(1100);
    for (int i = 0; i < 1100; ++i) {
      held.push_back(StackPool::local().allocate(small_stack));
    }
    for (stack_context& sctx : held) {
      StackPool::local().deallocate(sctx);
    }
    // 1024 stacks of 64 KiB: the count limit is reached long before the 1 GiB one.
    EXPECT_EQ(StackPool::local().cached(), 1024u);
  });
}

TEST(StackPool, FiberRunsOnThePooledStack) {
  on_fresh_thread([] {
    PooledStack stacks(small_stack);
    stack_context probe = stacks.allocate();
    stacks.deallocate(probe);
    std::uintptr_t local_address = 0;
    boost::fibers::fiber fiber(std::allocator_arg, stacks, [&] {
      int local = 0;
      local_address = reinterpret_cast<std::uintptr_t>(&local);
    });
    fiber.join();
    EXPECT_LT(local_address, reinterpret_cast<std::uintptr_t>(probe.sp));
    EXPECT_GE(local_address, low_end(probe));
  });
}

TEST(StackPool, HoldsOneHundredThousandStacksWithinTheMappingBudget) {
  on_fresh_thread([] {
    constexpr std::size_t count = 100'000;
    const std::size_t guarded_before = live_guarded_stacks();
    const std::size_t canary_before = live_canary_stacks();
    std::vector<stack_context> held;
    held.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      held.push_back(StackPool::local().allocate(small_stack));
    }
    const std::size_t guarded = live_guarded_stacks() - guarded_before;
    const std::size_t canary = live_canary_stacks() - canary_before;
    EXPECT_LE(live_guarded_stacks(), guarded_budget());
    EXPECT_EQ(guarded + canary, count);
    EXPECT_GE(canary, count > guarded_budget() ? count - guarded_budget() : 0);

    // A canary stack with its canary intact passes the check.
    const stack_context& last = held.back();
    if (canary > 0) {
      set_running_stack(&last, 7, "intact");
      check_running_stack();
      clear_running_stack();
    }
    for (stack_context& sctx : held) {
      StackPool::local().deallocate(sctx);
    }
    EXPECT_EQ(live_guarded_stacks(), guarded_before);
    EXPECT_EQ(live_canary_stacks(), canary_before);
  });
}

TEST(StackPoolDeathTest, GuardPageOverflowNamesTheTask) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(run_overflowing_fiber(42, nullptr), "gofer: stack overflow in task 42\n");
  EXPECT_DEATH(run_overflowing_fiber(43, "parser"),
               "gofer: stack overflow in task 43 \\(parser\\)");
}

// A fault outside the running task's guard page keeps the behaviour it had before: the default
// action (killed by SIGSEGV, not our abort), or the sanitizer's report when one handles faults.
TEST(StackPoolDeathTest, OtherFaultsGoToThePreviousHandler) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto fault_elsewhere = [] {
    install_overflow_handler();
    const stack_context sctx = StackPool::local().allocate(small_stack);
    set_running_stack(&sctx, 42, nullptr);
    void* page_none = ::mmap(nullptr, page(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *static_cast<volatile char*>(page_none) = 1;
  };
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  EXPECT_DEATH(fault_elsewhere(), "Sanitizer: SEGV");
#else
  EXPECT_EXIT(fault_elsewhere(), testing::KilledBySignal(SIGSEGV), "");
#endif
}

TEST(StackPoolDeathTest, BrokenCanaryIsReportedAsOverflow) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        std::vector<stack_context> held;
        const stack_context victim = allocate_until_canary(held);
        set_running_stack(&victim, 42, nullptr);
        check_running_stack();  // intact: returns
        *reinterpret_cast<volatile std::uint64_t*>(low_end(victim) + 8) = 0;
        check_running_stack();
      },
      "gofer: stack overflow in task 42\n");
}

TEST(StackPoolDeathTest, BrokenCanaryIsReportedOnRelease) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        std::vector<stack_context> held;
        stack_context victim = allocate_until_canary(held);
        *reinterpret_cast<volatile std::uint64_t*>(low_end(victim)) = 0;
        StackPool::local().deallocate(victim);
      },
      "gofer: stack overflow in a finished task");
}

}  // namespace
}  // namespace gofer::detail
