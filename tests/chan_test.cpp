// chan_test.cpp: gofer::Chan (chan.hpp).
//
// Kinds (rendezvous, bounded, unbounded), the try/timed/blocking x open/closed/full matrix,
// close semantics, plain threads, cancellation, misuse, and bounded stress tests (MPMC, close
// racing send/recv, cross-thread ping-pong with the receiving scheduler awake and asleep).
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/chan_support.hpp"
#include "support/scale.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::chan_status;
using gofer::test::Watchdog;

namespace {

using gofer::test::Budget;
using gofer::test::Kind;
using gofer::test::kind_name;
using gofer::test::make_chan;
using gofer::test::sanitizer_scale;
using gofer::test::Seen;
using gofer::test::yield_until;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Kinds, size, capacity.

TEST(Chan, DefaultChanIsRendezvous) {
  gofer::Chan<int> a;
  gofer::Chan<int> b(0);
  EXPECT_EQ(a.capacity(), 0u);
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_FALSE(a.is_unbounded());
  EXPECT_EQ(a.size(), 0u);
  EXPECT_FALSE(a.closed());
  int v = 1;
  EXPECT_EQ(a.try_send(v), chan_status::full) << "a rendezvous has no room without a receiver";
  EXPECT_EQ(a.size(), 0u);
}

TEST(Chan, RendezvousSendCompletesOnlyWhenReceived) {
  Watchdog dog;
  gofer::Chan<int> ch;
  std::atomic<bool> started{false};
  std::atomic<bool> sent{false};
  auto t = gofer::go([ch, &started, &sent]() mutable {
    started = true;
    EXPECT_TRUE(ch.send(7));
    sent = true;
  });
  ASSERT_TRUE(yield_until([&] { return started.load(); }));
  for (int i = 0; i < 20; ++i) {
    gofer::yield();
  }
  gofer::sleep_for(2ms);  // runs this thread's loop: the sender still has no receiver
  EXPECT_FALSE(sent.load()) << "send on a rendezvous returned before anyone received";
  EXPECT_EQ(ch.size(), 0u) << "a rendezvous buffers nothing";
  auto v = ch.recv();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, 7);
  t.wait();
  EXPECT_TRUE(sent.load());
}

TEST(Chan, RendezvousRecvCompletesOnlyWhenSent) {
  Watchdog dog;
  gofer::Chan<int> ch;
  std::atomic<bool> got{false};
  auto t = gofer::go([ch, &got]() mutable {
    auto v = ch.recv();
    got = true;
    return v;
  });
  for (int i = 0; i < 20; ++i) {
    gofer::yield();
  }
  EXPECT_FALSE(got.load());
  EXPECT_TRUE(ch.send(11));
  EXPECT_EQ(t.wait(), std::optional<int>(11));
}

TEST(Chan, BoundedBuffersUpToCapacity) {
  gofer::Chan<int> ch(3);
  EXPECT_EQ(ch.capacity(), 3u);
  EXPECT_FALSE(ch.is_unbounded());
  for (int i = 1; i <= 3; ++i) {
    EXPECT_TRUE(ch.send(i));  // room: never blocks
    EXPECT_EQ(ch.size(), static_cast<std::size_t>(i));
  }
  int four = 4;
  EXPECT_EQ(ch.try_send(four), chan_status::full);
  EXPECT_EQ(four, 4);
  EXPECT_EQ(ch.size(), 3u);
  EXPECT_EQ(ch.recv(), std::optional<int>(1));
  EXPECT_EQ(ch.size(), 2u);
  EXPECT_EQ(ch.try_send(four), chan_status::ok);
  EXPECT_EQ(ch.recv(), std::optional<int>(2));
  EXPECT_EQ(ch.recv(), std::optional<int>(3));
  EXPECT_EQ(ch.recv(), std::optional<int>(4));
  EXPECT_EQ(ch.size(), 0u);
}

TEST(Chan, BoundedKeepsFifoOrderAcrossWrapAround) {
  gofer::Chan<int> ch(3);
  int next_in = 0;
  int next_out = 0;
  for (int round = 0; round < 50; ++round) {
    const int pushes = 1 + round % 3;
    for (int i = 0; i < pushes && ch.size() < 3; ++i) {
      ASSERT_EQ(ch.try_send(next_in), chan_status::ok);
      ++next_in;
    }
    int out = -1;
    ASSERT_EQ(ch.try_recv(out), chan_status::ok);
    EXPECT_EQ(out, next_out++);
  }
  int out = -1;
  while (ch.try_recv(out) == chan_status::ok) {
    EXPECT_EQ(out, next_out++);
  }
  EXPECT_EQ(next_out, next_in);
}

TEST(Chan, BoundedKeepsFifoOrderWithParkedSenders) {
  Watchdog dog;
  gofer::Chan<int> ch(1);
  ASSERT_TRUE(ch.send(1));
  // Two senders park in order on the full channel.
  auto a = gofer::go([ch]() mutable { return ch.send(2); });
  gofer::yield();  // a parks first
  auto b = gofer::go([ch]() mutable { return ch.send(3); });
  gofer::yield();
  gofer::yield();
  EXPECT_EQ(ch.size(), 1u);
  EXPECT_EQ(ch.recv(), std::optional<int>(1));
  EXPECT_EQ(ch.recv(), std::optional<int>(2));
  EXPECT_EQ(ch.recv(), std::optional<int>(3));
  EXPECT_TRUE(a.wait());
  EXPECT_TRUE(b.wait());
}

TEST(Chan, UnboundedNeverBlocksSenders) {
  Watchdog dog;
  auto ch = gofer::Chan<int>::unbounded();
  EXPECT_TRUE(ch.is_unbounded());
  EXPECT_EQ(ch.capacity(), std::numeric_limits<std::size_t>::max());
  constexpr int n = 100'000;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(ch.send(i));  // no receiver: would hang (watchdog) if it blocked
  }
  int extra = n;
  EXPECT_EQ(ch.try_send(extra), chan_status::ok);
  EXPECT_EQ(ch.size(), static_cast<std::size_t>(n) + 1);
  for (int i = 0; i <= n; ++i) {
    auto v = ch.recv();
    ASSERT_TRUE(v.has_value());
    ASSERT_EQ(*v, i);
  }
  EXPECT_EQ(ch.size(), 0u);
}

