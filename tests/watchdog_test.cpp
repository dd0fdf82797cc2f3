// watchdog_test.cpp: the stall and deadlock reports of the watchdog (debug.hpp).
//
// Stall tests run in this process and read the report from stderr (GoogleTest's capture) and
// the report counter. Deadlock tests that must deadlock, or need a thread that never had a
// scheduler, run in a child (a death test re-executes this binary with the test's filter, so
// the child's main thread starts clean) and check its stderr and exit; a child ends with
// std::_Exit, since Runtime threads may still run there. The other deadlock
// tests run here, with the main thread parked in gofer, so that only the condition under test
// stands between the program and a report.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "activity.hpp"
#include "deadlock.hpp"
#include "stall.hpp"

using namespace std::chrono_literals;

// gofer_test_spin_for: busy for `d` without yielding; exported (ENABLE_EXPORTS) and not
// inlined, so a backtrace names it.
extern "C" [[gnu::noinline]] void gofer_test_spin_for(long ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    asm volatile("" ::: "memory");
  }
}

namespace {

// Settings: sets the watchdog for one test and restores the suite's settings after it.
class Settings {
 public:
  Settings(std::chrono::milliseconds threshold, std::chrono::milliseconds grace,
           gofer::deadlock_action action)
      : threshold_(gofer::stall_threshold()),
        grace_(gofer::deadlock_grace()),
        action_(gofer::get_deadlock_action()) {
    gofer::set_stall_threshold(threshold);
    gofer::set_deadlock_grace(grace);
    gofer::set_deadlock_action(action);
  }
  ~Settings() {
    gofer::set_stall_threshold(threshold_);
    gofer::set_deadlock_grace(grace_);
    gofer::set_deadlock_action(action_);
  }
  Settings(const Settings&) = delete;
  Settings& operator=(const Settings&) = delete;

