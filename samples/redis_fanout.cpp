// redis_fanout: hiredis' ordinary blocking client in 100 tasks on one thread. Linked with
// gofer::hooks, each blocking call (connect, write, read) parks only its task, so the 100
// connections wait on Redis at the same time instead of one after another.
//
//   redis_fanout [port]     (a redis-server on 127.0.0.1, default port 6379)
//
// Output: "redis_fanout: 100/100 lookups answered correctly in 12 ms, one thread, hooks on";
// exit status 0 when every lookup read back what it wrote.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <gofer/gofer.hpp>
#include <gofer/hooks.hpp>

#include <hiredis/hiredis.h>

namespace {

// lookup: one connection of its own; SET fanout:<i> and GET it back. Plain hiredis code.
std::string lookup(int port, int i) {
  redisContext* c = redisConnect("127.0.0.1", port);  // parks this task, not the thread
  if (c == nullptr || c->err != 0) {
    throw std::runtime_error(c != nullptr ? c->errstr : "redisConnect: out of memory");
  }
  freeReplyObject(redisCommand(c, "SET fanout:%d value-%d", i, i));
  auto* r = static_cast<redisReply*>(redisCommand(c, "GET fanout:%d", i));
  std::string value = r != nullptr && r->type == REDIS_REPLY_STRING ? r->str : "";
  freeReplyObject(r);
  redisFree(c);
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 6379;
  constexpr int n = 100;
  const auto start = std::chrono::steady_clock::now();

  // Fan out: one task per lookup, all on this thread's scheduler.
  std::vector<gofer::Task<std::string>> lookups;
  for (int i = 0; i < n; ++i) {
    lookups.push_back(gofer::go(lookup, port, i));
  }
  // Fan in: wait for each (a task's exception, e.g. a refused connection, is rethrown here).
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    ok += gofer::wait(lookups[i]) == "value-" + std::to_string(i) ? 1 : 0;
  }

  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::printf("redis_fanout: %d/%d lookups answered correctly in %lld ms, one thread, hooks %s\n",
              ok, n, static_cast<long long>(ms.count()), gofer::hooks::active() ? "on" : "off");
  return ok == n ? 0 : 1;
}
