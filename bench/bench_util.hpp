// bench_util.hpp: what the gofer_bench benchmarks share: per-iteration counts, the Runtime
// fixture over thread-count arguments, and the "did the data arrive" check.
//
// Every benchmark checks that its data arrived (counts and sums) with arrived(): a mismatch is
// printed to stderr, marks the benchmark as failed (SkipWithError) and makes gofer_bench exit
// non-zero (bench_main.cpp), so a broken channel cannot pass as a fast one. Multi-threaded
// benchmarks use UseRealTime() and every benchmark reports items/s (SetItemsProcessed).
// Report medians: --benchmark_repetitions=5 --benchmark_report_aggregates_only=true.
//
// Thread-safety: arrived() may be called from any thread; the fixture from the benchmark thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>

#include <benchmark/benchmark.h>

#include <gofer/runtime.hpp>

namespace gofer_bench {

// Per-iteration counts. They are smaller than the peer comparison's (bench/peers), which runs
// each workload once at full size, so that Google Benchmark can repeat them.
inline constexpr std::int64_t spawn_wave = 1'000;
inline constexpr std::int64_t pingpong_trips = 10'000;
inline constexpr std::int64_t spsc_messages = 100'000;
inline constexpr std::size_t spsc_capacity = 1024;
inline constexpr std::int64_t mpmc_messages = 100'000;
inline constexpr std::size_t mpmc_capacity = 256;
inline constexpr int mpmc_producers = 4;
inline constexpr int mpmc_consumers = 4;
inline constexpr std::int64_t yield_switches = 100'000;
inline constexpr std::int64_t select_count = 10'000;
inline constexpr int select_channels = 4;

// sum_below: 0 + 1 + ... + (n - 1).
constexpr std::int64_t sum_below(std::int64_t n) {
  return n * (n - 1) / 2;
}

// failures: how many checks failed in this process (bench_main.cpp turns it into the exit code).
inline std::atomic<int>& failures() {
  static std::atomic<int> count{0};
  return count;
}

// arrived: true when got == want; otherwise reports the mismatch on stderr, fails the
// benchmark and returns false (the caller then leaves its loop).
inline bool arrived(benchmark::State& state, const char* what, std::int64_t got,
                    std::int64_t want) {
  if (got == want) {
    return true;
  }
  std::fprintf(stderr, "gofer_bench: FAILED: %s is %lld, want %lld\n", what,
               static_cast<long long>(got), static_cast<long long>(want));
  failures().fetch_add(1);
  state.SkipWithError(what);
  return false;
}

// OnRuntime: a fixture giving each benchmark run a fresh gofer::Runtime with state.range(0)
// scheduler threads (marl's Schedule::args idea), shut down after the run.
class OnRuntime : public benchmark::Fixture {
 public:
  using benchmark::Fixture::SetUp;
  using benchmark::Fixture::TearDown;

  void SetUp(const benchmark::State& state) override {
    rt_ = std::make_unique<gofer::Runtime>(static_cast<std::size_t>(state.range(0)));
  }
  void TearDown(const benchmark::State&) override { rt_.reset(); }

  gofer::Runtime& rt() { return *rt_; }

 private:
  std::unique_ptr<gofer::Runtime> rt_;
};

// runtime_threads: the thread counts OnRuntime benchmarks run over ({1, 2}: the machine's
// cores), timed in real time.
inline void runtime_threads(benchmark::internal::Benchmark* b) {
  b->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime();
}

}  // namespace gofer_bench
