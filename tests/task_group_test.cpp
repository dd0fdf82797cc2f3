// task_group_test.cpp: TaskGroup (errgroup semantics, stop flowing through nested groups,
// membership of tasks spawned by members), this_task's stop token, and cancellation points.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <set>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/scale.hpp"
#include "support/task_support.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::TaskGroup;
using gofer::test::Watchdog;

namespace {

// Ended: counts how a task's blocking call ended.
struct Ended {
  std::atomic<int> cancelled{0};
  std::atomic<int> other{0};
};

// park_until_stopped: f() must block until the task is stopped; counts how it ended.
template <class F>
void park_until_stopped(Ended& ended, F f) {
  try {
    f();
    ++ended.other;
  } catch (const gofer::cancelled&) {
    ++ended.cancelled;
    throw;
  }
}

}  // namespace

TEST(TaskGroup, WaitJoinsEveryMember) {
  Watchdog dog;
  std::atomic<int> done{0};
  TaskGroup group;
  for (int i = 0; i < 5; ++i) {
    group.go(
        [&done](int ms) {
          gofer::sleep_for(std::chrono::milliseconds(ms));
          ++done;
        },
        i * 2);
  }
  group.wait();
  EXPECT_EQ(done.load(), 5);
  EXPECT_FALSE(group.stop_requested());
  group.wait();  // nothing left: returns at once
}

TEST(TaskGroup, GoPassesArgumentsAndDropsTheResult) {
  Watchdog dog;
  std::atomic<int> sum{0};
  TaskGroup group;
  group.go([&sum](int a, int b, int c) { return sum += a + b + c; }, 1, 2, 3);
  group.go([&sum](int a, int b, int c, int d) { sum += a + b + c + d; }, 1, 1, 1, 1);
  group.go(gofer::TaskOptions{.name = "named"}, [&sum] { sum += 10; });
  group.wait();
  EXPECT_EQ(sum.load(), 20);
}

// The first error stops the siblings blocked in a channel receive, a sleep and a socket read;
// their gofer::cancelled is no error, and wait() rethrows the first error.
TEST(TaskGroup, FirstErrorStopsSiblingsBlockedInChanSleepAndSocket) {
  Watchdog dog;
  auto listener = gofer::TcpListener::bind("127.0.0.1", 0);
  auto client = gofer::TcpStream::connect("127.0.0.1", listener.local_port());
  auto server = listener.accept();
  gofer::Chan<int> never;
  Ended ended;
  TaskGroup group;
  group.go([&] { park_until_stopped(ended, [&] { (void)never.recv(); }); });
  group.go([&] { park_until_stopped(ended, [] { gofer::sleep_for(1h); }); });
  group.go([&] { park_until_stopped(ended, [&] { (void)client.read_chunk(); }); });
  group.go([] {
    gofer::sleep_for(20ms);  // the others are parked by now
    throw std::runtime_error("boom");
  });
  try {
    group.wait();
    ADD_FAILURE() << "wait() did not rethrow";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "boom");
  }
  EXPECT_EQ(ended.cancelled.load(), 3);
  EXPECT_EQ(ended.other.load(), 0);
  EXPECT_TRUE(group.stop_requested());
  // The error stays: a later wait() reports it again.
  EXPECT_THROW(group.wait(), std::runtime_error);
  // The socket was only interrupted, not broken.
  server.write("after\n");
  EXPECT_EQ(client.read_line(5s), "after");
}

// Several members fail at once: exactly one exception comes out of wait(), one of theirs.
TEST(TaskGroup, SeveralErrorsOneRethrown) {
  Watchdog dog;
  for (std::size_t threads : {0, 2}) {
    std::optional<gofer::Runtime> rt;
    if (threads > 0) {
      rt.emplace(threads);
    }
    gofer::Chan<int> start;
    TaskGroup group;
    for (int i = 0; i < 8; ++i) {
      auto fail = [start, i]() mutable {
        (void)start.recv();
        throw std::runtime_error("member " + std::to_string(i));
      };
      if (rt) {
        group.go(*rt, fail);
      } else {
        group.go(fail);
      }
    }
    start.close();
    int caught = 0;
    try {
      group.wait();
    } catch (const std::runtime_error& e) {
      ++caught;
      EXPECT_EQ(std::string(e.what()).rfind("member ", 0), 0u) << e.what();
    }
    EXPECT_EQ(caught, 1);
  }
}

