// stack_pool_test.cpp: task stacks: pooling and reuse, sizes, guard regions, the mapping budget
// and canary stacks, the depot's slabs and trimming, and the overflow reports (death tests).
#include "stack_pool.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/fiber/fiber.hpp>
#include <gtest/gtest.h>

#include <gofer/chan.hpp>
#include <gofer/task.hpp>
#include <gofer/time.hpp>

#include "stack_depot.hpp"
#include "support/scale.hpp"

namespace gofer::detail {
namespace {

using boost::context::stack_context;

// small_stack is the size of the tests that want guarded stacks. Tests that make canary stacks
// use sizes of their own (canary_stack, budget_stack), since the depot hands released stacks of
// either kind to any later allocation of the same size.
constexpr std::size_t small_stack = std::size_t{64} * 1024;
constexpr std::size_t canary_stack = std::size_t{68} * 1024;
constexpr std::size_t budget_stack = std::size_t{60} * 1024;

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
// The range is widened to whole pages (a canary stack's ends are not page aligned).
long resident_pages(std::uintptr_t addr, std::size_t len) {
  const std::uintptr_t end = (addr + len + page() - 1) & ~(page() - 1);
  addr &= ~(page() - 1);
  len = end - addr;
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

// resident_stack_pages: resident pages of a stack's usable part, without the page a canary
// stack's lowest 32 bytes share with its guard region.
long resident_stack_pages(const stack_context& sctx) {
  const bool canary = is_canary_stack(reinterpret_cast<std::uintptr_t>(sctx.sp));
  return resident_pages(low_end(sctx) + (canary ? canary_bytes : 0), sctx.size);
}

// guarded_budget: the formula of stack_pool.hpp, (vm.max_map_count - 16384) / 2. A TSan build
// uses a smaller budget, so this bounds it too.
std::size_t guarded_budget() {
  long limit = 65530;
  std::ifstream("/proc/sys/vm/max_map_count") >> limit;
  return limit > 16384 ? static_cast<std::size_t>(limit - 16384) / 2 : 0;
}

// CanarySlabs: while alive, new slabs are canary slabs (the test hook of stack_depot.hpp).
struct CanarySlabs {
  CanarySlabs() { force_canary_slabs(true); }
  ~CanarySlabs() { force_canary_slabs(false); }
  CanarySlabs(const CanarySlabs&) = delete;
  CanarySlabs& operator=(const CanarySlabs&) = delete;
};

// allocate_canary: a canary stack of canary_stack bytes from a fresh canary slab.
stack_context allocate_canary() {
  CanarySlabs canary;
  stack_context sctx = StackPool::local().allocate(canary_stack);
  EXPECT_TRUE(is_canary_stack(reinterpret_cast<std::uintptr_t>(sctx.sp)));
  return sctx;
}

// map_count: the number of mappings of this process (lines of /proc/self/maps).
std::size_t map_count() {
  std::ifstream maps("/proc/self/maps");
  std::size_t n = 0;
  for (std::string line; std::getline(maps, line);) {
    ++n;
  }
  return n;
}

// touch: dirties the top page of a stack, as a task running on it would.
void touch(const stack_context& sctx) {
  *reinterpret_cast<volatile char*>(reinterpret_cast<std::uintptr_t>(sctx.sp) - 64) = 1;
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

TEST(StackPool, GuardRegionIsProtNoneAndCoversSixtyFourKiB) {
  on_fresh_thread([] {
    stack_context sctx = StackPool::local().allocate(small_stack);
    ASSERT_FALSE(is_canary_stack(reinterpret_cast<std::uintptr_t>(sctx.sp)));
    const std::uintptr_t low = low_end(sctx);
    ASSERT_GE(guard_bytes(), std::size_t{64} * 1024 + page());
    EXPECT_EQ(mapping_perms(low - 1), "---p");
    EXPECT_EQ(mapping_perms(low - guard_bytes()), "---p");
    EXPECT_EQ(mapping_perms(low), "rw-p");
    EXPECT_EQ(mapping_perms(reinterpret_cast<std::uintptr_t>(sctx.sp) - 1), "rw-p");
    StackPool::local().deallocate(sctx);
  });
}

TEST(StackPool, CanaryStackHasAnUntouchedGuardRegionOfItsOwn) {
  on_fresh_thread([] {
    CanarySlabs canary;
    stack_context below = StackPool::local().allocate(canary_stack);
    stack_context sctx = StackPool::local().allocate(canary_stack);
    ASSERT_TRUE(is_canary_stack(reinterpret_cast<std::uintptr_t>(sctx.sp)));
    const std::uintptr_t low = low_end(sctx);
    EXPECT_TRUE(guard_untouched(low));
    EXPECT_EQ(slot_base(reinterpret_cast<std::uintptr_t>(sctx.sp), sctx.size),
              low + canary_bytes - guard_bytes());
    // Carved in order: the stack below ends where this one's guard region begins.
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(below.sp) + canary_bytes,
              low + canary_bytes - guard_bytes());
    EXPECT_EQ(mapping_perms(low - 1), "rw-p");
    StackPool::local().deallocate(sctx);
    StackPool::local().deallocate(below);
  });
}

TEST(StackPool, UntouchedStackCostsNoResidentMemory) {
  on_fresh_thread([] {
    stack_context sctx = StackPool::local().allocate(small_stack);
    EXPECT_EQ(resident_stack_pages(sctx), 0);
    StackPool::local().deallocate(sctx);
  });
}

TEST(StackPool, StackReleasedOnAnotherThreadJoinsThatPoolAndGoesToTheDepotAtItsExit) {
  const std::size_t guarded_before = live_guarded_stacks();
  stack_context sctx = StackPool::local().allocate(small_stack);
  ASSERT_EQ(live_guarded_stacks(), guarded_before + 1) << "expected a guarded stack";
  touch(sctx);
  on_fresh_thread([&] {
    StackPool::local().deallocate(sctx);
    EXPECT_EQ(StackPool::local().cached(), 1u);
    EXPECT_EQ(StackPool::local().allocate(small_stack).sp, sctx.sp);
    StackPool::local().deallocate(sctx);
  });
  EXPECT_EQ(live_guarded_stacks(), guarded_before);
  // The exited thread gave it to the depot: still mapped, with its guard region, and its pages
  // dropped once trimmed.
  trim_stacks_now();
  EXPECT_EQ(resident_stack_pages(sctx), 0);
  EXPECT_EQ(mapping_perms(low_end(sctx) - 1), "---p");
}

TEST(StackPool, EndedBurstGivesItsMemoryBack) {
  on_fresh_thread([] {
    constexpr std::size_t count = 3000;
    std::vector<stack_context> held;
    held.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      held.push_back(StackPool::local().allocate(small_stack));
      touch(held.back());
    }
    for (stack_context& sctx : held) {
      StackPool::local().deallocate(sctx);
    }
    trim_stacks_now();
    long resident = 0;
    for (const stack_context& sctx : held) {
      resident += resident_stack_pages(sctx);
    }
    // Only the stacks this thread caches keep the page their last user touched.
    EXPECT_LE(resident, static_cast<long>(StackPool::local().cached()));
    EXPECT_EQ(StackPool::local().cached(), 1024u);
  });
}

TEST(StackPool, SteadyStateMakesNoMappings) {
  on_fresh_thread([] {
    constexpr std::size_t count = 3000;
    std::vector<stack_context> held;
    held.reserve(count);
    auto round = [&] {
      for (std::size_t i = 0; i < count; ++i) {
        held.push_back(StackPool::local().allocate(small_stack));
      }
      for (stack_context& sctx : held) {
        StackPool::local().deallocate(sctx);
      }
      held.clear();
    };
    round();
    trim_stacks_now();
    const std::size_t maps = map_count();
    const std::size_t slots = guarded_slots();
    round();
    round();
    EXPECT_EQ(guarded_slots(), slots);
    // Sanitizer runtimes map memory of their own as threads and allocations come and go.
    if (gofer::test::sanitizer_scale == 1) {
      EXPECT_EQ(map_count(), maps);
    }
  });
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
      held.push_back(StackPool::local().allocate(budget_stack));
    }
    const std::size_t guarded = live_guarded_stacks() - guarded_before;
    const std::size_t canary = live_canary_stacks() - canary_before;
    EXPECT_LE(live_guarded_stacks(), guarded_budget());
    EXPECT_EQ(guarded + canary, count);
    EXPECT_GE(canary, count > guarded_budget() ? count - guarded_budget() : 0);

