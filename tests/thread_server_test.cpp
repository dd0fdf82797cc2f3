#include <pthread.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/scale.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::test::Watchdog;

namespace {

// Seq: a numbered message from one of several senders.
struct Seq {
  int sender;
  int n;
};
// Log: asks for what the server recorded.
struct Log {
  using reply_type = std::vector<Seq>;
};
// Boom: a message whose handler throws.
struct Boom {
  std::string why;
};
// Add: a request with a reply.
struct Add {
  int a;
  int b;
  using reply_type = int;
};
// Ping: a message without a reply type.
struct Ping {};

// until_stopping: blocks this (server) thread, not just the task, until srv has begun to
// stop, so that the messages sent meanwhile are still queued when stop() looks at them.
template <class Server>
void until_stopping(const Server& srv) {
  while (srv.running()) {
    std::this_thread::sleep_for(100us);
  }
}

}  // namespace

// A message type that cannot declare reply_type gets one through reply_of.
template <>
struct gofer::reply_of<std::string> {
  using type = std::size_t;
};

TEST(ThreadServer, HandlersStartInSendOrderForEachSender) {
  Watchdog dog;
  gofer::ThreadServer<Seq, Log> srv("order");
  std::vector<Seq> log;  // touched on the server thread only
  srv.on<Seq>([&log](Seq s) {
       log.push_back(s);
       gofer::sleep_for(std::chrono::microseconds(s.n % 3));  // finish out of order
     })
      .on<Log>([&log](Log) { return log; });
  srv.start();
  constexpr int senders = 3;
  constexpr int per_sender = 300;
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s) {
    threads.emplace_back([&srv, s] {
      for (int n = 0; n < per_sender; ++n) {
        srv.send(Seq{s, n});
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  const auto got = srv.request(Log{}).wait();
  srv.stop();
  ASSERT_EQ(got.size(), std::size_t{senders * per_sender});
  std::vector<int> next(senders, 0);
  for (const auto& s : got) {
    ASSERT_EQ(s.n, next[s.sender]) << "sender " << s.sender;
    ++next[s.sender];
  }
}

TEST(ThreadServer, BlockedHandlerDoesNotHoldUpLaterMessages) {
  Watchdog dog;
  gofer::ThreadServer<Seq, Ping> srv("concurrent");
  gofer::Chan<int> gate;
  std::vector<int> finished;  // server thread only
  srv.on<Seq>([gate, &finished](Seq s) mutable {
       gate.recv();  // parks this handler only
       finished.push_back(s.n);
     })
      .on<Ping>([gate](Ping) mutable { EXPECT_TRUE(gate.send(1)); });
  srv.start();
  auto first = srv.request(Seq{0, 1});
  auto second = srv.request(Ping{});
  second.wait();  // Ping ran although Seq, sent before it, was still blocked
  first.wait();
  srv.stop();
  EXPECT_EQ(finished, std::vector<int>{1});
}

TEST(ThreadServer, HandlerExceptionGoesToOnErrorAndServingContinues) {
  Watchdog dog;
  gofer::ThreadServer<Boom, Add> srv("errors");
  std::vector<std::string> errors;  // server thread only
  srv.on<Boom>([](Boom b) { throw std::runtime_error(b.why); })
      .on<Add>([](Add a) { return a.a + a.b; })
      .on_error([&errors](std::string_view type, std::exception_ptr e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::runtime_error& err) {
          const bool named = type.find("Boom") != std::string_view::npos;
          errors.push_back(std::string(named ? "Boom" : type) + ": " + err.what());
        }
      });
  srv.start();
  srv.send(Boom{"first"});
  srv.send(Boom{"second"});
  EXPECT_EQ(srv.request(Add{2, 3}).wait(), 5);
  srv.stop();
  EXPECT_EQ(errors, (std::vector<std::string>{"Boom: first", "Boom: second"}));
}

TEST(ThreadServer, HandlerExceptionIsPrintedWithServerAndTypeWithoutOnError) {
  Watchdog dog;
  gofer::ThreadServer<Boom, Add> srv("printer");
  srv.on<Boom>([](Boom b) { throw std::invalid_argument(b.why); }).on<Add>([](Add a) {
    return a.a + a.b;
  });
  srv.start();
  testing::internal::CaptureStderr();
  srv.send(Boom{"bad input"});
  const int sum = srv.request(Add{1, 1}).wait();
  srv.stop();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(sum, 2);
  EXPECT_NE(err.find("gofer: ThreadServer 'printer': handler for "), std::string::npos) << err;
  EXPECT_NE(err.find("Boom threw std::invalid_argument: bad input"), std::string::npos) << err;
}

TEST(ThreadServer, RequestReturnsTheHandlersValueOrException) {
  Watchdog dog;
  gofer::ThreadServer<Add, Boom, Ping> srv("requests");
  std::atomic<int> pings{0};
  srv.on<Add>([](const Add& a) {
       gofer::sleep_for(1ms);
       return a.a * 10 + a.b;
     })
      .on<Boom>([](Boom b) { throw std::runtime_error(b.why); })
      .on<Ping>([&pings](Ping) {
        ++pings;
        return 99;  // ignored: Ping has no reply type
      });
  srv.start();
  auto t = srv.request(Add{4, 2});
  auto boom = srv.request(Boom{"no"});
  gofer::Task<void> ack = srv.request(Ping{});
  EXPECT_EQ(t.wait(), 42);
  EXPECT_THROW(boom.wait(), std::runtime_error);
  ack.wait();
  EXPECT_EQ(pings.load(), 1);
  srv.stop();
}

TEST(ThreadServer, MessageWithoutHandlerIsAnError) {
  Watchdog dog;
  gofer::ThreadServer<Add, Ping> srv("unhandled");
  srv.on<Ping>([](Ping) {});
  srv.start();
  auto t = srv.request(Add{1, 2});
  EXPECT_THROW(t.wait(), std::logic_error);
  srv.request(Ping{}).wait();
}

TEST(ThreadServer, StopDrainHandlesEveryQueuedMessage) {
  Watchdog dog;
  gofer::ThreadServer<Seq> srv("drain");
  int handled = 0;  // server thread only
  int handled_at_stop = -1;
  srv.on<Seq>([&srv, &handled](Seq s) {
       if (s.n == 0) {
         until_stopping(srv);  // the other messages queue up behind this one
       }
       gofer::sleep_for(10us);
       ++handled;
     })
      .on_stop([&] { handled_at_stop = handled; });
  srv.start();
  constexpr int n = 200;
  for (int i = 0; i < n; ++i) {
    srv.send(Seq{0, i});
  }
  srv.stop(gofer::stop_mode::drain);
  EXPECT_EQ(handled, n);
  EXPECT_EQ(handled_at_stop, n);
  EXPECT_THROW(srv.send(Seq{0, n}), std::logic_error);
}

TEST(ThreadServer, StopDropDropsQueuedMessagesAndStopsRunningHandlers) {
  Watchdog dog;
  gofer::ThreadServer<Seq> srv("drop");
  gofer::Chan<int> never;
  std::atomic<bool> first_started{false};
  int handled = 0;  // server thread only
  bool stopped_after_handlers = false;
  srv.on<Seq>([&srv, &handled, &first_started, never](Seq s) mutable {
       if (s.n == 0) {
         first_started = true;
         until_stopping(srv);
         never.recv();  // parks until stop(drop) cancels it
       }
       ++handled;
     })
      .on_stop([&] { stopped_after_handlers = true; });
  srv.start();
  constexpr int n = 50;
  std::vector<gofer::Task<void>> tasks;
  for (int i = 0; i < n; ++i) {
    tasks.push_back(srv.request(Seq{0, i}));
  }
  while (!first_started) {
    std::this_thread::sleep_for(100us);
  }
  srv.stop(gofer::stop_mode::drop);
  EXPECT_THROW(tasks[0].wait(), gofer::cancelled);
  for (int i = 1; i < n; ++i) {
    EXPECT_THROW(tasks[i].wait(), std::runtime_error) << i;
  }
  EXPECT_EQ(handled, 0);
  EXPECT_TRUE(stopped_after_handlers);
}

TEST(ThreadServer, HundredThousandMessagesBetweenTwoServersArriveInOrder) {
  Watchdog dog(60s);
  // Every message is a task, and TSan makes each task's fiber cost about a millisecond (its
  // per-fiber trace state), so TSan runs a fifth of the sanitizer count: still thousands of
  // cross-thread hand-offs, in about two seconds instead of ten (or thirty on a loaded CI).
  const int n =
      100'000 / gofer::test::sanitizer_scale / (gofer::test::under_thread_sanitizer ? 5 : 1);
  gofer::ThreadServer<Seq, Log> sink("sink");
  gofer::ThreadServer<Seq> relay("relay");
  int received = 0;  // sink thread only
  int out_of_order = 0;
  sink.on<Seq>([&](Seq s) {
        out_of_order += s.n != received ? 1 : 0;
        ++received;
      })
      .on<Log>([&](Log) {
        return std::vector<Seq>{Seq{out_of_order, received}};
      });
  relay.on<Seq>([&sink](Seq s) { sink.send(s); });
  sink.start();
  relay.start();
  for (int i = 0; i < n; ++i) {
    relay.send(Seq{0, i});
  }
  relay.stop();  // drains: every message is now in sink's inbox
  const auto got = sink.request(Log{}).wait();
  sink.stop();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].n, n);
  EXPECT_EQ(got[0].sender, 0) << "messages out of order";
}

