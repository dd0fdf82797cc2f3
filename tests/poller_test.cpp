#include "poller.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "fd_wait.hpp"
#include "scheduler.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::detail::FdWatch;
using gofer::detail::Interest;
using gofer::detail::Poller;

namespace {

struct Recorder final : FdWatch {
  void ready(std::uint32_t ev) noexcept override {
    events |= ev;
    ++calls;
  }
  std::uint32_t events = 0;
  int calls = 0;
};

struct SocketPair {
  SocketPair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0); }
  ~SocketPair() {
    close(fds[0]);
    close(fds[1]);
  }
  int fds[2];
};

struct Pipe {
  Pipe() { EXPECT_EQ(pipe(fds), 0); }
  ~Pipe() {
    // As the I/O modules do (fd_wait.hpp): forget before close, so no record of a closed fd
    // stays in this thread's poller for the next test's counts.
    gofer::detail::forget_fd(fds[0]);
    close(fds[0]);
    close(fds[1]);
  }
  int fds[2];
};

}  // namespace

TEST(Poller, DeadlineNeverEndsEarly) {
  Poller p;
  for (auto d : {0ms, 1ms, 5ms}) {
    const auto deadline = std::chrono::steady_clock::now() + d;
    p.wait(deadline);
    EXPECT_GE(std::chrono::steady_clock::now(), deadline);
  }
}

TEST(Poller, WakeFromAnotherThreadEndsWait) {
  gofer::test::Watchdog dog;
  Poller p;
  std::thread t([&p] {
    std::this_thread::sleep_for(2ms);
    p.wake();
  });
  p.wait(std::chrono::steady_clock::time_point::max());
  t.join();
  EXPECT_GE(p.wakeups(), 1u);
}

// A wake before the wait makes the wait return at once, on the futex a poller uses before its
// first watch and on the eventfd after it (the deadline, 20 s away, would fail the bound).
TEST(Poller, WakeBeforeWaitIsNotLost) {
  gofer::test::Watchdog dog;
  Poller p;
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(p.has_fds(), round == 1);
    const auto start = std::chrono::steady_clock::now();
    p.wake();
    p.wait(start + std::chrono::seconds(20));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << round;
    Pipe pipe;
    Recorder probe;
    p.watch(pipe.fds[0], Interest::readable, &probe);  // the first watch opens the fds
    p.unwatch(pipe.fds[0], Interest::readable, &probe);
  }
}

TEST(Poller, ReadinessIsDispatchedOnceThenDisarmed) {
  gofer::test::Watchdog dog;
  Poller p;
  Pipe pipe;
  Recorder r;
  p.watch(pipe.fds[0], Interest::readable, &r);
  EXPECT_EQ(p.watching(), 1u);
  p.poll_now();
  EXPECT_EQ(r.calls, 0);
  ASSERT_EQ(write(pipe.fds[1], "x", 1), 1);
  p.wait(std::chrono::steady_clock::now() + 10s);
  EXPECT_EQ(r.calls, 1);
  EXPECT_TRUE(r.events & EPOLLIN);
  p.poll_now();  // one-shot: no second event until re-armed
  EXPECT_EQ(r.calls, 1);
  EXPECT_EQ(p.watching(), 0u);
  EXPECT_EQ(p.registered(), 1u);                 // kept, disarmed, for the next watch
  p.watch(pipe.fds[0], Interest::readable, &r);  // re-arm: still readable
  p.poll_now();
  EXPECT_EQ(r.calls, 2);
  p.unwatch(pipe.fds[0], Interest::readable, &r);  // already fired: harmless
  p.forget(pipe.fds[0]);
  EXPECT_EQ(p.registered(), 0u);
}

TEST(Poller, ReaderAndWriterWatchOneFdAtOnce) {
  gofer::test::Watchdog dog;
  Poller p;
  SocketPair sp;
  Recorder reader, writer;
  p.watch(sp.fds[0], Interest::readable, &reader);
  p.watch(sp.fds[0], Interest::writable, &writer);
  EXPECT_EQ(p.watching(), 2u);
  p.poll_now();  // the socket is writable, not readable
  EXPECT_EQ(writer.calls, 1);
  EXPECT_EQ(reader.calls, 0);
  EXPECT_EQ(p.watching(), 1u);
  ASSERT_EQ(write(sp.fds[1], "x", 1), 1);
  p.wait(std::chrono::steady_clock::now() + 10s);  // the reader's watch was re-armed
  EXPECT_EQ(reader.calls, 1);
  EXPECT_TRUE(reader.events & EPOLLIN);
  EXPECT_EQ(writer.calls, 1);
  EXPECT_EQ(p.watching(), 0u);
}

