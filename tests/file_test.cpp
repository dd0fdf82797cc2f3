#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/io_support.hpp"
#include "support/scale.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::test::Watchdog;

namespace {

// Pipe: a pipe whose ends are Files.
struct Pipe {
  gofer::File reader;
  gofer::File writer;
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    reader = gofer::File::from_fd(fds[0], "pipe-r");
    writer = gofer::File::from_fd(fds[1], "pipe-w");
  }
};

int error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::system_error& e) {
    return e.code().value();
  }
  return 0;
}

// code_of: the error code a call throws as std::system_error (empty if it throws none).
std::error_code code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::system_error& e) {
    return e.code();
  }
  return {};
}

}  // namespace

TEST(File, OpenOfAMissingPathNamesIt) {
  try {
    gofer::File::open("/no/such/dir/file.txt");
    FAIL() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("open /no/such/dir/file.txt"), std::string::npos)
        << e.what();
  }
}

namespace {
std::size_t open_fd_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n;
}

// finish_pending_open: opens fifo's write end on a plain thread, so that an open(2) of its read
// end still pending on the blocking pool returns; then waits (5 s at most) until the fd that
// open made is closed again, i.e. the fd count is back to `expected`.
bool finish_pending_open(const std::string& fifo, std::size_t expected) {
  std::thread writer([&fifo] {
    const int w = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
    if (w >= 0) {
      ::close(w);
    }
  });
  writer.join();
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (open_fd_count() != expected && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(1ms);
  }
  return open_fd_count() == expected;
}
}  // namespace

TEST(File, FifoOpenGivesUpAtTheDeadlineAndLeaksNoFd) {
  Watchdog dog;
  TempDir dir;
  const std::string fifo = dir.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  (void)gofer::blocking_pool_threads();  // the pool exists before the count
  const std::size_t before = open_fd_count();
  const auto start = std::chrono::steady_clock::now();
  try {
    (void)gofer::File::open(fifo, gofer::open_mode::read, 20ms);
    FAIL() << "opened a FIFO that has no writer";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::timed_out) << e.what();
    EXPECT_NE(std::string(e.what()).find("open " + fifo), std::string::npos) << e.what();
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  EXPECT_TRUE(finish_pending_open(fifo, before))
      << "the fd opened after the deadline was not closed";
}

TEST(File, FifoOpenIsCancelledByRequestStop) {
  Watchdog dog;
  TempDir dir;
  const std::string fifo = dir.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  (void)gofer::blocking_pool_threads();
  const std::size_t before = open_fd_count();
  auto opener = gofer::go([&fifo] { (void)gofer::File::open(fifo, gofer::open_mode::read); });
  gofer::sleep_for(5ms);
  EXPECT_FALSE(opener.done());
  opener.request_stop();
  EXPECT_THROW(opener.wait(), gofer::cancelled);
  EXPECT_TRUE(finish_pending_open(fifo, before))
      << "the fd opened after the cancellation was not closed";
}

TEST(File, WritesAndReadsBackARegularFile) {
  Watchdog dog;
  TempDir dir;
  const auto path = dir.file("a.txt");
  gofer::go_and_wait([&] {
    auto out = gofer::File::open(path, gofer::open_mode::write);
    out.write("first line\nsecond line\r\nlast, no newline");
    out.close();
    auto in = gofer::File::open(path);
    EXPECT_EQ(in.read_line(), "first line");
    EXPECT_EQ(in.read_line(), "second line");
    EXPECT_EQ(in.read_line(), "last, no newline");
    EXPECT_EQ(in.read_line(), std::nullopt);
    char c;
    EXPECT_EQ(in.read({&c, 1}), 0u);
  });
}

TEST(File, RegularFileDeadlinesAndCloseFromAnotherThread) {
  Watchdog dog;
  TempDir dir;
  const auto path = dir.file("d.txt");
  gofer::go_and_wait([&] {
    auto out = gofer::File::open(path, gofer::open_mode::write);
    out.set_write_deadline(std::chrono::steady_clock::now());
    EXPECT_EQ(code_of([&] { out.write("x"); }), std::errc::timed_out);
    out.set_deadline(gofer::Deadline::never());
    out.write("one\ntwo\n", 5s);
    out.close();
    auto in = gofer::File::open(path);
    in.set_read_deadline(std::chrono::steady_clock::now() - 1s);
    EXPECT_EQ(code_of([&] { in.read_line(); }), std::errc::timed_out);  // at once, nothing lost
    in.set_read_deadline(30s);
    EXPECT_EQ(in.read_line(), "one");
    std::thread([&] { in.close(); }).join();
    EXPECT_EQ(code_of([&] { in.read_line(); }), gofer::errc::closed);
  });
}