 private:
  std::chrono::milliseconds threshold_;
  std::chrono::milliseconds grace_;
  gofer::deadlock_action action_;
};

// count_of: how many times `what` occurs in `text`.
std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

class DeadlockWatchdog : public testing::Test {
 protected:
  static void SetUpTestSuite() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

}  // namespace

TEST(StallWatchdog, SpinningTaskIsReportedOnceWithItsBacktrace) {
  Settings s(100ms, 1000ms, gofer::deadlock_action::abort);
  gofer::Runtime rt(1);
  const auto before = gofer::detail::stall_reports();
  testing::internal::CaptureStderr();
  const int line = __LINE__ + 1;
  auto t = rt.go_on(0, gofer::TaskOptions{"spinner"}, [] { gofer_test_spin_for(300); });
  t.wait();
  gofer::sleep_for(50ms);  // a report in flight is printed by now
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(gofer::detail::stall_reports() - before, 1u) << err;
  const std::string head = "gofer: task " + std::to_string(t.id()) + " (spinner) created at " +
                           std::string(__FILE__) + ":" + std::to_string(line) + " has run ";
  EXPECT_EQ(count_of(err, head), 1u) << err;
  EXPECT_NE(err.find("ms without yielding on scheduler "), std::string::npos) << err;
  EXPECT_NE(err.find("(thread \"gofer-rt-0\", tid "), std::string::npos) << err;
  EXPECT_NE(err.find("backtrace of thread"), std::string::npos) << err;
  EXPECT_NE(err.find(" in gofer_test_spin_for+0x"), std::string::npos) << err;
  EXPECT_EQ(err.find("blocked in system call"), std::string::npos) << err;
}

TEST(StallWatchdog, BlockingSleepInATaskNamesTheSystemCall) {
  Settings s(100ms, 1000ms, gofer::deadlock_action::abort);
  gofer::Runtime rt(1);
  const auto before = gofer::detail::stall_reports();
  testing::internal::CaptureStderr();
  auto t = rt.go_on(0, gofer::TaskOptions{"sleeper"}, [] { ::usleep(300'000); });
  const auto start = std::chrono::steady_clock::now();
  t.wait();
  const auto slept = std::chrono::steady_clock::now() - start;
  gofer::sleep_for(50ms);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(gofer::detail::stall_reports() - before, 1u) << err;
  EXPECT_NE(err.find("(sleeper)"), std::string::npos) << err;
  const bool named =
      err.find("it is blocked in system call nanosleep (") != std::string::npos ||
      err.find("it is blocked in system call clock_nanosleep (") != std::string::npos;
  EXPECT_TRUE(named) << err;
  EXPECT_NE(err.find("use gofer::sleep_for / gofer I/O or spawn_blocking"), std::string::npos)
      << err;
  EXPECT_GE(slept, 290ms) << "the report cut the sleep short";
}

TEST(StallWatchdog, TaskThatYieldsEveryMillisecondIsNotReported) {
  Settings s(100ms, 1000ms, gofer::deadlock_action::abort);
  gofer::Runtime rt(1);
  const auto before = gofer::detail::stall_reports();
  rt.go_on(0, [] {
      const auto end = std::chrono::steady_clock::now() + 300ms;
      while (std::chrono::steady_clock::now() < end) {
        gofer_test_spin_for(1);
        gofer::yield();
      }
    }).wait();
  gofer::sleep_for(50ms);
  EXPECT_EQ(gofer::detail::stall_reports() - before, 0u);
}

TEST(StallWatchdog, ZeroThresholdTurnsReportsOff) {
  Settings s(0ms, 1000ms, gofer::deadlock_action::abort);
  EXPECT_EQ(gofer::stall_threshold(), 0ms);
  gofer::Runtime rt(1);
  const auto before = gofer::detail::stall_reports();
  rt.go_on(0, [] { gofer_test_spin_for(300); }).wait();
  gofer::sleep_for(50ms);
  EXPECT_EQ(gofer::detail::stall_reports() - before, 0u);
}

TEST(StallWatchdog, NegativeSettingsThrow) {
  EXPECT_THROW(gofer::set_stall_threshold(-1ms), std::invalid_argument);
  EXPECT_THROW(gofer::set_deadlock_grace(-1ms), std::invalid_argument);
}

TEST_F(DeadlockWatchdog, ReceiveNobodySendsToIsReportedWithTheDump) {
  EXPECT_EXIT(
      {
        gofer::set_deadlock_grace(200ms);
        gofer::set_deadlock_action(gofer::deadlock_action::report);
        gofer::Chan<int> ch;
        auto t = gofer::go(gofer::TaskOptions{"receiver"}, [ch]() mutable { (void)ch.recv(); });
        // A plain thread gofer cannot see ends the deadlock after the report.
        std::thread closer([ch]() mutable {
          std::this_thread::sleep_for(1s);
          ch.close();
        });
        t.wait();
        closer.join();
        std::_Exit(gofer::detail::deadlock_reports() == 1 ? 0 : 1);
      },
      testing::ExitedWithCode(0),
      "gofer: all tasks are asleep: deadlock\\?\n.*task [0-9]+ \"receiver\" \\[parked "
      "[^]]*\\]: chan [0-9]+ receive");
}

TEST_F(DeadlockWatchdog, AbortActionAborts) {
  EXPECT_DEATH(
      {
        gofer::set_deadlock_grace(200ms);
        gofer::set_deadlock_action(gofer::deadlock_action::abort);
        gofer::Chan<int> ch;
        gofer::go([ch]() mutable { (void)ch.recv(); }).wait();
      },
      "gofer: all tasks are asleep: deadlock\\?");
}

TEST_F(DeadlockWatchdog, RuntimeOwnerThatComputesIsNotReported) {
  // The main thread owns the Runtime and computes, then sends. (It counts as busy twice over:
  // as the Runtime's owner, and through the scheduler the Runtime's channels installed on it,
  // which is not idle while main runs plain code.)
  EXPECT_EXIT(
      {
        gofer::set_deadlock_grace(200ms);
        gofer::set_deadlock_action(gofer::deadlock_action::abort);
        gofer::Runtime rt(1);
        gofer::Chan<int> ch;
        auto t = rt.go([ch]() mutable { return ch.recv().value_or(0); });
        gofer_test_spin_for(1500);
        (void)ch.send(7);
        std::_Exit(t.wait() == 7 ? 0 : 1);
      },
      testing::ExitedWithCode(0), "");
}

TEST_F(DeadlockWatchdog, IdleRuntimeAndServerWaitingForWorkAreNotReported) {
  // Only the service rule stands between this program and a report: the Runtime and the server
  // are made on a thread that then exits (so no thread of the program has a scheduler that is
  // busy), the Runtime's owner record is dropped, and the server is started from a Runtime
  // task (its Runtime's owner is an asleep scheduler thread). Main has no scheduler.
  EXPECT_EXIT(
      {
        gofer::set_deadlock_grace(200ms);
        gofer::set_deadlock_action(gofer::deadlock_action::abort);
        std::thread maker([] {
          auto* rt = new gofer::Runtime(2);  // leaked: the child ends with _Exit
          gofer::detail::forget_runtime_owner(rt);
          auto* srv = new gofer::ThreadServer<int>("idle-server");
          srv->on<int>([](int) {});
          std::promise<void> started;
          rt->go([&] {
            srv->start();
            started.set_value();
          });
          started.get_future().wait();
        });
        maker.join();
        std::this_thread::sleep_for(800ms);
        std::_Exit(gofer::detail::deadlock_reports() == 0 ? 0 : 1);
      },
      testing::ExitedWithCode(0), "");
}

TEST(DeadlockWatchdogHere, ArmedTimerPreventsAReport) {
  Settings s(500ms, 200ms, gofer::deadlock_action::report);
  const auto before = gofer::detail::deadlock_reports();
  gofer::go([] { gofer::sleep_for(800ms); }).wait();
  EXPECT_EQ(gofer::detail::deadlock_reports() - before, 0u);
}

TEST(DeadlockWatchdogHere, WatchedFdPreventsAReport) {
  Settings s(500ms, 200ms, gofer::deadlock_action::report);
  const auto before = gofer::detail::deadlock_reports();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  gofer::File in = gofer::File::from_fd(fds[0], "pipe");
  std::thread writer([w = fds[1]] {
    std::this_thread::sleep_for(800ms);
    EXPECT_EQ(::write(w, "x", 1), 1);
    ::close(w);
  });
  auto t = gofer::go([&in] { return in.read_chunk(); });
  EXPECT_EQ(t.wait(), "x");
  writer.join();
  EXPECT_EQ(gofer::detail::deadlock_reports() - before, 0u);
}

TEST(DeadlockWatchdogHere, RunningBlockingJobPreventsAReport) {
  Settings s(500ms, 200ms, gofer::deadlock_action::report);
  const auto before = gofer::detail::deadlock_reports();
  auto job = gofer::spawn_blocking([] {
    std::this_thread::sleep_for(800ms);
    return 5;
  });
  EXPECT_EQ(job.wait(), 5);
  EXPECT_EQ(gofer::detail::deadlock_reports() - before, 0u);
}

TEST(DeadlockWatchdogHere, ReportIsMadeHereTooWhenNothingCanWake) {
  // The control for the three tests above: the same shape with nothing to wake the task but
  // a plain thread gofer cannot see, after the grace period.
  Settings s(500ms, 200ms, gofer::deadlock_action::report);
  const auto before = gofer::detail::deadlock_reports();
  gofer::Chan<int> ch;
  std::thread closer([ch]() mutable {
    std::this_thread::sleep_for(800ms);
    ch.close();
  });
  testing::internal::CaptureStderr();
  gofer::go([ch]() mutable { (void)ch.recv(); }).wait();
  closer.join();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(gofer::detail::deadlock_reports() - before, 1u) << err;
}
