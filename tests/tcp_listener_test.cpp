// tcp_listener_test.cpp: TcpListener's listen backlog, over loopback only. (The other
// TcpListener tests are in net_test.cpp.)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::TcpListener;
using gofer::test::Watchdog;

namespace {

// somaxconn: the kernel's cap on a listen backlog, as bind() reads it by default.
unsigned somaxconn() {
  std::ifstream f("/proc/sys/net/core/somaxconn");
  unsigned n = 0;
  if (!(f >> n) || n == 0) {
    n = SOMAXCONN;
  }
  return std::min(n, 65535u);
}

// Queue: what TCP_INFO says of a listening socket: its backlog and the connections waiting in
// its accept queue (Linux reports them in tcpi_sacked and tcpi_unacked for a listener).
struct Queue {
  unsigned backlog = 0;
  unsigned waiting = 0;
};

Queue queue_of(const TcpListener& l) {
  tcp_info info{};
  socklen_t len = sizeof info;
  EXPECT_EQ(::getsockopt(l.fd(), IPPROTO_TCP, TCP_INFO, &info, &len), 0);
  return {info.tcpi_sacked, info.tcpi_unacked};
}

// Connects: n non-blocking connects to 127.0.0.1:port started at once, raw (no task each), so
// the burst is as sudden as many clients arriving together.
class Connects {
 public:
  Connects(std::uint16_t port, int n) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < n; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      EXPECT_GE(fd, 0);
      fds_.push_back({fd, POLLOUT, 0});
      const int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to);
      EXPECT_TRUE(r == 0 || errno == EINPROGRESS) << "connect: errno " << errno;
    }
  }
  ~Connects() {
    for (const auto& p : fds_) {
      ::close(p.fd);
    }
  }
  Connects(const Connects&) = delete;
  Connects& operator=(const Connects&) = delete;

  // wait: how many connections completed without error before the deadline.
  int wait(std::chrono::steady_clock::time_point deadline) {
    std::vector<bool> done(fds_.size(), false);
    int connected = 0;
    int pending = static_cast<int>(fds_.size());
    while (pending > 0 && std::chrono::steady_clock::now() < deadline) {
      ::poll(fds_.data(), fds_.size(), 10);
      for (std::size_t i = 0; i < fds_.size(); ++i) {
        if (done[i] || fds_[i].revents == 0) {
          continue;
        }
        done[i] = true;
        --pending;
        fds_[i].events = 0;
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fds_[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
        connected += err == 0 ? 1 : 0;
      }
    }
    return connected;
  }

 private:
  std::vector<pollfd> fds_;
};

}  // namespace

TEST(TcpListener, DefaultBacklogIsTheSystemMaximum) {
  auto l = TcpListener::bind("127.0.0.1", 0);
  EXPECT_EQ(queue_of(l).backlog, somaxconn());
  auto explicit_backlog = TcpListener::bind("127.0.0.1", 0, 7);
  EXPECT_EQ(queue_of(explicit_backlog).backlog, 7u);
  EXPECT_THROW(TcpListener::bind("127.0.0.1", 0, -1), std::invalid_argument);
}

// 500 clients connect at once while nobody accepts yet: with the default backlog every
// handshake completes and waits in the accept queue (none is dropped into a 1 s SYN retry),
// then an acceptor that starts late takes them all.
TEST(TcpListener, BurstOfConnectsQueuesWhileTheAcceptorStartsLate) {
  Watchdog dog;
  constexpr int n = 500;
  if (somaxconn() < static_cast<unsigned>(n)) {
    GTEST_SKIP() << "net.core.somaxconn is " << somaxconn() << ", below " << n;
  }
  auto l = TcpListener::bind("127.0.0.1", 0);
  Connects clients(l.local_port(), n);
  EXPECT_EQ(clients.wait(std::chrono::steady_clock::now() + 5s), n);
  EXPECT_EQ(queue_of(l).waiting, static_cast<unsigned>(n));
  gofer::with_event_loop([&] {
    for (int i = 0; i < n; ++i) {
      l.accept(5s);
    }
  });
  EXPECT_EQ(queue_of(l).waiting, 0u);
}