TEST(ThreadServer, ServersTalkToEachOtherAndToMain) {
  Watchdog dog;
  gofer::ThreadServer<Add> adder("adder");
  gofer::ThreadServer<Add> front("front");
  adder.on<Add>([](Add a) { return a.a + a.b; });
  front.on<Add>([&adder](Add a) { return adder.request(Add{a.a, a.b}).wait() * 2; });
  adder.start();
  front.start();
  gofer::Chan<int> results = gofer::Chan<int>::unbounded();
  std::thread plain([&front, results]() mutable {
    EXPECT_TRUE(results.send(front.request(Add{1, 2}).wait()));
  });
  EXPECT_EQ(front.request(Add{10, 20}).wait(), 60);
  EXPECT_EQ(results.recv(), 6);
  plain.join();
  front.stop();
  adder.stop();
}

TEST(ThreadServer, SendWorksFromPlainThreadsTasksAndOtherRuntimes) {
  Watchdog dog;
  gofer::ThreadServer<Seq, Log> srv("senders");
  std::vector<Seq> log;  // server thread only
  srv.on<Seq>([&log](Seq s) { log.push_back(s); }).on<Log>([&log](Log) { return log; });
  srv.start();
  std::thread plain([&srv] { srv.send(Seq{0, 0}); });
  plain.join();
  gofer::go([&srv] { srv.send(Seq{1, 0}); }).wait();
  gofer::Runtime rt(2);
  rt.go([&srv] { srv.send(Seq{2, 0}); }).wait();
  const auto got = srv.request(Log{}).wait();
  srv.stop();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].sender, 0);
  EXPECT_EQ(got[1].sender, 1);
  EXPECT_EQ(got[2].sender, 2);
}

