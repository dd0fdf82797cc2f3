// net_test.cpp: TcpListener, TcpStream, UdpSocket and SocketAddress, over loopback only.
#include <netdb.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/io_support.hpp"
#include "support/scale.hpp"
#include "support/task_support.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::TcpListener;
using gofer::TcpStream;
using gofer::UdpSocket;
using gofer::test::Watchdog;

namespace {

// echo: sends back what it reads until EOF or a connection error.
void echo(TcpStream conn) {
  try {
    for (;;) {
      auto chunk = conn.read_chunk(16 * 1024);
      if (chunk.empty()) {
        return;
      }
      conn.write(chunk);
    }
  } catch (const std::system_error&) {
  }
}

// EchoServer: a listener on 127.0.0.1 (or host) with one echo task per connection, all on the
// constructing thread; the destructor stops them.
class EchoServer {
 public:
  explicit EchoServer(const std::string& host = "127.0.0.1", int backlog = 1024)
      : listener_(TcpListener::bind(host, 0, backlog)) {
    acceptor_ = gofer::go([this] {
      for (;;) {
        handlers_.push_back(gofer::go(echo, listener_.accept()));
      }
    });
  }
  ~EchoServer() {
    stop_and_wait(acceptor_);
    for (auto& h : handlers_) {
      stop_and_wait(h);
    }
  }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  std::uint16_t port() const { return listener_.local_port(); }

 private:
  TcpListener listener_;
  std::vector<gofer::Task<void>> handlers_;
  gofer::Task<void> acceptor_;
};

// Pair: a connected client and the server side of the same connection, on loopback.
struct Pair {
  explicit Pair(const std::string& host = "127.0.0.1")
      : listener(TcpListener::bind(host, 0)),
        client(TcpStream::connect(host, listener.local_port(), 5s)),
        server(listener.accept(5s)) {}
  TcpListener listener;
  TcpStream client;
  TcpStream server;
};

// raise_fd_limit: lifts the soft RLIMIT_NOFILE towards want; returns the limit in force.
rlim_t raise_fd_limit(rlim_t want) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < want) {
    rl.rlim_cur = std::min(want, rl.rlim_max);
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

bool ipv6_loopback_works() {
  try {
    auto l = TcpListener::bind("::1", 0);
    auto c = TcpStream::connect("::1", l.local_port(), 2s);
    return true;
  } catch (const std::system_error&) {
    return false;
  }
}

// FullBacklog: a listener with backlog 0 that never accepts, its queue filled by connections,
// so the next connect hangs in SYN retransmits. ok() is false when this kernel completes the
// handshakes anyway (then connect timeouts cannot be produced deterministically).
class FullBacklog {
 public:
  FullBacklog() : listener_(TcpListener::bind("127.0.0.1", 0, 0)) {
    for (int i = 0; i < 16 && !ok_; ++i) {
      try {
        held_.push_back(TcpStream::connect("127.0.0.1", listener_.local_port(), 200ms));
      } catch (const std::system_error& e) {
        if (!timed_out(e.code())) {
          throw;
        }
        ok_ = true;
      }
    }
  }
  bool ok() const { return ok_; }
  std::uint16_t port() const { return listener_.local_port(); }

 private:
  TcpListener listener_;
  std::vector<TcpStream> held_;
  bool ok_ = false;
};

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>((i * 131) ^ (i >> 9));
  }
  return s;
}

}  // namespace

