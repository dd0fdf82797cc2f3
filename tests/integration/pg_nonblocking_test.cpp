// pg_nonblocking_test.cpp: libpq's non-blocking API (PQconnectStart/PQconnectPoll,
// PQsendQuery, PQflush, PQconsumeInput/PQisBusy) from gofer tasks, parked with
// gofer::wait_readable / wait_writable, against a real PostgreSQL server
// (support/postgres_server.hpp). No gofer::hooks in this binary: the fd waits alone keep the
// thread free.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/io_support.hpp"
#include "support/pg_handles.hpp"
#include "support/postgres_server.hpp"
#include "support/server_process.hpp"
#include "support/ticker_probe.hpp"
#include "support/watchdog.hpp"

#include <libpq-fe.h>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

using Conn = gofer::test::PgConn;
using Result = gofer::test::PgResult;

// connect_async: PQconnectStart, then PQconnectPoll until it is done, parking the task on the
// socket in the direction libpq asks for (the socket may change between steps).
Conn connect_async(const std::string& conninfo, gofer::Deadline d) {
  Conn c(PQconnectStart(conninfo.c_str()));
  if (!c) {
    throw std::bad_alloc();
  }
  if (PQstatus(c.get()) == CONNECTION_BAD) {
    throw std::runtime_error(std::string("PQconnectStart: ") + PQerrorMessage(c.get()));
  }
  // Start as if PQconnectPoll had said "writing" (libpq's documented protocol).
  for (auto st = PGRES_POLLING_WRITING; st != PGRES_POLLING_OK; st = PQconnectPoll(c.get())) {
    if (st == PGRES_POLLING_FAILED) {
      throw std::runtime_error(std::string("PQconnectPoll: ") + PQerrorMessage(c.get()));
    }
    if (st == PGRES_POLLING_READING) {
      gofer::wait_readable(PQsocket(c.get()), d);
    } else {
      gofer::wait_writable(PQsocket(c.get()), d);
    }
  }
  if (PQsetnonblocking(c.get(), 1) != 0) {
    throw std::runtime_error(std::string("PQsetnonblocking: ") + PQerrorMessage(c.get()));
  }
  return c;
}

// query_async: sends `sql` and returns its results, parking the task while the server works.
std::vector<Result> query_async(PGconn* c, const char* sql, gofer::Deadline d) {
  if (PQsendQuery(c, sql) == 0) {
    throw std::runtime_error(std::string("PQsendQuery: ") + PQerrorMessage(c));
  }
  // PQflush returns 1 while output is queued. The server reads a query without waiting for
  // us to read, so waiting for writability alone is enough here.
  for (int f = PQflush(c); f != 0; f = PQflush(c)) {
    if (f < 0) {
      throw std::runtime_error(std::string("PQflush: ") + PQerrorMessage(c));
    }
    gofer::wait_writable(PQsocket(c), d);
  }
  std::vector<Result> results;
  for (;;) {
    while (PQisBusy(c) != 0) {
      gofer::wait_readable(PQsocket(c), d);
      if (PQconsumeInput(c) == 0) {
        throw std::runtime_error(std::string("PQconsumeInput: ") + PQerrorMessage(c));
      }
    }
    PGresult* r = PQgetResult(c);
    if (r == nullptr) {
      return results;
    }
    results.emplace_back(r);
  }
}

TEST(PostgresNonBlocking, TwentyConnectionsQueryAtOnceOnOneThread) {
  gofer::test::Watchdog dog(60s);
  const std::string conninfo = gofer::test::PostgresServer::shared().conninfo();
  constexpr int tasks = 20;
  EXPECT_TRUE(gofer::test::gap_stays_below(20ms, [&] {
    gofer::test::TickerProbe probe;
    const auto start = Clock::now();
    std::vector<gofer::Task<std::string>> clients;
    for (int i = 0; i < tasks; ++i) {
      clients.push_back(gofer::go([&conninfo, i] {
        auto c = connect_async(conninfo, 20s);
        const std::string sql = "SELECT pg_sleep(0.2), " + std::to_string(i) + " * 2";
        auto results = query_async(c.get(), sql.c_str(), 20s);
        if (results.size() != 1 || PQresultStatus(results[0].get()) != PGRES_TUPLES_OK) {
          throw std::runtime_error(
              "query " + std::to_string(i) + ": " +
              (results.empty() ? "no result" : PQresultErrorMessage(results[0].get())));
        }
        return std::string(PQgetvalue(results[0].get(), 0, 1));
      }));
    }
    std::exception_ptr error;
    for (int i = 0; i < tasks; ++i) {
      try {
        EXPECT_EQ(clients[static_cast<std::size_t>(i)].wait(), std::to_string(i * 2));
      } catch (...) {
        error = error ? error : std::current_exception();
      }
    }
    const auto elapsed = Clock::now() - start;
    probe.stop();
    if (error) {
      std::rethrow_exception(error);
    }
    using gofer::test::TickerProbe;
    std::printf(
        "20 non-blocking libpq connections, 0.2 s each: %.0f ms; largest ticker gap %.1f ms "
        "(%.1f ms on the wall clock)\n",
        TickerProbe::ms(elapsed), TickerProbe::ms(probe.max_own_gap()),
        TickerProbe::ms(probe.max_wall_gap()));
    // The server sleeps 20 x 0.2 s = 4 s in all: only overlapping queries finish in under 2 s.
    EXPECT_LT(elapsed, 2s);
    return probe.report();
  }));
}

TEST(PostgresNonBlocking, AServerErrorComesBackAsAResult) {
  gofer::test::Watchdog dog(30s);
  const std::string conninfo = gofer::test::PostgresServer::shared().conninfo();
  gofer::with_event_loop([&] {
    auto c = connect_async(conninfo, 20s);
    auto results = query_async(c.get(), "SELECT 1/0", 20s);
    ASSERT_EQ(results.size(), 1U);
    EXPECT_EQ(PQresultStatus(results[0].get()), PGRES_FATAL_ERROR);
    EXPECT_NE(std::string(PQresultErrorMessage(results[0].get())).find("division by zero"),
              std::string::npos);
    // The connection is still usable.
    auto again = query_async(c.get(), "SELECT 'ok'", 20s);
    ASSERT_EQ(again.size(), 1U);
    EXPECT_STREQ(PQgetvalue(again[0].get(), 0, 0), "ok");
  });
}

TEST(PostgresNonBlocking, ASlowQueryTimesOutAtTheDeadline) {
  gofer::test::Watchdog dog(30s);
  const std::string conninfo = gofer::test::PostgresServer::shared().conninfo();
  gofer::with_event_loop([&] {
    auto c = connect_async(conninfo, 20s);
    const auto start = Clock::now();
    EXPECT_TRUE(timed_out(errc_of([&] { query_async(c.get(), "SELECT pg_sleep(30)", 100ms); })));
    EXPECT_LT(Clock::now() - start, 10s);
  });
}

TEST(PostgresNonBlocking, ARefusedConnectionFailsWithLibpqsReason) {
  gofer::test::Watchdog dog(30s);
  const auto port = gofer::test::free_port();  // nothing listens there
  gofer::with_event_loop([&] {
    try {
      connect_async("host=127.0.0.1 port=" + std::to_string(port) + " user=postgres", 10s);
      ADD_FAILURE() << "connected to a port nobody listens on";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("refused"), std::string::npos) << e.what();
    }
  });
}

}  // namespace
