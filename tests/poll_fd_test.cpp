// poll_fd_test.cpp: close from anywhere and per-object deadlines (lib/poll_fd.hpp) on
// TcpListener (accept), TcpStream (read, write into a full buffer), UdpSocket (recv_from) and
// a File on a pipe (read_line); the closing or deadline-setting party is another task on the
// parked task's thread, a task on another Runtime thread, or a plain thread.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/io_support.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::TcpListener;
using gofer::TcpStream;
using gofer::UdpSocket;
using gofer::test::Watchdog;

namespace {

// await_parked: returns once some task is parked on fd (a task dump names it "(fd N)").
void await_parked(int fd) {
  const std::string tag = "(fd " + std::to_string(fd) + ")";
  for (;;) {
    for (const auto& t : gofer::tasks()) {
      if (t.state == gofer::task_state::parked && t.wait.find(tag) != std::string::npos) {
        return;
      }
    }
    std::this_thread::sleep_for(200us);
  }
}

// Pair: a connected client and the server side of the same connection, on loopback.
struct Pair {
  Pair()
      : listener(TcpListener::bind("127.0.0.1", 0)),
        client(TcpStream::connect("127.0.0.1", listener.local_port(), 5s)),
        server(listener.accept(5s)) {}
  TcpListener listener;
  TcpStream client;
  TcpStream server;
};

// Target: an object and one call on it that parks until something happens to the object.
class Target {
 public:
  virtual ~Target() = default;
  virtual int fd() const = 0;
  // call: the parking call (with the call's deadline d).
  virtual void call(gofer::Deadline d) = 0;
  // op: the call's name in error messages.
  virtual std::string op() const = 0;
  virtual void close() = 0;
  virtual bool is_open() const = 0;
  // set_deadline: the object deadline of the call's direction.
  virtual void set_deadline(gofer::Deadline d) = 0;
};

class AcceptTarget final : public Target {
 public:
  int fd() const override { return l_.fd(); }
  void call(gofer::Deadline d) override { l_.accept(d); }
  std::string op() const override { return "accept 127.0.0.1:"; }
  void close() override { l_.close(); }
  bool is_open() const override { return l_.is_open(); }
  void set_deadline(gofer::Deadline d) override { l_.set_deadline(d); }

 private:
  TcpListener l_ = TcpListener::bind("127.0.0.1", 0);
};

class ReadTarget final : public Target {
 public:
  int fd() const override { return p_.server.fd(); }
  void call(gofer::Deadline d) override { p_.server.read_line(d); }
  std::string op() const override { return "read 127.0.0.1:"; }
  void close() override { p_.server.close(); }
  bool is_open() const override { return p_.server.is_open(); }
  void set_deadline(gofer::Deadline d) override { p_.server.set_read_deadline(d); }

 private:
  Pair p_;
};

// WriteTarget: writes more than the (shrunk) socket buffers hold to a peer that never reads.
class WriteTarget final : public Target {
 public:
  WriteTarget() {
    const int small = 16 * 1024;
    ::setsockopt(p_.client.fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ::setsockopt(p_.server.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  }
  int fd() const override { return p_.client.fd(); }
  void call(gofer::Deadline d) override { p_.client.write(std::string(4 << 20, 'x'), d); }
  std::string op() const override { return "write 127.0.0.1:"; }
  void close() override { p_.client.close(); }
  bool is_open() const override { return p_.client.is_open(); }
  void set_deadline(gofer::Deadline d) override { p_.client.set_write_deadline(d); }

 private:
  Pair p_;
};

class RecvTarget final : public Target {
 public:
  int fd() const override { return u_.fd(); }
  void call(gofer::Deadline d) override {
    std::array<char, 64> buf{};
    u_.recv_from(buf, d);
  }
  std::string op() const override { return "recv_from 127.0.0.1:"; }
  void close() override { u_.close(); }
  bool is_open() const override { return u_.is_open(); }
  void set_deadline(gofer::Deadline d) override { u_.set_read_deadline(d); }

 private:
  UdpSocket u_ = UdpSocket::bind("127.0.0.1", 0);
};

// PipeTarget: a File on a pipe's read end; the write end stays open and silent.
class PipeTarget final : public Target {
 public:
  PipeTarget() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      throw std::system_error(errno, std::system_category(), "pipe2");
    }
    f_ = gofer::File::from_fd(fds[0], "test pipe");
    writer_ = fds[1];
  }
  ~PipeTarget() override { ::close(writer_); }
  int fd() const override { return f_.fd(); }
  void call(gofer::Deadline d) override { f_.read_line(d); }
  std::string op() const override { return "read test pipe"; }
  void close() override { f_.close(); }
  bool is_open() const override { return f_.is_open(); }
  void set_deadline(gofer::Deadline d) override { f_.set_read_deadline(d); }

