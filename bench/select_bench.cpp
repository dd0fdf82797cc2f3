// select_bench.cpp: gofer::select.
//
// select_local: one task selecting over 4 rendezvous channels, each fed by its own producer
// task, all on the main thread's scheduler (items = selects; most selects park and are
// completed by a producer).
// select_default_empty: a non-blocking select (on_default) over 4 empty channels: the cost of
// locking, shuffling and checking the cases without parking.
// std has no select, so there is no std::thread baseline for these.
#include <cstdint>
#include <optional>
#include <vector>

#include <benchmark/benchmark.h>

#include <gofer/chan.hpp>
#include <gofer/select.hpp>
#include <gofer/task.hpp>

#include "bench_util.hpp"

namespace gofer_bench {
namespace {

void select_local(benchmark::State& state) {
  constexpr std::int64_t per = select_count / select_channels;
  std::vector<gofer::Chan<int>> chans(select_channels);
  for (auto _ : state) {
    std::vector<gofer::Task<void>> producers;
    for (int p = 0; p < select_channels; ++p) {
      producers.push_back(gofer::go([ch = chans[p], p]() mutable {
        for (std::int64_t i = 0; i < per; ++i) {
          (void)ch.send(static_cast<int>(p * per + i));  // cannot fail: not closed yet
        }
      }));
    }
    auto selector = gofer::go([&chans] {
      std::int64_t sum = 0;
      auto take = [&sum](std::optional<int> v) { sum += v.value_or(0); };
      for (std::int64_t i = 0; i < select_count; ++i) {
        gofer::select(gofer::on_recv(chans[0], take), gofer::on_recv(chans[1], take),
                      gofer::on_recv(chans[2], take), gofer::on_recv(chans[3], take));
      }
      return sum;
    });
    const std::int64_t sum = selector.wait();
    gofer::wait_all(producers);
    if (!arrived(state, "select_local sum", sum, sum_below(select_count))) {
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * select_count);
}
BENCHMARK(select_local);

void select_default_empty(benchmark::State& state) {
  std::vector<gofer::Chan<int>> chans(select_channels);
  std::int64_t defaults = 0;
  std::int64_t selects = 0;
  auto none = [](std::optional<int>) {};
  for (auto _ : state) {
    gofer::select(gofer::on_recv(chans[0], none), gofer::on_recv(chans[1], none),
                  gofer::on_recv(chans[2], none), gofer::on_recv(chans[3], none),
                  gofer::on_default([&defaults] { ++defaults; }));
    ++selects;
  }
  arrived(state, "select_default_empty defaults", defaults, selects);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(select_default_empty);

}  // namespace
}  // namespace gofer_bench
