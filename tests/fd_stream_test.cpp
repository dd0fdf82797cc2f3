// fd_stream_test.cpp: the read buffer under File and TcpStream: what an idle connection costs,
// the buffer shrinking back when drained, and read_line's maximum line length. Loopback only.
#include "fd_stream.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/scale.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::TcpListener;
using gofer::TcpStream;
using gofer::detail::FdStream;
using gofer::test::Watchdog;

namespace {

// pattern: n bytes with no "\n", varied so that a reordering shows.
std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  }
  return s;
}

// PipeStream: an FdStream on a pipe's read end, and the write end as a File.
struct PipeStream {
  std::unique_ptr<FdStream> reader;
  gofer::File writer;
  PipeStream() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    reader = std::make_unique<FdStream>(gofer::detail::UniqueFd(fds[0]), "pipe-r", true);
    writer = gofer::File::from_fd(fds[1], "pipe-w");
  }
};

// message_size_error: the what() of the errc::message_size error f throws ("" if none).
template <class F>
std::string message_size_error(F&& f) {
  try {
    f();
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::message_size) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no std::system_error";
  return "";
}

// read_to_end: every byte left on the stream, read with read().
template <class S>
std::string read_to_end(S& s) {
  std::string got;
  char buf[10000];
  while (const std::size_t n = s.read(std::span(buf))) {
    got.append(buf, n);
  }
  return got;
}

// rss_bytes: this process's resident set (/proc/self/statm, second field).
long rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0;
  long resident = 0;
  statm >> size >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

// raise_fd_limit: lifts the soft RLIMIT_NOFILE towards want (at most the hard limit); returns
// the limit in force.
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

// run_clients: the body of the forked client process. It opens fds.size() blocking connections
// to 127.0.0.1:port, sends "ping\n" on each, reads "pong\n" back on each, then holds them all
// open until `hold` reaches EOF. Only system calls after fork (no allocation: the parent may have
// held the allocator's lock); alarm() ends it if the parent hangs.
[[noreturn]] void run_clients(std::vector<int>& fds, std::uint16_t port, int hold) {
  ::alarm(50);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int& fd : fds) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
      ::_exit(2);
    }
  }
  for (const int fd : fds) {
    if (::write(fd, "ping\n", 5) != 5) {
      ::_exit(3);
    }
  }
  for (const int fd : fds) {
    char reply[5];
    std::size_t got = 0;
    while (got < sizeof reply) {
      const ssize_t r = ::read(fd, reply + got, sizeof reply - got);
      if (r <= 0) {
        ::_exit(4);
      }
      got += static_cast<std::size_t>(r);
    }
  }
  char c;
  while (::read(hold, &c, 1) > 0) {
  }
  ::_exit(0);
}

}  // namespace