 private:
  gofer::File f_;
  int writer_ = -1;
};

enum class Op { accept, read, write, recv_from, pipe_read };
enum class Party { same_thread_task, other_thread_task, plain_thread };

constexpr const char* op_names[] = {"Accept", "Read", "Write", "RecvFrom", "PipeRead"};
constexpr const char* party_names[] = {"SameThreadTask", "OtherThreadTask", "PlainThread"};

// PrintTo: names for GoogleTest's parameter printing (and so for ctest).
void PrintTo(Op op, std::ostream* os) {
  *os << op_names[static_cast<int>(op)];
}
void PrintTo(Party who, std::ostream* os) {
  *os << party_names[static_cast<int>(who)];
}

std::unique_ptr<Target> make_target(Op op) {
  switch (op) {
    case Op::accept:
      return std::make_unique<AcceptTarget>();
    case Op::read:
      return std::make_unique<ReadTarget>();
    case Op::write:
      return std::make_unique<WriteTarget>();
    case Op::recv_from:
      return std::make_unique<RecvTarget>();
    case Op::pipe_read:
      return std::make_unique<PipeTarget>();
  }
  return nullptr;
}

// act: runs f as `who`, relative to a task parked on rt's thread 0; returns once f returned.
template <class F>
void act(Party who, gofer::Runtime& rt, F f) {
  switch (who) {
    case Party::same_thread_task:
      rt.go_on(0, f).wait();
      break;
    case Party::other_thread_task:
      rt.go_on(1, f).wait();
      break;
    case Party::plain_thread:
      std::thread(f).join();
      break;
  }
}

class FromAnywhere : public testing::TestWithParam<std::tuple<Op, Party>> {};

TEST_P(FromAnywhere, CloseWakesTheParkedCallWithClosed) {
  Watchdog dog;
  const auto [op, who] = GetParam();
  auto target = make_target(op);
  gofer::Runtime rt(2);
  auto parked = rt.go_on(0, [&] { target->call({}); });
  await_parked(target->fd());
  act(who, rt, [&] { target->close(); });
  std::string what;
  EXPECT_EQ(errc_of([&] { parked.wait(); }, &what), gofer::errc::closed);
  EXPECT_NE(what.find("gofer: " + target->op()), std::string::npos) << what;
  EXPECT_NE(what.find("use of closed file or socket"), std::string::npos) << what;
  EXPECT_FALSE(target->is_open());
  EXPECT_EQ(target->fd(), -1);
  EXPECT_EQ(errc_of([&] { target->call(1s); }), gofer::errc::closed);  // and every later call
}

TEST_P(FromAnywhere, APassedDeadlineWakesTheParkedCallAndFailsLaterOnesUntilCleared) {
  Watchdog dog;
  const auto [op, who] = GetParam();
  auto target = make_target(op);
  gofer::Runtime rt(2);
  auto parked = rt.go_on(0, [&] { target->call({}); });
  await_parked(target->fd());
  act(who, rt, [&] { target->set_deadline(std::chrono::steady_clock::now() - 1s); });
  EXPECT_TRUE(timed_out(errc_of([&] { parked.wait(); })));
  EXPECT_TRUE(timed_out(errc_of([&] { target->call({}); })));  // fails at once, not parked
  target->set_deadline(gofer::Deadline::never());
  // Cleared: the call waits again, until its own deadline.
  EXPECT_TRUE(timed_out(errc_of([&] { target->call(20ms); })));
  EXPECT_TRUE(target->is_open());
}

TEST_P(FromAnywhere, TheEarliestOfTheCallsAndTheObjectsDeadlineHolds) {
  Watchdog dog;
  const auto [op, who] = GetParam();
  auto target = make_target(op);
  gofer::Runtime rt(2);
  act(who, rt, [&] { target->set_deadline(30ms); });
  EXPECT_TRUE(timed_out(errc_of([&] { target->call(30s); })));  // the object's, earlier
  act(who, rt, [&] { target->set_deadline(30s); });
  EXPECT_TRUE(timed_out(errc_of([&] { target->call(30ms); })));  // the call's, earlier
}

std::string param_name(const testing::TestParamInfo<std::tuple<Op, Party>>& info) {
  return std::string(op_names[static_cast<int>(std::get<0>(info.param))]) + "By" +
         party_names[static_cast<int>(std::get<1>(info.param))];
}

INSTANTIATE_TEST_SUITE_P(
    PollFd, FromAnywhere,
    testing::Combine(testing::Values(Op::accept, Op::read, Op::write, Op::recv_from, Op::pipe_read),
                     testing::Values(Party::same_thread_task, Party::other_thread_task,
                                     Party::plain_thread)),
    param_name);

TEST(PollFd, CloseWakesEveryTaskParkedOnTheObjectInBothDirections) {
  Watchdog dog;
  gofer::Runtime rt(2);
  auto listener = TcpListener::bind("127.0.0.1", 0);
  std::vector<gofer::Task<std::error_code>> acceptors;
  for (std::size_t i = 0; i < 4; ++i) {
    acceptors.push_back(rt.go_on(i % 2, [&] { return errc_of([&] { listener.accept(); }); }));
  }
  Pair p;
  const int small = 16 * 1024;
  ::setsockopt(p.client.fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  ::setsockopt(p.server.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  auto reader = rt.go_on(0, [&] { return errc_of([&] { p.client.read_line(); }); });
  auto writer =
      rt.go_on(1, [&] { return errc_of([&] { p.client.write(std::string(4 << 20, 'x')); }); });
  await_parked(p.client.fd());
  std::thread([&] {
    listener.close();
    p.client.close();
  }).join();
  for (auto& a : acceptors) {
    EXPECT_EQ(a.wait(), gofer::errc::closed);
  }
  EXPECT_EQ(reader.wait(), gofer::errc::closed);
  EXPECT_EQ(writer.wait(), gofer::errc::closed);
}

TEST(PollFd, ALaterDeadlineSetWhileParkedExtendsTheWait) {
  Watchdog dog;
  Pair p;
  gofer::Runtime rt(2);
  p.server.set_read_deadline(500ms);
  auto reader = rt.go_on(0, [&] { return p.server.read_line(); });
  await_parked(p.server.fd());
  p.server.set_read_deadline(gofer::Deadline::never());
  std::this_thread::sleep_for(700ms);  // past the first deadline
  p.client.write("late\n");
  EXPECT_EQ(reader.wait(), "late");
}

TEST(PollFd, ADeadlineThatPassesLosesNoBufferedByte) {
  Watchdog dog;
  Pair p;
  p.client.write("one\ntw");
  EXPECT_EQ(p.server.read_line(5s), "one");
  p.server.set_read_deadline(std::chrono::steady_clock::now());
  EXPECT_TRUE(timed_out(errc_of([&] { p.server.read_line(); })));
  p.client.write("o\n");
  p.server.set_read_deadline(gofer::Deadline::never());
  EXPECT_EQ(p.server.read_line(5s), "two");
  p.server.set_write_deadline(std::chrono::steady_clock::now());
  EXPECT_TRUE(timed_out(errc_of([&] { p.server.write("x"); })));
  p.server.set_deadline(gofer::Deadline::never());
  p.server.write("three\n", 5s);
  EXPECT_EQ(p.client.read_line(5s), "three");
}

TEST(PollFd, ARuntimeParkedInAcceptShutsDownOnceTheListenerIsClosed) {
  Watchdog dog;
  auto listener = TcpListener::bind("127.0.0.1", 0);
  gofer::Runtime rt(2);
  std::error_code got;
  rt.go([&] { got = errc_of([&] { listener.accept(); }); });
  await_parked(listener.fd());
  std::thread([&] { listener.close(); }).join();
  rt.shutdown(gofer::shutdown_mode::wait);  // hung forever before close woke accept
  EXPECT_EQ(got, gofer::errc::closed);
}

// A thousand rounds of close() racing a reader on another thread, which a feeder keeps busy
// (so the close lands in a syscall, a park, a wake-up or between calls). In every other
// round the reader is first known to be parked and the closing thread destroys the File as
// soon as close() returns: the reader, still unwinding on its thread, must not touch it any
// more (ASan), and nothing may race (TSan).
TEST(PollFd, CloseRacingAReadOnAnotherThreadThousandRounds) {
  Watchdog dog(60s);
  gofer::Runtime rt(2);
  std::minstd_rand rng(12345);
  for (int round = 0; round < 1000; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    auto file = std::make_unique<gofer::File>(gofer::File::from_fd(fds[0], "race pipe"));
    gofer::File writer = gofer::File::from_fd(fds[1], "race pipe writer");
    gofer::File* f = file.get();
    const bool destroy_at_once = round % 2 == 1;
    auto reader = rt.go_on(0, [f] {
      try {
        while (f->read_line()) {
        }
      } catch (const std::system_error& e) {
        return e.code();
      }
      return std::error_code();
    });
    std::optional<gofer::Task<void>> feeder;
    if (destroy_at_once) {
      await_parked(fds[0]);
    } else {
      feeder = rt.go_on(0, [&writer] {
        try {
          for (;;) {
            writer.write("line\n");
            gofer::yield();  // a write that never parks would keep the reader from running
          }
        } catch (const std::system_error&) {  // EPIPE once the read end is closed
        }
      });
    }
    const auto spin = std::chrono::microseconds(rng() % 200);
    rt.go_on(1, [&file, f, spin, destroy_at_once] {
        const auto until = std::chrono::steady_clock::now() + spin;
        while (std::chrono::steady_clock::now() < until) {
        }
        f->close();
        if (destroy_at_once) {
          file.reset();
        }
      }).wait();
    EXPECT_EQ(reader.wait(), gofer::errc::closed) << "round " << round;
    if (feeder) {
      feeder->wait();
    }
  }
}

}  // namespace