TEST(Chan, UnboundedKeepsFifoOrderAcrossGrowth) {
  // Interleave pushes and pops so the ring has wrapped when it grows.
  auto ch = gofer::Chan<int>::unbounded();
  int next_in = 0;
  int next_out = 0;
  for (int round = 0; round < 12; ++round) {
    const int pushes = 7 + round * 5;
    for (int i = 0; i < pushes; ++i) {
      ASSERT_EQ(ch.try_send(next_in), chan_status::ok);
      ++next_in;
    }
    for (int i = 0; i < pushes / 2 + 1; ++i) {
      int out = -1;
      ASSERT_EQ(ch.try_recv(out), chan_status::ok);
      ASSERT_EQ(out, next_out++);
    }
    EXPECT_EQ(ch.size(), static_cast<std::size_t>(next_in - next_out));
  }
  int out = -1;
  while (ch.try_recv(out) == chan_status::ok) {
    ASSERT_EQ(out, next_out++);
  }
  EXPECT_EQ(next_out, next_in);
}

TEST(Chan, MoveOnlyPayloads) {
  Watchdog dog;
  using P = std::unique_ptr<int>;
  for (Kind k : {Kind::rendezvous, Kind::bounded, Kind::unbounded}) {
    SCOPED_TRACE(kind_name(k));
    auto ch = make_chan<P>(k, 4);
    auto producer = gofer::go([ch]() mutable {
      for (int i = 0; i < 10; ++i) {
        EXPECT_TRUE(ch.send(std::make_unique<int>(i)));
      }
      ch.close();
    });
    int expect = 0;
    for (P& p : ch) {
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(*p, expect++);
    }
    EXPECT_EQ(expect, 10);
    producer.wait();
  }
  // try_send: ok moves the value out; full and closed leave it with the caller.
  gofer::Chan<P> ch(1);
  P a = std::make_unique<int>(1);
  P b = std::make_unique<int>(2);
  EXPECT_EQ(ch.try_send(a), chan_status::ok);
  EXPECT_EQ(a, nullptr);
  EXPECT_EQ(ch.try_send(b), chan_status::full);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(*b, 2);
  P out;
  EXPECT_EQ(ch.try_recv(out), chan_status::ok);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(*out, 1);
  ch.close();
  EXPECT_EQ(ch.try_send(b), chan_status::closed);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(*b, 2);
}

// ---------------------------------------------------------------------------------------------
// The try / timed matrix (Boost.Fiber's push/try/timed x open/closed/full).

TEST(Chan, TrySendTryRecvMatrix) {
  Watchdog dog;
  int v = 0;
  // Open and empty.
  for (Kind k : {Kind::rendezvous, Kind::bounded, Kind::unbounded}) {
    SCOPED_TRACE(kind_name(k));
    auto ch = make_chan<int>(k, 1);
    int out = -1;
    EXPECT_EQ(ch.try_recv(out), chan_status::empty);
    EXPECT_EQ(out, -1) << "try_recv must not touch out unless it returns ok";
  }
  // Open and full (a rendezvous without a receiver is always full).
  {
    gofer::Chan<int> rv;
    v = 5;
    EXPECT_EQ(rv.try_send(v), chan_status::full);
    gofer::Chan<int> b(1);
    v = 6;
    EXPECT_EQ(b.try_send(v), chan_status::ok);
    v = 7;
    EXPECT_EQ(b.try_send(v), chan_status::full);
    int out = -1;
    EXPECT_EQ(b.try_recv(out), chan_status::ok);
    EXPECT_EQ(out, 6);
    EXPECT_EQ(b.try_recv(out), chan_status::empty);
  }
  // Rendezvous: try_send succeeds with a parked receiver, try_recv with a parked sender.
  {
    gofer::Chan<int> rv;
    auto r = gofer::go([rv]() mutable { return rv.recv(); });
    gofer::yield();  // r parks
    v = 42;
    EXPECT_EQ(rv.try_send(v), chan_status::ok);
    EXPECT_EQ(r.wait(), std::optional<int>(42));
    auto s = gofer::go([rv]() mutable { return rv.send(43); });
    gofer::yield();  // s parks
    int out = -1;
    EXPECT_EQ(rv.try_recv(out), chan_status::ok);
    EXPECT_EQ(out, 43);
    EXPECT_TRUE(s.wait());
    EXPECT_EQ(rv.try_recv(out), chan_status::empty);
  }
  // Closed: try_send fails; try_recv drains, then reports closed.
  for (Kind k : {Kind::rendezvous, Kind::bounded, Kind::unbounded}) {
    SCOPED_TRACE(kind_name(k));
    auto ch = make_chan<int>(k, 2);
    if (k != Kind::rendezvous) {
      v = 1;
      ASSERT_EQ(ch.try_send(v), chan_status::ok);
    }
    ch.close();
    v = 9;
    EXPECT_EQ(ch.try_send(v), chan_status::closed);
    EXPECT_EQ(v, 9);
    int out = -1;
    if (k != Kind::rendezvous) {
      EXPECT_EQ(ch.try_recv(out), chan_status::ok);
      EXPECT_EQ(out, 1);
    }
    out = -1;
    EXPECT_EQ(ch.try_recv(out), chan_status::closed);
    EXPECT_EQ(out, -1);
    EXPECT_EQ(ch.try_recv(out), chan_status::closed);
  }
}

TEST(Chan, TimedOperationsTimeOutAndLeaveTheValue) {
  Watchdog dog;
  using P = std::unique_ptr<int>;
  // send with a deadline on a full channel / a rendezvous without receiver: timeout, value kept.
  for (Kind k : {Kind::rendezvous, Kind::bounded}) {
    SCOPED_TRACE(kind_name(k));
    auto ch = make_chan<P>(k, 1);
    if (k == Kind::bounded) {
      ASSERT_TRUE(ch.send(std::make_unique<int>(0)));
    }
    P p = std::make_unique<int>(5);
    EXPECT_EQ(ch.send(p, 2ms), chan_status::timeout);
    ASSERT_NE(p, nullptr) << "a timed-out send must leave the value with the caller";
    EXPECT_EQ(*p, 5);
    EXPECT_EQ(ch.send(p, std::chrono::steady_clock::now() - 1s), chan_status::timeout);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(ch.size(), k == Kind::bounded ? 1u : 0u);
  }
  // A timed recv on an empty channel: timeout, out untouched.
  for (Kind k : {Kind::rendezvous, Kind::bounded, Kind::unbounded}) {
    SCOPED_TRACE(kind_name(k));
    auto ch = make_chan<int>(k, 1);
    int out = -1;
    EXPECT_EQ(ch.recv(out, 2ms), chan_status::timeout);
    EXPECT_EQ(out, -1);
    EXPECT_EQ(ch.recv(out, std::chrono::steady_clock::now()), chan_status::timeout);
    EXPECT_EQ(out, -1);
  }
  // A timed-out waiter leaves nothing behind: the rendezvous has no receiver afterwards.
  {
    gofer::Chan<int> rv;
    int out = -1;
    EXPECT_EQ(rv.recv(out, 1ms), chan_status::timeout);
    int v = 3;
    EXPECT_EQ(rv.try_send(v), chan_status::full) << "a timed-out receiver was left queued";
    EXPECT_EQ(rv.send(v, 1ms), chan_status::timeout);
    EXPECT_EQ(rv.try_recv(out), chan_status::empty) << "a timed-out sender was left queued";
  }
  // Ready: ok at once.
  {
    gofer::Chan<P> ch(1);
    P p = std::make_unique<int>(8);
    EXPECT_EQ(ch.send(p, 10s), chan_status::ok);
    EXPECT_EQ(p, nullptr);
    P out;
    EXPECT_EQ(ch.recv(out, 10s), chan_status::ok);
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(*out, 8);
  }
  // Closed: a timed send reports closed and keeps the value; a timed recv drains, then closed.
  {
    gofer::Chan<P> ch(2);
    ASSERT_TRUE(ch.send(std::make_unique<int>(1)));
    ch.close();
    P p = std::make_unique<int>(2);
    EXPECT_EQ(ch.send(p, 10s), chan_status::closed);
    ASSERT_NE(p, nullptr);
    P out;
    EXPECT_EQ(ch.recv(out, 10s), chan_status::ok);
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(*out, 1);
    EXPECT_EQ(ch.recv(out, 10s), chan_status::closed);
  }
}