// 10,000 connections each do one read_line exchange, then all sit idle in a second read_line:
// what each costs the server (its task, stack pages, stream and read buffer) is measured as the
// growth of RSS. The clients live in a child process, so the fd limit is needed once.
TEST(FdStream, IdleConnectionAfterReadLineCostsAtMost16KiB) {
  Watchdog dog(55s);
  const int n = 10000 / gofer::test::sanitizer_scale;
  const rlim_t limit = raise_fd_limit(static_cast<rlim_t>(n + 256));
  if (limit < static_cast<rlim_t>(n + 256)) {
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit allows " << limit << " fds; " << n + 256
                 << " are needed for " << n << " connections";
  }
  gofer::with_event_loop([&] {
    auto listener = TcpListener::bind("127.0.0.1", 0, 4096);
    int hold[2];
    ASSERT_EQ(::pipe2(hold, O_CLOEXEC), 0);
    std::vector<int> client_fds(static_cast<std::size_t>(n), -1);
    std::vector<gofer::Task<void>> handlers;
    handlers.reserve(static_cast<std::size_t>(n));
    const long before = rss_bytes();
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(hold[1]);
      run_clients(client_fds, listener.local_port(), hold[0]);
    }
    ::close(hold[0]);
    std::atomic<int> served{0};
    for (int i = 0; i < n; ++i) {
      handlers.push_back(gofer::go([&served, conn = listener.accept(30s)]() mutable {
        if (conn.read_line(30s) == "ping") {
          conn.write("pong\n", 30s);
          served.fetch_add(1);
        }
        conn.read_line(30s);  // idle until the client goes away
      }));
    }
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (served.load() < n && std::chrono::steady_clock::now() < deadline) {
      gofer::sleep_for(1ms);
    }
    gofer::sleep_for(20ms);  // every handler is parked in its second read_line
    const long per_connection = (rss_bytes() - before) / n;
    std::printf("RSS per idle connection after a read_line exchange: %ld bytes (%d connections)\n",
                per_connection, n);
    ::close(hold[1]);
    for (auto& h : handlers) {
      h.wait();
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "client status " << status;
    EXPECT_EQ(served.load(), n);
    if (gofer::test::sanitizer_scale == 1) {  // sanitizers' shadow memory and quarantine skew RSS
      EXPECT_LE(per_connection, 16 * 1024);
    }
  });
}

TEST(FdStream, ReadBufferIsFreedWhenDrained) {
  Watchdog dog;
  PipeStream p;
  auto& r = *p.reader;
  const auto forever = gofer::detail::no_deadline;
  p.writer.write("short\n");
  EXPECT_EQ(r.read_line(forever), "short");
  EXPECT_EQ(r.buffer_capacity(), 0u);
  p.writer.write("one\ntwo");
  EXPECT_EQ(r.read_line(forever), "one");
  EXPECT_EQ(r.buffered(), 3u);
  EXPECT_GT(r.buffer_capacity(), 0u);
  char c[3];
  EXPECT_EQ(r.read_some(c, 3, forever), 3u);
  EXPECT_EQ(r.buffer_capacity(), 0u);
  // A long line grows the buffer while it is read (doubling, not by 64 KiB a read), then the
  // buffer goes away with it.
  const std::string line = pattern(40000);
  auto writer = gofer::go([&] { p.writer.write(line + "\n"); });
  EXPECT_EQ(r.read_line(forever), line);
  writer.wait();
  EXPECT_EQ(r.buffer_capacity(), 0u);
}

TEST(FdStream, ALineWithoutEndStopsAtTheLimitAndLosesNoByte) {
  Watchdog dog;
  PipeStream p;
  auto& r = *p.reader;
  const std::string data = pattern(1 << 20);
  gofer::with_event_loop([&] {
    auto writer = gofer::go([&] {
      p.writer.write(data);
      p.writer.close();
    });
    const std::string what = message_size_error([&] { r.read_line(gofer::detail::no_deadline); });
    EXPECT_NE(what.find("read_line pipe-r"), std::string::npos) << what;
    EXPECT_NE(what.find("65536"), std::string::npos) << what;
    // While it waited for a newline the buffer held no more than the limit and "\r\n".
    EXPECT_LE(r.buffer_capacity(), gofer::detail::default_max_line_length + 2);
    std::string got;
    char buf[10000];
    while (const std::size_t n = r.read_some(buf, sizeof buf, gofer::detail::no_deadline)) {
      got.append(buf, n);
    }
    writer.wait();
    EXPECT_EQ(got.size(), data.size());
    EXPECT_TRUE(got == data) << "the bytes after the error differ";
  });
}

