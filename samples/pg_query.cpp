// pg_query: three PostgreSQL queries at once from three tasks on one thread, with libpq's
// non-blocking API and gofer::wait_readable / wait_writable (no hooks needed): each task
// parks on its connection's socket whenever libpq would block.
//
//   pg_query ["conninfo"]    (default "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
//
// Each query sleeps 0.3 s in the server, so the three together take about 0.3 s, not 0.9 s.
// Output: one line per query, then "pg_query: 3 queries in 305 ms"; exit status 0 when each
// query returned its row.
#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gofer/gofer.hpp>

#include <libpq-fe.h>

namespace {

using namespace std::chrono_literals;

struct PgFinish {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, PgFinish>;

[[noreturn]] void fail(const char* what, PGconn* c) {
  throw std::runtime_error(std::string(what) + ": " + PQerrorMessage(c));
}

// connect: PQconnectStart, then PQconnectPoll until done, parking on the socket in the
// direction libpq asks for. Gives up after 5 s (std::system_error, errc::timed_out).
Conn connect(const std::string& conninfo) {
  Conn c(PQconnectStart(conninfo.c_str()));
  if (!c || PQstatus(c.get()) == CONNECTION_BAD) {
    fail("PQconnectStart", c.get());
  }
  const gofer::Deadline d = 5s;
  for (auto st = PGRES_POLLING_WRITING; st != PGRES_POLLING_OK; st = PQconnectPoll(c.get())) {
    if (st == PGRES_POLLING_FAILED) {
      fail("PQconnectPoll", c.get());
    }
    if (st == PGRES_POLLING_READING) {
      gofer::wait_readable(PQsocket(c.get()), d);
    } else {
      gofer::wait_writable(PQsocket(c.get()), d);
    }
  }
  PQsetnonblocking(c.get(), 1);
  return c;
}

// query: the first column of the first row `sql` returns, parking while the server works.
std::string query(PGconn* c, const std::string& sql) {
  const gofer::Deadline d = 10s;
  if (PQsendQuery(c, sql.c_str()) == 0) {
    fail("PQsendQuery", c);
  }
  while (PQflush(c) == 1) {  // the query is still being sent
    gofer::wait_writable(PQsocket(c), d);
  }
  std::string value;
  for (;;) {
    while (PQisBusy(c) != 0) {  // the result has not fully arrived
      gofer::wait_readable(PQsocket(c), d);
      if (PQconsumeInput(c) == 0) {
        fail("PQconsumeInput", c);
      }
    }
    PGresult* r = PQgetResult(c);
    if (r == nullptr) {
      return value;
    }
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
      value = PQgetvalue(r, 0, 0);
    } else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      const std::string msg = PQresultErrorMessage(r);
      PQclear(r);
      throw std::runtime_error("query: " + msg);
    }
    PQclear(r);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string conninfo =
      argc > 1 ? argv[1] : "host=127.0.0.1 port=5432 user=postgres dbname=postgres";
  const auto start = std::chrono::steady_clock::now();

  std::vector<gofer::Task<std::string>> tasks;
  for (const char* name : {"alpha", "beta", "gamma"}) {
    tasks.push_back(gofer::go([&conninfo, name] {
      auto c = connect(conninfo);
      return query(c.get(), "SELECT upper('" + std::string(name) + "') FROM pg_sleep(0.3)");
    }));
  }
  int ok = 0;
  for (auto& t : tasks) {
    const std::string v = gofer::wait(t);
    std::printf("  %s\n", v.c_str());
    ok += v.empty() ? 0 : 1;
  }

  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::printf("pg_query: %d queries in %lld ms\n", ok, static_cast<long long>(ms.count()));
  return ok == 3 ? 0 : 1;
}
