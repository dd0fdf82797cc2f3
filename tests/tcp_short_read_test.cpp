// tcp_short_read_test.cpp: after a recv that came up short, a TcpStream waits for the socket's
// next edge without a recv that says EAGAIN (FdStream::set_tcp). These are the reads that stop
// short with more to come, which must not strand the reader: the urgent mark, and a hang-up
// (or data) reported by the same edge as the bytes just read. Each peer sends while the
// reader's thread is held busy, so its poller reports everything in one edge.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::TcpListener;
using gofer::TcpStream;

namespace {

// RawPeer: a plain blocking socket connected to 127.0.0.1:port, sending from the test.
class RawPeer {
 public:
  explicit RawPeer(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      throw std::runtime_error("RawPeer: cannot connect");
    }
  }
  ~RawPeer() { ::close(fd_); }
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;

  void send(const std::string& s, int flags = 0) const {
    ASSERT_EQ(::send(fd_, s.data(), s.size(), flags), static_cast<ssize_t>(s.size()));
  }
  void shutdown_write() const { ::shutdown(fd_, SHUT_WR); }

 private:
  int fd_;
};

// while_thread_busy: runs f on a plain thread while this scheduler thread waits for it without
// polling, from a task started after the reader parked; the reader's edges pile up into one.
template <class F>
void while_thread_busy(F f) {
  gofer::go([f] { std::thread(f).join(); });
}

// connected: a TcpStream and its raw peer, after one byte went across (so the stream's
// registration exists and the next read parks on an edge).
struct Connected {
  TcpListener listener = TcpListener::bind("127.0.0.1", 0);
  RawPeer peer{listener.local_port()};
  TcpStream conn = listener.accept(2s);

  Connected() {
    peer.send("0");
    char c = 0;
    conn.read_exact({&c, 1}, 2s);
  }
};

}  // namespace

TEST(TcpShortRead, BytesAfterTheUrgentMarkAreRead) {
  gofer::test::Watchdog watchdog(20s);
  Connected c;
  auto reader = gofer::go([&c] {
    std::string got(6, '\0');
    got.resize(c.conn.read_exact(got, 3s));  // the recv stops short at the urgent mark
    return got;
  });
  while_thread_busy([&c] {
    c.peer.send("abc");
    c.peer.send("X", MSG_OOB);  // out of band: not in the stream's bytes
    c.peer.send("def");
  });
  EXPECT_EQ(reader.wait(), "abcdef");
}

TEST(TcpShortRead, HangUpReportedWithTheLastBytesEndsTheRead) {
  gofer::test::Watchdog watchdog(20s);
  Connected c;
  auto reader = gofer::go([&c] { return c.conn.read_line(3s); });
  while_thread_busy([&c] {
    c.peer.send("abc");  // no newline: read_line reads again after these bytes
    c.peer.shutdown_write();
  });
  EXPECT_EQ(reader.wait(), std::optional<std::string>("abc"));
}

TEST(TcpShortRead, BytesArrivingAfterAShortReadWakeTheReader) {
  gofer::test::Watchdog watchdog(20s);
  Connected c;
  auto reader = gofer::go([&c] {
    std::string got(6, '\0');
    got.resize(c.conn.read_exact(got, 3s));  // "abc" now, "def" after the reader waits
    return got;
  });
  while_thread_busy([&c] { c.peer.send("abc"); });
  gofer::go([&c] {
    gofer::sleep_for(20ms);
    c.peer.send("def");
  });
  EXPECT_EQ(reader.wait(), "abcdef");
}

TEST(TcpShortRead, PingPongOfSmallMessagesNeverStalls) {
  gofer::test::Watchdog watchdog(20s);
  auto listener = TcpListener::bind("127.0.0.1", 0);
  auto server = gofer::go([&listener] {
    TcpStream s = listener.accept(2s);
    char m[64];
    while (s.read_exact(m, 2s) == sizeof m) {
      s.write({m, sizeof m}, 2s);
    }
  });
  TcpStream client = TcpStream::connect("127.0.0.1", listener.local_port(), 2s);
  for (int i = 0; i < 2000; ++i) {
    std::string msg(64, static_cast<char>('a' + i % 26));
    client.write(msg, 2s);
    std::string back(64, '\0');
    ASSERT_EQ(client.read_exact(back, 2s), 64u);
    ASSERT_EQ(back, msg);
  }
  client.close();
  server.wait();
}
