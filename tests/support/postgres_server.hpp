// postgres_server.hpp: a real PostgreSQL server for a test binary: initdb in a scratch
// directory (trust authentication, user "postgres", no fsync), then pg_ctl start on 127.0.0.1
// and a free port, its Unix socket in the same directory, room for 200 connections.
//
//   gofer::test::PostgresServer& pg = gofer::test::PostgresServer::shared();  // first use starts
//   PGconn* c = PQconnectdb(pg.conninfo().c_str());
//
// Root: initdb and postgres refuse to run as root, and CI runs as root; then both (and pg_ctl)
// run as `nobody` through setpriv, and the scratch directory is given to nobody
// (server_process.hpp, Unprivileged).
//
// Invariants: (1) shared() starts one server per process; its Guardian stops it (pg_ctl stop
// -m fast) and removes the directory at exit or when the process dies. (2) A server that does
// not start throws std::runtime_error naming the failed step (initdb or pg_ctl start) with its
// log's tail (a busy port is retried twice with another one).
// Thread-safety: shared() is thread-safe (a function-local static). Blocking: construction
// blocks the calling thread for initdb and start-up (about a second); call it outside tasks.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "server_process.hpp"

namespace gofer::test {

class PostgresServer {
 public:
  PostgresServer() {
    const std::vector<std::string> dirs{"/usr/lib/postgresql/15/bin"};
    const std::string initdb = find_program("initdb", dirs);
    pg_ctl_ = find_program("pg_ctl", dirs);
    dir_ = make_scratch_dir("postgres");
    user_.give(dir_);
    guardian_ = std::make_unique<Guardian>(cleanup_script(), "/dev/null");
    const std::string init_log = dir_ + "/initdb.log";
    const auto init = user_.wrap({initdb, "-D", data(), "-A", "trust", "-U", "postgres",
                                  "--no-sync", "--no-instructions", "--no-locale", "-E", "UTF8"});
    if (run(init, init_log) != 0) {
      throw std::runtime_error("initdb failed: " + command_line(init) + "; " + log_tail(init_log));
    }
    const std::string log = dir_ + "/postgres.log";
    for (int attempt = 0;; ++attempt) {
      port_ = free_port();
      const std::string options = "-p " + std::to_string(port_) + " -k " + dir_ +
                                  " -c listen_addresses=127.0.0.1 -c max_connections=200"
                                  " -c fsync=off -c synchronous_commit=off"
                                  " -c full_page_writes=off";
      const auto start =
          user_.wrap({pg_ctl_, "-D", data(), "-l", log, "-w", "-t", "30", "-o", options, "start"});
      if (run(start, dir_ + "/pg_ctl.log") == 0) {
        break;
      }
      const std::string tail = log_tail(log);
      if (attempt == 2 || tail.find("already in use") == std::string::npos) {
        throw std::runtime_error("PostgreSQL did not start: " + command_line(start) + "; " + tail);
      }
    }
    wait_accepting(port_, -1, "postgres", log);
  }
  ~PostgresServer() { guardian_.reset(); }
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // shared: the process's server, started by the first call.
  static PostgresServer& shared() {
    static PostgresServer server;
    return server;
  }

  std::uint16_t port() const { return port_; }
  // conninfo: a libpq connection string for database postgres, user postgres, over TCP
  // (no TLS or GSSAPI negotiation: the server offers neither, and asking costs round trips).
  std::string conninfo() const {
    return "host=127.0.0.1 port=" + std::to_string(port_) +
           " user=postgres dbname=postgres connect_timeout=10 sslmode=disable gssencmode=disable";
  }

 private:
  std::string data() const { return dir_ + "/data"; }
  // cleanup_script: a fast shutdown (pg_ctl waits for it), then the directory goes.
  std::string cleanup_script() const {
    const auto stop = user_.wrap({pg_ctl_, "-D", data(), "-m", "fast", "-w", "-t", "10", "stop"});
    return "[ -f '" + data() + "/postmaster.pid' ] && " + command_line(stop) +
           " >/dev/null 2>&1; rm -rf '" + dir_ + "'";
  }

  Unprivileged user_;
  std::string pg_ctl_;
  std::string dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<Guardian> guardian_;
};

}  // namespace gofer::test