TEST(TcpStream, EchoesOneMebibyteWithPartialReadsAndWrites) {
  Watchdog dog;
  auto listener = TcpListener::bind("127.0.0.1", 0);
  // The server reads in odd-sized pieces and writes each back.
  auto server = gofer::go([&] {
    auto conn = listener.accept();
    for (std::size_t i = 0;; ++i) {
      auto chunk = conn.read_chunk(1 + (i * 7919) % 4096);
      if (chunk.empty()) {
        return;
      }
      conn.write(chunk);
    }
  });
  auto client = TcpStream::connect("127.0.0.1", listener.local_port(), 5s);
  const std::string data = pattern(1 << 20);
  // One task writes while this thread reads the same stream, slowly, so both sides' socket
  // buffers fill and the writes park.
  auto writer = gofer::go([&] {
    const std::string_view all(data);
    for (std::size_t off = 0; off < all.size(); off += 100'000) {
      client.write(all.substr(off, 100'000));
    }
    client.shutdown(gofer::shutdown_how::write);
  });
  std::string got;
  char buf[1000];
  for (std::size_t reads = 1;; ++reads) {
    const std::size_t n = client.read(std::span(buf, 1 + (reads * 31) % sizeof buf));
    if (n == 0) {
      break;
    }
    got.append(buf, n);
    if (reads % 64 == 0) {
      gofer::sleep_for(1ms);
    }
  }
  writer.wait();
  server.wait();
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data) << "the echoed bytes differ";
}

TEST(TcpStream, OneReaderAndOneWriterOnDifferentThreads) {
  Watchdog dog;
  EchoServer server;  // on this thread, which runs it while it waits below
  auto client = TcpStream::connect("127.0.0.1", server.port(), 5s);
  const std::string data = pattern(512 * 1024);
  gofer::Runtime rt(2);
  auto writer = rt.go_on(1, [&] {
    const std::string_view all(data);
    for (std::size_t off = 0; off < all.size(); off += 50'000) {
      client.write(all.substr(off, 50'000), 10s);
    }
    client.shutdown(gofer::shutdown_how::write);
  });
  auto reader = rt.go_on(0, [&] {
    std::string got;
    for (;;) {
      auto chunk = client.read_chunk(3000, 10s);
      if (chunk.empty()) {
        return got;
      }
      got += chunk;
    }
  });
  writer.wait();
  const std::string got = reader.wait();
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data) << "the echoed bytes differ";
}

TEST(TcpStream, ServesAThousandConnectionsOnOneScheduler) {
  Watchdog dog(60s);
  const int n = 1000 / gofer::test::sanitizer_scale;
  const rlim_t limit = raise_fd_limit(static_cast<rlim_t>(4 * n + 64));
  if (limit < static_cast<rlim_t>(2 * n + 64)) {
    GTEST_SKIP() << "RLIMIT_NOFILE is " << limit << ", too low for " << n << " connections";
  }
  EchoServer server;
  std::atomic<int> ok{0};
  std::vector<gofer::Task<void>> clients;
  for (int i = 0; i < n; ++i) {
    clients.push_back(gofer::go([&, i] {
      auto c = TcpStream::connect("127.0.0.1", server.port(), 10s);
      const std::string line = "client " + std::to_string(i);
      gofer::sleep_for(1ms);  // every connection is open at once before any replies
      c.write(line + "\n");
      if (c.read_line(10s) == line) {
        ok.fetch_add(1);
      }
    }));
  }
  for (auto& c : clients) {
    c.wait();
  }
  EXPECT_EQ(ok.load(), n);
}

TEST(TcpListener, AcceptTimesOut) {
  Watchdog dog;
  auto listener = TcpListener::bind("127.0.0.1", 0);
  EXPECT_TRUE(timed_out(errc_of([&] { listener.accept(20ms); })));
  // Still usable afterwards.
  auto c = TcpStream::connect("127.0.0.1", listener.local_port(), 5s);
  auto s = listener.accept(5s);
  EXPECT_EQ(s.peer_address(), c.local_address());
}

TEST(TcpListener, SeveralTasksAcceptOnOneListenerOnOneThread) {
  Watchdog dog;
  auto listener = TcpListener::bind("127.0.0.1", 0);
  constexpr int acceptors = 3;
  constexpr int per_acceptor = 4;
  std::vector<gofer::Task<int>> tasks;
  for (int a = 0; a < acceptors; ++a) {
    tasks.push_back(gofer::go([&listener] {
      int served = 0;
      for (int i = 0; i < per_acceptor; ++i) {
        auto conn = listener.accept(10s);
        conn.write(conn.read_line(10s).value() + "\n");
        ++served;
      }
      return served;
    }));
  }
  gofer::sleep_for(5ms);  // all three parked on the listener: all must be woken in turn
  for (int c = 0; c < acceptors * per_acceptor; ++c) {
    auto s = TcpStream::connect("127.0.0.1", listener.local_port(), 5s);
    s.write("ping " + std::to_string(c) + "\n", 5s);
    EXPECT_EQ(s.read_line(10s), "ping " + std::to_string(c));
  }
  int served = 0;
  for (auto& t : tasks) {
    served += t.wait();
  }
  EXPECT_EQ(served, acceptors * per_acceptor);
}

TEST(TcpListener, AcceptIsCancelledByRequestStop) {
  Watchdog dog;
  auto listener = TcpListener::bind("127.0.0.1", 0);
  auto t = gofer::go([&] { listener.accept(); });
  gofer::sleep_for(10ms);
  t.request_stop();
  EXPECT_THROW(t.wait(), gofer::cancelled);
}

TEST(TcpStream, ConnectTimesOutAgainstAFullBacklog) {
  Watchdog dog;
  FullBacklog full;
  if (!full.ok()) {
    GTEST_SKIP() << "this kernel completed every connect to a full backlog; no way to make a "
                    "connect hang deterministically on loopback";
  }
  EXPECT_TRUE(timed_out(errc_of([&] { TcpStream::connect("127.0.0.1", full.port(), 30ms); })));
}

TEST(TcpStream, ConnectIsCancelledByRequestStop) {
  Watchdog dog;
  FullBacklog full;
  if (!full.ok()) {
    GTEST_SKIP() << "no way to make a connect hang deterministically on loopback here";
  }
  auto t = gofer::go([&] { TcpStream::connect("127.0.0.1", full.port()); });
  gofer::sleep_for(10ms);
  t.request_stop();
  EXPECT_THROW(t.wait(), gofer::cancelled);
}

TEST(TcpStream, ReadIsCancelledByRequestStopAndTheStreamStaysUsable) {
  Watchdog dog;
  Pair p;
  auto t = gofer::go([&] { return p.client.read_line(); });
  gofer::sleep_for(10ms);
  t.request_stop();
  EXPECT_THROW(t.wait(), gofer::cancelled);
  p.server.write("after\n");
  EXPECT_EQ(p.client.read_line(5s), "after");
}

TEST(TcpStream, ReadLineTimeoutLosesNoBytes) {
  Watchdog dog;
  Pair p;
  p.server.write("hel");
  EXPECT_TRUE(timed_out(errc_of([&] { p.client.read_line(20ms); })));
  p.server.write("lo\nwor");
  EXPECT_EQ(p.client.read_line(5s), "hello");
  p.server.write("ld\r\n");
  EXPECT_EQ(p.client.read_line(5s), "world");
}

TEST(TcpStream, ReadChunkTimeoutLosesNoBytes) {
  Watchdog dog;
  Pair p;
  EXPECT_TRUE(timed_out(errc_of([&] { p.client.read_chunk(100, 20ms); })));
  p.server.write("abc");
  std::string got;
  while (got.size() < 3) {
    got += p.client.read_chunk(100, 5s);
  }
  EXPECT_EQ(got, "abc");
  EXPECT_TRUE(timed_out(errc_of([&] { p.client.read_chunk(100, 20ms); })));
  p.server.shutdown(gofer::shutdown_how::write);
  EXPECT_EQ(p.client.read_chunk(100, 5s), "");
}

TEST(TcpStream, ReadExactTimeoutLosesNoBytes) {
  Watchdog dog;
  Pair p;
  char buf[5];
  p.server.write("abc");
  EXPECT_TRUE(timed_out(errc_of([&] { p.client.read_exact(buf, 20ms); })));
  p.server.write("de");
  ASSERT_EQ(p.client.read_exact(buf, 5s), 5u);
  EXPECT_EQ(std::string(buf, 5), "abcde");
}

TEST(TcpStream, WriteTimesOutWhenThePeerDoesNotRead) {
  Watchdog dog;
  Pair p;
  const std::string block(1 << 20, 'x');
  std::error_code ec;
  for (int i = 0; i < 64 && !ec; ++i) {
    ec = errc_of([&] { p.client.write(block, 20ms); });
  }
  EXPECT_TRUE(timed_out(ec));
}

TEST(TcpStream, ShutdownWriteGivesThePeerEof) {
  Watchdog dog;
  Pair p;
  p.client.write("last");
  p.client.shutdown(gofer::shutdown_how::write);
  EXPECT_EQ(p.server.read_line(5s), "last");
  EXPECT_EQ(p.server.read_line(5s), std::nullopt);
  char c;
  EXPECT_EQ(p.server.read(std::span(&c, 1), 5s), 0u);
}

TEST(TcpStream, PeerResetIsASystemErrorNotASignal) {
  Watchdog dog;
  Pair p;
  const linger hard{1, 0};  // close with RST
  ASSERT_EQ(setsockopt(p.server.fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard), 0);
  p.server.close();
  EXPECT_EQ(errc_of([&] { p.client.read_chunk(100, 5s); }),
            std::error_code(ECONNRESET, std::system_category()));
  std::error_code ec;
  for (int i = 0; i < 8 && !ec; ++i) {  // EPIPE, without SIGPIPE killing the test
    ec = errc_of([&] { p.client.write("x", 5s); });
  }
  EXPECT_TRUE(ec == std::error_code(EPIPE, std::system_category()) ||
              ec == std::error_code(ECONNRESET, std::system_category()))
      << ec.message();
}

TEST(TcpStream, ClosedGivesClosedAndMovedFromGivesEbadf) {
  Watchdog dog;
  Pair p;
  TcpStream moved = std::move(p.client);
  std::string what;
  EXPECT_EQ(errc_of([&] { p.client.write("x"); }, &what), std::errc::bad_file_descriptor);
  EXPECT_NE(what.find("moved-from TcpStream"), std::string::npos) << what;
  moved.close();
  moved.close();
  EXPECT_FALSE(moved.is_open());
  EXPECT_EQ(errc_of([&] { moved.read_line(); }, &what), gofer::errc::closed);
  EXPECT_NE(what.find("use of closed file or socket"), std::string::npos) << what;
  EXPECT_EQ(errc_of([&] { moved.write("x"); }), gofer::errc::closed);
  EXPECT_EQ(errc_of([&] { moved.peer_address(); }), gofer::errc::closed);
  EXPECT_EQ(errc_of([&] { moved.set_deadline(1s); }), gofer::errc::closed);
  const std::string bound = "accept 127.0.0.1:" + std::to_string(p.listener.local_port());
  p.listener.close();
  EXPECT_EQ(errc_of([&] { p.listener.accept(); }, &what), gofer::errc::closed);
  EXPECT_EQ(what, "gofer: " + bound + ": use of closed file or socket");
  UdpSocket u;
  EXPECT_EQ(errc_of([&] { u.send_to("x", "127.0.0.1", 9); }), std::errc::bad_file_descriptor);
}

TEST(TcpStream, AddressesAreFormattedAsHostColonPort) {
  Watchdog dog;
  Pair p;
  const std::string port = std::to_string(p.listener.local_port());
  EXPECT_EQ(p.listener.local_address().to_string(), "127.0.0.1:" + port);
  EXPECT_EQ(p.client.peer_address().to_string(), "127.0.0.1:" + port);
  EXPECT_EQ(p.server.peer_address(), p.client.local_address());
  EXPECT_EQ(p.server.local_address().to_string(), "127.0.0.1:" + port);
  p.client.set_nodelay(false);
  p.client.set_nodelay(true);
}

TEST(TcpStream, RefusedConnectionNamesThePeer) {
  Watchdog dog;
  std::uint16_t port = 0;
  {
    auto l = TcpListener::bind("127.0.0.1", 0);
    port = l.local_port();
  }
  std::string what;
  EXPECT_EQ(errc_of([&] { TcpStream::connect("127.0.0.1", port, 5s); }, &what),
            std::errc::connection_refused);
  EXPECT_NE(what.find("gofer: connect 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << what;
}

TEST(TcpStream, UnresolvableNameIsAResolveError) {
  Watchdog dog;
  std::string what;
  const auto ec = errc_of([&] { TcpStream::connect("no.such.host.invalid", 80, 20s); }, &what);
  EXPECT_EQ(ec.category(), gofer::resolve_category()) << what;
  EXPECT_NE(what.find("connect no.such.host.invalid:80"), std::string::npos) << what;
}

TEST(TcpStream, InvalidIpv4LiteralIsRejectedWithoutALookup) {
  Watchdog dog;
  std::string what;
  const auto ec = errc_of([&] { TcpStream::connect("300.1.1.1", 80, 5s); }, &what);
  EXPECT_EQ(ec, std::error_code(EAI_NONAME, gofer::resolve_category())) << what;
  EXPECT_NE(what.find("300.1.1.1:80: not a valid IPv4 address"), std::string::npos) << what;
  EXPECT_THROW(gofer::SocketAddress::parse("300.1.1.1", 80), std::invalid_argument);
}

TEST(TcpStream, ConnectsToLocalhostByName) {
  Watchdog dog;
  EchoServer server;
  auto c = TcpStream::connect("localhost", server.port(), 10s);
  c.write("by name\n");
  EXPECT_EQ(c.read_line(5s), "by name");
}

TEST(TcpStream, WorksOverIpv6Loopback) {
  Watchdog dog;
  if (!ipv6_loopback_works()) {
    GTEST_SKIP() << "no IPv6 loopback (::1) here";
  }
  EchoServer server("::1");
  auto c = TcpStream::connect("::1", server.port(), 5s);
  EXPECT_EQ(c.peer_address().to_string(), "[::1]:" + std::to_string(server.port()));
  c.write("six\n");
  EXPECT_EQ(c.read_line(5s), "six");
  auto d = TcpStream::connect(gofer::SocketAddress::parse("[::1]", server.port()), 5s);
  d.write("again\n");
  EXPECT_EQ(d.read_line(5s), "again");
}

TEST(SocketAddress, ParsesAndFormatsBothFamilies) {
  const auto v4 = gofer::SocketAddress::parse("10.0.0.1", 80);
  EXPECT_FALSE(v4.is_ipv6());
  EXPECT_EQ(v4.to_string(), "10.0.0.1:80");
  const auto v6 = gofer::SocketAddress::parse("[::1]", 443);
  EXPECT_TRUE(v6.is_ipv6());
  EXPECT_EQ(v6.host(), "::1");
  EXPECT_EQ(v6.port(), 443);
  EXPECT_EQ(v6.to_string(), "[::1]:443");
  EXPECT_EQ(gofer::SocketAddress::parse("::1", 443), v6);
  EXPECT_EQ(gofer::SocketAddress().to_string(), "");
  EXPECT_THROW(gofer::SocketAddress::parse("localhost", 1), std::invalid_argument);
}

namespace {

// udp_round_trip: a sends "ping" to b, b answers "ping!" to the sender's address.
void udp_round_trip(const std::string& host) {
  auto a = UdpSocket::bind(host, 0);
  auto b = UdpSocket::bind(host, 0);
  auto t = gofer::go([&] {
    char buf[64];
    const auto d = b.recv_from(buf, 5s);
    b.send_to(std::string(buf, d.size) + "!", d.from, 5s);
  });
  a.send_to("ping", host, b.local_port());
  char buf[64];
  const auto d = a.recv_from(buf, 5s);
  t.wait();
  EXPECT_EQ(std::string(buf, d.size), "ping!");
  EXPECT_FALSE(d.truncated);
  EXPECT_EQ(d.from.port(), b.local_port());
  EXPECT_EQ(d.from, b.local_address());
}

}  // namespace

TEST(UdpSocket, RoundTripOverIpv4) {
  Watchdog dog;
  udp_round_trip("127.0.0.1");
}

TEST(UdpSocket, RoundTripOverIpv6) {
  Watchdog dog;
  try {
    UdpSocket::bind("::1", 0);
  } catch (const std::system_error& e) {
    GTEST_SKIP() << "no IPv6 loopback: " << e.what();
  }
  udp_round_trip("::1");
}

TEST(UdpSocket, RecvTimesOutAndReportsTruncation) {
  Watchdog dog;
  auto a = UdpSocket::bind("127.0.0.1", 0);
  auto b = UdpSocket::bind("127.0.0.1", 0);
  char buf[4];
  EXPECT_TRUE(timed_out(errc_of([&] { b.recv_from(buf, 20ms); })));
  a.send_to("0123456789", gofer::SocketAddress::parse("127.0.0.1", b.local_port()));
  const auto d = b.recv_from(buf, 5s);
  EXPECT_EQ(d.size, 4u);
  EXPECT_TRUE(d.truncated);
  EXPECT_EQ(std::string(buf, 4), "0123");
}

TEST(UdpSocket, ConnectedSendAndRecv) {
  Watchdog dog;
  auto a = UdpSocket::bind("127.0.0.1", 0);
  auto b = UdpSocket::bind("127.0.0.1", 0);
  a.connect("127.0.0.1", b.local_port());
  b.connect("127.0.0.1", a.local_port());
  a.send("hi", 5s);
  char buf[16];
  EXPECT_EQ(b.recv(buf, 5s), 2u);
  b.send("yo");
  EXPECT_EQ(a.recv(buf, 5s), 2u);
  EXPECT_EQ(std::string(buf, 2), "yo");
  auto t = gofer::go([&] { a.recv(buf); });
  gofer::sleep_for(10ms);
  t.request_stop();
  EXPECT_THROW(t.wait(), gofer::cancelled);
}

TEST(Runtime, ServesConnectionsOnBothThreads) {
  Watchdog dog;
  const int n = 16;
  gofer::Runtime rt(2);
  auto listener = TcpListener::bind("127.0.0.1", 0);
  std::mutex mu;
  std::set<std::thread::id> serving;
  // One acceptor spreads the connections over the Runtime's threads with rt.go.
  auto acceptor = rt.go_on(0, [&] {
    std::vector<gofer::Task<void>> handlers;
    for (int i = 0; i < n; ++i) {
      handlers.push_back(rt.go(
          [&mu, &serving](TcpStream c) {
            {
              std::lock_guard g(mu);
              serving.insert(std::this_thread::get_id());
            }
            echo(std::move(c));
          },
          listener.accept(10s)));
    }
    for (auto& h : handlers) {
      h.wait();
    }
  });
  std::vector<gofer::Task<bool>> clients;
  for (int i = 0; i < n; ++i) {
    clients.push_back(rt.go([&listener, i] {
      auto c = TcpStream::connect("127.0.0.1", listener.local_port(), 10s);
      const std::string line = "line " + std::to_string(i);
      c.write(line + "\n");
      return c.read_line(10s) == line;
    }));
  }
  for (auto& c : clients) {
    EXPECT_TRUE(c.wait());
  }
  acceptor.wait();
  EXPECT_EQ(serving.size(), 2u);
}

TEST(TcpListener, AcceptOutOfFdsIsASystemErrorAndRecovers) {
  Watchdog dog;
  Pair p;
  auto c = TcpStream::connect("127.0.0.1", p.listener.local_port(), 5s);
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = std::min<rlim_t>(saved.rlim_cur, 1024);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> fillers;
  for (int fd = dup(0); fd >= 0; fd = dup(0)) {
    fillers.push_back(fd);
  }
  // The exception is examined only once fds are free again: the sanitizers' runtimes need a
  // pipe to check memory, and with none they report false errors.
  std::exception_ptr failure;
  try {
    p.listener.accept(5s);
  } catch (...) {
    failure = std::current_exception();
  }
  for (int fd : fillers) {
    close(fd);
  }
  setrlimit(RLIMIT_NOFILE, &saved);
  std::string what;
  const auto ec = errc_of(
      [&] {
        if (failure) {
          std::rethrow_exception(failure);
        }
      },
      &what);
  EXPECT_EQ(ec, std::errc::too_many_files_open) << what;
  EXPECT_NE(what.find("out of file descriptors"), std::string::npos) << what;
  auto s = p.listener.accept(5s);  // the connection waited in the queue
  EXPECT_EQ(s.peer_address(), c.local_address());
}

TEST(TcpStream, ReadAllReadsToEofAndItsTimeoutLosesNoBytes) {
  Watchdog dog;
  Pair p;
  p.server.write("first part ");
  EXPECT_TRUE(timed_out(errc_of([&] { p.client.read_all(20ms); })));
  EXPECT_EQ(p.client.buffered(), 11u);
  p.server.write("and the rest");
  p.server.close();
  EXPECT_EQ(p.client.read_all(5s), "first part and the rest");
  EXPECT_EQ(p.client.read_all(5s), "");
}

TEST(TcpStream, BufferedCountsWhatTheNextReadGetsWithoutASyscall) {
  Watchdog dog;
  Pair p;
  EXPECT_EQ(p.client.buffered(), 0u);
  p.server.write("one\ntwo\n");
  EXPECT_EQ(p.client.read_line(5s), "one");
  EXPECT_EQ(p.client.buffered(), 4u);
  EXPECT_EQ(p.client.read_line(5s), "two");
  EXPECT_EQ(p.client.buffered(), 0u);
}
