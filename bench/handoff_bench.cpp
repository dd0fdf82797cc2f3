// handoff_bench.cpp: cross-thread hand-offs to a thread that stays busy.
//
// handoff_to_busy_thread: a feeder task on Runtime thread 0 sends 100,000 values through a
// channel of capacity 1024 to a receiver task on thread 1, which never idles long (items =
// messages). The counter receiver_sleeps_per_msg is the receiver thread's voluntary context
// switches per message: a notify that finds the target awake costs no wake-up syscall and no
// sleep, so it stays far below 1 (it was a unit-test assertion, "fewer than half the
// hand-offs write the eventfd", before it moved here).
#include <cstdint>
#include <cstdio>
#include <cstring>

#include <benchmark/benchmark.h>

#include <gofer/chan.hpp>
#include <gofer/runtime.hpp>
#include <gofer/task.hpp>

#include "bench_util.hpp"

namespace gofer_bench {
namespace {

constexpr int handoff_messages = 100'000;

// voluntary_switches: this thread's voluntary context switches so far (-1 if unreadable).
std::int64_t voluntary_switches() {
  std::FILE* f = std::fopen("/proc/thread-self/status", "r");
  if (f == nullptr) {
    return -1;
  }
  char line[256];
  std::int64_t n = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "voluntary_ctxt_switches:", 24) == 0) {
      n = std::strtoll(line + 24, nullptr, 10);
    }
  }
  std::fclose(f);
  return n;
}

void handoff_to_busy_thread(benchmark::State& state) {
  gofer::Runtime rt(2);
  std::int64_t sleeps = 0;
  for (auto _ : state) {
    gofer::Chan<int> ch(1024);
    auto receiver = rt.go_on(1, [ch]() mutable {
      const std::int64_t before = voluntary_switches();
      std::int64_t got = 0;
      while (ch.recv()) {
        ++got;
      }
      return std::pair<std::int64_t, std::int64_t>(got, voluntary_switches() - before);
    });
    rt.go_on(0, [ch]() mutable {
        for (int i = 0; i < handoff_messages; ++i) {
          if (!ch.send(i)) {
            return;
          }
        }
        ch.close();
      }).wait();
    const auto [got, switches] = receiver.wait();
    if (!arrived(state, "handoff_to_busy_thread count", got, handoff_messages)) {
      break;
    }
    sleeps += switches;
  }
  state.SetItemsProcessed(state.iterations() * handoff_messages);
  state.counters["receiver_sleeps_per_msg"] = benchmark::Counter(
      static_cast<double>(sleeps) / static_cast<double>(state.iterations() * handoff_messages));
}
BENCHMARK(handoff_to_busy_thread)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace gofer_bench
