// buffered_writer_test.cpp: BufferedWriter: batching, writes larger than the buffer, the
// sticky error, flushing on destruction, and a pipelined line-protocol server that needs far
// fewer writes than replies.
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/io_support.hpp"
#include "support/task_support.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::BufferedWriter;
using gofer::Deadline;
using gofer::test::Watchdog;

namespace {

// Recorder: a target that keeps every write it gets (and its deadline), failing on call
// number fail_at (1-based; 0: never).
struct Recorder {
  std::vector<std::string> writes;
  std::vector<Deadline> deadlines;
  std::size_t fail_at = 0;
  std::size_t calls = 0;

  void write(std::string_view bytes, Deadline d) {
    if (++calls == fail_at) {
      throw std::system_error(std::make_error_code(std::errc::connection_reset), "recorder");
    }
    writes.emplace_back(bytes);
    deadlines.push_back(d);
  }

  std::string all() const {
    std::string out;
    for (const auto& w : writes) {
      out += w;
    }
    return out;
  }
};

// Counting: a target that forwards to a stream and counts the writes it makes.
template <class S>
struct Counting {
  S& stream;
  std::size_t writes = 0;
  void write(std::string_view bytes, Deadline d) {
    ++writes;
    stream.write(bytes, d);
  }
};

}  // namespace

TEST(BufferedWriter, SmallWritesReachTheTargetInFullBuffers) {
  Recorder r;
  BufferedWriter w(r, 8);
  for (int i = 0; i < 5; ++i) {
    w.write("abc");
  }
  EXPECT_EQ(r.writes, std::vector<std::string>{"abcabcab"});
  EXPECT_EQ(w.buffered(), 7u);
  EXPECT_EQ(w.available(), 1u);
  w.flush();
  EXPECT_EQ(r.writes, (std::vector<std::string>{"abcabcab", "cabcabc"}));
  EXPECT_EQ(w.buffered(), 0u);
  w.flush();  // nothing buffered: no call
  EXPECT_EQ(r.writes.size(), 2u);
}

TEST(BufferedWriter, WritesLargerThanTheBufferGoStraightThrough) {
  Recorder r;
  BufferedWriter w(r, 8);
  w.write("xy");
  w.write("0123456789abcdefghij");  // fills the buffer, flushes, then 14 bytes go through
  EXPECT_EQ(r.writes, (std::vector<std::string>{"xy012345", "6789abcdefghij"}));
  w.write(std::string(100, 'z'));  // nothing buffered: one write, no copy
  EXPECT_EQ(r.writes.size(), 3u);
  EXPECT_EQ(r.writes.back(), std::string(100, 'z'));
  w.write("12345678");  // exactly the buffer's size: buffered
  EXPECT_EQ(r.writes.size(), 3u);
  EXPECT_EQ(w.available(), 0u);
}

TEST(BufferedWriter, PassesTheDeadlineToTheTarget) {
  Recorder r;
  BufferedWriter w(r, 4);
  const Deadline d = 5s;
  w.write("abcdef", d);
  w.write("g");
  w.flush(d);
  ASSERT_EQ(r.deadlines.size(), 2u);
  EXPECT_EQ(r.deadlines[0], d);
  EXPECT_EQ(r.deadlines[1], d);
  EXPECT_EQ(r.all(), "abcdefg");
}

TEST(BufferedWriter, AnErrorIsStickyAndTheTargetIsNotCalledAgain) {
  Recorder r;
  r.fail_at = 2;
  BufferedWriter w(r, 4);
  w.write("abcd");
  w.write("e");  // flushes "abcd": call 1
  w.write("fgh");
  EXPECT_EQ(errc_of([&] { w.flush(); }), std::errc::connection_reset);  // call 2 fails
  EXPECT_TRUE(w.failed());
  EXPECT_EQ(w.buffered(), 0u);
  EXPECT_EQ(errc_of([&] { w.write("i"); }), std::errc::connection_reset);
  EXPECT_EQ(errc_of([&] { w.flush(); }), std::errc::connection_reset);
  EXPECT_EQ(r.calls, 2u);
  EXPECT_EQ(r.all(), "abcd");
}