TEST(File, AppendAndCreateNewModes) {
  TempDir dir;
  const auto path = dir.file("b.txt");
  gofer::File::open(path, gofer::open_mode::create_new).write("a");
  gofer::File::open(path, gofer::open_mode::append).write("b");
  EXPECT_EQ(gofer::File::open(path).read_all(), "ab");
  EXPECT_EQ(error_of([&] { gofer::File::open(path, gofer::open_mode::create_new); }), EEXIST);
}

TEST(File, LargeRegularFileReadKeepsTheSchedulerServing) {
  Watchdog dog;
  TempDir dir;
  const auto path = dir.file("big.bin");
  const std::size_t size = (256u / static_cast<unsigned>(gofer::test::sanitizer_scale)) << 16;
  {
    std::string block(1 << 16, 'x');
    auto f = gofer::File::open(path, gofer::open_mode::write);
    for (std::size_t i = 0; i < size / block.size(); ++i) {
      block[0] = static_cast<char>('a' + i % 26);
      f.write(block);
    }
  }
  std::atomic<bool> done{false};
  std::atomic<long> ticks{0};
  gofer::with_event_loop([&] {
    auto ticker = gofer::go([&] {
      while (!done.load()) {
        ++ticks;
        gofer::yield();
      }
    });
    auto reader = gofer::go([&] {
      const long before = ticks.load();
      auto all = gofer::File::open(path).read_all();
      const long during = ticks.load() - before;
      done = true;
      EXPECT_EQ(all.size(), size);
      EXPECT_EQ(all[0], 'a');
      EXPECT_EQ(all[1 << 16], 'b');
      return during;
    });
    // Every chunk of the read ran on the pool while the reader was parked, so the ticker ran
    // at least once per chunk: the scheduler thread never sat in read(2).
    EXPECT_GE(reader.wait(), static_cast<long>(size / (64 * 1024)));
    ticker.wait();
  });
}

TEST(File, PipeReadLineAcrossPartialWrites) {
  Watchdog dog;
  Pipe p;
  gofer::with_event_loop([&] {
    auto writer = gofer::go([&] {
      p.writer.write("hel");
      gofer::sleep_for(1ms);
      p.writer.write("lo\nwor");
      gofer::sleep_for(1ms);
      p.writer.write("ld\n");
      p.writer.close();
    });
    EXPECT_EQ(p.reader.read_line(), "hello");
    EXPECT_EQ(p.reader.read_line(), "world");
    EXPECT_EQ(p.reader.read_line(), std::nullopt);
    writer.wait();
  });
}

TEST(File, ReadLineTimeoutLosesNoBytes) {
  Watchdog dog;
  Pipe p;
  gofer::with_event_loop([&] {
    p.writer.write("abc");
    try {
      p.reader.read_line(5ms);
      FAIL() << "no timeout";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::timed_out);
      EXPECT_NE(std::string(e.what()).find("pipe-r"), std::string::npos) << e.what();
    }
    p.writer.write("def\n");
    EXPECT_EQ(p.reader.read_line(1s), "abcdef");
  });
}

TEST(File, ReadChunkTimeoutThenData) {
  Watchdog dog;
  Pipe p;
  gofer::with_event_loop([&] {
    try {
      p.reader.read_chunk(100, 2ms);
      FAIL() << "no timeout";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::timed_out);
    }
    p.writer.write("xyz");
    EXPECT_EQ(p.reader.read_chunk(100, 1s), "xyz");
  });
}

TEST(File, LargeWriteToAPipeParksUntilTheReaderDrains) {
  Watchdog dog;
  Pipe p;
  const std::string big(1 << 20, 'q');  // far beyond the 64 KiB pipe buffer
  gofer::with_event_loop([&] {
    auto writer = gofer::go([&] {
      p.writer.write(big);
      p.writer.close();
    });
    auto got = p.reader.read_all();
    EXPECT_EQ(got.size(), big.size());
    EXPECT_EQ(got, big);
    writer.wait();
  });
}

TEST(File, WriteToAClosedPipeIsEpipeNotSigpipe) {
  Pipe p;
  p.reader.close();
  EXPECT_EQ(error_of([&] { p.writer.write("nobody listens"); }), EPIPE);
}