TEST(TcpStream, ReadLineLongerThanTheLimitIsAnErrorNamingThePeerAndLosesNoByte) {
  Watchdog dog;
  auto listener = TcpListener::bind("127.0.0.1", 0);
  auto client = TcpStream::connect("127.0.0.1", listener.local_port(), 5s);
  auto server = listener.accept(5s);
  const std::string data = pattern(1 << 20);  // a peer that never sends a newline
  gofer::with_event_loop([&] {
    auto writer = gofer::go([&] {
      client.write(data, 10s);
      client.shutdown(gofer::shutdown_how::write);
    });
    EXPECT_EQ(server.max_line_length(), TcpStream::default_max_line_length);
    const std::string what = message_size_error([&] { server.read_line(10s); });
    EXPECT_NE(what.find("read_line " + client.local_address().to_string()), std::string::npos)
        << what;
    EXPECT_NE(what.find("max_line_length 65536"), std::string::npos) << what;
    const std::string got = read_to_end(server);
    writer.wait();
    EXPECT_EQ(got.size(), data.size());
    EXPECT_TRUE(got == data) << "the bytes after the error differ";
  });
}

TEST(TcpStream, LineExactlyAtTheLimitIsReturned) {
  Watchdog dog;
  auto listener = TcpListener::bind("127.0.0.1", 0);
  auto client = TcpStream::connect("127.0.0.1", listener.local_port(), 5s);
  auto server = listener.accept(5s);
  server.set_max_line_length(10);
  EXPECT_EQ(server.max_line_length(), 10u);
  client.write("0123456789\n0123456789\r\n01234567890\n0123456789");
  client.shutdown(gofer::shutdown_how::write);
  EXPECT_EQ(server.read_line(5s), "0123456789");
  EXPECT_EQ(server.read_line(5s), "0123456789");
  message_size_error([&] { server.read_line(5s); });
  char buf[12];
  EXPECT_EQ(server.read_exact(std::span(buf), 5s), 12u);
  EXPECT_EQ(std::string(buf, 12), "01234567890\n");
  EXPECT_EQ(server.read_line(5s), "0123456789");  // the last line, at EOF
  EXPECT_EQ(server.read_line(5s), std::nullopt);
}

TEST(File, DefaultLineLimitIs64KiBAndAChangedLimitIsHonoured) {
  Watchdog dog;
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  auto reader = gofer::File::from_fd(fds[0], "pipe-r");
  auto writer = gofer::File::from_fd(fds[1], "pipe-w");
  EXPECT_EQ(reader.max_line_length(), 64u * 1024);
  const std::string at_limit = pattern(64 * 1024);
  const std::string over = pattern(64 * 1024 + 1);
  gofer::with_event_loop([&] {
    auto w = gofer::go([&] {
      writer.write(at_limit + "\n" + over + "\n" + over + "\n");
      writer.close();
    });
    EXPECT_EQ(reader.read_line(), at_limit);
    message_size_error([&] { reader.read_line(); });
    reader.set_max_line_length(1 << 20);
    EXPECT_EQ(reader.read_line(), over);  // the same line, now within the limit
    EXPECT_EQ(reader.read_line(), over);
    EXPECT_EQ(reader.read_line(), std::nullopt);
    w.wait();
  });
}

TEST(File, LongLineInARegularFileIsAnErrorAndTheRestIsReadable) {
  char tmpl[] = "/tmp/gofer_fd_stream_test_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir(tmpl);
  const auto path = (dir / "long.txt").string();
  const std::string line = pattern(100000);
  gofer::File::open(path, gofer::open_mode::write).write(line + "\nshort\n");
  auto f = gofer::File::open(path);
  const std::string what = message_size_error([&] { f.read_line(); });
  EXPECT_NE(what.find("read_line " + path), std::string::npos) << what;
  f.set_max_line_length(200000);
  EXPECT_EQ(f.read_line(), line);
  EXPECT_EQ(f.read_line(), "short");
  EXPECT_EQ(f.read_line(), std::nullopt);
  std::filesystem::remove_all(dir);
}