TEST(Poller, WatchesOfOneInterestFireTogether) {
  gofer::test::Watchdog dog;
  Poller p;
  Pipe pipe;
  Recorder a, b, c;
  p.watch(pipe.fds[0], Interest::readable, &a);
  p.watch(pipe.fds[0], Interest::readable, &b);
  p.watch(pipe.fds[0], Interest::readable, &c);
  p.unwatch(pipe.fds[0], Interest::readable, &b);
  EXPECT_EQ(p.watching(), 2u);
  ASSERT_EQ(write(pipe.fds[1], "x", 1), 1);
  p.wait(std::chrono::steady_clock::now() + 10s);
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(b.calls, 0);
  EXPECT_EQ(c.calls, 1);
  EXPECT_EQ(p.watching(), 0u);
}

TEST(Poller, UnwatchKeepsTheOtherInterestArmed) {
  gofer::test::Watchdog dog;
  Poller p;
  Pipe pipe;
  Recorder reader, writer;
  // A pipe's write end is writable at once: fill it so the writer's watch stays pending.
  ASSERT_EQ(fcntl(pipe.fds[1], F_SETFL, O_NONBLOCK), 0);
  char block[4096] = {};
  while (write(pipe.fds[1], block, sizeof block) > 0) {
  }
  p.watch(pipe.fds[1], Interest::writable, &writer);
  p.watch(pipe.fds[1], Interest::readable, &reader);  // never fires on a write end
  p.unwatch(pipe.fds[1], Interest::writable, &writer);
  EXPECT_EQ(p.watching(), 1u);
  EXPECT_EQ(p.registered(), 1u);
  char sink[65536];
  ASSERT_GT(read(pipe.fds[0], sink, sizeof sink), 0);
  p.poll_now();  // writable now, but nobody watches that
  EXPECT_EQ(writer.calls, 0);
  p.unwatch(pipe.fds[1], Interest::readable, &reader);
  EXPECT_EQ(p.watching(), 0u);
  EXPECT_EQ(p.registered(), 1u);  // kept (its Record outlives any event) until forget
  p.poll_now();
  EXPECT_EQ(reader.calls + writer.calls, 0);
  p.forget(pipe.fds[1]);
  EXPECT_EQ(p.registered(), 0u);
}

// A one-shot registration is re-armed only for the interests still watched: a writable socket
// whose writer's watch fired must not fire (and re-arm) on every poll while a reader waits.
TEST(Poller, AOneShotRegistrationIsReArmedOnlyForWatchedInterests) {
  gofer::test::Watchdog dog;
  Poller p;
  SocketPair sp;
  Recorder reader, writer;
  p.watch(sp.fds[0], Interest::writable, &writer);
  p.poll_now();
  EXPECT_EQ(writer.calls, 1);
  p.watch(sp.fds[0], Interest::readable, &reader);
  const std::uint64_t armed = p.registrations();
  for (int i = 0; i < 3; ++i) {
    p.poll_now();
  }
  EXPECT_EQ(p.registrations(), armed);
  EXPECT_EQ(reader.calls, 0);
  EXPECT_EQ(writer.calls, 1);
  ASSERT_EQ(write(sp.fds[1], "x", 1), 1);
  p.wait(std::chrono::steady_clock::now() + 10s);
  EXPECT_EQ(reader.calls, 1);
  p.forget(sp.fds[0]);
}

TEST(Poller, ForgetFiresPendingWatches) {
  Poller p;
  Pipe pipe;
  Recorder r;
  p.watch(pipe.fds[0], Interest::readable, &r);
  p.forget(pipe.fds[0]);
  EXPECT_EQ(r.calls, 1);
  EXPECT_TRUE(r.events & EPOLLHUP);
  EXPECT_EQ(p.watching(), 0u);
  EXPECT_EQ(p.registered(), 0u);
}

// An owned fd is registered once, edge-triggered: a hundred waits cost one epoll_ctl.
TEST(Poller, AnOwnedFdIsRegisteredOnce) {
  gofer::test::Watchdog dog;
  Poller p;
  SocketPair sp;
  Recorder r;
  for (int i = 0; i < 100; ++i) {
    ASSERT_FALSE(p.watch_owned(sp.fds[0], Interest::readable, &r, 1));
    ASSERT_EQ(write(sp.fds[1], "x", 1), 1);
    p.wait(std::chrono::steady_clock::now() + 10s);
    ASSERT_EQ(r.calls, i + 1);
    char c;
    ASSERT_EQ(read(sp.fds[0], &c, 1), 1);
  }
  EXPECT_EQ(p.registrations(), 1u);
  EXPECT_EQ(p.watching(), 0u);
  p.forget(sp.fds[0]);
}

