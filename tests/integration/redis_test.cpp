// redis_test.cpp: hiredis' blocking API (redisConnect, redisCommand) from gofer tasks against
// a real redis-server (support/redis_server.hpp), built twice:
//   redis_hooks_test   (GOFER_TEST_HOOKS=1, linked with gofer::hooks): 1,000 tasks on ONE
//                      scheduler thread, each with its own connection doing 100 SET/GET pairs,
//                      all checked, while a 1 ms ticker on the same thread never waits 20 ms;
//   redis_blocking_test (GOFER_TEST_HOOKS=0, no hooks): a small version of the same program, in
//                      which the ticker starves: each blocking call holds the whole thread.
// Together they show that the hooks, and nothing else, keep the thread free. Sanitizer builds
// allow gaps up to 100 ms (their steps are several times slower), and TSan runs 100 tasks.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include <hiredis/hiredis.h>
#if GOFER_TEST_HOOKS
#include <gofer/hooks.hpp>
#endif

#include "support/redis_server.hpp"
#include "support/scale.hpp"
#include "support/ticker_probe.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct RedisFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

// command: one blocking redisCommand; throws with hiredis' error when the connection fails.
Reply command(redisContext* c, const char* fmt, const std::string& a, const std::string& b = {}) {
  auto* r = static_cast<redisReply*>(redisCommand(c, fmt, a.c_str(), b.c_str()));
  if (r == nullptr) {
    throw std::runtime_error(std::string("redisCommand: ") + c->errstr);
  }
  return Reply(r);
}

// client: one connection, then (once every client is connected) `pairs` SET/GET pairs on
// keys of its own; returns the pairs whose GET returned what the SET stored (throws on any
// other reply).
int client(std::uint16_t port, int id, int pairs, gofer::WaitGroup& connected) {
  std::unique_ptr<redisContext, RedisFree> c(redisConnect("127.0.0.1", port));
  connected.done();
  if (!c || c->err != 0) {
    throw std::runtime_error("redisConnect 127.0.0.1:" + std::to_string(port) + ": " +
                             (c ? c->errstr : "out of memory"));
  }
  connected.wait();
  int ok = 0;
  for (int i = 0; i < pairs; ++i) {
    // (Appended piece by piece: g++ 12 warns falsely about "c" + std::string, PR 105329.)
    std::string key = "c";
    key.append(std::to_string(id)).append(":").append(std::to_string(i));
    std::string value = "v";
    value.append(std::to_string(id * 1000 + i));
    auto set = command(c.get(), "SET %s %s", key, value);
    if (set->type != REDIS_REPLY_STATUS || std::string(set->str, set->len) != "OK") {
      throw std::runtime_error("SET " + key + ": unexpected reply type " +
                               std::to_string(set->type));
    }
    auto get = command(c.get(), "GET %s", key);
    if (get->type != REDIS_REPLY_STRING || std::string(get->str, get->len) != value) {
      throw std::runtime_error("GET " + key + ": expected " + value);
    }
    ++ok;
  }
  return ok;
}

// ClientRun: what run_clients measured. The start-up (spawning the tasks, their stacks, and the
// connections) is measured apart from the traffic that follows it.
struct ClientRun {
  int checked = 0;
  Clock::duration startup{};
  Clock::duration startup_gap{};
  Clock::duration traffic{};
};

// run_clients: `tasks` client tasks on this thread, with `probe` (a TickerProbe started just
// before, on the same thread) restarted once every client is connected. Every task is waited
// for, even after a failure.
ClientRun run_clients(std::uint16_t port, int tasks, int pairs, gofer::test::TickerProbe& probe) {
  ClientRun r;
  const auto start = Clock::now();
  gofer::WaitGroup connected(tasks);
  std::vector<gofer::Task<int>> clients;
  clients.reserve(static_cast<std::size_t>(tasks));
  for (int i = 0; i < tasks; ++i) {
    clients.push_back(gofer::go([=, &connected] { return client(port, i, pairs, connected); }));
  }
  connected.wait();
  r.startup = Clock::now() - start;
  r.startup_gap = probe.max_own_gap();
  probe.restart();
  std::exception_ptr error;
  for (auto& c : clients) {
    try {
      r.checked += c.wait();
    } catch (...) {
      error = error ? error : std::current_exception();
    }
  }
  r.traffic = Clock::now() - start - r.startup;
  probe.stop();
  if (error) {
    std::rethrow_exception(error);
  }
  return r;
}

