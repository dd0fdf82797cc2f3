// pg_handles.hpp: libpq's connection and result as RAII handles, for the PostgreSQL tests.
// Thread-safety: as libpq's (one connection per task). Blocking: PQfinish may write to the
// server's socket.
#pragma once

#include <memory>

#include <libpq-fe.h>

namespace gofer::test {

struct PgFinish {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgClear {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgConn = std::unique_ptr<PGconn, PgFinish>;
using PgResult = std::unique_ptr<PGresult, PgClear>;

}  // namespace gofer::test
