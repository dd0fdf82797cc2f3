// Runs samples/graceful_server as a user would: start it, read its port, talk to it, send it
// SIGTERM, and check that it exits 0 after its final line. GOFER_GRACEFUL_SERVER is the
// sample's path (samples/CMakeLists.txt).
#include <signal.h>

#include <chrono>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::test::Watchdog;

TEST(GracefulServer, ExitsCleanlyOnSigterm) {
  Watchdog dog;
  gofer::ProcessOptions opts;
  opts.stdout_mode = gofer::stdio::pipe;
  auto p = gofer::Process::spawn({GOFER_GRACEFUL_SERVER}, opts);
  const auto first = p.out().read_line(20s);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->rfind("listening on ", 0), 0U) << *first;
  const auto port = static_cast<std::uint16_t>(std::stoi(first->substr(13)));

  auto conn = gofer::TcpStream::connect("127.0.0.1", port, 10s);
  conn.write("hello\n", 10s);
  EXPECT_EQ(conn.read_line(10s), std::optional<std::string>("hello"));

  p.kill(SIGTERM);  // the connection is still open: the server must stop it, not wait for it
  const auto code = p.wait(20s);
  ASSERT_TRUE(code.has_value()) << "graceful_server did not exit after SIGTERM";
  EXPECT_EQ(*code, 0);
  const std::string rest = p.out().read_all();
  EXPECT_NE(rest.find("graceful_server: shut down cleanly, 1 connection(s) served"),
            std::string::npos)
      << rest;
  EXPECT_EQ(conn.read_line(10s), std::nullopt);  // the server closed our connection
}