TEST(ThreadServer, HooksAndHandlersRunOnTheNamedServerThread) {
  Watchdog dog;
  gofer::ThreadServer<Ping> srv("hooks-server-long-name");
  std::thread::id start_id, handler_id, stop_id;
  std::string thread_name;
  srv.on<Ping>([&](Ping) {
       handler_id = std::this_thread::get_id();
       char buf[16] = {};
       pthread_getname_np(pthread_self(), buf, sizeof buf);
       thread_name = buf;
     })
      .on_start([&] { start_id = std::this_thread::get_id(); })
      .on_stop([&] { stop_id = std::this_thread::get_id(); });
  srv.start();
  EXPECT_NE(start_id, std::thread::id());
  srv.request(Ping{}).wait();
  srv.stop();
  EXPECT_NE(start_id, std::this_thread::get_id());
  EXPECT_EQ(handler_id, start_id);
  EXPECT_EQ(stop_id, start_id);
  EXPECT_EQ(thread_name, "hooks-server-lo");
}

TEST(ThreadServer, OnStartExceptionIsRethrownByStart) {
  Watchdog dog;
  gofer::ThreadServer<Ping> srv("bad-start");
  srv.on<Ping>([](Ping) {}).on_start([] { throw std::runtime_error("no config"); });
  EXPECT_THROW(srv.start(), std::runtime_error);
  EXPECT_FALSE(srv.running());
  EXPECT_THROW(srv.send(Ping{}), std::logic_error);
  EXPECT_THROW(srv.start(), std::logic_error);
}

