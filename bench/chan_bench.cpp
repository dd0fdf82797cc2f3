// chan_bench.cpp: channel throughput and cross-thread latency.
//
// spsc_local: one producer and one consumer task on the main thread's scheduler, a channel of
// capacity 1024 (items = messages).
// pingpong_cross: a rendezvous ping-pong between tasks on Runtime threads 0 and 1 (items =
// round trips); range(1) is the idle spin in ns (20000 = the default, 0 = off).
// mpmc_cross: 4 producers and 4 consumers spread over the Runtime's threads, capacity 256.
// The std::thread baselines are baseline_spsc, baseline_pingpong and baseline_mpmc.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include <gofer/chan.hpp>
#include <gofer/runtime.hpp>
#include <gofer/task.hpp>
#include <gofer/time.hpp>

#include "bench_util.hpp"

namespace gofer_bench {
namespace {

using SumCount = std::pair<std::int64_t, std::int64_t>;

// drain: receives until ch is closed and drained; the sum and the count of what arrived.
SumCount drain(gofer::Chan<int> ch) {
  SumCount sc{0, 0};
  for (int v : ch) {
    sc.first += v;
    ++sc.second;
  }
  return sc;
}

void spsc_local(benchmark::State& state) {
  for (auto _ : state) {
    gofer::Chan<int> ch(spsc_capacity);
    auto producer = gofer::go([ch]() mutable {
      for (std::int64_t i = 0; i < spsc_messages; ++i) {
        (void)ch.send(static_cast<int>(i));  // cannot fail: not closed yet
      }
      ch.close();
    });
    auto consumer = gofer::go(drain, ch);
    producer.wait();
    const auto [sum, count] = consumer.wait();
    if (!arrived(state, "spsc_local count", count, spsc_messages) ||
        !arrived(state, "spsc_local sum", sum, sum_below(spsc_messages))) {
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * spsc_messages);
}
BENCHMARK(spsc_local);

BENCHMARK_DEFINE_F(OnRuntime, pingpong_cross)(benchmark::State& state) {
  const auto spin_before = gofer::idle_spin();
  gofer::set_idle_spin(std::chrono::nanoseconds(state.range(1)));
  gofer::Chan<int> a;
  gofer::Chan<int> b;
  for (auto _ : state) {
    auto ping = rt().go_on(0, [a, b]() mutable {
      std::int64_t replies = 0;
      for (std::int64_t i = 0; i < pingpong_trips; ++i) {
        (void)a.send(static_cast<int>(i));  // cannot fail: not closed yet
        replies += b.recv().value_or(0);
      }
      return replies;
    });
    auto pong = rt().go_on(1, [a, b]() mutable {
      for (std::int64_t i = 0; i < pingpong_trips; ++i) {
        (void)b.send(a.recv().value_or(0) + 1);  // cannot fail: not closed yet
      }
    });
    pong.wait();
    if (!arrived(state, "pingpong_cross replies", ping.wait(), sum_below(pingpong_trips + 1))) {
      break;
    }
  }
  gofer::set_idle_spin(spin_before);
  state.SetItemsProcessed(state.iterations() * pingpong_trips);
}
BENCHMARK_REGISTER_F(OnRuntime, pingpong_cross)
    ->ArgNames({"threads", "spin_ns"})
    ->Args({2, 20'000})
    ->Args({2, 0})
    ->UseRealTime();

BENCHMARK_DEFINE_F(OnRuntime, mpmc_cross)(benchmark::State& state) {
  constexpr std::int64_t per = mpmc_messages / mpmc_producers;
  const std::size_t threads = rt().size();
  for (auto _ : state) {
    gofer::Chan<int> ch(mpmc_capacity);
    std::atomic<int> producers_left{mpmc_producers};
    std::vector<gofer::Task<void>> producers;
    std::vector<gofer::Task<SumCount>> consumers;
    for (int p = 0; p < mpmc_producers; ++p) {
      producers.push_back(rt().go_on(p % threads, [ch, &producers_left, p]() mutable {
        for (std::int64_t i = p * per; i < (p + 1) * per; ++i) {
          (void)ch.send(static_cast<int>(i));  // cannot fail: not closed yet
        }
        if (producers_left.fetch_sub(1) == 1) {
          ch.close();
        }
      }));
    }
    for (int c = 0; c < mpmc_consumers; ++c) {
      consumers.push_back(rt().go_on(c % threads, drain, ch));
    }
    gofer::wait_all(producers);
    SumCount total{0, 0};
    for (const auto& [s, k] : gofer::wait_all(consumers)) {
      total.first += s;
      total.second += k;
    }
    if (!arrived(state, "mpmc_cross count", total.second, per * mpmc_producers) ||
        !arrived(state, "mpmc_cross sum", total.first, sum_below(per * mpmc_producers))) {
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * mpmc_messages);
}
BENCHMARK_REGISTER_F(OnRuntime, mpmc_cross)->Apply(runtime_threads);

}  // namespace
}  // namespace gofer_bench