void report(const char* what, int tasks, int pairs, const ClientRun& r,
            const gofer::test::TickerProbe& p) {
  using gofer::test::TickerProbe;
  std::printf(
      "%s: %d tasks connected in %.0f ms (largest ticker gap %.1f ms), then %d SET/GET "
      "pairs each in %.0f ms: %d ticks, largest gap %.1f ms at %.0f ms, %.1f ms of it on "
      "the CPU (%.1f ms on the wall clock)\n",
      what, tasks, TickerProbe::ms(r.startup), TickerProbe::ms(r.startup_gap), pairs,
      TickerProbe::ms(r.traffic), p.ticks(), TickerProbe::ms(p.max_own_gap()),
      TickerProbe::ms(p.max_own_gap_at()), TickerProbe::ms(p.max_own_gap_cpu()),
      TickerProbe::ms(p.max_wall_gap()));
}

#if GOFER_TEST_HOOKS

TEST(Redis, ThousandBlockingClientsShareOneThreadWithoutBlockingIt) {
  gofer::test::Watchdog dog(60s);
  ASSERT_TRUE(gofer::hooks::active()) << "gofer::hooks is linked but not active";
  // 1,000 connections and the server's: more than the usual soft limit of 1,024 fds.
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_cur < 4096 && lim.rlim_max > lim.rlim_cur) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 4096);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0);
  }
  const auto port = gofer::test::RedisServer::shared().port();
  // TSan makes every step about ten times slower (support/scale.hpp): 100 tasks there.
  constexpr int tasks =
      gofer::test::under_thread_sanitizer ? 1000 / gofer::test::sanitizer_scale : 1000;
  constexpr int pairs = 100;
  // The thread never blocked: through the traffic the ticker got its turn at least every
  // 20 ms. (The start-up, 1,000 stacks and connections in one burst, is reported apart.) The
  // gaps left are rounds of 1,000 tasks taking one step each on the CPU; sanitizer builds run
  // the same workload with instrumented steps, several times slower, so their bound is wider.
  constexpr auto bound = gofer::test::sanitizer_scale == 1 ? 20ms : 100ms;
  EXPECT_TRUE(gofer::test::gap_stays_below(bound, [&] {
    gofer::test::TickerProbe probe;
    const ClientRun r = run_clients(port, tasks, pairs, probe);
    report("hooks", tasks, pairs, r, probe);
    EXPECT_EQ(r.checked, tasks * pairs);
    return probe.report();
  }));
}

#else

TEST(Redis, WithoutHooksTheBlockingClientsStarveTheTicker) {
  gofer::test::Watchdog dog(60s);
  const auto port = gofer::test::RedisServer::shared().port();
  // Small, so it stays short: the calls run one after another, each holding the thread.
  constexpr int tasks = 40;
  constexpr int pairs = 100;
  gofer::test::TickerProbe probe;
  const ClientRun r = run_clients(port, tasks, pairs, probe);
  report("no hooks", tasks, pairs, r, probe);
  EXPECT_EQ(r.checked, tasks * pairs);
  // 8,000 round trips take well over 20 ms, and the ticker waited for all of them: one gap
  // about as long as the whole traffic, and far fewer ticks than milliseconds.
  EXPECT_GE(probe.max_own_gap(), 20ms);
  EXPECT_GE(probe.max_wall_gap(), r.traffic / 2);
  EXPECT_LT(probe.ticks(), gofer::test::TickerProbe::ms(r.traffic) / 2);
}

#endif

}  // namespace
