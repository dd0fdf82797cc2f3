// unix_test.cpp: UnixListener and UnixStream: socket files and abstract names, the shared read
// and write set, paths, errors, deadlines and cancellation, on every placement.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/fixtures.hpp"
#include "support/io_support.hpp"
#include "support/task_support.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::UnixListener;
using gofer::UnixStream;
using gofer::test::OnEveryPlacement;
using gofer::test::Watchdog;

namespace {

// abstract_name: a name in the abstract namespace no other test run uses.
std::string abstract_name(const char* what) {
  static std::atomic<int> n{0};
  return "@gofer-unix-test-" + std::to_string(::getpid()) + "-" + what + "-" + std::to_string(n++);
}

// Pair: a connected client and the server side of the same connection.
struct Pair {
  explicit Pair(const std::string& path)
      : listener(UnixListener::bind(path)),
        client(UnixStream::connect(path, 5s)),
        server(listener.accept(5s)) {}
  UnixListener listener;
  UnixStream client;
  UnixStream server;
};

// leave_stale_socket_file: binds a socket to path and closes it without unlinking, as a
// crashed server leaves its socket file behind.
void leave_stale_socket_file(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ::close(fd);
}

}  // namespace

TEST(UnixStream, EchoesLinesOverASocketFile) {
  Watchdog dog;
  TempDir dir;
  const std::string path = dir.file("echo.sock");
  Pair p(path);
  EXPECT_TRUE(std::filesystem::is_socket(path));
  auto echo = gofer::go([&] {
    while (auto line = p.server.read_line(5s)) {
      p.server.write(*line + "\n", 5s);
    }
    p.server.close();
  });
  p.client.write("hello\nworld\n", 5s);
  EXPECT_EQ(p.client.read_line(5s), "hello");
  EXPECT_EQ(p.client.read_line(5s), "world");
  p.client.shutdown();
  echo.wait();
  EXPECT_EQ(p.client.read_line(5s), std::nullopt);
}

TEST(UnixStream, SharesTheWholeReadSetWithTcpStream) {
  Watchdog dog;
  Pair p(abstract_name("readset"));
  p.server.write("line\r\n12345678chunk-and-the-rest", 5s);
  p.server.close();
  EXPECT_EQ(p.client.read_line(5s), "line");
  std::array<char, 8> exact{};
  EXPECT_EQ(p.client.read_exact(exact, 5s), 8u);
  EXPECT_EQ(std::string(exact.data(), exact.size()), "12345678");
  EXPECT_EQ(p.client.read_chunk(5, 5s), "chunk");
  EXPECT_EQ(p.client.read_all(5s), "-and-the-rest");
  std::array<char, 4> more{};
  EXPECT_EQ(p.client.read(more, 5s), 0u);
  EXPECT_EQ(p.client.max_line_length(), UnixStream::default_max_line_length);
}

TEST(UnixStream, ReportsPathsOfBothEnds) {
  TempDir dir;
  const std::string path = dir.file("paths.sock");
  Pair p(path);
  EXPECT_EQ(p.listener.local_path(), path);
  EXPECT_EQ(p.client.peer_path(), path);
  EXPECT_EQ(p.server.local_path(), path);
  EXPECT_EQ(p.client.local_path(), "");  // an unnamed client, as in Go
  EXPECT_EQ(p.server.peer_path(), "");
}

TEST(UnixListener, AbstractNamesTakeAtOrNulAndLeaveNoFile) {
  const std::string name = abstract_name("abstract");
  auto listener = UnixListener::bind(name);
  EXPECT_EQ(listener.local_path(), name);
  EXPECT_FALSE(std::filesystem::exists(name));
  std::string nul_form = name;
  nul_form[0] = '\0';
  auto client = UnixStream::connect(nul_form, 5s);
  auto server = listener.accept(5s);
  EXPECT_EQ(client.peer_path(), name);
  client.write("x", 5s);
  EXPECT_EQ(server.read_chunk(1, 5s), "x");
  // An abstract name is taken while its listener lives, free again once it is closed.
  EXPECT_EQ(errc_of([&] { UnixListener::bind(name); }), std::errc::address_in_use);
  listener.close();
  EXPECT_NO_THROW(UnixListener::bind(nul_form));
}