    // Canary stacks start with an untouched guard region.
    if (canary > 0) {
      EXPECT_TRUE(guard_untouched(low_end(held.back())));
    }
    for (stack_context& sctx : held) {
      StackPool::local().deallocate(sctx);
    }
    EXPECT_EQ(live_guarded_stacks(), guarded_before);
    EXPECT_EQ(live_canary_stacks(), canary_before);
  });
}

TEST(StackPool, HoldsOneMillionStacksWithinTheMappingBudget) {
  on_fresh_thread([] {
    const std::size_t count = 1'000'000 / static_cast<std::size_t>(gofer::test::sanitizer_scale);
    constexpr std::size_t tiny_stack = std::size_t{16} * 1024;
    const std::size_t live_before = live_guarded_stacks() + live_canary_stacks();
    std::vector<stack_context> held;
    held.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      held.push_back(StackPool::local().allocate(tiny_stack));
    }
    EXPECT_EQ(live_guarded_stacks() + live_canary_stacks(), live_before + count);
    EXPECT_LE(guarded_slots(), guarded_budget());
    EXPECT_LT(map_count(), 65530u - 8192u);
    for (stack_context& sctx : held) {
      StackPool::local().deallocate(sctx);
    }
    EXPECT_EQ(live_guarded_stacks() + live_canary_stacks(), live_before);
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

TEST(StackPoolDeathTest, TouchedCanaryGuardRegionIsReportedAsOverflow) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        const stack_context victim = allocate_canary();
        EXPECT_TRUE(guard_untouched(low_end(victim)));
        set_running_stack(&victim, 42, nullptr);
        *reinterpret_cast<volatile std::uint64_t*>(low_end(victim) + 8 - 8192) = 0;
        check_finished_stack();
      },
      "gofer: stack overflow in task 42\n");
}