// An edge that comes while nobody waits is kept (Go's pdReady): the next owned watch returns
// ready without linking, once; the one after that waits for a new edge.
TEST(Poller, AnEdgeWithNobodyWatchingIsKeptForTheNextWatch) {
  gofer::test::Watchdog dog;
  Poller p;
  SocketPair sp;
  Recorder r;
  ASSERT_FALSE(p.watch_owned(sp.fds[0], Interest::readable, &r, 1));
  p.unwatch(sp.fds[0], Interest::readable, &r);
  ASSERT_EQ(write(sp.fds[1], "x", 1), 1);
  p.poll_now();
  EXPECT_EQ(r.calls, 0);
  EXPECT_TRUE(p.watch_owned(sp.fds[0], Interest::readable, &r, 1));
  EXPECT_EQ(p.watching(), 0u);
  EXPECT_FALSE(p.watch_owned(sp.fds[0], Interest::readable, &r, 1));
  EXPECT_EQ(p.watching(), 1u);
  p.poll_now();  // edge-triggered: the unread byte gives no second edge
  EXPECT_EQ(r.calls, 0);
  ASSERT_EQ(write(sp.fds[1], "y", 1), 1);
  p.wait(std::chrono::steady_clock::now() + 10s);
  EXPECT_EQ(r.calls, 1);
  // Asking for the other interest later adds it to the registration (one more epoll_ctl),
  // and epoll reports its current state: a socket with room is writable at once.
  EXPECT_FALSE(p.watch_owned(sp.fds[0], Interest::writable, &r, 1));
  p.poll_now();
  EXPECT_EQ(r.calls, 2);
  EXPECT_EQ(p.registrations(), 2u);
  p.forget(sp.fds[0]);
}

