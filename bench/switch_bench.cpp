// switch_bench.cpp: task switches on one scheduler thread.
//
// yield_local: two tasks yielding to each other (items = switches).
// pingpong_local: two tasks exchanging an int over two rendezvous channels (items = round trips;
// each round trip is two channel hand-offs and two switches).
// The std::thread baselines are baseline_switch and baseline_pingpong in baseline_bench.cpp.
#include <cstdint>
#include <optional>

#include <benchmark/benchmark.h>

#include <gofer/chan.hpp>
#include <gofer/task.hpp>
#include <gofer/time.hpp>

#include "bench_util.hpp"

namespace gofer_bench {
namespace {

void yield_local(benchmark::State& state) {
  constexpr std::int64_t half = yield_switches / 2;
  auto body = [] {
    std::int64_t yields = 0;
    for (std::int64_t i = 0; i < half; ++i) {
      gofer::yield();
      ++yields;
    }
    return yields;
  };
  for (auto _ : state) {
    auto a = gofer::go(body);
    auto b = gofer::go(body);
    if (!arrived(state, "yield_local yields", a.wait() + b.wait(), yield_switches)) {
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * yield_switches);
}
BENCHMARK(yield_local);

void pingpong_local(benchmark::State& state) {
  gofer::Chan<int> a;
  gofer::Chan<int> b;
  for (auto _ : state) {
    auto ping = gofer::go([a, b]() mutable {
      std::int64_t replies = 0;
      for (std::int64_t i = 0; i < pingpong_trips; ++i) {
        (void)a.send(static_cast<int>(i));  // cannot fail: not closed yet
        replies += b.recv().value_or(0);
      }
      return replies;
    });
    auto pong = gofer::go([a, b]() mutable {
      for (std::int64_t i = 0; i < pingpong_trips; ++i) {
        (void)b.send(a.recv().value_or(0) + 1);  // cannot fail: not closed yet
      }
    });
    pong.wait();
    if (!arrived(state, "pingpong_local replies", ping.wait(), sum_below(pingpong_trips + 1))) {
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * pingpong_trips);
}
BENCHMARK(pingpong_local);

}  // namespace
}  // namespace gofer_bench
