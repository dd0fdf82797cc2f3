// redis_server.hpp: a real redis-server for a test binary, on 127.0.0.1 and a free port, in a
// scratch directory of its own, with a generated config: no persistence (no RDB, no AOF),
// maxclients 4096 and a listen backlog of 2048 so that 1,000+ clients can connect at once.
//
//   gofer::test::RedisServer& r = gofer::test::RedisServer::shared();   // started on first use
//   redisContext* c = redisConnect("127.0.0.1", r.port());
//
// Invariants: (1) shared() starts one server per process and keeps it for the tests that
// follow; its Guardian stops it (SIGTERM, then SIGKILL after 5 s) and removes the directory at
// exit, or when the process dies (it finds the server by its pid file). (2) A server that does not
// start throws std::runtime_error with the reason and redis' log tail (a busy port is retried twice
// with another one). Thread-safety: shared() is thread-safe (a function-local static); the server
// itself serves any thread. Blocking: construction blocks the calling thread until the server
// accepts (tens of ms); call it outside tasks, or accept that the task's thread blocks once.
#pragma once

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "server_process.hpp"

namespace gofer::test {

class RedisServer {
 public:
  RedisServer() {
    const std::string exe = find_program("redis-server", {"/usr/bin", "/usr/sbin"});
    dir_ = make_scratch_dir("redis");
    const std::string log = dir_ + "/redis.log";
    guardian_ = std::make_unique<Guardian>(cleanup_script(), "/dev/null");
    std::string last_error;
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = free_port();
      write_config();
      pid_ = spawn({exe, dir_ + "/redis.conf"}, log);
      try {
        wait_accepting(port_, pid_, "redis-server (" + dir_ + "/redis.conf)", log);
        return;
      } catch (const std::runtime_error& e) {
        last_error = e.what();
        stop();
        if (last_error.find("Address already in use") == std::string::npos) {
          break;
        }
      }
    }
    guardian_.reset();
    throw std::runtime_error(last_error);
  }
  ~RedisServer() {
    stop();
    guardian_.reset();
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // shared: the process's server, started by the first call.
  static RedisServer& shared() {
    static RedisServer server;
    return server;
  }

  std::uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_; }

 private:
  void write_config() const {
    std::ofstream conf(dir_ + "/redis.conf", std::ios::trunc);
    conf << "bind 127.0.0.1\n"
         << "port " << port_ << "\n"
         << "dir " << dir_ << "\n"
         << "logfile " << dir_ << "/redis.log\n"
         << "pidfile " << dir_ << "/redis.pid\n"
         << "daemonize no\n"
         << "save \"\"\n"
         << "appendonly no\n"
         << "maxclients 4096\n"
         << "tcp-backlog 2048\n";
    if (!conf) {
      throw std::runtime_error("cannot write " + dir_ + "/redis.conf");
    }
  }
  // cleanup_script: what the Guardian runs when this process is gone or done with the server:
  // stop the server named by its pid file (redis removes the file on a clean exit), then
  // remove the directory.
  std::string cleanup_script() const {
    return "d='" + dir_ + "'; pid=$(cat \"$d/redis.pid\" 2>/dev/null); if [ -n \"$pid\" ]; then " +
           "kill -TERM $pid 2>/dev/null; i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; " +
           "do sleep 0.1; i=$((i+1)); done; kill -KILL $pid 2>/dev/null; fi; rm -rf \"$d\"";
  }
  // stop: SIGTERM and reap our child (SIGKILL after 5 s).
  void stop() {
    if (pid_ <= 0) {
      return;
    }
    ::kill(pid_, SIGTERM);
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > end) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
  }

  std::string dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::unique_ptr<Guardian> guardian_;
};

}  // namespace gofer::test