TEST(StackPoolDeathTest, TouchedCanaryGuardRegionIsReportedOnRelease) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        stack_context victim = allocate_canary();
        *reinterpret_cast<volatile std::uint64_t*>(low_end(victim)) = 0;
        StackPool::local().deallocate(victim);
      },
      "gofer: stack overflow in a finished task");
}

// Frames larger than the stack (item 4 of the trust issue): a 70 KiB frame on a 64 KiB stack
// stays inside the guard region and is reported without touching the stack below; a 128 KiB
// frame on a 16 KiB stack is reported with the task's id and name. On guarded stacks the fault
// reports it (the clash-protection probes, or the first write into the guard region); on canary
// stacks the switch check does (the stack pointer is below the stack).

constexpr unsigned char neighbour_fill = 0x5a;
constexpr std::size_t neighbour_bytes = 4096;

// say_and_exit: ends the death test's child with a message the expected one does not match.
[[noreturn]] void say_and_exit(const char* what) {
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, what, std::strlen(what));
  ::_exit(3);
}

// big_frame: a frame of Bytes bytes, every byte written, then a task switch while it is live.
// When `neighbour` is given (a buffer near the top of the stack below), it must be intact.
template <std::size_t Bytes>
[[gnu::noinline]] void big_frame(const volatile unsigned char* neighbour) {
  volatile unsigned char frame[Bytes];
  for (std::size_t i = 0; i < Bytes; ++i) {
    frame[i] = 0xa5;
  }
  for (std::size_t i = 0; neighbour != nullptr && i < neighbour_bytes; ++i) {
    if (neighbour[i] != neighbour_fill) {
      say_and_exit("the stack below was overwritten\n");
    }
  }
  gofer::yield();
  if (frame[0] == 0xa5) {
    say_and_exit("the overflow went unreported\n");
  }
}

// overflow_in_task: on this thread's scheduler, a task on a `stack`-byte stack named
// "big-frame" that runs big_frame<Bytes>. With `with_neighbour`, a task spawned just before it
// (so on the stack just below, the slab being fresh in the death test's child) fills a buffer
// and parks; the overflowing task checks that buffer.
template <std::size_t Bytes>
void overflow_in_task(std::size_t stack, bool canary, bool with_neighbour) {
  force_canary_slabs(canary);
  gofer::Chan<int> park;
  std::atomic<const volatile unsigned char*> buffer{nullptr};
  std::optional<gofer::Task<void>> below;
  if (with_neighbour) {
    below.emplace(gofer::go(gofer::TaskOptions{.name = "below", .stack_size = stack}, [&] {
      volatile unsigned char mine[neighbour_bytes];
      for (auto& b : mine) {
        b = neighbour_fill;
      }
      buffer = mine;
      park.recv();
    }));
    gofer::yield();
  }
  auto task = gofer::go(gofer::TaskOptions{.name = "big-frame", .stack_size = stack}, [&] {
    const auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    const auto there = reinterpret_cast<std::uintptr_t>(buffer.load());
    if (with_neighbour && (there > here || here - there > stack + guard_bytes() + 8192)) {
      say_and_exit("the neighbour is not on the stack below\n");
    }
    big_frame<Bytes>(buffer.load());
  });
  task.wait();
}

constexpr const char* big_frame_report = "gofer: stack overflow in task [0-9]+ \\(big-frame\\)";

TEST(StackPoolDeathTest, FrameOf70KiBOn64KiBGuardedStackIsReportedAndSparesTheStackBelow) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(overflow_in_task<70 * 1024>(small_stack, false, true), big_frame_report);
}

TEST(StackPoolDeathTest, FrameOf70KiBOn64KiBCanaryStackIsReportedAndSparesTheStackBelow) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(overflow_in_task<70 * 1024>(small_stack, true, true), big_frame_report);
}

TEST(StackPoolDeathTest, FrameOf128KiBOn16KiBGuardedStackIsReportedWithIdAndName) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(overflow_in_task<128 * 1024>(16 * 1024, false, false), big_frame_report);
}

TEST(StackPoolDeathTest, FrameOf128KiBOn16KiBCanaryStackIsReportedWithIdAndName) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(overflow_in_task<128 * 1024>(16 * 1024, true, false), big_frame_report);
}

}  // namespace
}  // namespace gofer::detail
