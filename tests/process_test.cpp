#include <signal.h>

#include <chrono>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::test::Watchdog;

TEST(Process, ExitCodesAreReported) {
  Watchdog dog;
  gofer::go_and_wait([] {
    EXPECT_EQ(gofer::Process::spawn({"true"}).wait(), 0);
    EXPECT_EQ(gofer::Process::spawn({"sh", "-c", "exit 42"}).wait(), 42);
  });
}

TEST(Process, KilledBySignalIsNegative) {
  Watchdog dog;
  auto p = gofer::Process::spawn({"sleep", "30"});
  EXPECT_FALSE(p.exit_code().has_value());
  EXPECT_FALSE(p.wait(1ms).has_value());
  p.kill(SIGTERM);
  EXPECT_EQ(p.wait(), -SIGTERM);
  EXPECT_EQ(p.exit_code(), -SIGTERM);
  p.kill();  // after wait: does nothing
}

TEST(Process, MissingProgramNamesIt) {
  try {
    gofer::Process::spawn({"gofer-no-such-program"});
    FAIL() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("spawn gofer-no-such-program"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(gofer::Process::spawn({}), std::invalid_argument);
}

TEST(Process, StdinToTheChildAndStdoutBack) {
  Watchdog dog;
  gofer::go_and_wait([] {
    gofer::ProcessOptions opts;
    opts.stdin_mode = gofer::stdio::pipe;
    opts.stdout_mode = gofer::stdio::pipe;
    auto p = gofer::Process::spawn({"sort", "-r"}, opts);
    p.in().write("a\nc\nb\n");
    p.in().close();
    EXPECT_EQ(p.out().read_all(), "c\nb\na\n");
    EXPECT_EQ(p.wait(), 0);
  });
}

TEST(Process, LargeOutputOnBothStreamsDoesNotDeadlock) {
  Watchdog dog;
  // 1 MiB on stdout and 512 KiB on stderr, far beyond a pipe's 64 KiB.
  auto r = gofer::run({"sh", "-c", "head -c 1048576 /dev/zero; head -c 524288 /dev/zero >&2"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.size(), 1048576u);
  EXPECT_EQ(r.err.size(), 524288u);
  EXPECT_FALSE(r.timed_out);
}

TEST(Process, RunTimeoutKillsTheChild) {
  Watchdog dog;
  auto r = gofer::run({"sh", "-c", "echo started; exec sleep 30"}, 50ms);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, -SIGKILL);
  EXPECT_EQ(r.out, "started\n");
}

TEST(Process, CwdAndEnvironment) {
  Watchdog dog;
  auto r = gofer::run(
      {"sh", "-c", "pwd; echo $GOFER_X"},
      {.cwd = "/tmp", .env = std::vector<std::string>{"GOFER_X=42", "PATH=/bin:/usr/bin"}});
  EXPECT_EQ(r.out, "/tmp\n42\n");
  gofer::ProcessOptions elsewhere;
  elsewhere.cwd = "/no/such/dir";
  EXPECT_THROW(gofer::run({"true"}, elsewhere), std::system_error);
}

TEST(Process, NullStdio) {
  auto r = gofer::run({"cat"});  // stdin is /dev/null: cat ends at once
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
}

TEST(Process, WaitIsCancelledByRequestStop) {
  Watchdog dog;
  gofer::with_event_loop([] {
    auto p = gofer::Process::spawn({"sleep", "30"});
    auto t = gofer::go([&p] { return p.wait(); });
    gofer::sleep_for(1ms);
    t.request_stop();
    EXPECT_THROW(t.wait(), gofer::cancelled);
    EXPECT_FALSE(p.exit_code().has_value());
  });  // p's destructor kills and reaps the child
}

TEST(Process, RunIsCancelledAndKillsItsChild) {
  Watchdog dog;
  gofer::with_event_loop([] {
    auto t = gofer::go([] { return gofer::run({"sleep", "30"}); });
    gofer::sleep_for(5ms);
    t.request_stop();
    EXPECT_THROW(t.wait(), gofer::cancelled);
  });
}

TEST(Process, ManyChildrenWaitedConcurrently) {
  Watchdog dog;
  gofer::Runtime rt(2);
  std::vector<gofer::Task<int>> tasks;
  for (int i = 0; i < 20; ++i) {
    tasks.push_back(rt.go([i] {
      return gofer::Process::spawn({"sh", "-c", "exit " + std::to_string(i)}).wait();
    }));
  }
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(tasks[static_cast<std::size_t>(i)].wait(), i);
  }
}