TEST(TaskGroup, RequestStopEndsBlockedMembersWithoutError) {
  Watchdog dog;
  gofer::Chan<int> never;
  Ended ended;
  TaskGroup group;
  for (int i = 0; i < 4; ++i) {
    group.go([&] { park_until_stopped(ended, [&] { (void)never.recv(); }); });
  }
  gofer::sleep_for(5ms);
  group.request_stop();
  EXPECT_TRUE(group.stop_requested());
  group.wait();  // cancelled members are not errors
  EXPECT_EQ(ended.cancelled.load(), 4);
}

// A member started after the stop starts stopped, as under a cancelled Go context.
TEST(TaskGroup, MemberStartedAfterStopStartsStopped) {
  Watchdog dog;
  TaskGroup group;
  group.request_stop();
  std::atomic<bool> saw_stop{false};
  Ended ended;
  group.go([&] {
    saw_stop = gofer::this_task::stop_requested();
    park_until_stopped(ended, [] { gofer::sleep_for(1h); });
  });
  group.wait();
  EXPECT_TRUE(saw_stop.load());
  EXPECT_EQ(ended.cancelled.load(), 1);
}

TEST(TaskGroup, DestructorStopsAndJoins) {
  Watchdog dog;
  Ended ended;
  std::atomic<int> unwound{0};
  {
    TaskGroup group;
    for (int i = 0; i < 3; ++i) {
      group.go([&] {
        struct Mark {
          std::atomic<int>& n;
          ~Mark() { ++n; }
        } mark{unwound};
        park_until_stopped(ended, [] { gofer::sleep_for(1h); });
      });
    }
    gofer::sleep_for(5ms);
  }
  EXPECT_EQ(unwound.load(), 3);
  EXPECT_EQ(ended.cancelled.load(), 3);
}