TEST(Chan, DeadlinesTakeEveryDurationAndShareOneDeadline) {
  Watchdog dog;
  using P = std::unique_ptr<int>;
  gofer::Chan<P> ch(1);
  ASSERT_TRUE(ch.send(std::make_unique<int>(0)));
  // An rvalue with a deadline: on timeout the caller's object is untouched.
  P p = std::make_unique<int>(7);
  EXPECT_EQ(ch.send(std::move(p), 1.5ms), chan_status::timeout);
  ASSERT_NE(p, nullptr);
  // One deadline for several calls: once it has passed, each call times out at once.
  const gofer::Deadline d = 2ms;
  EXPECT_EQ(ch.send(p, d), chan_status::timeout);
  const auto after_first = std::chrono::steady_clock::now();
  EXPECT_GE(after_first, d.time_point());
  EXPECT_EQ(ch.send(p, d), chan_status::timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - after_first, 1s);
  // recv(out) without a deadline reports ok, then closed once drained.
  ch.close();
  P out;
  EXPECT_EQ(ch.recv(out), chan_status::ok);
  EXPECT_EQ(ch.recv(out), chan_status::closed);
  EXPECT_EQ(ch.recv(out, std::chrono::duration<double>(0.001)), chan_status::closed);
}

TEST(Chan, TimedOperationsSucceedWhenPeerArrivesInTime) {
  Watchdog dog;
  gofer::Chan<int> rv;
  auto receiver = gofer::go([rv]() mutable {
    gofer::sleep_for(3ms);
    return rv.recv();
  });
  int v = 21;
  EXPECT_EQ(rv.send(v, 10s), chan_status::ok);
  EXPECT_EQ(receiver.wait(), std::optional<int>(21));

  auto sender = gofer::go([rv]() mutable {
    gofer::sleep_for(3ms);
    return rv.send(22);
  });
  int out = -1;
  EXPECT_EQ(rv.recv(out, 10s), chan_status::ok);
  EXPECT_EQ(out, 22);
  EXPECT_TRUE(sender.wait());
}

// ---------------------------------------------------------------------------------------------
// Close.

TEST(Chan, RecvReturnsNulloptAfterCloseAndDrain) {
  for (Kind k : {Kind::bounded, Kind::unbounded}) {
    SCOPED_TRACE(kind_name(k));
    auto ch = make_chan<int>(k, 4);
    for (int i = 1; i <= 3; ++i) {
      ASSERT_TRUE(ch.send(i));
    }
    ch.close();
    EXPECT_TRUE(ch.closed());
    EXPECT_EQ(ch.size(), 3u);
    EXPECT_EQ(ch.recv(), std::optional<int>(1));
    EXPECT_EQ(ch.recv(), std::optional<int>(2));
    EXPECT_EQ(ch.recv(), std::optional<int>(3));
    EXPECT_EQ(ch.recv(), std::nullopt);
    EXPECT_EQ(ch.recv(), std::nullopt);
  }
  gofer::Chan<int> rv;
  rv.close();
  EXPECT_EQ(rv.recv(), std::nullopt);
}

TEST(Chan, CloseIsIdempotentAndSendAfterCloseFails) {
  for (Kind k : {Kind::rendezvous, Kind::bounded, Kind::unbounded}) {
    SCOPED_TRACE(kind_name(k));
    auto ch = make_chan<int>(k, 2);
    EXPECT_FALSE(ch.closed());
    ch.close();
    EXPECT_TRUE(ch.closed());
    EXPECT_NO_THROW(ch.close());
    EXPECT_TRUE(ch.closed());
    EXPECT_FALSE(ch.send(1));
    EXPECT_EQ(ch.size(), 0u) << "a failed send must not buffer its value";
    EXPECT_EQ(ch.recv(), std::nullopt);
  }
}

TEST(Chan, CloseWakesParkedReceivers) {
  Watchdog dog;
  for (Kind k : {Kind::rendezvous, Kind::bounded, Kind::unbounded}) {
    SCOPED_TRACE(kind_name(k));
    auto ch = make_chan<int>(k, 2);
    std::vector<gofer::Task<std::optional<int>>> plain;
    std::vector<gofer::Task<chan_status>> timed;
    for (int i = 0; i < 4; ++i) {
      plain.push_back(gofer::go([ch]() mutable { return ch.recv(); }));
      timed.push_back(gofer::go([ch]() mutable {
        int out = -1;
        return ch.recv(out, 1h);
      }));
    }
    gofer::yield();  // all park
    for (auto& t : plain) {
      EXPECT_FALSE(t.done());
    }
    ch.close();
    for (auto& t : plain) {
      EXPECT_EQ(t.wait(), std::nullopt);
    }
    for (auto& t : timed) {
      EXPECT_EQ(t.wait(), chan_status::closed);
    }
  }
}

