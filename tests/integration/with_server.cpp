// with_server.cpp: runs a program against a real server started by a test fixture, so that
// samples run in CTest against their server:
//   gofer_with_server redis    <program> [args...]   "{port}" in args becomes the port
//   gofer_with_server postgres <program> [args...]   "{conninfo}" becomes a libpq conninfo
// Exits with the program's status; a server that cannot start exits 2 with the reason.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "support/postgres_server.hpp"
#include "support/redis_server.hpp"
#include "support/server_process.hpp"

namespace {

int run_with(const std::string& key, const std::string& value, int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 2; i < argc; ++i) {
    args.push_back(argv[i] == key ? value : std::string(argv[i]));
  }
  std::vector<char*> cargs;
  for (auto& a : args) {
    cargs.push_back(a.data());
  }
  cargs.push_back(nullptr);
  pid_t pid = -1;
  if (const int rc = ::posix_spawn(&pid, cargs[0], nullptr, nullptr, cargs.data(), environ);
      rc != 0) {
    std::fprintf(stderr, "with_server: cannot start %s: %s\n", cargs[0], std::strerror(rc));
    return 2;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s redis|postgres <program> [args...]\n", argv[0]);
    return 2;
  }
  const std::string kind = argv[1];
  try {
    if (kind == "redis") {
      gofer::test::RedisServer server;
      return run_with("{port}", std::to_string(server.port()), argc, argv);
    }
    if (kind == "postgres") {
      gofer::test::PostgresServer server;
      return run_with("{conninfo}", server.conninfo(), argc, argv);
    }
    std::fprintf(stderr, "%s: unknown server '%s' (redis or postgres)\n", argv[0], kind.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
  }
  return 2;
}