TEST(TaskGroup, DestructorReportsAnErrorNoWaitReported) {
  Watchdog dog;
  testing::internal::CaptureStderr();
  {
    TaskGroup group;
    group.go([] { throw std::runtime_error("lost?"); });
    gofer::sleep_for(5ms);
  }
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("lost?"), std::string::npos) << err;

  testing::internal::CaptureStderr();
  {
    TaskGroup group;
    group.go([] { throw std::runtime_error("reported"); });
    EXPECT_THROW(group.wait(), std::runtime_error);
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST(TaskGroup, WaitFromItsOwnMemberThrowsLogicError) {
  Watchdog dog;
  std::atomic<int> refused{0};
  TaskGroup group;
  group.go([&] {
    try {
      group.wait();
    } catch (const std::logic_error&) {
      ++refused;
    }
    auto spawned = gofer::go([&] {  // a member too
      try {
        (void)group.wait(1s);
      } catch (const std::logic_error&) {
        ++refused;
      }
    });
    spawned.wait();
  });
  group.wait();
  EXPECT_EQ(refused.load(), 2);
}

TEST(TaskGroup, WaitWithADeadline) {
  Watchdog dog;
  gofer::Chan<int> release;
  TaskGroup group;
  group.go([release]() mutable { (void)release.recv(); });
  EXPECT_FALSE(group.wait(10ms));
  EXPECT_FALSE(group.stop_requested());  // a timeout stops nothing
  release.close();
  EXPECT_TRUE(group.wait(5s));
}

// A stop flows down two levels of nested groups: outer member -> inner group -> its member
// -> innermost group -> its member.
TEST(TaskGroup, StopIsInheritedThroughTwoLevelsOfGroups) {
  Watchdog dog;
  Ended ended;
  std::atomic<int> inner_waits_cancelled{0};
  TaskGroup outer;
  outer.go([&] {
    TaskGroup inner;
    inner.go([&] {
      TaskGroup innermost;
      innermost.go([&] { park_until_stopped(ended, [] { gofer::sleep_for(1h); }); });
      try {
        innermost.wait();
      } catch (const gofer::cancelled&) {
        ++inner_waits_cancelled;
        throw;
      }
    });
    inner.go([&] { park_until_stopped(ended, [] { gofer::sleep_for(1h); }); });
    try {
      inner.wait();
    } catch (const gofer::cancelled&) {
      ++inner_waits_cancelled;
      throw;
    }
  });
  gofer::sleep_for(10ms);
  outer.request_stop();
  outer.wait();  // every end was a cancellation: no error
  EXPECT_EQ(ended.cancelled.load(), 2);
  EXPECT_EQ(inner_waits_cancelled.load(), 2);
}

// The same across threads: the outer group's members run on a Runtime, a failure deep down
// stops everything.
TEST(TaskGroup, ErrorDeepDownStopsEveryLevelAcrossThreads) {
  Watchdog dog;
  gofer::Runtime rt(2);
  Ended ended;
  TaskGroup outer;
  outer.go_on(rt, 0, [&] {
    TaskGroup inner;
    inner.go_on(rt, 1, [&] { park_until_stopped(ended, [] { gofer::sleep_for(1h); }); });
    inner.go([&] { park_until_stopped(ended, [] { gofer::sleep_for(1h); }); });
    inner.wait();
  });
  outer.go_on(rt, 1, [] {
    gofer::sleep_for(10ms);
    throw std::logic_error("deep");
  });
  EXPECT_THROW(outer.wait(), std::logic_error);
  EXPECT_EQ(ended.cancelled.load(), 2);
}

// A group created in a plain task is stopped when that task is.
TEST(TaskGroup, GroupIsStoppedWithTheTaskThatCreatedIt) {
  Watchdog dog;
  Ended ended;
  auto owner = gofer::go([&] {
    TaskGroup group;
    group.go([&] { park_until_stopped(ended, [] { gofer::sleep_for(1h); }); });
    group.wait();
  });
  gofer::sleep_for(5ms);
  owner.request_stop();
  EXPECT_THROW(owner.wait(), gofer::cancelled);
  EXPECT_EQ(ended.cancelled.load(), 1);

  // Created by a task already stopped: stopped from the start.
  auto late = gofer::go([] {
    try {
      gofer::sleep_for(1h);
    } catch (const gofer::cancelled&) {
    }
    TaskGroup group;
    return group.stop_requested();
  });
  late.request_stop();
  EXPECT_TRUE(late.wait());
}

// wait() in a stopped task that did not create the group still stops and joins it.
TEST(TaskGroup, StoppedWaiterStopsTheGroupAndStillJoins) {
  Watchdog dog;
  Ended ended;
  TaskGroup group;  // made in plain code
  group.go([&] { park_until_stopped(ended, [] { gofer::sleep_for(1h); }); });
  auto waiter = gofer::go([&] { group.wait(); });
  gofer::sleep_for(5ms);
  waiter.request_stop();
  EXPECT_THROW(waiter.wait(), gofer::cancelled);
  EXPECT_EQ(ended.cancelled.load(), 1);  // joined before wait() threw
  EXPECT_TRUE(group.stop_requested());
}

// A task spawned with gofer::go inside a member belongs to the group: joined and stopped.
TEST(TaskGroup, TaskSpawnedByAMemberBelongsToTheGroup) {
  Watchdog dog;
  std::atomic<bool> grandchild_done{false};
  {
    TaskGroup group;
    group.go([&] {
      (void)gofer::go([&] {  // its Task is dropped: only the group joins it
        gofer::sleep_for(30ms);
        grandchild_done = true;
      });
    });
    group.wait();
    EXPECT_TRUE(grandchild_done.load());
  }

  Ended ended;
  TaskGroup group;
  group.go([&] {
    auto t = gofer::go([&] { park_until_stopped(ended, [] { gofer::sleep_for(1h); }); });
    gofer::sleep_for(1h);
  });
  gofer::sleep_for(5ms);
  group.request_stop();
  group.wait();
  EXPECT_EQ(ended.cancelled.load(), 1);
}

// ...but one spawned elsewhere explicitly (a Runtime, another group) does not.
TEST(TaskGroup, TaskSpawnedElsewhereExplicitlyIsNotAMember) {
  Watchdog dog;
  gofer::Runtime rt(1);
  gofer::Chan<int> release;
  std::optional<gofer::Task<void>> on_runtime;
  TaskGroup other;
  TaskGroup group;
  group.go([&] {
    on_runtime.emplace(rt.go([release]() mutable { (void)release.recv(); }));
    other.go([release]() mutable { (void)release.recv(); });
  });
  EXPECT_TRUE(group.wait(5s));  // does not wait for either
  group.request_stop();
  EXPECT_FALSE(other.stop_requested());
  release.close();
  on_runtime->wait();
  other.wait();
}

// An exception of a task spawned by a member stays with its Task handle.
TEST(TaskGroup, SpawnedTaskKeepsItsOwnException) {
  Watchdog dog;
  TaskGroup group;
  std::atomic<bool> caught{false};
  group.go([&] {
    auto t = gofer::go([] { throw std::runtime_error("mine"); });
    try {
      t.wait();
    } catch (const std::runtime_error&) {
      caught = true;
    }
  });
  group.wait();  // no error: the member handled it
  EXPECT_TRUE(caught.load());
}

TEST(TaskGroup, MembersOnBothRuntimeThreads) {
  Watchdog dog;
  gofer::Runtime rt(2);
  std::mutex mu;
  std::set<std::thread::id> seen;
  TaskGroup group;
  for (std::size_t i = 0; i < 2; ++i) {
    group.go_on(rt, i, [&] {
      gofer::sleep_for(1ms);
      std::lock_guard lk(mu);
      seen.insert(std::this_thread::get_id());
    });
  }
  for (int i = 0; i < 4; ++i) {
    group.go(rt, [&] {
      std::lock_guard lk(mu);
      seen.insert(std::this_thread::get_id());
    });
  }
  group.wait();
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen.count(std::this_thread::get_id()), 0u);

  EXPECT_THROW(group.go_on(rt, 2, [] {}), std::out_of_range);
  group.wait();  // the refused member left no trace
}