TEST(Chan, CloseWakesParkedSenders) {
  Watchdog dog;
  using P = std::unique_ptr<int>;
  for (Kind k : {Kind::rendezvous, Kind::bounded}) {
    SCOPED_TRACE(kind_name(k));
    auto ch = make_chan<P>(k, 1);
    if (k == Kind::bounded) {
      ASSERT_TRUE(ch.send(std::make_unique<int>(100)));
    }
    std::vector<gofer::Task<bool>> plain;
    std::vector<gofer::Task<bool>> timed;  // true when closed and the value came back
    for (int i = 0; i < 3; ++i) {
      plain.push_back(gofer::go([ch, i]() mutable { return ch.send(std::make_unique<int>(i)); }));
      timed.push_back(gofer::go([ch, i]() mutable {
        P p = std::make_unique<int>(10 + i);
        return ch.send(p, 1h) == chan_status::closed && p != nullptr && *p == 10 + i;
      }));
    }
    gofer::yield();  // all park
    for (auto& t : plain) {
      EXPECT_FALSE(t.done());
    }
    ch.close();
    for (auto& t : plain) {
      EXPECT_FALSE(t.wait()) << "a sender parked at close must fail";
    }
    for (auto& t : timed) {
      EXPECT_TRUE(t.wait());
    }
    // What was buffered before close is still delivered, and nothing else.
    if (k == Kind::bounded) {
      auto v = ch.recv();
      ASSERT_TRUE(v.has_value());
      EXPECT_EQ(**v, 100);
    }
    EXPECT_EQ(ch.recv(), std::nullopt);
  }
}

TEST(Chan, RangeForEndsAtCloseAndDrain) {
  Watchdog dog;
  for (Kind k : {Kind::rendezvous, Kind::bounded, Kind::unbounded}) {
    SCOPED_TRACE(kind_name(k));
    auto ch = make_chan<int>(k, 8);
    auto producer = gofer::go([ch]() mutable {
      for (int i = 0; i < 100; ++i) {
        EXPECT_TRUE(ch.send(i));
      }
      ch.close();
    });
    std::vector<int> got;
    for (int v : ch) {
      got.push_back(v);
    }
    producer.wait();
    ASSERT_EQ(got.size(), 100u);
    for (int i = 0; i < 100; ++i) {
      EXPECT_EQ(got[i], i);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Plain threads and cross-thread wake-ups.

TEST(Chan, PlainThreadBlocksOnRecvWhileTaskSends) {
  Watchdog dog;
  for (Kind k : {Kind::rendezvous, Kind::bounded}) {
    SCOPED_TRACE(kind_name(k));
    auto ch = make_chan<int>(k, 2);
    std::int64_t sum = 0;
    int count = 0;
    std::thread consumer([ch, &sum, &count]() mutable {
      while (auto v = ch.recv()) {
        sum += *v;
        ++count;
      }
    });
    auto producer = gofer::go([ch]() mutable {
      for (int i = 1; i <= 200; ++i) {
        EXPECT_TRUE(ch.send(i));
      }
      ch.close();
    });
    producer.wait();
    consumer.join();
    EXPECT_EQ(count, 200);
    EXPECT_EQ(sum, 200 * 201 / 2);
  }
}

TEST(Chan, PlainThreadBlocksOnSendWhileTaskReceives) {
  Watchdog dog;
  for (Kind k : {Kind::rendezvous, Kind::bounded}) {
    SCOPED_TRACE(kind_name(k));
    auto ch = make_chan<int>(k, 2);
    std::thread producer([ch]() mutable {
      for (int i = 1; i <= 200; ++i) {
        EXPECT_TRUE(ch.send(i));
      }
      ch.close();
    });
    auto consumer = gofer::go([ch]() mutable {
      std::int64_t sum = 0;
      for (int v : ch) {
        sum += v;
      }
      return sum;
    });
    EXPECT_EQ(consumer.wait(), 200 * 201 / 2);
    producer.join();
  }
}

TEST(Chan, PlainThreadWakesParkedTaskBothDirections) {
  Watchdog dog;
  // The task lives on this thread, which sleeps in its loop (t.wait()) while the task is
  // parked: the plain thread's send/recv must wake it through this thread's scheduler.
  constexpr int rounds = 40;
  gofer::Chan<int> to_task;
  gofer::Chan<int> from_task;
  std::atomic<int> parked_round{-1};
  auto task = gofer::go([to_task, from_task, &parked_round]() mutable {
    std::int64_t sum = 0;
    for (int i = 0; i < rounds; ++i) {
      parked_round = i;
      auto v = to_task.recv();  // parked recv, woken by the thread's send
      if (!v) {
        return std::int64_t{-1};
      }
      sum += *v;
      parked_round = i;
      if (!from_task.send(*v * 2)) {  // parked send, woken by the thread's recv
        return std::int64_t{-1};
      }
    }
    return sum;
  });
  std::thread peer([to_task, from_task, &parked_round]() mutable {
    for (int i = 0; i < rounds; ++i) {
      while (parked_round.load() < i) {
        std::this_thread::yield();
      }
      if (i % 4 == 0) {
        std::this_thread::sleep_for(1ms);  // let the task's thread fall asleep in epoll
      }
      EXPECT_TRUE(to_task.send(i));
      if (i % 4 == 1) {
        std::this_thread::sleep_for(1ms);
      }
      EXPECT_EQ(from_task.recv(), std::optional<int>(2 * i));
    }
  });
  EXPECT_EQ(task.wait(), std::int64_t{rounds} * (rounds - 1) / 2);
  peer.join();
}

TEST(Chan, TaskWakesParkedPlainThreadBothDirections) {
  Watchdog dog;
  gofer::Runtime rt(1);
  constexpr int rounds = 100;
  gofer::Chan<int> ping;
  gofer::Chan<int> pong;
  auto echo = rt.go([ping, pong]() mutable {
    for (int v : ping) {
      if (v % 16 == 0) {
        gofer::sleep_for(1ms);  // the plain thread is surely parked by now
      }
      EXPECT_TRUE(pong.send(v + 1));
    }
    pong.close();
  });
  std::thread client([ping, pong]() mutable {
    for (int i = 0; i < rounds; ++i) {
      EXPECT_TRUE(ping.send(i));
      EXPECT_EQ(pong.recv(), std::optional<int>(i + 1));
    }
    ping.close();
    EXPECT_EQ(pong.recv(), std::nullopt);
  });
  client.join();
  echo.wait();
}

TEST(Chan, WakingAPlainThreadThatThenExits) {
  Watchdog dog;
  // The woken thread finishes at once and tears down its scheduler, while the waker may still
  // be inside the wake-up (notify) of that scheduler: the waker must not touch it afterwards
  // (a use-after-free that ThreadSanitizer and AddressSanitizer report).
  const int rounds = 200 / (sanitizer_scale > 1 ? 2 : 1);
  for (int r = 0; r < rounds; ++r) {
    gofer::Chan<int> ch;
    std::thread receiver([ch]() mutable { EXPECT_EQ(ch.recv(), std::optional<int>(1)); });
    if (r % 2 == 0) {
      EXPECT_TRUE(ch.send(1));  // this plain thread wakes it
    } else {
      auto t = gofer::go([ch]() mutable { return ch.send(1); });  // a task wakes it
      EXPECT_TRUE(t.wait());
    }
    receiver.join();
  }
}

// ---------------------------------------------------------------------------------------------
// Cancellation.

TEST(Chan, RequestStopWakesTaskParkedOnRecv) {
  Watchdog dog;
  gofer::Chan<int> rv;
  std::atomic<bool> started{false};
  auto t = gofer::go([rv, &started]() mutable {
    started = true;
    return rv.recv();
  });
  ASSERT_TRUE(yield_until([&] { return started.load(); }));
  gofer::yield();
  EXPECT_FALSE(t.done());
  t.request_stop();
  EXPECT_THROW(t.wait(), gofer::cancelled);
  // The cancelled receiver is gone: nobody takes a value now.
  int v = 1;
  EXPECT_EQ(rv.try_send(v), chan_status::full);
}

TEST(Chan, RequestStopWakesTaskParkedOnSendAndTimedOps) {
  Watchdog dog;
  gofer::Chan<int> full(1);
  ASSERT_TRUE(full.send(0));
  auto sender = gofer::go([full]() mutable { return full.send(1); });
  auto timed_sender = gofer::go([full]() mutable {
    int v = 2;
    return full.send(v, 1h);
  });
  gofer::Chan<int> empty;
  auto timed_receiver = gofer::go([empty]() mutable {
    int out = 0;
    return empty.recv(out, 1h);
  });
  gofer::yield();
  sender.request_stop();
  timed_sender.request_stop();
  timed_receiver.request_stop();
  EXPECT_THROW(sender.wait(), gofer::cancelled);
  EXPECT_THROW(timed_sender.wait(), gofer::cancelled);
  EXPECT_THROW(timed_receiver.wait(), gofer::cancelled);
  // Neither cancelled sender's value reached the channel.
  EXPECT_EQ(full.recv(), std::optional<int>(0));
  int out = -1;
  EXPECT_EQ(full.try_recv(out), chan_status::empty);
}

TEST(Chan, RequestStopFromAnotherThreadWakesParkedTask) {
  Watchdog dog;
  gofer::Runtime rt(2);
  gofer::Chan<int> rv;
  std::atomic<bool> started{false};
  auto t = rt.go_on(1, [rv, &started]() mutable {
    started = true;
    return rv.recv();
  });
  while (!started.load()) {
    std::this_thread::yield();
  }
  std::this_thread::sleep_for(2ms);  // most likely parked (and the thread asleep) by now
  t.request_stop();
  EXPECT_THROW(t.wait(), gofer::cancelled);
}

// ---------------------------------------------------------------------------------------------
// Misuse and handles.

TEST(Chan, HugeCapacityThrowsInvalidArgument) {
  EXPECT_THROW(gofer::Chan<int>(std::size_t{1} << 40), std::invalid_argument);
  EXPECT_THROW(gofer::Chan<int>(std::numeric_limits<std::size_t>::max()), std::invalid_argument);
  try {
    gofer::Chan<int> ch(std::size_t{1} << 40);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).rfind("gofer: ", 0), 0u) << e.what();
  }
  EXPECT_NO_THROW(gofer::Chan<char>(1024));
}

TEST(Chan, MovedFromChanThrowsLogicError) {
  gofer::Chan<int> a(2);
  gofer::Chan<int> b = std::move(a);
  // NOLINTBEGIN(bugprone-use-after-move): testing exactly that
  EXPECT_THROW((void)a.send(1), std::logic_error);
  EXPECT_THROW((void)a.recv(), std::logic_error);
  int v = 1;
  EXPECT_THROW((void)a.try_send(v), std::logic_error);
  EXPECT_THROW((void)a.try_recv(v), std::logic_error);
  EXPECT_THROW((void)a.send(v, 1ms), std::logic_error);
  EXPECT_THROW((void)a.recv(v, 1ms), std::logic_error);
  EXPECT_THROW(a.close(), std::logic_error);
  EXPECT_THROW((void)a.closed(), std::logic_error);
  EXPECT_THROW((void)a.size(), std::logic_error);
  try {
    (void)a.send(1);  // throws: a was moved from
  } catch (const std::logic_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("gofer: ", 0), 0u) << e.what();
  }
  // NOLINTEND(bugprone-use-after-move)
  EXPECT_TRUE(b.send(5));
  EXPECT_EQ(b.recv(), std::optional<int>(5));
}