TEST(ThreadServer, MisuseThrowsLogicError) {
  Watchdog dog;
  gofer::ThreadServer<Ping> srv("misuse");
  EXPECT_THROW(srv.send(Ping{}), std::logic_error);  // before start
  srv.on<Ping>([](Ping) {});
  srv.start();
  EXPECT_THROW(srv.on<Ping>([](Ping) {}), std::logic_error);
  EXPECT_THROW(srv.on_stop([] {}), std::logic_error);
  EXPECT_THROW(srv.start(), std::logic_error);
  srv.stop();
  srv.stop();  // idempotent
  EXPECT_THROW(srv.send(Ping{}), std::logic_error);
  EXPECT_THROW(srv.request(Ping{}), std::logic_error);
}

TEST(ThreadServer, StopFromAHandlerThrows) {
  Watchdog dog;
  gofer::ThreadServer<Add> srv("self-stop");
  srv.on<Add>([&srv](Add) {
    try {
      srv.stop();
    } catch (const std::logic_error&) {
      return 1;
    }
    return 0;
  });
  srv.start();
  EXPECT_EQ(srv.request(Add{}).wait(), 1);
}

TEST(ThreadServer, DestructorDrainsAndNeverStartedServerIsFine) {
  Watchdog dog;
  std::atomic<int> handled{0};
  {
    gofer::ThreadServer<Ping> srv("dtor");
    srv.on<Ping>([&handled](Ping) {
      gofer::sleep_for(50us);
      ++handled;
    });
    srv.start();
    for (int i = 0; i < 20; ++i) {
      srv.send(Ping{});
    }
  }
  EXPECT_EQ(handled.load(), 20);
  gofer::ThreadServer<Ping> idle("idle");
}

TEST(ThreadServer, ReplyOfSpecializationGivesAReplyTypeToForeignTypes) {
  Watchdog dog;
  gofer::ThreadServer<std::string> srv("strings");
  srv.on<std::string>([](const std::string& s) { return s.size(); });
  srv.start();
  gofer::Task<std::size_t> t = srv.request(std::string("four"));
  EXPECT_EQ(t.wait(), 4u);
  EXPECT_EQ(srv.request<std::string>("seven..").wait(), 7u);  // converted to std::string first
}

TEST(ThreadServer, StopWaitsForOrStopsTasksThatHandlersSpawned) {
  Watchdog dog;
  std::atomic<int> finished{0};
  {
    gofer::ThreadServer<Ping> srv("spawn-drain");
    srv.on<Ping>([&finished](Ping) {
      gofer::go([&finished] {  // outlives the handler
        gofer::sleep_for(2ms);
        ++finished;
      });
    });
    srv.start();
    srv.send(Ping{});
    srv.stop(gofer::stop_mode::drain);
    EXPECT_EQ(finished.load(), 1);
  }
  {
    gofer::ThreadServer<Ping> srv("spawn-drop");
    gofer::Chan<int> never;
    srv.on<Ping>([never](Ping) {
      gofer::go([never]() mutable { never.recv(); });  // would wait forever
    });
    srv.start();
    srv.request(Ping{}).wait();
    srv.stop(gofer::stop_mode::drop);  // returns: the spawned task is stopped
  }
}

TEST(ThreadServer, ManyServersStartAndStopInBothModes) {
  Watchdog dog;
  for (int round = 0; round < 20; ++round) {
    gofer::ThreadServer<Add, Ping> srv("round-" + std::to_string(round));
    srv.on<Add>([](Add a) { return a.a + a.b; }).on<Ping>([](Ping) { gofer::sleep_for(10us); });
    srv.start();
    for (int i = 0; i < 10; ++i) {
      srv.send(Ping{});
    }
    EXPECT_EQ(srv.request(Add{round, 1}).wait(), round + 1);
    srv.stop(round % 2 == 0 ? gofer::stop_mode::drain : gofer::stop_mode::drop);
  }
}