// A fd number closed without forget (as a close on another thread leaves this thread's
// poller) and reused by a new owner: the owner differs, so the poller registers the new file
// instead of trusting the old registration, which the kernel dropped (the wait would hang).
TEST(Poller, ANewOwnerOfAReusedFdNumberIsRegisteredAgain) {
  gofer::test::Watchdog dog;
  Poller p;
  int a[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
  Recorder r;
  ASSERT_FALSE(p.watch_owned(a[0], Interest::readable, &r, 1));
  p.unwatch(a[0], Interest::readable, &r);
  const int number = a[0];
  close(a[0]);
  close(a[1]);
  SocketPair b;
  ASSERT_EQ(dup2(b.fds[0], number), number);
  const std::uint64_t before = p.registrations();
  ASSERT_FALSE(p.watch_owned(number, Interest::readable, &r, 2));
  EXPECT_EQ(p.registrations(), before + 2);  // MOD: ENOENT, then ADD
  ASSERT_EQ(write(b.fds[1], "x", 1), 1);
  p.wait(std::chrono::steady_clock::now() + 10s);
  EXPECT_EQ(r.calls, 1);
  p.forget(number);
  close(number);
}

// The old registration of a file still open elsewhere (here a dup) keeps reporting under the
// reused number; its events carry an old tag and are dropped, not taken for the new file's.
TEST(Poller, EventsOfAnOldRegistrationUnderAReusedNumberAreDropped) {
  gofer::test::Watchdog dog;
  Poller p;
  int a[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
  Recorder r;
  ASSERT_FALSE(p.watch_owned(a[0], Interest::readable, &r, 1));
  p.unwatch(a[0], Interest::readable, &r);
  const int number = a[0];
  const int keep = dup(a[0]);  // keeps the old file, and its registration, alive
  close(a[0]);
  SocketPair b;
  ASSERT_EQ(dup2(b.fds[0], number), number);
  ASSERT_FALSE(p.watch_owned(number, Interest::readable, &r, 2));
  ASSERT_EQ(write(a[1], "old", 3), 3);
  p.wait(std::chrono::steady_clock::now() + 50ms);
  EXPECT_EQ(r.calls, 0);
  ASSERT_EQ(write(b.fds[1], "new", 3), 3);
  p.wait(std::chrono::steady_clock::now() + 10s);
  EXPECT_EQ(r.calls, 1);
  p.forget(number);
  close(number);
  close(keep);
  close(a[1]);
}

// On a task: a hundred request/response round trips over one TCP connection cost a bounded
// number of epoll_ctl calls (connect, and one registration per socket), not one per wait.
TEST(FdWait, RoundTripsOnAConnectionCostNoEpollCtlEach) {
  gofer::test::Watchdog dog;
  auto& poller = gofer::detail::Scheduler::local().poller();
  gofer::go_and_wait([&] {
    auto l = gofer::TcpListener::bind("127.0.0.1", 0);
    auto client = gofer::TcpStream::connect("127.0.0.1", l.local_port(), 5s);
    auto server = l.accept(5s);
    auto echo = gofer::go([&] {
      std::string msg(64, '\0');
      while (server.read_exact(msg) == msg.size()) {
        server.write(msg);
      }
    });
    const std::uint64_t before = poller.registrations();
    std::string msg(64, 'q');
    for (int i = 0; i < 100; ++i) {
      client.write(msg);
      ASSERT_EQ(client.read_exact(msg, 5s), msg.size());
    }
    EXPECT_LE(poller.registrations() - before, 4u);
    client.close();
    echo.wait();
  });
}

TEST(Poller, WatchingABadFdThrowsSystemError) {
  Poller p;
  Recorder r;
  EXPECT_THROW(p.watch(-1, Interest::readable, &r), std::system_error);
  EXPECT_EQ(p.registered(), 0u);
  EXPECT_EQ(p.watching(), 0u);
}

TEST(FdWait, ParksTaskUntilReadable) {
  gofer::test::Watchdog dog;
  Pipe pipe;
  bool other_ran = false;
  auto reader = gofer::go([&pipe] {
    return gofer::detail::wait_fd(pipe.fds[0], gofer::detail::Interest::readable,
                                  gofer::detail::no_deadline);
  });
  auto writer = gofer::go([&pipe, &other_ran] {
    other_ran = true;  // runs while the reader is parked: the thread was not blocked
    gofer::sleep_for(1ms);
    EXPECT_EQ(write(pipe.fds[1], "x", 1), 1);
  });
  EXPECT_TRUE(reader.wait());
  writer.wait();
  EXPECT_TRUE(other_ran);
}

TEST(FdWait, TimesOutAndCanBeCancelled) {
  gofer::test::Watchdog dog;
  Pipe pipe;
  EXPECT_FALSE(gofer::detail::wait_fd(pipe.fds[0], gofer::detail::Interest::readable,
                                      std::chrono::steady_clock::now() + 2ms));
  auto t = gofer::go([&pipe] {
    gofer::detail::wait_fd(pipe.fds[0], gofer::detail::Interest::readable,
                           gofer::detail::no_deadline);
  });
  gofer::yield();
  t.request_stop();
  EXPECT_THROW(t.wait(), gofer::cancelled);
}

TEST(FdWait, BusySchedulerStillSeesReadiness) {
  gofer::test::Watchdog dog;
  Pipe pipe;
  std::atomic<bool> ready{false};
  auto reader = gofer::go([&] {
    gofer::detail::wait_fd(pipe.fds[0], gofer::detail::Interest::readable,
                           gofer::detail::no_deadline);
    ready = true;
  });
  auto spinner = gofer::go([&] {
    while (!ready) {
      gofer::yield();  // never lets the thread idle
    }
  });
  gofer::yield();
  ASSERT_EQ(write(pipe.fds[1], "x", 1), 1);
  reader.wait();
  spinner.wait();
  EXPECT_TRUE(ready);
}

TEST(FdWait, RegistrationIsReusedAndSurvivesFdReuse) {
  gofer::test::Watchdog dog;
  auto& poller = gofer::detail::Scheduler::local().poller();
  const std::size_t before = poller.registered();
  gofer::go_and_wait([&] {
    for (int round = 0; round < 3; ++round) {
      Pipe pipe;
      for (int i = 0; i < 5; ++i) {
        auto writer = gofer::go([&pipe] {
          gofer::sleep_for(100us);
          EXPECT_EQ(write(pipe.fds[1], "x", 1), 1);
        });
        EXPECT_TRUE(gofer::detail::wait_fd(pipe.fds[0], gofer::detail::Interest::readable,
                                           gofer::detail::no_deadline));
        writer.wait();
        char c;
        EXPECT_EQ(read(pipe.fds[0], &c, 1), 1);
        // The registration stays, disarmed: more data with nobody waiting must not reach the
        // finished wait's Waiter (ASan would see it) while this thread polls.
        EXPECT_EQ(write(pipe.fds[1], "y", 1), 1);
        gofer::sleep_for(100us);
        EXPECT_EQ(read(pipe.fds[0], &c, 1), 1);
      }
      EXPECT_EQ(poller.registered(), before + 1);
      gofer::detail::forget_fd(pipe.fds[0]);
      EXPECT_EQ(poller.registered(), before);
    }  // the next round's pipe most likely reuses the same fd numbers
  });
}
