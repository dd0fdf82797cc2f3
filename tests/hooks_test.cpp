// hooks_test.cpp: gofer::hooks: blocking libc calls made in tasks park the task.
//
// The proof that a call parked instead of blocking: the test's peer (a gofer server, or the
// task that writes what another reads) runs on the SAME scheduler thread, so a call that
// blocked the thread would never see it (the blocking client's own poll timeout then fails the
// test, and the watchdog ends a hang).
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>
#include <gofer/hooks.hpp>

#include "hooks/blocking_client.hpp"
#include "hooks/real.hpp"
#include "support/io_support.hpp"
#include "support/scale.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

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

// Ticker: a task that ticks every millisecond on the calling thread and records its largest
// gap, until stopped.
class Ticker {
 public:
  Ticker()
      : task_(gofer::go([this] {
          auto last = clock_type::now();
          while (!stop_.load()) {
            gofer::sleep_for(1ms);
            const auto now = clock_type::now();
            max_gap_ = std::max(max_gap_, now - last);
            last = now;
          }
        })) {}
  // stop: ends the ticker; its largest gap.
  clock_type::duration stop() {
    stop_ = true;
    gofer::wait(task_);
    return max_gap_;
  }

 private:
  std::atomic<bool> stop_{false};
  clock_type::duration max_gap_{};
  gofer::Task<void> task_;
};

// drive_clients: a line echo server and 100 tasks running `client` against it, all on the
// calling task's thread, with a ticker; the ticker's largest gap.
clock_type::duration drive_clients(client_exchange_fn* client) {
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
  Ticker ticker;
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
  const auto gap = ticker.stop();
  listener.close();
  gofer::wait(server);
  return gap;
}

// gap_limit: 20 ms, more under sanitizers (every switch there costs several times more).
constexpr auto gap_limit = 20ms * gofer::test::sanitizer_scale;

}  // namespace

TEST(Hooks, AreActive) {
  EXPECT_TRUE(gofer::hooks::active());
}

TEST(Hooks, StaticallyLinkedClientParksItsTask) {
  gofer::test::Watchdog dog;
  on_one_thread([] { EXPECT_LT(drive_clients(&client_exchange_static), gap_limit); });
}

TEST(Hooks, SharedLibraryClientParksItsTask) {
  gofer::test::Watchdog dog;
  on_one_thread([] { EXPECT_LT(drive_clients(&client_exchange_shared), gap_limit); });
}

TEST(Hooks, DlopenedClientParksItsTask) {
  gofer::test::Watchdog dog;
  void* module = ::dlopen(GOFER_HOOKS_CLIENT_MODULE, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(module, nullptr) << ::dlerror();
  auto* client = reinterpret_cast<client_exchange_fn*>(::dlsym(module, "client_exchange_module"));
  ASSERT_NE(client, nullptr) << ::dlerror();
  on_one_thread([client] { EXPECT_LT(drive_clients(client), gap_limit); });
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
    const timeval tv{0, 20'000};
    ASSERT_EQ(::setsockopt(p.fd[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    Ticker ticker;  // runs meanwhile: the read parks
    char c = 0;
    errno = 0;
    EXPECT_EQ(::read(p.fd[0], &c, 1), -1);
    EXPECT_EQ(errno, EAGAIN);
    EXPECT_LT(ticker.stop(), gap_limit);
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
  std::thread late_writer([&p] {
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(::write(p.fd[1], "y", 1), 1);
  });
  char c = 0;
  EXPECT_EQ(::read(p.fd[0], &c, 1), 1);  // waits in the real poll(), no EAGAIN
  EXPECT_EQ(c, 'y');
  late_writer.join();
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
    Ticker ticker;
    EXPECT_EQ(::poll(fds, 1, 20), 0);  // the timeout, parked
    EXPECT_LT(ticker.stop(), gap_limit);
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

TEST(Hooks, SleepsParkAndAStoppedSleepReturnsEintrWithTheTimeLeft) {
  gofer::test::Watchdog dog;
  on_one_thread([] {
    Ticker ticker;
    EXPECT_EQ(::usleep(20'000), 0);
    const timespec ts{0, 20'000'000};
    EXPECT_EQ(::nanosleep(&ts, nullptr), 0);
    EXPECT_EQ(::clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr), 0);
    EXPECT_LT(ticker.stop(), gap_limit);
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