TEST(Chan, CopiesCompareEqualAndShareState) {
  gofer::Chan<int> a(2);
  gofer::Chan<int> b = a;
  gofer::Chan<int> c(2);
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == c);
  EXPECT_TRUE(b.send(5));
  EXPECT_EQ(a.size(), 1u);
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(a.recv(), std::optional<int>(5));
  gofer::Chan<int> d;
  d = b;  // copy assignment rebinds the handle
  EXPECT_TRUE(d == a);
  d.close();
  EXPECT_TRUE(a.closed());
  EXPECT_FALSE(c.closed());
  EXPECT_FALSE(a.send(6));
}

TEST(Chan, ChannelOutlivesCreatorsHandle) {
  Watchdog dog;
  std::optional<gofer::Chan<std::string>> ch(std::in_place, 4);
  auto consumer = gofer::go([c = *ch]() mutable {
    std::string all;
    for (auto& s : c) {
      all += s;
    }
    return all;
  });
  EXPECT_TRUE(ch->send("a"));
  EXPECT_TRUE(ch->send("b"));
  ch->close();
  ch.reset();  // the task's copy keeps the channel and its buffered values alive
  EXPECT_EQ(consumer.wait(), "ab");
}

namespace {

// Counted: a payload that counts its live instances (moved-from ones included).
struct Counted {
  Counted(std::atomic<int>& counter, int value) : live(&counter), v(value) { ++counter; }
  Counted(Counted&& o) noexcept : live(o.live), v(o.v) { ++*live; }
  Counted& operator=(Counted&& o) noexcept {
    v = o.v;
    return *this;
  }
  ~Counted() { --*live; }
  std::atomic<int>* live;
  int v;
};

}  // namespace

TEST(Chan, BufferedValuesAreDestroyedWithTheChannel) {
  std::atomic<int> live{0};
  for (Kind k : {Kind::bounded, Kind::unbounded}) {
    SCOPED_TRACE(kind_name(k));
    {
      auto ch = make_chan<Counted>(k, 8);
      // Wrap the ring around (and, unbounded, make it grow) before leaving values in it.
      for (int i = 0; i < 6; ++i) {
        ASSERT_TRUE(ch.send(Counted(live, i)));
      }
      for (int i = 0; i < 5; ++i) {
        auto v = ch.recv();
        ASSERT_TRUE(v.has_value());
        EXPECT_EQ(v->v, i);
      }
      const int more = k == Kind::bounded ? 7 : 40;
      for (int i = 0; i < more; ++i) {
        ASSERT_TRUE(ch.send(Counted(live, 6 + i)));
      }
      EXPECT_EQ(ch.size(), static_cast<std::size_t>(more + 1));
      EXPECT_EQ(live.load(), more + 1) << "exactly the buffered values are alive";
      auto v = ch.recv();
      ASSERT_TRUE(v.has_value());
      EXPECT_EQ(v->v, 5);
    }
    EXPECT_EQ(live.load(), 0) << "values left in a dropped channel must be destroyed";
  }
}