// A failure on one Runtime thread stops a sibling blocked on the other; waited from a task.
TEST(TaskGroup, FailureOnOneThreadStopsSiblingOnTheOther) {
  Watchdog dog;
  gofer::Runtime rt(2);
  Ended ended;
  auto waiter = gofer::go([&] {
    gofer::Chan<int> never;
    TaskGroup group;
    group.go_on(rt, 0, [&] { park_until_stopped(ended, [&] { (void)never.recv(); }); });
    group.go_on(rt, 1, [] {
      gofer::sleep_for(10ms);
      throw std::runtime_error("thread 1");
    });
    group.wait();
  });
  EXPECT_THROW(waiter.wait(), std::runtime_error);
  EXPECT_EQ(ended.cancelled.load(), 1);
}

// A member spawned on a Runtime that is shutting down is refused with gofer::cancelled, and
// the group does not wait for it.
TEST(TaskGroup, GoOnARuntimeShuttingDownThrowsCancelled) {
  Watchdog dog;
  TaskGroup group;
  std::atomic<int> refused{0};
  {
    gofer::Runtime rt(1);
    gofer::Chan<int> started;
    auto spawner = rt.go([&, started]() mutable {
      (void)started.send(1);
      try {
        gofer::sleep_for(1h);
      } catch (const gofer::cancelled&) {
      }
      try {
        group.go(rt, [] {});
      } catch (const gofer::cancelled&) {
        ++refused;
      }
    });
    (void)started.recv();
    rt.shutdown(gofer::shutdown_mode::stop_tasks);
    spawner.wait();
  }
  EXPECT_EQ(refused.load(), 1);
  EXPECT_TRUE(group.wait(5s));
}

