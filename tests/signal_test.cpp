#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::test::Watchdog;

namespace {

// The test's own threads (each test's Watchdog) must not take the signals the tests send:
// main blocks them before any thread starts, as signal.hpp tells users to.
const bool blocked_in_main = [] {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  sigaddset(&s, SIGUSR2);
  return ::pthread_sigmask(SIG_BLOCK, &s, nullptr) == 0;
}();

// blocked_here: the signals of `sigs` blocked in the calling thread.
bool blocked_here(std::initializer_list<int> sigs) {
  sigset_t cur;
  ::pthread_sigmask(SIG_BLOCK, nullptr, &cur);
  for (int s : sigs) {
    if (sigismember(&cur, s) != 1) {
      return false;
    }
  }
  return true;
}

}  // namespace

// First in the binary: a Runtime started before any signal_chan call already blocks them.
TEST(Signal, BlockedInRuntimeThreadsStartedBeforeSignalChan) {
  Watchdog dog;
  gofer::Runtime rt(2);
  for (std::size_t i = 0; i < rt.size(); ++i) {
    EXPECT_TRUE(rt.go_on(i, [] {
                    return blocked_here({SIGINT, SIGTERM, SIGUSR1, SIGHUP});
                  }).wait());
  }
  EXPECT_TRUE(gofer::spawn_blocking([] { return blocked_here({SIGINT, SIGTERM}); }).wait());
}

TEST(Signal, KillDeliversToASignalChanInATask) {
  Watchdog dog;
  ASSERT_TRUE(blocked_in_main);
  auto ch = gofer::signal_chan({SIGUSR1, SIGHUP});
  EXPECT_TRUE(blocked_here({SIGUSR1, SIGHUP}));  // in the calling thread
  auto t = gofer::go([ch]() mutable { return ch.recv(); });
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  EXPECT_EQ(t.wait(), std::optional<int>(SIGUSR1));
  ch.close();
}

TEST(Signal, EveryChannelForASignalGetsIt) {
  Watchdog dog;
  auto a = gofer::signal_chan({SIGUSR1, SIGUSR2});
  auto b = gofer::signal_chan({SIGUSR1});
  gofer::Runtime rt(2);
  auto ta = rt.go_on(0, [a]() mutable { return a.recv(); });
  auto tb = rt.go_on(1, [b]() mutable { return b.recv(); });
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  EXPECT_EQ(ta.wait(), std::optional<int>(SIGUSR1));
  EXPECT_EQ(tb.wait(), std::optional<int>(SIGUSR1));
  a.close();
  b.close();
}

TEST(Signal, AFullChannelDropsFurtherSignals) {
  Watchdog dog;
  auto ch = gofer::signal_chan({SIGUSR1});
  auto probe = gofer::signal_chan({SIGUSR1});
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
    EXPECT_EQ(probe.recv(), std::optional<int>(SIGUSR1));  // each one was dispatched
  }
  int v = 0;
  EXPECT_EQ(ch.try_recv(v), gofer::chan_status::ok);
  EXPECT_EQ(v, SIGUSR1);
  EXPECT_EQ(ch.try_recv(v), gofer::chan_status::empty);
  ch.close();
  probe.close();
}

TEST(Signal, SignalsItCannotWatchAreRejected) {
  EXPECT_THROW(gofer::signal_chan({}), std::invalid_argument);
  EXPECT_THROW(gofer::signal_chan({SIGKILL}), std::invalid_argument);
  EXPECT_THROW(gofer::signal_chan({SIGSEGV}), std::invalid_argument);
  EXPECT_THROW(gofer::signal_chan({0}), std::invalid_argument);
  EXPECT_THROW(gofer::signal_chan({SIGINT, 1000}), std::invalid_argument);
  try {
    (void)gofer::signal_chan({SIGKILL});
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("SIGKILL"), std::string::npos) << e.what();
  }
}

TEST(Signal, StopOnSignalStopsARuntime) {
  Watchdog dog;
  auto probe = gofer::signal_chan({SIGUSR2});  // keeps SIGUSR2 wanted after the one-shot
  gofer::Runtime rt(2);
  gofer::Chan<int> never;
  auto a = rt.go_on(0, [never]() mutable { (void)never.recv(); });
  auto b = rt.go_on(1, [] { gofer::sleep_for(1h); });
  auto stop = gofer::stop_on_signal(rt, {SIGUSR2});
  ASSERT_EQ(::kill(::getpid(), SIGUSR2), 0);
  EXPECT_THROW(a.wait(), gofer::cancelled);
  EXPECT_THROW(b.wait(), gofer::cancelled);
  EXPECT_EQ(probe.recv(), std::optional<int>(SIGUSR2));
  // A task started after the stop request is stopped as it starts.
  auto late = rt.go([] { gofer::sleep_for(1h); });
  EXPECT_THROW(late.wait(), gofer::cancelled);
  probe.close();
}

TEST(Signal, StopOnSignalStopsATask) {
  Watchdog dog;
  auto probe = gofer::signal_chan({SIGUSR2});
  auto t = gofer::go([] { gofer::sleep_for(1h); });
  auto stop = gofer::stop_on_signal(t, {SIGUSR2});
  ASSERT_EQ(::kill(::getpid(), SIGUSR2), 0);
  EXPECT_THROW(t.wait(), gofer::cancelled);
  EXPECT_EQ(probe.recv(), std::optional<int>(SIGUSR2));
  probe.close();
}

TEST(Signal, CancelledSubscriptionIsNotCalled) {
  Watchdog dog;
  auto probe = gofer::signal_chan({SIGUSR2});
  auto t = gofer::go([] { gofer::sleep_for(50ms); });
  { auto stop = gofer::stop_on_signal(t, {SIGUSR2}); }
  ASSERT_EQ(::kill(::getpid(), SIGUSR2), 0);
  EXPECT_EQ(probe.recv(), std::optional<int>(SIGUSR2));
  EXPECT_NO_THROW(t.wait());
  probe.close();
}

namespace {
std::atomic<int> handled{0};
}  // namespace

TEST(Signal, ASignalNobodyWantsGetsItsUsualDisposition) {
  Watchdog dog;
  struct sigaction sa {};
  sa.sa_handler = [](int) { handled.fetch_add(1); };
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(::sigaction(SIGUSR1, &sa, nullptr), 0);
  auto ch = gofer::signal_chan({SIGUSR1});
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  EXPECT_EQ(ch.recv(), std::optional<int>(SIGUSR1));
  EXPECT_EQ(handled.load(), 0);
  ch.close();  // unregistered: the handler takes the next one (on the signal thread)
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  for (int i = 0; i < 500 && handled.load() == 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(handled.load(), 1);
}