TEST(BufferedWriter, DestructionFlushesAndAnErrorThereIsLostNotThrown) {
  Recorder r;
  {
    BufferedWriter w(r);
    w.write("tail");
  }
  EXPECT_EQ(r.all(), "tail");
  Recorder failing;
  failing.fail_at = 1;
  {
    BufferedWriter w(failing);
    w.write("lost");
  }  // must not throw (nor terminate)
  EXPECT_EQ(failing.calls, 1u);
}

TEST(BufferedWriter, MovingCarriesTheBufferAndEmptiesTheSource) {
  Recorder r;
  BufferedWriter a(r, 16);
  a.write("kept");
  BufferedWriter b(std::move(a));
  EXPECT_EQ(b.buffered(), 4u);
  EXPECT_THROW(a.write("x"), std::logic_error);  // NOLINT(bugprone-use-after-move)
  Recorder other;
  BufferedWriter c(other, 16);
  c.write("first");
  c = std::move(b);  // flushes c's own bytes to its old target first
  EXPECT_EQ(other.all(), "first");
  c.flush();
  EXPECT_EQ(r.all(), "kept");
}

TEST(BufferedWriter, SizeZeroIsInvalid) {
  Recorder r;
  EXPECT_THROW(BufferedWriter(r, 0), std::invalid_argument);
  EXPECT_EQ(BufferedWriter(r).size(), BufferedWriter::default_size);
}

TEST(BufferedWriter, WritesToAFile) {
  TempDir dir;
  const std::string path = dir.file("out.txt");
  std::string want;
  {
    auto f = gofer::File::open(path, gofer::open_mode::write);
    BufferedWriter w(f, 64);
    for (int i = 0; i < 100; ++i) {
      const std::string line = "line " + std::to_string(i) + "\n";
      w.write(line);
      want += line;
    }
    w.flush(5s);
  }
  EXPECT_EQ(gofer::File::open(path).read_all(5s), want);
}

// A key-value-style server answering 10,000 pipelined commands: it replies through a
// BufferedWriter and flushes only when no further command is buffered, as Go code does with
// bufio. The client must get every reply, byte for byte, from far fewer writes than replies.
TEST(BufferedWriter, PipelinedLineServerAnswersWithFarFewerWrites) {
  Watchdog dog;
  constexpr int commands = 10'000;
  auto listener = gofer::TcpListener::bind("127.0.0.1", 0);
  std::size_t server_writes = 0;
  auto server = gofer::go([&] {
    auto conn = listener.accept(10s);
    Counting<gofer::TcpStream> counted{conn};
    BufferedWriter out(counted);
    while (auto line = conn.read_line(10s)) {
      out.write("VALUE " + line->substr(4) + "\r\n", 10s);
      if (conn.buffered() == 0) {
        out.flush(10s);
      }
    }
    out.flush(10s);
    server_writes = counted.writes;
  });
  auto client = gofer::TcpStream::connect("127.0.0.1", listener.local_port(), 10s);
  std::string request;
  std::string want;
  for (int i = 0; i < commands; ++i) {
    request += "GET key" + std::to_string(i) + "\n";
    want += "VALUE key" + std::to_string(i) + "\r\n";
  }
  auto sender = gofer::go([&] {
    client.write(request, 10s);
    client.shutdown();
  });
  EXPECT_EQ(client.read_all(10s), want);
  sender.wait();
  server.wait();
  EXPECT_GT(server_writes, 0u);
  RecordProperty("server_writes", static_cast<int>(server_writes));
  EXPECT_LE(server_writes, static_cast<std::size_t>(commands / 20))
      << "one write per " << commands / server_writes << " replies";
}