TEST(File, UseAfterCloseIsClosedAndEmptyIsEbadf) {
  Pipe p;
  p.reader.close();
  EXPECT_FALSE(p.reader.is_open());
  EXPECT_EQ(code_of([&] { p.reader.read_line(); }), gofer::errc::closed);
  EXPECT_EQ(code_of([&] { p.reader.set_read_deadline(1s); }), gofer::errc::closed);
  gofer::File empty;
  EXPECT_EQ(error_of([&] { empty.write("x"); }), EBADF);
  EXPECT_THROW(gofer::File::from_fd(-1), std::invalid_argument);
}

TEST(File, CloseWakesAReadParkedOnTheSameThreadWithClosed) {
  Watchdog dog;
  Pipe p;
  gofer::with_event_loop([&] {
    auto t = gofer::go([&] { return p.reader.read_line(); });
    gofer::sleep_for(1ms);
    p.reader.close();  // the reader is parked in the poller on this thread
    EXPECT_EQ(code_of([&] { t.wait(); }), gofer::errc::closed);
    EXPECT_EQ(code_of([&] { p.reader.read_line(); }), gofer::errc::closed);
  });
}

TEST(File, RequestStopCancelsAParkedRead) {
  Watchdog dog;
  Pipe p;
  gofer::with_event_loop([&] {
    auto t = gofer::go([&] { return p.reader.read_line(); });
    gofer::sleep_for(1ms);
    t.request_stop();
    EXPECT_THROW(t.wait(), gofer::cancelled);
    p.writer.write("still here\n");
    EXPECT_EQ(p.reader.read_line(), "still here");
  });
}

TEST(File, DevNullFallsBackFromThePoller) {
  auto null_in = gofer::File::open("/dev/null");
  EXPECT_EQ(null_in.read_all(), "");
  auto null_out = gofer::File::open("/dev/null", gofer::open_mode::write);
  null_out.write("discarded");
}

TEST(File, ShortReadThenTimeoutKeepsTheRest) {
  Watchdog dog;
  Pipe p;
  gofer::with_event_loop([&] {
    p.writer.write("12345");
    std::string buf(8, '\0');
    auto f = [&] { return p.reader.read(std::span<char>(buf.data(), 3)); };
    EXPECT_EQ(f(), 3u);
    EXPECT_EQ(buf.substr(0, 3), "123");
    EXPECT_EQ(error_of([&] { p.reader.read_line(2ms); }), ETIMEDOUT);
    p.writer.write("678\n");
    EXPECT_EQ(p.reader.read_line(), "45678");
  });
}

TEST(File, StandardStreamsAreDuplicates) {
  auto& out = gofer::stdout_file();
  EXPECT_GT(out.fd(), 2);
  EXPECT_EQ(&out, &gofer::stdout_file());
  EXPECT_EQ(out.name(), "stdout");
  out.write("");  // an empty write is a no-op
}

TEST(File, RequestStopCancelsAParkedWrite) {
  Watchdog dog;
  Pipe p;
  gofer::with_event_loop([&] {
    auto t = gofer::go([&] { p.writer.write(std::string(1 << 20, 'w')); });  // fills the pipe
    gofer::sleep_for(2ms);
    EXPECT_FALSE(t.done());
    t.request_stop();
    EXPECT_THROW(t.wait(), gofer::cancelled);
    EXPECT_GT(p.reader.read_chunk(1 << 16).size(), 0u);  // the prefix that was written
  });
}

TEST(File, ReadExactFillsTheBufferOrStopsAtEndOfFile) {
  TempDir dir;
  const std::string path = dir.file("exact.bin");
  gofer::File::open(path, gofer::open_mode::write).write("0123456789");
  auto f = gofer::File::open(path);
  std::array<char, 4> four{};
  EXPECT_EQ(f.read_exact(four, 5s), 4u);
  EXPECT_EQ(std::string(four.data(), 4), "0123");
  std::array<char, 10> rest{};
  EXPECT_EQ(f.read_exact(rest), 6u);  // EOF after 6
  EXPECT_EQ(std::string(rest.data(), 6), "456789");
}

TEST(File, ReadExactTimeoutLosesNoBytes) {
  Watchdog dog;
  Pipe p;
  p.writer.write("ab");
  std::array<char, 4> buf{};
  EXPECT_EQ(error_of([&] { p.reader.read_exact(buf, 20ms); }), ETIMEDOUT);
  EXPECT_EQ(p.reader.buffered(), 2u);
  p.writer.write("cd");
  EXPECT_EQ(p.reader.read_exact(buf, 5s), 4u);
  EXPECT_EQ(std::string(buf.data(), 4), "abcd");
}