TEST(File, SetMaxLineLengthRejectsZeroAndAnEmptyFile) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  auto reader = gofer::File::from_fd(fds[0]);
  auto writer = gofer::File::from_fd(fds[1]);
  try {
    reader.set_max_line_length(0);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("gofer::File::set_max_line_length"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(reader.max_line_length(), gofer::File::default_max_line_length);
  gofer::File empty;
  EXPECT_THROW(empty.set_max_line_length(10), std::system_error);
  TcpStream none;
  EXPECT_THROW(none.set_max_line_length(10), std::system_error);
}

// A small read_exact that finds the buffer empty asks the kernel for everything queued (up to
// 64 KiB), so the next messages cost no syscall: after the first of 100 queued 64-byte messages
// the other 99 are buffered. Reads of 4 KiB or more still go straight to the caller.
TEST(TcpStream, SmallReadsAreServedFromOneBatchedRead) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  auto client = TcpStream::connect("127.0.0.1", l.local_port(), 5s);
  auto server = l.accept(5s);
  const std::string all = pattern(100 * 64);
  client.write(all);
  int queued = 0;
  while (::ioctl(server.fd(), FIONREAD, &queued) == 0 && queued < static_cast<int>(all.size())) {
    gofer::sleep_for(1ms);
  }
  std::string msg(64, '\0');
  ASSERT_EQ(server.read_exact(msg, 5s), 64u);
  EXPECT_EQ(msg, all.substr(0, 64));
  EXPECT_EQ(server.buffered(), all.size() - 64);
  for (std::size_t i = 1; i < 100; ++i) {
    ASSERT_EQ(server.read_exact(msg, 5s), 64u);
    ASSERT_EQ(msg, all.substr(i * 64, 64)) << i;
  }
  EXPECT_EQ(server.buffered(), 0u);
  const std::string big = pattern(3 * 4096);
  client.write(big);
  std::string got(big.size(), '\0');
  ASSERT_EQ(server.read_exact(got, 5s), got.size());
  EXPECT_EQ(got, big);
  EXPECT_EQ(server.buffered(), 0u);
}

// A blocking fd gofer may not switch to O_NONBLOCK (readiness mode) is read once per wait, not
// until EAGAIN: its waits must report what is readable now, not only new edges, or the second
// byte below, which came with the first, would never be read.
TEST(FdStream, ReadinessModeReadsWhatCameWithAnEarlierWait) {
  Watchdog dog;
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  FdStream r{gofer::detail::UniqueFd(fds[0]), "pipe-r", false};
  ASSERT_EQ(r.mode(), FdStream::io_mode::readiness);
  auto w = gofer::File::from_fd(fds[1], "pipe-w");
  w.write("ab");
  char c = 0;
  const auto soon = std::chrono::steady_clock::now() + 5s;
  ASSERT_EQ(r.read_some(&c, 1, soon), 1u);
  EXPECT_EQ(c, 'a');
  ASSERT_EQ(r.read_some(&c, 1, soon), 1u);
  EXPECT_EQ(c, 'b');
}

// A task whose writes never wait (the peer's buffer has room for all of them) still lets the
// thread's other tasks run: after at most 16 syscalls in a row that did not wait, it yields.
TEST(TcpStream, AStreamThatNeverWaitsLetsTheThreadsOtherTasksRun) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  auto client = TcpStream::connect("127.0.0.1", l.local_port(), 5s);
  auto server = l.accept(5s);
  gofer::go_and_wait([&] {
    bool other_ran = false;
    int writes_before = -1;
    auto other = gofer::go([&] { other_ran = true; });
    const std::string msg(64, 'm');
    for (int i = 0; i < 100; ++i) {  // 6,400 bytes: no socket buffer is that small
      if (other_ran && writes_before < 0) {
        writes_before = i;
      }
      client.write(msg, 5s);
    }
    other.wait();
    EXPECT_GE(writes_before, 1);
    EXPECT_LE(writes_before, 16);
  });
  std::string got(100 * 64, '\0');
  ASSERT_EQ(server.read_exact(got, 5s), got.size());
}
