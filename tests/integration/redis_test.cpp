// redis_test.cpp: hiredis' blocking API (redisConnect, redisCommand) from gofer tasks against
// a real redis-server (support/redis_server.hpp), built twice:
//   redis_hooks_test   (GOFER_TEST_HOOKS=1, linked with gofer::hooks): 1,000 tasks on ONE
//                      scheduler thread, each with its own connection doing 100 SET/GET pairs,
//                      all checked, while a 1 ms ticker on the same thread never waits 20 ms;
//   redis_blocking_test (GOFER_TEST_HOOKS=0, no hooks): a small version of the same program, in
//                      which the ticker starves: each blocking call holds the whole thread.
// Together they show that the hooks, and nothing else, keep the thread free.
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
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// TickerStats: what the ticker task saw while the clients ran.
struct TickerStats {
  int ticks = 0;
  Clock::duration max_gap{};
  Clock::duration elapsed{};
};

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

// client: one connection, `pairs` SET/GET pairs on keys of its own; returns the pairs whose
// GET returned what the SET stored (throws on any other reply).
int client(std::uint16_t port, int id, int pairs) {
  std::unique_ptr<redisContext, RedisFree> c(redisConnect("127.0.0.1", port));
  if (!c || c->err != 0) {
    throw std::runtime_error("redisConnect 127.0.0.1:" + std::to_string(port) + ": " +
                             (c ? c->errstr : "out of memory"));
  }
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

// run_clients: `tasks` client tasks on this thread, and a ticker task ticking every 1 ms on the
// same thread; returns the number of checked pairs and what the ticker saw.
std::pair<int, TickerStats> run_clients(std::uint16_t port, int tasks, int pairs) {
  TickerStats st;
  bool done = false;
  const auto start = Clock::now();
  auto ticker = gofer::go([&] {
    gofer::Ticker tick(1ms);
    auto last = Clock::now();
    while (!done) {
      (void)tick.chan().recv();
      const auto now = Clock::now();
      st.max_gap = std::max(st.max_gap, now - last);
      last = now;
      ++st.ticks;
    }
  });
  std::vector<gofer::Task<int>> clients;
  clients.reserve(static_cast<std::size_t>(tasks));
  for (int i = 0; i < tasks; ++i) {
    clients.push_back(gofer::go(client, port, i, pairs));
  }
  // Every task is waited for, even after a failure: they and the ticker use this frame.
  int checked = 0;
  std::exception_ptr error;
  for (auto& c : clients) {
    try {
      checked += c.wait();
    } catch (...) {
      error = error ? error : std::current_exception();
    }
  }
  st.elapsed = Clock::now() - start;
  done = true;
  ticker.wait();
  if (error) {
    std::rethrow_exception(error);
  }
  return {checked, st};
}

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

void report(const char* what, int tasks, int pairs, const TickerStats& st) {
  std::printf("%s: %d tasks x %d SET/GET pairs in %.0f ms; ticker: %d ticks, largest gap %.1f ms\n",
              what, tasks, pairs, ms(st.elapsed), st.ticks, ms(st.max_gap));
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
  constexpr int tasks = 1000;
  constexpr int pairs = 100;
  const auto [checked, st] = run_clients(port, tasks, pairs);
  report("hooks", tasks, pairs, st);
  EXPECT_EQ(checked, tasks * pairs);
  // The thread never blocked: the ticker got its turn at least every 20 ms.
  EXPECT_LT(st.max_gap, 20ms) << st.ticks << " ticks in " << ms(st.elapsed) << " ms";
}

#else

TEST(Redis, WithoutHooksTheBlockingClientsStarveTheTicker) {
  gofer::test::Watchdog dog(60s);
  const auto port = gofer::test::RedisServer::shared().port();
  // Small, so it stays short: the calls run one after another, each holding the thread.
  constexpr int tasks = 40;
  constexpr int pairs = 100;
  const auto [checked, st] = run_clients(port, tasks, pairs);
  report("no hooks", tasks, pairs, st);
  EXPECT_EQ(checked, tasks * pairs);
  // 8,000 round trips take well over 20 ms, and the ticker waited for all of them: one gap
  // about as long as the whole run, and far fewer ticks than milliseconds.
  EXPECT_GE(st.max_gap, 20ms);
  EXPECT_GE(ms(st.max_gap), ms(st.elapsed) / 2);
  EXPECT_LT(st.ticks, ms(st.elapsed) / 2);
}

#endif

}  // namespace