TEST(Chan, FreshPlainThreadWakesParkedTaskWithTrySendAndClose) {
  Watchdog dog;
  // Threads that never used gofer before wake a task parked on this thread.
  gofer::Chan<int> rv;
  auto receiver = gofer::go([rv]() mutable {
    auto first = rv.recv();
    auto second = rv.recv();
    return first == std::optional<int>(5) && !second.has_value();
  });
  gofer::yield();  // parks
  std::thread([rv]() mutable {
    int v = 5;
    EXPECT_EQ(rv.try_send(v), chan_status::ok) << "the receiver is parked";
  }).join();
  gofer::yield();
  std::thread([rv]() mutable { rv.close(); }).join();
  EXPECT_TRUE(receiver.wait());
}

// ---------------------------------------------------------------------------------------------
// Stress (bounded counts: 250k + 300k + 300k + 150k = 10^6 messages across the four MPMC
// tests in a normal build, 10x fewer under sanitizers).

namespace {

// mpmc_on_runtime: `producers` tasks send disjoint ranges of values, `consumers` tasks receive
// until closed-and-drained; every value must arrive exactly once.
void mpmc_on_runtime(Kind k, int producers, int consumers, int per_producer) {
  gofer::Runtime rt(2);
  auto ch = make_chan<std::int32_t>(k, 64);
  const std::size_t total = static_cast<std::size_t>(producers) * per_producer;
  Seen seen(total);
  std::vector<gofer::Task<std::int64_t>> prod;
  std::vector<gofer::Task<std::int64_t>> cons;
  for (int c = 0; c < consumers; ++c) {
    cons.push_back(rt.go([ch, &seen]() mutable {
      std::int64_t n = 0;
      while (auto v = ch.recv()) {
        seen.mark(static_cast<std::size_t>(*v));
        ++n;
      }
      return n;
    }));
  }
  for (int p = 0; p < producers; ++p) {
    prod.push_back(rt.go([ch, p, per_producer]() mutable {
      std::int64_t ok = 0;
      for (int i = 0; i < per_producer; ++i) {
        ok += ch.send(p * per_producer + i) ? 1 : 0;
      }
      return ok;
    }));
  }
  std::int64_t sent = 0;
  for (auto& t : prod) {
    sent += t.wait();
  }
  ch.close();
  std::int64_t received = 0;
  for (auto& t : cons) {
    received += t.wait();
  }
  EXPECT_EQ(sent, static_cast<std::int64_t>(total));
  EXPECT_EQ(received, static_cast<std::int64_t>(total));
  seen.expect_exactly_once(kind_name(k));
}

}  // namespace