TEST(TaskGroup, TenThousandMembers) {
  Watchdog dog;
  const int n = 10'000 / gofer::test::sanitizer_scale;
  std::atomic<int> ran{0};
  {
    gofer::Chan<int> start;
    TaskGroup group;
    for (int i = 0; i < n; ++i) {
      group.go([&ran, start]() mutable {
        (void)start.recv();
        ++ran;
      });
    }
    gofer::sleep_for(1ms);
    start.close();
    group.wait();
    EXPECT_EQ(ran.load(), n);
  }
  // All parked, then stopped at once; each with a std::stop_callback (a stop_source each).
  Ended ended;
  std::atomic<int> callbacks{0};
  TaskGroup group;
  gofer::Runtime rt(2);
  for (int i = 0; i < n; ++i) {
    group.go(rt, [&] {
      std::stop_callback cb(gofer::this_task::stop_token(), [&callbacks] { ++callbacks; });
      park_until_stopped(ended, [] { gofer::sleep_for(1h); });
    });
  }
  gofer::sleep_for(20ms);
  group.request_stop();
  group.wait();
  EXPECT_EQ(ended.cancelled.load(), n);
  EXPECT_EQ(callbacks.load(), n);
}

TEST(ThisTask, StopTokenAndStopCallback) {
  Watchdog dog;
  gofer::Runtime rt(2);
  std::atomic<int> called{0};
  std::atomic<bool> token_stopped{false};
  gofer::Chan<int> registered;
  auto t = rt.go_on(0, [&, registered]() mutable {
    std::stop_token token = gofer::this_task::stop_token();
    EXPECT_TRUE(token.stop_possible());
    EXPECT_FALSE(token.stop_requested());
    EXPECT_FALSE(gofer::this_task::stop_requested());
    std::stop_callback cb(token, [&] { ++called; });
    (void)registered.send(1);
    // A loop that never blocks in gofer: it polls the std::stop_token.
    while (!token.stop_requested()) {
      std::this_thread::sleep_for(100us);
    }
    token_stopped = gofer::this_task::stop_requested();
    EXPECT_EQ(gofer::this_task::stop_token().stop_requested(), true);  // the same source
  });
  (void)registered.recv();
  // Requested from a task on the other Runtime thread: the callback runs there, at once.
  rt.go_on(1, [&] { t.request_stop(); }).wait();
  EXPECT_EQ(called.load(), 1);
  t.wait();
  EXPECT_TRUE(token_stopped.load());
}

TEST(ThisTask, StopTokenAfterTheStopIsAlreadyStopped) {
  Watchdog dog;
  auto t = gofer::go([] {
    try {
      gofer::sleep_for(1h);
    } catch (const gofer::cancelled&) {
    }
    int called = 0;
    std::stop_callback cb(gofer::this_task::stop_token(), [&] { ++called; });
    return called;  // runs at once, in the constructor
  });
  t.request_stop();
  EXPECT_EQ(t.wait(), 1);
}

TEST(ThisTask, PlainCodeHasNothingToStop) {
  EXPECT_FALSE(gofer::this_task::stop_requested());
  const std::stop_token token = gofer::this_task::stop_token();
  EXPECT_FALSE(token.stop_possible());
  EXPECT_FALSE(token.stop_requested());
}

// A busy loop that only yields ends on a stop requested from another Runtime thread.
TEST(CancellationPoint, YieldBusyLoopStoppedFromAnotherThread) {
  Watchdog dog;
  gofer::Runtime rt(2);
  std::atomic<long> spins{0};
  auto busy = rt.go_on(0, [&] {
    for (;;) {
      ++spins;
      gofer::yield();
    }
  });
  while (spins.load() < 100) {
    std::this_thread::sleep_for(100us);
  }
  rt.go_on(1, [&] { busy.request_stop(); }).wait();
  EXPECT_THROW(busy.wait(), gofer::cancelled);

  // On the waiting thread itself, through a group.
  TaskGroup group;
  group.go([] {
    for (;;) {
      gofer::yield();
    }
  });
  group.go([&] {
    for (int i = 0; i < 10; ++i) {
      gofer::yield();
    }
    group.request_stop();
  });
  group.wait();
}

TEST(CancellationPoint, SleepForZeroThrowsOnceStopped) {
  Watchdog dog;
  std::atomic<long> spins{0};
  auto busy = gofer::go([&] {
    for (;;) {
      ++spins;
      gofer::sleep_for(0s);
    }
  });
  while (spins.load() < 10) {
    gofer::yield();
  }
  busy.request_stop();
  EXPECT_THROW(busy.wait(), gofer::cancelled);
}
