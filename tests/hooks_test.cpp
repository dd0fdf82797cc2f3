// hooks_test.cpp: gofer::hooks: blocking libc calls made in tasks park the task.
//
// The proof that a call parked instead of blocking: the test's peer (a gofer server, or the
// task that writes what another reads) runs on the SAME scheduler thread, so a call that
// blocked the thread would never see it (the blocking client's own poll timeout then fails the
// test, and the watchdog ends a hang).
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>
#include <gofer/hooks.hpp>

#include "hooks/blocking_client.hpp"
#include "hooks/real.hpp"
#include "support/io_support.hpp"
#include "support/scale.hpp"
#include "support/ticker_probe.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;

namespace {

// Pair: a connected Unix socket pair, closed at the end.
struct Pair {
  int fd[2] = {-1, -1};
  Pair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0); }
  ~Pair() {
    for (int f : fd) {
      if (f >= 0) {
        ::close(f);
      }
    }
  }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;
};

// real_nonblocking: the fd's real O_NONBLOCK, which F_GETFL hides from the program.
bool real_nonblocking(int fd) {
  return (gofer::hooks::detail::real_fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

// on_one_thread: runs body as a task on a fresh one-thread Runtime and waits for it.
template <class F>
void on_one_thread(F body) {
  gofer::Runtime rt(1);
  gofer::wait(rt.go(std::move(body)));
}

// on_plain_thread: runs body on a fresh thread with no gofer scheduler (the test's main
// thread has one once it waited for a task) and joins it.
template <class F>
void on_plain_thread(F body) {
  std::thread t(std::move(body));
  t.join();
}

// raw_listener: a TCP socket made with the plain socket API, listening on 127.0.0.1 at an
// ephemeral port (written to addr) with `backlog`; -1 (and a test failure) if a step failed.
int raw_listener(int backlog, sockaddr_in& addr) {
  const int l = ::socket(AF_INET, SOCK_STREAM, 0);
  addr = sockaddr_in{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (l < 0 || ::bind(l, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(l, backlog) != 0 ||
      ::getsockname(l, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "raw_listener: " << std::strerror(errno);
    if (l >= 0) {
      ::close(l);
    }
    return -1;
  }
  return l;
}

// gap_limit: 20 ms, more under sanitizers (every switch there costs several times more).
constexpr auto gap_limit = 20ms * gofer::test::sanitizer_scale;

// parked_ticks: a call that parks its task for 30 ms or more lets a 1 ms TickerProbe of the
// same thread tick about that many times (fewer when the machine preempts the thread, but
// not this few); a call that blocked the thread lets it tick at most once, after the call.
constexpr int parked_ticks = 3;

// drive_clients: a line echo server and 100 tasks running `client` against it, all on the
// calling task's thread, with a ticker probe (support/ticker_probe.hpp); the probe's report.
gofer::test::GapReport drive_clients(client_exchange_fn* client) {
  auto listener = gofer::TcpListener::bind("127.0.0.1", 0);
  const int port = listener.local_port();
  auto server = gofer::go([&listener] {
    try {
      for (;;) {
        gofer::go(
            [](gofer::TcpStream c) {
              while (auto line = c.read_line(5s)) {
                c.write("echo " + *line + "\n", 5s);
              }
            },
            listener.accept());
      }
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), gofer::errc::closed);
    }
  });
  gofer::test::TickerProbe probe;
  constexpr int clients = 100;
  std::vector<gofer::Task<std::string>> tasks;
  for (int i = 0; i < clients; ++i) {
    tasks.push_back(gofer::go([client, port, i] {
      char reply[128];
      const std::string request = "hello " + std::to_string(i) + "\n";
      const int n = client("127.0.0.1", port, request.c_str(), reply, sizeof reply, 5000);
      return n < 0 ? "error " + std::string(std::strerror(-n)) : std::string(reply);
    }));
  }
  for (int i = 0; i < clients; ++i) {
    EXPECT_EQ(gofer::wait(tasks[i]), "echo hello " + std::to_string(i) + "\n");
  }
  probe.stop();
  listener.close();
  gofer::wait(server);
  return probe.report();
}

// expect_parks: the client's calls parked its task: the ticker on the same thread kept
// ticking (support/ticker_probe.hpp: a run that a loaded machine stretched is run again).
void expect_parks(client_exchange_fn* client) {
  on_one_thread([client] {
    EXPECT_TRUE(
        gofer::test::gap_stays_below(gap_limit, [client] { return drive_clients(client); }));
  });
}

}  // namespace

TEST(Hooks, AreActive) {
  EXPECT_TRUE(gofer::hooks::active());
}

// The instrument the other tests rely on: a thread blocked in libc's own nanosleep (the hook
// bypassed) shows as a gap.
TEST(Hooks, TickerSeesAThreadBlockedInLibc) {
  on_one_thread([] {
    gofer::test::TickerProbe probe;
    gofer::sleep_for(3ms);
    const timespec ts{0, 60'000'000};
    gofer::hooks::detail::real_nanosleep(&ts, nullptr);
    probe.stop();
    EXPECT_GE(probe.max_own_gap(), 50ms) << probe.report().describe();
  });
}

TEST(Hooks, StaticallyLinkedClientParksItsTask) {
  gofer::test::Watchdog dog;
  expect_parks(&client_exchange_static);
}

TEST(Hooks, SharedLibraryClientParksItsTask) {
  gofer::test::Watchdog dog;
  expect_parks(&client_exchange_shared);
}

TEST(Hooks, DlopenedClientParksItsTask) {
  gofer::test::Watchdog dog;
  void* module = ::dlopen(GOFER_HOOKS_CLIENT_MODULE, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(module, nullptr) << ::dlerror();
  auto* client = reinterpret_cast<client_exchange_fn*>(::dlsym(module, "client_exchange_module"));
  ASSERT_NE(client, nullptr) << ::dlerror();
  expect_parks(client);
  ::dlclose(module);
}

TEST(Hooks, ReadParksUntilAnotherTaskOfTheThreadWrites) {
  gofer::test::Watchdog dog;
  on_one_thread([] {
    Pair p;
    auto writer = gofer::go([&p] {
      gofer::sleep_for(5ms);
      EXPECT_EQ(::write(p.fd[1], "ping", 4), 4);
    });
    char buf[8] = {};
    EXPECT_EQ(::read(p.fd[0], buf, sizeof buf), 4);
    EXPECT_STREQ(buf, "ping");
    gofer::wait(writer);
  });
}

TEST(Hooks, FcntlReportsTheCallersBlockingChoice) {
  on_one_thread([] {
    Pair p;
    auto writer = gofer::go([&p] { EXPECT_EQ(::write(p.fd[1], "x", 1), 1); });
    char c = 0;
    EXPECT_EQ(::read(p.fd[0], &c, 1), 1);  // made the fd non-blocking underneath
    gofer::wait(writer);
    EXPECT_TRUE(real_nonblocking(p.fd[0]));
    EXPECT_EQ(::fcntl(p.fd[0], F_GETFL) & O_NONBLOCK, 0);
    ASSERT_EQ(::fcntl(p.fd[0], F_SETFL, ::fcntl(p.fd[0], F_GETFL) | O_NONBLOCK), 0);
    EXPECT_NE(::fcntl(p.fd[0], F_GETFL) & O_NONBLOCK, 0);
    errno = 0;
    EXPECT_EQ(::read(p.fd[0], &c, 1), -1);  // the caller's own O_NONBLOCK: no parking
    EXPECT_EQ(errno, EAGAIN);
    ASSERT_EQ(::fcntl(p.fd[0], F_SETFL, ::fcntl(p.fd[0], F_GETFL) & ~O_NONBLOCK), 0);
    EXPECT_EQ(::fcntl(p.fd[0], F_GETFL) & O_NONBLOCK, 0);
    EXPECT_TRUE(real_nonblocking(p.fd[0]));  // the hooks keep their flag
  });
}

TEST(Hooks, ReceiveTimeoutEndsAParkedReadWithEagain) {
  gofer::test::Watchdog dog;
  on_one_thread([] {
    Pair p;
    const timeval tv{0, 30'000};
    ASSERT_EQ(::setsockopt(p.fd[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    gofer::test::TickerProbe probe;  // runs meanwhile: the read parks
    char c = 0;
    errno = 0;
    EXPECT_EQ(::read(p.fd[0], &c, 1), -1);
    EXPECT_EQ(errno, EAGAIN);
    probe.stop();
    EXPECT_GE(probe.ticks(), parked_ticks) << probe.report().describe();
  });
}

TEST(Hooks, StopEndsAParkedReadWithStopErrno) {
  gofer::test::Watchdog dog;
  on_one_thread([] {
    Pair p;
    auto reader = gofer::go([&p] {
      char c = 0;
      errno = 0;
      const ssize_t r = ::read(p.fd[0], &c, 1);
      return std::make_pair(r, errno);
    });
    gofer::sleep_for(5ms);
    reader.request_stop();
    const auto [r, err] = gofer::wait(reader);
    EXPECT_EQ(r, -1);
    EXPECT_EQ(err, gofer::hooks::stop_errno);
    EXPECT_EQ(err, ECANCELED);
  });
}

TEST(Hooks, PlainThreadKeepsBlockingSemanticsOnAnFdTheHooksMadeNonBlocking) {
  gofer::test::Watchdog dog;
  Pair p;
  on_one_thread([&p] {
    auto writer = gofer::go([&p] { EXPECT_EQ(::write(p.fd[1], "x", 1), 1); });
    char c = 0;
    EXPECT_EQ(::read(p.fd[0], &c, 1), 1);
    gofer::wait(writer);
  });
  ASSERT_TRUE(real_nonblocking(p.fd[0]));
  on_plain_thread([&p] {
    std::thread late_writer([&p] {
      std::this_thread::sleep_for(20ms);
      EXPECT_EQ(::write(p.fd[1], "y", 1), 1);
    });
    char c = 0;
    EXPECT_EQ(::read(p.fd[0], &c, 1), 1);  // waits in the real poll(), no EAGAIN
    EXPECT_EQ(c, 'y');
    late_writer.join();
  });
}

TEST(Hooks, WriteCompletesInFullLikeABlockingWrite) {
  gofer::test::Watchdog dog;
  on_one_thread([] {
    Pair p;
    const std::string big(1 << 20, 'z');
    auto reader = gofer::go([&p] {
      std::size_t got = 0;
      char buf[65536];
      while (got < (1u << 20)) {
        const ssize_t r = ::read(p.fd[0], buf, sizeof buf);
        if (r <= 0) {
          break;
        }
        got += static_cast<std::size_t>(r);
      }
      return got;
    });
    EXPECT_EQ(::write(p.fd[1], big.data(), big.size()), static_cast<ssize_t>(big.size()));
    EXPECT_EQ(gofer::wait(reader), big.size());
  });
}

TEST(Hooks, PollParksOnSeveralFdsAndReportsTheReadyOne) {
  gofer::test::Watchdog dog;
  on_one_thread([] {
    Pair a;
    Pair b;
    auto writer = gofer::go([&b] {
      gofer::sleep_for(5ms);
      EXPECT_EQ(::write(b.fd[1], "x", 1), 1);
    });
    pollfd fds[2] = {{a.fd[0], POLLIN, 0}, {b.fd[0], POLLIN, 0}};
    EXPECT_EQ(::poll(fds, 2, 5000), 1);
    EXPECT_EQ(fds[0].revents, 0);
    EXPECT_EQ(fds[1].revents, POLLIN);
    gofer::wait(writer);
    gofer::test::TickerProbe probe;
    EXPECT_EQ(::poll(fds, 1, 30), 0);  // the timeout, parked
    const timespec ts{0, 30'000'000};
    EXPECT_EQ(::ppoll(fds, 1, &ts, nullptr), 0);
    probe.stop();
    EXPECT_GE(probe.ticks(), parked_ticks) << probe.report().describe();
  });
}

TEST(Hooks, SelectParksAndUpdatesTheTimeLeft) {
  gofer::test::Watchdog dog;
  on_one_thread([] {
    Pair p;
    auto writer = gofer::go([&p] {
      gofer::sleep_for(5ms);
      EXPECT_EQ(::write(p.fd[1], "x", 1), 1);
    });
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(p.fd[0], &rs);
    timeval tv{5, 0};
    EXPECT_EQ(::select(p.fd[0] + 1, &rs, nullptr, nullptr, &tv), 1);
    EXPECT_TRUE(FD_ISSET(p.fd[0], &rs));
    EXPECT_LT(tv.tv_sec, 5);
    gofer::wait(writer);
  });
}

TEST(Hooks, PselectParksOnItsSetsAndTimesOut) {
  gofer::test::Watchdog dog;
  on_one_thread([] {
    Pair p;
    auto writer = gofer::go([&p] {
      gofer::sleep_for(5ms);
      EXPECT_EQ(::write(p.fd[1], "x", 1), 1);
    });
    sigset_t mask;
    sigemptyset(&mask);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(p.fd[0], &rs);
    const timespec five{5, 0};
    EXPECT_EQ(::pselect(p.fd[0] + 1, &rs, nullptr, nullptr, &five, &mask), 1);
    EXPECT_TRUE(FD_ISSET(p.fd[0], &rs));
    gofer::wait(writer);
    char c = 0;
    EXPECT_EQ(::read(p.fd[0], &c, 1), 1);
    // Nothing to read: the timeout, parked (the 1 ms ticker of the thread keeps ticking).
    FD_ZERO(&rs);
    FD_SET(p.fd[0], &rs);
    const timespec ts{0, 30'000'000};
    gofer::test::TickerProbe probe;
    EXPECT_EQ(::pselect(p.fd[0] + 1, &rs, nullptr, nullptr, &ts, nullptr), 0);
    EXPECT_FALSE(FD_ISSET(p.fd[0], &rs));
    probe.stop();
    EXPECT_GE(probe.ticks(), parked_ticks) << probe.report().describe();
    const timespec bad{0, 1'000'000'000};
    errno = 0;
    EXPECT_EQ(::pselect(p.fd[0] + 1, &rs, nullptr, nullptr, &bad, nullptr), -1);
    EXPECT_EQ(errno, EINVAL);
  });
}

TEST(Hooks, SleepsParkAndAStoppedSleepReturnsEintrWithTheTimeLeft) {
  gofer::test::Watchdog dog;
  on_one_thread([] {
    gofer::test::TickerProbe probe;
    EXPECT_EQ(::usleep(30'000), 0);
    const timespec ts{0, 30'000'000};
    EXPECT_EQ(::nanosleep(&ts, nullptr), 0);
    EXPECT_EQ(::clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr), 0);
    probe.stop();
    EXPECT_GE(probe.ticks(), parked_ticks) << probe.report().describe();
    auto sleeper = gofer::go([] {
      const timespec ten{10, 0};
      timespec rem{};
      errno = 0;
      const int r = ::nanosleep(&ten, &rem);
      return std::make_tuple(r, errno, rem.tv_sec);
    });
    gofer::sleep_for(5ms);
    sleeper.request_stop();
    const auto [r, err, left] = gofer::wait(sleeper);
    EXPECT_EQ(r, -1);
    EXPECT_EQ(err, EINTR);
    EXPECT_GE(left, 9);
  });
}

TEST(Hooks, ConnectRefusedReportsTheError) {
  on_one_thread([] {
    auto l = gofer::TcpListener::bind("127.0.0.1", 0);
    const int port = l.local_port();
    l.close();
    char reply[8];
    EXPECT_EQ(client_exchange_static("127.0.0.1", port, "x\n", reply, sizeof reply, 1000),
              -ECONNREFUSED);
  });
}

// A listener whose accept queue is full drops further SYNs, so a connect to it stays in
// progress: the hooked connect parks until SO_SNDTIMEO and fails with EINPROGRESS, as the
// kernel's blocking connect does.
TEST(Hooks, SendTimeoutEndsAParkedConnectWithEinprogress) {
  gofer::test::Watchdog dog;
  on_one_thread([] {
    sockaddr_in addr{};
    const int l = raw_listener(0, addr);
    ASSERT_GE(l, 0);
    gofer::test::TickerProbe probe;  // runs while the connect is parked
    std::vector<int> fillers;
    int stuck = -1;
    for (int i = 0; i < 8 && stuck < 0; ++i) {  // fill the queue until a connect hangs
      const int s = ::socket(AF_INET, SOCK_STREAM, 0);
      const timeval tv{0, 50'000};
      ASSERT_EQ(::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
      errno = 0;
      if (::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ASSERT_EQ(errno, EINPROGRESS) << std::strerror(errno);
        stuck = s;
      }
      fillers.push_back(s);
    }
    EXPECT_GE(stuck, 0) << "the accept queue never filled";
    probe.stop();
    EXPECT_GE(probe.ticks(), parked_ticks) << probe.report().describe();
    for (int s : fillers) {
      ::close(s);
    }
    ::close(l);
  });
}

TEST(Hooks, GetaddrinfoRunsOnTheBlockingPool) {
  gofer::test::Watchdog dog;
  on_one_thread([] {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    ASSERT_EQ(::getaddrinfo("localhost", "80", &hints, &res), 0);
    ASSERT_NE(res, nullptr);
    EXPECT_EQ(res->ai_family, AF_INET);
    ::freeaddrinfo(res);
    hostent he{};
    hostent* found = nullptr;
    int herr = 0;
    char buf[1024];
    ASSERT_EQ(::gethostbyname_r("localhost", &he, buf, sizeof buf, &found, &herr), 0);
    ASSERT_EQ(found, &he);
    EXPECT_GE(reinterpret_cast<char*>(he.h_addr_list), buf);  // moved onto our buffer
    EXPECT_LT(reinterpret_cast<char*>(he.h_addr_list), buf + sizeof buf);
    EXPECT_EQ(he.h_addrtype, AF_INET);
    ASSERT_NE(he.h_addr_list[0], nullptr);
    EXPECT_EQ(static_cast<unsigned char>(he.h_addr_list[0][0]), 127);
  });
}

// An fd closed behind the hooks' back (a raw system call, as the sanitizer runtimes make)
// leaves a stale record; an eventfd that reuses its number must still be the caller's own
// non-blocking fd, not a pipe to park on.
TEST(Hooks, AStaleRecordDoesNotMakeAReusedFdParkable) {
  gofer::test::Watchdog dog;
  on_one_thread([] {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);  // recorded: a blocking FIFO
    ::syscall(SYS_close, fds[0]);
    ::syscall(SYS_close, fds[1]);
    const int e = ::eventfd(0, EFD_NONBLOCK);
    ASSERT_EQ(e, fds[0]);  // the lowest free number
    std::uint64_t v = 0;
    errno = 0;
    EXPECT_EQ(::read(e, &v, sizeof v), -1);  // EAGAIN at once, as the caller asked
    EXPECT_EQ(errno, EAGAIN);
    ::close(e);
  });
}

TEST(Hooks, RegularFilesGoStraightToLibc) {
  TempDir dir;
  const std::string path = dir.file("f");
  on_one_thread([&path] {
    const int fd = ::open(path.c_str(), O_CREAT | O_RDWR, 0600);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(::write(fd, "abc", 3), 3);
    EXPECT_EQ(::lseek(fd, 0, SEEK_SET), 0);
    char buf[4] = {};
    EXPECT_EQ(::read(fd, buf, 3), 3);
    EXPECT_FALSE(real_nonblocking(fd));
    ::close(fd);
  });
}

TEST(Hooks, CloseWakesATaskParkedOnTheFd) {
  gofer::test::Watchdog dog;
  on_one_thread([] {
    int fd[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
    auto reader = gofer::go([fd] {
      char c = 0;
      errno = 0;
      const ssize_t r = ::read(fd[0], &c, 1);
      return std::make_pair(r, errno);
    });
    gofer::sleep_for(5ms);
    ::close(fd[0]);
    const auto [r, err] = gofer::wait(reader);
    EXPECT_EQ(r, -1);
    EXPECT_EQ(err, EBADF);
    ::close(fd[1]);
  });
}

TEST(Hooks, AcceptParksUntilAClientOfTheSameThreadConnects) {
  gofer::test::Watchdog dog;
  on_one_thread([] {
    sockaddr_in addr{};
    const int l = raw_listener(16, addr);
    ASSERT_GE(l, 0);
    auto server = gofer::go([l] {
      const int c = ::accept(l, nullptr, nullptr);  // parks: the client runs on this thread
      EXPECT_GE(c, 0);
      EXPECT_EQ(::fcntl(c, F_GETFL) & O_NONBLOCK, 0);  // an accepted socket is blocking
      char buf[64] = {};
      const ssize_t n = ::read(c, buf, sizeof buf);
      EXPECT_GT(n, 0);
      EXPECT_EQ(::write(c, buf, static_cast<std::size_t>(n)), n);
      ::close(c);
    });
    char reply[64];
    EXPECT_EQ(client_exchange_static("127.0.0.1", ntohs(addr.sin_port), "hi\n", reply, sizeof reply,
                                     5000),
              3);
    EXPECT_STREQ(reply, "hi\n");
    gofer::wait(server);
    ::close(l);
  });
}

TEST(Hooks, RecvWaitallAndWritevCarryEveryByteInOrder) {
  gofer::test::Watchdog dog;
  on_one_thread([] {
    Pair p;
    constexpr std::size_t half = 512 * 1024;
    std::string a(half, '\0');
    std::string b(half, '\0');
    for (std::size_t i = 0; i < half; ++i) {
      a[i] = static_cast<char>(i % 251);
      b[i] = static_cast<char>(i % 241);
    }
    auto reader = gofer::go([&p] {
      std::string got(2 * half, '\0');
      const ssize_t n = ::recv(p.fd[0], got.data(), got.size(), MSG_WAITALL);
      EXPECT_EQ(n, static_cast<ssize_t>(got.size()));
      return got;
    });
    iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
    EXPECT_EQ(::writev(p.fd[1], iov, 2), static_cast<ssize_t>(2 * half));
    EXPECT_TRUE(gofer::wait(reader) == a + b);
  });
}

TEST(Hooks, DupAndIoctlKeepTheCallersView) {
  on_one_thread([] {
    Pair p;
    auto writer = gofer::go([&p] { EXPECT_EQ(::write(p.fd[1], "x", 1), 1); });
    char c = 0;
    EXPECT_EQ(::read(p.fd[0], &c, 1), 1);
    gofer::wait(writer);
    const int d = ::dup(p.fd[0]);
    ASSERT_GE(d, 0);
    EXPECT_EQ(::fcntl(d, F_GETFL) & O_NONBLOCK, 0);  // the dup shares the record
    int on = 1;
    ASSERT_EQ(::ioctl(d, FIONBIO, &on), 0);
    errno = 0;
    EXPECT_EQ(::read(d, &c, 1), -1);  // now non-blocking by the caller's choice
    EXPECT_EQ(errno, EAGAIN);
    EXPECT_NE(::fcntl(d, F_GETFL) & O_NONBLOCK, 0);
    int off = 0;
    ASSERT_EQ(::ioctl(d, FIONBIO, &off), 0);
    EXPECT_EQ(::fcntl(d, F_GETFL) & O_NONBLOCK, 0);
    EXPECT_TRUE(real_nonblocking(d));
    ::close(d);
  });
}

TEST(Hooks, StopEndsAParkedPollWithStopErrno) {
  gofer::test::Watchdog dog;
  on_one_thread([] {
    Pair p;
    auto poller = gofer::go([&p] {
      pollfd f{p.fd[0], POLLIN, 0};
      errno = 0;
      const int r = ::poll(&f, 1, -1);
      return std::make_pair(r, errno);
    });
    gofer::sleep_for(5ms);
    poller.request_stop();
    const auto [r, err] = gofer::wait(poller);
    EXPECT_EQ(r, -1);
    EXPECT_EQ(err, gofer::hooks::stop_errno);
  });
}

TEST(Hooks, PlainAndBlockingPoolThreadsGoStraightToLibc) {
  Pair p;
  EXPECT_EQ(::write(p.fd[1], "ab", 2), 2);
  on_plain_thread([&p] {
    char c = 0;
    EXPECT_EQ(::read(p.fd[0], &c, 1), 1);  // a plain thread: the fd stays as it is
  });
  EXPECT_FALSE(real_nonblocking(p.fd[0]));
  on_one_thread([&p] {
    auto job = gofer::spawn_blocking([&p] {
      gofer::sleep_for(1ms);  // a gofer wait installs a scheduler on the pool thread
      char x = 0;
      return ::read(p.fd[0], &x, 1) == 1 && x == 'b';
    });
    EXPECT_TRUE(job.wait());
  });
  EXPECT_FALSE(real_nonblocking(p.fd[0]));  // the pool thread counted as plain
}