TEST(Chan, StressRendezvousManyProducersManyConsumers) {
  Watchdog dog;
  mpmc_on_runtime(Kind::rendezvous, 4, 4, 62'500 / sanitizer_scale);  // 250k messages
}

TEST(Chan, StressBoundedManyProducersManyConsumers) {
  Watchdog dog;
  mpmc_on_runtime(Kind::bounded, 4, 4, 75'000 / sanitizer_scale);  // 300k messages
}

TEST(Chan, StressUnboundedManyProducersManyConsumers) {
  Watchdog dog;
  mpmc_on_runtime(Kind::unbounded, 4, 4, 75'000 / sanitizer_scale);  // 300k messages
}

TEST(Chan, StressPlainThreadProducersIntoTasks) {
  Watchdog dog;
  // 4 plain threads send into each kind; 4 Runtime tasks and 1 plain thread receive.
  constexpr int producers = 4;
  const int per_producer = 12'500 / sanitizer_scale;  // 3 kinds x 50k = 150k messages
  for (Kind k : {Kind::rendezvous, Kind::bounded, Kind::unbounded}) {
    SCOPED_TRACE(kind_name(k));
    gofer::Runtime rt(2);
    auto ch = make_chan<std::int32_t>(k, 16);
    const std::size_t total = static_cast<std::size_t>(producers) * per_producer;
    Seen seen(total);
    auto consume = [ch, &seen]() mutable {
      std::int64_t n = 0;
      while (auto v = ch.recv()) {
        seen.mark(static_cast<std::size_t>(*v));
        ++n;
      }
      return n;
    };
    std::vector<gofer::Task<std::int64_t>> cons;
    for (int c = 0; c < 4; ++c) {
      cons.push_back(rt.go(consume));
    }
    std::int64_t thread_received = 0;
    std::thread thread_consumer([&] { thread_received = consume(); });
    std::vector<std::thread> prod;
    for (int p = 0; p < producers; ++p) {
      prod.emplace_back([ch, p, per_producer]() mutable {
        for (int i = 0; i < per_producer; ++i) {
          EXPECT_TRUE(ch.send(p * per_producer + i));
        }
      });
    }
    for (auto& t : prod) {
      t.join();
    }
    ch.close();
    std::int64_t received = 0;
    for (auto& t : cons) {
      received += t.wait();
    }
    thread_consumer.join();
    received += thread_received;
    EXPECT_EQ(received, static_cast<std::int64_t>(total));
    seen.expect_exactly_once(kind_name(k));
  }
}

namespace {

// send_mode / recv_mode: how a racing producer / consumer talks to the channel.
enum class Mode { blocking, nonblocking, timed };

// send_until_done: sends v with the given mode, retrying until it is sent (true) or the
// channel is closed (false).
bool send_until_done(gofer::Chan<std::int64_t>& ch, std::int64_t v, Mode m) {
  switch (m) {
    case Mode::blocking:
      return ch.send(v);
    case Mode::nonblocking:
      for (;;) {
        const chan_status st = ch.try_send(v);
        if (st == chan_status::ok || st == chan_status::closed) {
          return st == chan_status::ok;
        }
        EXPECT_EQ(st, chan_status::full);
        gofer::yield();
      }
    case Mode::timed:
      for (;;) {
        const chan_status st = ch.send(v, 200us);
        if (st == chan_status::ok || st == chan_status::closed) {
          return st == chan_status::ok;
        }
        EXPECT_EQ(st, chan_status::timeout);
      }
  }
  return false;
}

std::optional<std::int64_t> recv_until_done(gofer::Chan<std::int64_t>& ch, Mode m) {
  std::int64_t out = 0;
  switch (m) {
    case Mode::blocking:
      return ch.recv();
    case Mode::nonblocking:
      for (;;) {
        const chan_status st = ch.try_recv(out);
        if (st == chan_status::ok) {
          return out;
        }
        if (st == chan_status::closed) {
          return std::nullopt;
        }
        EXPECT_EQ(st, chan_status::empty);
        gofer::yield();
      }
    case Mode::timed:
      for (;;) {
        const chan_status st = ch.recv(out, 200us);
        if (st == chan_status::ok) {
          return out;
        }
        if (st == chan_status::closed) {
          return std::nullopt;
        }
        EXPECT_EQ(st, chan_status::timeout);
      }
  }
  return std::nullopt;
}

}  // namespace

TEST(Chan, CloseRacingSendRecvLosesNothing) {
  Watchdog dog;
  gofer::Runtime rt(2);
  const int rounds = 150 / sanitizer_scale;
  const Budget budget(4s);
  constexpr int producers = 3;
  constexpr int consumers = 3;
  constexpr std::int64_t per_producer = 4000;
  std::mt19937 rng(12345);
  for (int r = 0; r < rounds && (r < 3 || budget.left()); ++r) {
    const Kind kind = static_cast<Kind>(r % 3);
    auto ch = make_chan<std::int64_t>(kind, 1 + r % 5);
    Seen seen(static_cast<std::size_t>(producers * per_producer));
    std::atomic<std::int64_t> received{0};
    std::vector<gofer::Task<std::int64_t>> prod;  // each returns how many it sent
    std::vector<gofer::Task<std::int64_t>> cons;
    for (int c = 0; c < consumers; ++c) {
      // The first consumer always blocks, so that every kind makes progress.
      const Mode m = c == 0 ? Mode::blocking : static_cast<Mode>((r + c) % 3);
      cons.push_back(rt.go([ch, m, &seen, &received]() mutable {
        std::int64_t n = 0;
        while (auto v = recv_until_done(ch, m)) {
          seen.mark(static_cast<std::size_t>(*v));
          received.fetch_add(1, std::memory_order_relaxed);
          ++n;
        }
        return n;
      }));
    }
    for (int p = 0; p < producers; ++p) {
      const Mode m = p == 0 ? Mode::blocking : static_cast<Mode>((r + p + 1) % 3);
      prod.push_back(rt.go([ch, m, p]() mutable {
        std::int64_t i = 0;
        for (; i < per_producer; ++i) {
          if (!send_until_done(ch, p * per_producer + i, m)) {
            break;
          }
        }
        return i;  // values p*per_producer + [0, i) were sent
      }));
    }
    // Close after a random number of deliveries (bounded in time), from this plain thread.
    const auto close_after = static_cast<std::int64_t>(rng() % 3000);
    const auto give_up = std::chrono::steady_clock::now() + 50ms;
    while (received.load() < close_after && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::yield();
    }
    ch.close();
    std::int64_t got = 0;
    for (auto& t : cons) {
      got += t.wait();
    }
    std::int64_t sent = 0;
    for (int p = 0; p < producers; ++p) {
      const std::int64_t n = prod[p].wait();
      sent += n;
      for (std::int64_t i = 0; i < per_producer; ++i) {
        const auto c = seen.count(static_cast<std::size_t>(p * per_producer + i));
        ASSERT_EQ(c, i < n ? 1 : 0) << "round " << r << " (" << kind_name(kind) << "): producer "
                                    << p << " value " << i << ", sent " << n;
      }
    }
    ASSERT_EQ(got, sent) << "round " << r << " (" << kind_name(kind) << ")";
  }
}

TEST(Chan, CloseWhileSendersAndReceiversAreParked) {
  Watchdog dog;
  // Many rounds of: parked senders on a full channel and parked receivers on an empty one,
  // closed from another thread. Nothing hangs and no value appears out of nowhere.
  gofer::Runtime rt(2);
  const int rounds = 200 / sanitizer_scale;
  const Budget budget(3s);
  for (int r = 0; r < rounds && (r < 2 || budget.left()); ++r) {
    gofer::Chan<int> full(1);
    ASSERT_TRUE(full.send(-1));
    gofer::Chan<int> empty;
    std::vector<gofer::Task<bool>> senders;
    std::vector<gofer::Task<std::optional<int>>> receivers;
    for (int i = 0; i < 3; ++i) {
      senders.push_back(rt.go([full, i]() mutable { return full.send(i); }));
      receivers.push_back(rt.go([empty]() mutable { return empty.recv(); }));
    }
    if (r % 2 == 0) {
      std::this_thread::yield();
    }
    // One value leaves the full channel: exactly one parked sender (if any parked yet) moves
    // its value in; the rest fail at close.
    auto first = full.recv();
    ASSERT_EQ(first, std::optional<int>(-1));
    full.close();
    empty.close();
    int ok = 0;
    for (auto& t : senders) {
      ok += t.wait() ? 1 : 0;
    }
    for (auto& t : receivers) {
      EXPECT_EQ(t.wait(), std::nullopt);
    }
    int drained = 0;
    while (full.recv()) {
      ++drained;
    }
    EXPECT_LE(ok, 1) << "round " << r;
    EXPECT_EQ(drained, ok) << "round " << r << ": a send that returned true must be received";
  }
}

// ---------------------------------------------------------------------------------------------
// Wake-ups with the target scheduler awake (spinning / running) and asleep (in epoll).

TEST(Chan, PingPongAcrossRuntimeThreads) {
  Watchdog dog;
  gofer::Runtime rt(2);
  const int trips = 20'000 / sanitizer_scale;
  gofer::Chan<int> ping;
  gofer::Chan<int> pong;
  auto server = rt.go_on(1, [ping, pong]() mutable {
    int n = 0;
    for (int v : ping) {
      EXPECT_TRUE(pong.send(v + 1));
      ++n;
    }
    return n;
  });
  struct Result {
    int done = 0;
    int bad = 0;
  };
  const Budget budget(3s);
  auto client = rt.go_on(0, [ping, pong, trips, budget]() mutable {
    Result r;
    for (; r.done < trips && budget.left(); ++r.done) {
      EXPECT_TRUE(ping.send(r.done));
      auto v = pong.recv();
      if (!v || *v != r.done + 1) {
        ++r.bad;
      }
    }
    ping.close();
    return r;
  });
  const Result r = client.wait();
  EXPECT_EQ(r.bad, 0);
  EXPECT_GT(r.done, 0);
  EXPECT_EQ(server.wait(), r.done);
  RecordProperty("round_trips", r.done);
}

namespace {

// sleepy_transfer: a sender that sometimes blocks its whole thread for 1-2 ms before sending
// (so the receiving scheduler has gone to sleep in epoll); every value must arrive, in order.
void sleepy_transfer(bool sender_is_task, bool receiver_is_task) {
  gofer::Runtime rt(2);
  constexpr int n = 100;
  gofer::Chan<int> ch;
  auto send_all = [ch]() mutable {
    for (int i = 0; i < n; ++i) {
      if (i % 3 == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1 + i % 2));
      }
      EXPECT_TRUE(ch.send(i));
    }
    ch.close();
  };
  auto recv_all = [ch]() mutable {
    std::vector<int> got;
    for (int v : ch) {
      got.push_back(v);
    }
    return got;
  };
  std::vector<int> got;
  if (sender_is_task && receiver_is_task) {
    auto s = rt.go_on(0, send_all);
    auto r = rt.go_on(1, recv_all);
    got = r.wait();
    s.wait();
  } else if (sender_is_task) {
    auto s = rt.go_on(0, send_all);
    got = recv_all();  // this plain thread sleeps in its loop between values
    s.wait();
  } else {
    auto r = rt.go_on(1, recv_all);
    send_all();
    got = r.wait();
  }
  ASSERT_EQ(got.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(got[i], i);
  }
}

// IdleSpin: sets the process-wide idle spin for a scope.
class IdleSpin {
 public:
  explicit IdleSpin(std::chrono::nanoseconds limit) : old_(gofer::idle_spin()) {
    gofer::set_idle_spin(limit);
  }
  ~IdleSpin() { gofer::set_idle_spin(old_); }
  IdleSpin(const IdleSpin&) = delete;
  IdleSpin& operator=(const IdleSpin&) = delete;

 private:
  std::chrono::nanoseconds old_;
};

}  // namespace

TEST(Chan, WakesReceiverWhoseSchedulerSleeps) {
  Watchdog dog;
  sleepy_transfer(false, true);  // plain thread -> task
  sleepy_transfer(true, false);  // task -> plain thread
  sleepy_transfer(true, true);   // task -> task on another Runtime thread
}

TEST(Chan, WakesReceiverWhoseSchedulerSleepsWithoutIdleSpin) {
  Watchdog dog;
  IdleSpin no_spin(0ns);  // every idle scheduler goes straight to epoll_wait
  sleepy_transfer(false, true);
  sleepy_transfer(true, true);
}

TEST(Chan, PingPongWithoutIdleSpin) {
  Watchdog dog;
  IdleSpin no_spin(0ns);
  gofer::Runtime rt(2);
  const int trips = 5'000 / sanitizer_scale;
  const Budget budget(2s);
  gofer::Chan<int> ping;
  gofer::Chan<int> pong(1);
  auto server = rt.go_on(1, [ping, pong]() mutable {
    for (int v : ping) {
      EXPECT_TRUE(pong.send(v * 3));
    }
  });
  int bad = 0;
  int done = 0;
  for (; done < trips && budget.left(); ++done) {  // this plain thread is the client
    EXPECT_TRUE(ping.send(done));
    auto v = pong.recv();
    if (!v || *v != 3 * done) {
      ++bad;
    }
  }
  ping.close();
  server.wait();
  EXPECT_EQ(bad, 0);
  EXPECT_GT(done, 0);
  RecordProperty("round_trips", done);
}

// ---------------------------------------------------------------------------------------------
// Who owns a value whose send failed.

TEST(Chan, FailedSendOnClosedChannelLeavesTheValueWithTheCaller) {
  Watchdog dog;
  using P = std::unique_ptr<int>;
  for (Kind k : {Kind::rendezvous, Kind::bounded, Kind::unbounded}) {
    SCOPED_TRACE(kind_name(k));
    auto ch = make_chan<P>(k, 2);
    ch.close();
    P p = std::make_unique<int>(7);
    EXPECT_FALSE(ch.send(std::move(p)));
    ASSERT_NE(p, nullptr) << "send on a closed channel moved from its rvalue argument";
    EXPECT_EQ(*p, 7);
    EXPECT_EQ(ch.send(p, 10s), chan_status::closed);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(ch.send(p, std::chrono::steady_clock::now() + 10s), chan_status::closed);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(ch.try_send(p), chan_status::closed);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(ch.try_send(std::move(p)), chan_status::closed);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, 7);
    EXPECT_EQ(ch.size(), 0u) << "a failed send must not buffer its value";
  }
  // A sender parked on a rendezvous when the channel closes gets its value back.
  gofer::Chan<P> rv;
  auto parked = gofer::go([rv]() mutable {
    P p = std::make_unique<int>(9);
    const bool sent = rv.send(std::move(p));
    return !sent && p != nullptr && *p == 9;
  });
  gofer::yield();  // the sender parks
  EXPECT_FALSE(parked.done());
  rv.close();
  EXPECT_TRUE(parked.wait()) << "a sender parked at close lost its value";
  // Success still moves: the value is the channel's now.
  gofer::Chan<P> open(1);
  P q = std::make_unique<int>(11);
  EXPECT_TRUE(open.send(std::move(q)));
  EXPECT_EQ(q, nullptr);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  auto got = open.recv();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(**got, 11);
}