TEST(UnixListener, StaleSocketFileFailsWithAddressInUseAndIsKept) {
  TempDir dir;
  const std::string path = dir.file("stale.sock");
  leave_stale_socket_file(path);
  std::string what;
  EXPECT_EQ(errc_of([&] { UnixListener::bind(path); }, &what), std::errc::address_in_use);
  EXPECT_NE(what.find("bind " + path), std::string::npos) << what;
  EXPECT_TRUE(std::filesystem::exists(path)) << "bind must not remove a file (as Go)";
  // Nobody serves it: connect is refused, naming the path.
  EXPECT_EQ(errc_of([&] { UnixStream::connect(path, 5s); }, &what), std::errc::connection_refused);
  EXPECT_NE(what.find("connect " + path), std::string::npos) << what;
  std::filesystem::remove(path);
  EXPECT_NO_THROW(UnixListener::bind(path));
}

TEST(UnixListener, CloseAndDestructionUnlinkTheSocketFile) {
  TempDir dir;
  const std::string path = dir.file("unlink.sock");
  auto listener = UnixListener::bind(path);
  EXPECT_TRUE(std::filesystem::exists(path));
  listener.close();
  EXPECT_FALSE(std::filesystem::exists(path));
  listener.close();  // idempotent
  {
    auto again = UnixListener::bind(path);
    auto moved = std::move(again);
    EXPECT_TRUE(std::filesystem::exists(path));
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(UnixListener, BadPathsThrowInvalidArgumentNamingThePath) {
  const std::string too_long = "/tmp/" + std::string(UnixStream::max_path_length, 'x');
  for (auto call : {+[](const std::string& p) { UnixListener::bind(p); },
                    +[](const std::string& p) { UnixStream::connect(p); }}) {
    try {
      call(too_long);
      ADD_FAILURE() << "a path longer than sun_path was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(too_long), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("at most 107"), std::string::npos) << e.what();
    }
    EXPECT_THROW(call(""), std::invalid_argument);
    EXPECT_THROW(call(std::string("/tmp/a\0b", 8)), std::invalid_argument);
  }
  // The longest path that fits works.
  TempDir dir;
  std::string longest = dir.file("");
  longest.append(UnixStream::max_path_length - longest.size(), 'y');
  EXPECT_NO_THROW(UnixListener::bind(longest));
  EXPECT_THROW(UnixListener::bind(abstract_name("backlog"), -1), std::invalid_argument);
}

TEST(UnixStream, ConnectToAMissingPathGivesNoSuchFile) {
  TempDir dir;
  std::string what;
  EXPECT_EQ(errc_of([&] { UnixStream::connect(dir.file("none.sock"), 5s); }, &what),
            std::errc::no_such_file_or_directory);
  EXPECT_NE(what.find("none.sock"), std::string::npos) << what;
}

TEST(UnixStream, ReadTimesOutLosingNoByte) {
  Watchdog dog;
  Pair p(abstract_name("timeout"));
  p.server.write("partial", 5s);
  std::array<char, 16> buf{};
  EXPECT_EQ(errc_of([&] { p.client.read_exact(buf, 20ms); }), std::errc::timed_out);
  EXPECT_EQ(p.client.buffered(), 7u);
  EXPECT_EQ(errc_of([&] { p.client.read_line(gofer::Deadline(10ms)); }), std::errc::timed_out);
  p.server.write(" line\n", 5s);
  EXPECT_EQ(p.client.read_line(5s), "partial line");
}

TEST(UnixListener, AcceptTimesOutAndIsCancelled) {
  Watchdog dog;
  auto listener = UnixListener::bind(abstract_name("accept"));
  EXPECT_EQ(errc_of([&] { listener.accept(20ms); }), std::errc::timed_out);
  auto waiting = gofer::go([&] { listener.accept(); });
  gofer::sleep_for(5ms);
  waiting.request_stop();
  EXPECT_THROW(waiting.wait(), gofer::cancelled);
}

TEST(UnixStream, ClosedObjectsGiveClosedAndMovedFromOnesBadFileDescriptor) {
  Pair p(abstract_name("ebadf"));
  UnixStream moved = std::move(p.client);
  EXPECT_FALSE(p.client.is_open());
  EXPECT_EQ(p.client.fd(), -1);
  EXPECT_EQ(errc_of([&] { p.client.write("x"); }), std::errc::bad_file_descriptor);
  EXPECT_EQ(errc_of([&] { p.client.peer_path(); }), std::errc::bad_file_descriptor);
  moved.close();
  std::string what;
  EXPECT_EQ(errc_of([&] { moved.read_line(); }, &what), gofer::errc::closed);
  EXPECT_NE(what.find("read_line @gofer-unix-test-"), std::string::npos) << what;
  EXPECT_EQ(errc_of([&] { moved.peer_path(); }), gofer::errc::closed);
  p.listener.close();
  EXPECT_EQ(errc_of([&] { p.listener.accept(); }), gofer::errc::closed);
  UnixListener empty;
  EXPECT_EQ(errc_of([&] { empty.local_path(); }), std::errc::bad_file_descriptor);
}

TEST(UnixStream, CloseFromAnotherThreadWakesParkedAcceptAndRead) {
  Watchdog dog;
  TempDir dir;
  const std::string path = dir.file("close.sock");
  Pair p(path);
  auto acceptor = gofer::go([&] { return errc_of([&] { p.listener.accept(); }); });
  auto reader = gofer::go([&] { return errc_of([&] { p.client.read_line(); }); });
  gofer::sleep_for(5ms);  // both park
  std::thread closer([&] {
    p.listener.close();
    p.client.close();
  });
  EXPECT_EQ(acceptor.wait(), gofer::errc::closed);
  EXPECT_EQ(reader.wait(), gofer::errc::closed);
  closer.join();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(UnixStream, ObjectDeadlinesBoundParkedCalls) {
  Watchdog dog;
  Pair p(abstract_name("deadlines"));
  p.client.set_read_deadline(20ms);
  EXPECT_EQ(errc_of([&] { p.client.read_line(); }), std::errc::timed_out);
  p.client.set_read_deadline(gofer::Deadline::never());
  p.server.write("ok\n", 5s);
  EXPECT_EQ(p.client.read_line(5s), "ok");
  p.listener.set_deadline(20ms);
  EXPECT_EQ(errc_of([&] { p.listener.accept(); }), std::errc::timed_out);
}

TEST(UnixStream, WriteToAClosedPeerGivesBrokenPipeNotSigpipe) {
  Pair p(abstract_name("epipe"));
  p.server.close();
  const std::string big(1 << 20, 'x');
  const auto ec = errc_of([&] {
    for (int i = 0; i < 8; ++i) {
      p.client.write(big, 5s);
    }
  });
  EXPECT_TRUE(ec == std::errc::broken_pipe || ec == std::errc::connection_reset) << ec.message();
}

// Many clients, one listener, on every placement: each connection echoes its own lines.
TEST_P(OnEveryPlacement, UnixEchoServesManyClients) {
  Watchdog dog;
  TempDir dir;
  const std::string path = dir.file("many.sock");
  auto listener = UnixListener::bind(path);
  constexpr int clients = 16;
  auto server = spawn([&] {
    std::vector<gofer::Task<void>> conns;
    for (int i = 0; i < clients; ++i) {
      conns.push_back(gofer::go([conn = listener.accept(10s)]() mutable {
        while (auto line = conn.read_line(10s)) {
          conn.write(*line + "\n", 10s);
        }
      }));
    }
    for (auto& c : conns) {
      c.wait();
    }
  });
  std::vector<gofer::Task<int>> tasks;
  for (int c = 0; c < clients; ++c) {
    tasks.push_back(spawn([&path, c] {
      auto s = UnixStream::connect(path, 10s);
      int ok = 0;
      for (int i = 0; i < 20; ++i) {
        const std::string line = std::to_string(c) + ":" + std::to_string(i);
        s.write(line + "\n", 10s);
        ok += s.read_line(10s) == line ? 1 : 0;
      }
      return ok;
    }));
  }
  for (auto& t : tasks) {
    EXPECT_EQ(t.wait(), 20);
  }
  server.wait();
}

INSTANTIATE_TEST_SUITE_P(Placements, OnEveryPlacement, testing::Values(0, 1, 2, 4),
                         gofer::test::placement_name);
