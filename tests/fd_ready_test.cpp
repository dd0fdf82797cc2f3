// fd_ready_test.cpp: gofer::wait_readable / wait_writable on fds gofer does not own.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/io_support.hpp"
#include "support/task_support.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::test::Watchdog;

namespace {

// RawPipe: a non-blocking pipe owned by the test, as a C library would own it.
struct RawPipe {
  RawPipe() {
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
      throw std::system_error(errno, std::system_category(), "pipe2");
    }
  }
  ~RawPipe() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  int fds[2] = {-1, -1};
};

TEST(FdReady, WaitReadableParksUntilAnotherTaskWrites) {
  Watchdog dog;
  RawPipe p;
  gofer::with_event_loop([&] {
    bool written = false;
    auto writer = gofer::go([&] {
      gofer::sleep_for(5ms);
      written = true;
      ASSERT_EQ(::write(p.fds[1], "x", 1), 1);
    });
    gofer::wait_readable(p.fds[0], 5s);
    EXPECT_TRUE(written);
    char c = 0;
    EXPECT_EQ(::read(p.fds[0], &c, 1), 1);
    writer.wait();
  });
}

TEST(FdReady, WaitReadableTimesOutOnAnIdleFd) {
  Watchdog dog;
  RawPipe p;
  std::string what;
  EXPECT_EQ(errc_of([&] { gofer::wait_readable(p.fds[0], 10ms); }, &what), std::errc::timed_out);
  EXPECT_NE(what.find("wait_readable fd " + std::to_string(p.fds[0])), std::string::npos) << what;
}

TEST(FdReady, WaitWritableReturnsAtOnceOnAnEmptyPipe) {
  Watchdog dog;
  RawPipe p;
  gofer::wait_writable(p.fds[1], 5s);
  gofer::wait_writable(p.fds[1]);
}

TEST(FdReady, NonBlockingConnectOnARawSocket) {
  Watchdog dog;
  auto listener = gofer::TcpListener::bind("127.0.0.1", 0);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(listener.local_port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  if (r != 0) {
    ASSERT_EQ(errno, EINPROGRESS);
    gofer::wait_writable(fd, 5s);
  }
  int err = -1;
  socklen_t len = sizeof err;
  ASSERT_EQ(::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
  EXPECT_EQ(err, 0);
  auto conn = listener.accept(5s);
  conn.write("hi", 5s);
  gofer::wait_readable(fd, 5s);
  char buf[2] = {};
  EXPECT_EQ(::read(fd, buf, 2), 2);
  ::close(fd);
}

TEST(FdReady, RequestStopCancelsTheWait) {
  Watchdog dog;
  RawPipe p;
  gofer::with_event_loop([&] {
    auto t = gofer::go([&] { gofer::wait_readable(p.fds[0]); });
    gofer::sleep_for(1ms);
    t.request_stop();
    EXPECT_THROW(t.wait(), gofer::cancelled);
  });
}

TEST(FdReady, ARegularFileOrABadFdGivesAClearError) {
  Watchdog dog;
  std::FILE* tmp = std::tmpfile();
  ASSERT_NE(tmp, nullptr);
  std::string what;
  EXPECT_EQ(errc_of([&] { gofer::wait_readable(::fileno(tmp), 1s); }, &what),
            std::error_code(EPERM, std::system_category()));
  EXPECT_NE(what.find("poller cannot watch it"), std::string::npos) << what;
  std::fclose(tmp);
  RawPipe p;
  const int closed = ::dup(p.fds[0]);
  ::close(closed);
  EXPECT_EQ(errc_of([&] { gofer::wait_writable(closed, 1s); }, &what),
            std::error_code(EBADF, std::system_category()));
  EXPECT_NE(what.find("not an open file descriptor"), std::string::npos) << what;
  EXPECT_THROW(gofer::wait_readable(-1), std::invalid_argument);
}

}  // namespace