TEST(Chan, SendOfCopyableLvalueLeavesTheCallersObject) {
  Watchdog dog;
  const std::string text = "a string long enough to live on the heap, not in the SSO buffer";
  for (Kind k : {Kind::rendezvous, Kind::bounded, Kind::unbounded}) {
    SCOPED_TRACE(kind_name(k));
    auto ch = make_chan<std::string>(k, 2);
    auto receiver = gofer::go([ch]() mutable { return ch.recv().value_or(""); });
    std::string s = text;
    EXPECT_TRUE(ch.send(s));  // a rendezvous: this plain thread runs the receiver meanwhile
    EXPECT_EQ(s, text) << "send(const T&) must copy, not move";
    EXPECT_EQ(receiver.wait(), text);
    const std::string c = text;
    if (k != Kind::rendezvous) {
      EXPECT_TRUE(ch.send(c));
      EXPECT_EQ(ch.recv(), text);
    }
    ch.close();
    EXPECT_FALSE(ch.send(s));
    EXPECT_EQ(s, text);
    EXPECT_FALSE(ch.send(c));
    EXPECT_EQ(ch.size(), 0u);
  }
}

// A capacity whose buffer cannot be allocated says which capacity, how many bytes and why
// (sanitizers abort on an impossible allocation instead of failing it).
TEST(Chan, CapacityTooLargeForMemoryIsAClearError) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the sanitizers' allocators abort on a 4 TiB request instead of failing it";
#else
  using Page = std::array<char, 4096>;
  try {
    gofer::Chan<Page> huge(std::size_t{1} << 30);
    ADD_FAILURE() << "a 4 TiB channel buffer was allocated";
  } catch (const std::bad_alloc& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("Chan capacity 1073741824 needs 4398046511104 bytes"), std::string::npos)
        << what;
    EXPECT_NE(what.find("4096 bytes per element"), std::string::npos) << what;
  }
#endif
}
