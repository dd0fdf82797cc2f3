// pg_hooks_test.cpp: libpq's ordinary blocking API (PQconnectdb, PQexec) from 100 gofer tasks
// on ONE thread, against a real PostgreSQL server (support/postgres_server.hpp). Linked with
// gofer::hooks: libpq's connect, poll, send and recv park the calling task, so the queries
// overlap and a ticker on the same thread keeps ticking.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>
#include <gofer/hooks.hpp>

#include "support/pg_handles.hpp"
#include "support/postgres_server.hpp"
#include "support/scale.hpp"
#include "support/ticker_probe.hpp"
#include "support/watchdog.hpp"

#include <libpq-fe.h>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

using Conn = gofer::test::PgConn;
using Result = gofer::test::PgResult;

// connect: PQconnectdb, throwing libpq's message when the connection failed.
Conn connect(const std::string& conninfo) {
  Conn c(PQconnectdb(conninfo.c_str()));
  if (!c || PQstatus(c.get()) != CONNECTION_OK) {
    throw std::runtime_error("PQconnectdb: " +
                             std::string(c ? PQerrorMessage(c.get()) : "out of memory"));
  }
  return c;
}

using gofer::test::TickerProbe;
double ms(Clock::duration d) {
  return TickerProbe::ms(d);
}

TEST(PostgresHooks, HundredBlockingClientsOverlapOnOneThread) {
  gofer::test::Watchdog dog(60s);
  ASSERT_TRUE(gofer::hooks::active());
  const std::string conninfo = gofer::test::PostgresServer::shared().conninfo();
  constexpr int tasks = 100;
  // Each query sleeps `query` in the server; sanitizer builds, whose connection start-up is
  // several times slower on the CPU, use longer queries so that the two stay apart.
  const std::string query = gofer::test::sanitizer_scale == 1 ? "0.1" : "0.5";
  const auto query_time = gofer::test::sanitizer_scale == 1 ? 100ms : 500ms;
  // A PQexec that blocked the thread would hold the ticker for its whole query; in Release the
  // gaps stay under 20 ms.
  const auto bound = gofer::test::sanitizer_scale == 1 ? 20ms : query_time / 2;
  EXPECT_TRUE(gofer::test::gap_stays_below(bound, [&] {
    gofer::test::TickerProbe probe;
    const auto start = Clock::now();
    std::vector<gofer::Task<std::string>> clients;
    for (int i = 0; i < tasks; ++i) {
      clients.push_back(gofer::go([&conninfo, &query, i] {
        auto c = connect(conninfo);
        const std::string sql = "SELECT pg_sleep(" + query + "), " + std::to_string(i) + " * 3";
        Result r(PQexec(c.get(), sql.c_str()));
        if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
          throw std::runtime_error(sql + ": " + PQresultErrorMessage(r.get()));
        }
        return std::string(PQgetvalue(r.get(), 0, 1));
      }));
    }
    std::exception_ptr error;
    for (int i = 0; i < tasks; ++i) {
      try {
        EXPECT_EQ(clients[static_cast<std::size_t>(i)].wait(), std::to_string(i * 3));
      } catch (...) {
        error = error ? error : std::current_exception();
      }
    }
    const auto elapsed = Clock::now() - start;
    probe.stop();
    if (error) {
      std::rethrow_exception(error);
    }
    std::printf(
        "hooks: 100 blocking libpq clients, %s s query each: %.0f ms; ticker: %d ticks, "
        "largest gap %.1f ms (%.1f ms on the wall clock)\n",
        query.c_str(), ms(elapsed), probe.ticks(), ms(probe.max_own_gap()),
        ms(probe.max_wall_gap()));
    // The server sleeps 100 queries in all: only overlapping queries finish in half of that.
    EXPECT_LT(elapsed, 50 * query_time);
    return probe.report();
  }));
}

TEST(PostgresHooks, RequestStopEndsABlockedQuery) {
  gofer::test::Watchdog dog(30s);
  const std::string conninfo = gofer::test::PostgresServer::shared().conninfo();
  gofer::with_event_loop([&] {
    auto c = connect(conninfo);
    auto query = gofer::go([&] {
      Result r(PQexec(c.get(), "SELECT pg_sleep(30)"));
      return std::string(
          PQresultStatus(r.get()) == PGRES_TUPLES_OK ? "finished" : PQresultErrorMessage(r.get()));
    });
    gofer::sleep_for(100ms);
    const auto start = Clock::now();
    query.request_stop();
    // libpq sees its wait fail with ECANCELED (gofer::hooks::stop_errno) and gives up.
    const std::string outcome = query.wait();
    EXPECT_LT(Clock::now() - start, 5s);
    EXPECT_NE(outcome, "finished");
    EXPECT_NE(outcome.find(std::strerror(gofer::hooks::stop_errno)), std::string::npos) << outcome;
  });
}

}  // namespace
