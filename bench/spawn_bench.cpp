// spawn_bench.cpp: spawning tasks and waiting for them all.
//
// spawn_local: a wave of tasks, each incrementing a counter, spawned on the main thread's
// scheduler and then waited (wait_all); range(0) tasks per wave, range(1) the stack in KiB
// (256 = the default; 64 shows the cost of the stack pool's byte cap at the default size).
// spawn_runtime: the same wave spread round-robin over a Runtime's threads from the main thread.
// The std::thread baseline is baseline_spawn in baseline_bench.cpp.
#include <atomic>
#include <cstdint>
#include <vector>

#include <benchmark/benchmark.h>

#include <gofer/runtime.hpp>
#include <gofer/task.hpp>

#include "bench_util.hpp"

namespace gofer_bench {
namespace {

void spawn_local(benchmark::State& state) {
  const std::int64_t wave = state.range(0);
  gofer::TaskOptions opts;
  opts.stack_size = static_cast<std::size_t>(state.range(1)) * 1024;
  std::atomic<std::int64_t> counter{0};
  std::vector<gofer::Task<void>> tasks;
  tasks.reserve(static_cast<std::size_t>(wave));
  for (auto _ : state) {
    counter.store(0, std::memory_order_relaxed);
    for (std::int64_t i = 0; i < wave; ++i) {
      tasks.push_back(
          gofer::go(opts, [&counter] { counter.fetch_add(1, std::memory_order_relaxed); }));
    }
    gofer::wait_all(tasks);
    tasks.clear();
    if (!arrived(state, "spawn_local counter", counter.load(), wave)) {
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * wave);
}
BENCHMARK(spawn_local)
    ->ArgNames({"tasks", "stack_kib"})
    ->Args({spawn_wave, 256})
    ->Args({spawn_wave, 64});

BENCHMARK_DEFINE_F(OnRuntime, spawn_runtime)(benchmark::State& state) {
  std::atomic<std::int64_t> counter{0};
  std::vector<gofer::Task<void>> tasks;
  tasks.reserve(spawn_wave);
  for (auto _ : state) {
    counter.store(0, std::memory_order_relaxed);
    for (std::int64_t i = 0; i < spawn_wave; ++i) {
      tasks.push_back(rt().go([&counter] { counter.fetch_add(1, std::memory_order_relaxed); }));
    }
    gofer::wait_all(tasks);
    tasks.clear();
    if (!arrived(state, "spawn_runtime counter", counter.load(), spawn_wave)) {
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * spawn_wave);
}
BENCHMARK_REGISTER_F(OnRuntime, spawn_runtime)->Apply(runtime_threads);

}  // namespace
}  // namespace gofer_bench
