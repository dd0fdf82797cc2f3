// baseline_bench.cpp: the gofer_bench workloads on plain std::thread + std::mutex +
// std::condition_variable (marl's non_marl_bench.cpp idea), so every gofer figure has a
// baseline from the same binary and the same run.
//
// baseline_spawn: a wave of std::threads each incrementing a counter, then all joined.
// baseline_switch: two threads taking turns through a mutex and a condition variable (the
// closest thread analogue of two tasks yielding to each other; items = turns).
// baseline_pingpong: two threads exchanging an int over two rendezvous BlockingQueues.
// baseline_spsc: one producer thread, one consumer thread, a BlockingQueue of capacity 1024.
// baseline_mpmc: 4 producer and 4 consumer threads, a BlockingQueue of capacity 256.
// Counts per iteration are those of bench_util.hpp; every run checks that its data arrived.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_util.hpp"

namespace gofer_bench {
namespace {

// BlockingQueue: a closable FIFO between threads, guarded by one mutex. Capacity 0 is a
// rendezvous: push() returns once a pop() took its value.
//
// Invariants (under m_): q_.size() <= max(capacity_, 1); popped_ <= pushed_; after close() no
// push succeeds and pop() drains q_ before it returns false.
template <class T>
class BlockingQueue {
 public:
  explicit BlockingQueue(std::size_t capacity) : capacity_(capacity) {}

  // push: blocks while full (and, for a rendezvous, until taken); false once closed.
  bool push(T v) {
    std::unique_lock lock(m_);
    not_full_.wait(lock,
                   [&] { return closed_ || q_.size() < std::max<std::size_t>(capacity_, 1); });
    if (closed_) {
      return false;
    }
    q_.push_back(std::move(v));
    const std::uint64_t ticket = ++pushed_;
    not_empty_.notify_one();
    if (capacity_ == 0) {
      taken_.wait(lock, [&] { return popped_ >= ticket; });
    }
    return true;
  }
  // pop: blocks until a value arrives (true) or the queue is closed and drained (false).
  bool pop(T& out) {
    std::unique_lock lock(m_);
    not_empty_.wait(lock, [&] { return closed_ || !q_.empty(); });
    if (q_.empty()) {
      return false;
    }
    out = std::move(q_.front());
    q_.pop_front();
    ++popped_;
    not_full_.notify_one();
    if (capacity_ == 0) {
      taken_.notify_all();
    }
    return true;
  }
  void close() {
    std::lock_guard lock(m_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  const std::size_t capacity_;
  std::mutex m_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::condition_variable taken_;
  std::deque<T> q_;
  std::uint64_t pushed_ = 0;
  std::uint64_t popped_ = 0;
  bool closed_ = false;
};

void baseline_spawn(benchmark::State& state) {
  std::atomic<std::int64_t> counter{0};
  std::vector<std::thread> threads;
  threads.reserve(spawn_wave);
  for (auto _ : state) {
    counter.store(0, std::memory_order_relaxed);
    for (std::int64_t i = 0; i < spawn_wave; ++i) {
      threads.emplace_back([&counter] { counter.fetch_add(1, std::memory_order_relaxed); });
    }
    for (auto& t : threads) {
      t.join();
    }
    threads.clear();
    if (!arrived(state, "baseline_spawn counter", counter.load(), spawn_wave)) {
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * spawn_wave);
}
BENCHMARK(baseline_spawn)->UseRealTime();

void baseline_switch(benchmark::State& state) {
  constexpr std::int64_t half = yield_switches / 2;
  for (auto _ : state) {
    std::mutex m;
    std::condition_variable cv;
    int turn = 0;
    std::int64_t turns[2] = {0, 0};
    auto body = [&](int me) {
      for (std::int64_t i = 0; i < half; ++i) {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return turn == me; });
        turn = 1 - me;
        ++turns[me];
        cv.notify_one();
      }
    };
    std::thread a(body, 0);
    std::thread b(body, 1);
    a.join();
    b.join();
    if (!arrived(state, "baseline_switch turns", turns[0] + turns[1], yield_switches)) {
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * yield_switches);
}
BENCHMARK(baseline_switch)->UseRealTime();

void baseline_pingpong(benchmark::State& state) {
  for (auto _ : state) {
    BlockingQueue<int> a(0);
    BlockingQueue<int> b(0);
    std::int64_t replies = 0;
    std::thread ping([&] {
      for (std::int64_t i = 0; i < pingpong_trips; ++i) {
        a.push(static_cast<int>(i));
        int v = 0;
        b.pop(v);
        replies += v;
      }
    });
    std::thread pong([&] {
      for (std::int64_t i = 0; i < pingpong_trips; ++i) {
        int v = 0;
        a.pop(v);
        b.push(v + 1);
      }
    });
    ping.join();
    pong.join();
    if (!arrived(state, "baseline_pingpong replies", replies, sum_below(pingpong_trips + 1))) {
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * pingpong_trips);
}
BENCHMARK(baseline_pingpong)->UseRealTime();

// drain: pops until q is closed and drained; adds what arrived to sum and count.
void drain(BlockingQueue<int>& q, std::atomic<std::int64_t>& sum,
           std::atomic<std::int64_t>& count) {
  std::int64_t s = 0;
  std::int64_t k = 0;
  for (int v = 0; q.pop(v);) {
    s += v;
    ++k;
  }
  sum += s;
  count += k;
}

void baseline_spsc(benchmark::State& state) {
  for (auto _ : state) {
    BlockingQueue<int> q(spsc_capacity);
    std::atomic<std::int64_t> sum{0};
    std::atomic<std::int64_t> count{0};
    std::thread producer([&q] {
      for (std::int64_t i = 0; i < spsc_messages; ++i) {
        q.push(static_cast<int>(i));
      }
      q.close();
    });
    std::thread consumer([&] { drain(q, sum, count); });
    producer.join();
    consumer.join();
    if (!arrived(state, "baseline_spsc count", count.load(), spsc_messages) ||
        !arrived(state, "baseline_spsc sum", sum.load(), sum_below(spsc_messages))) {
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * spsc_messages);
}
BENCHMARK(baseline_spsc)->UseRealTime();

void baseline_mpmc(benchmark::State& state) {
  constexpr std::int64_t per = mpmc_messages / mpmc_producers;
  for (auto _ : state) {
    BlockingQueue<int> q(mpmc_capacity);
    std::atomic<std::int64_t> sum{0};
    std::atomic<std::int64_t> count{0};
    std::atomic<int> producers_left{mpmc_producers};
    std::vector<std::thread> threads;
    for (int p = 0; p < mpmc_producers; ++p) {
      threads.emplace_back([&, p] {
        for (std::int64_t i = p * per; i < (p + 1) * per; ++i) {
          q.push(static_cast<int>(i));
        }
        if (producers_left.fetch_sub(1) == 1) {
          q.close();
        }
      });
    }
    for (int c = 0; c < mpmc_consumers; ++c) {
      threads.emplace_back([&] { drain(q, sum, count); });
    }
    for (auto& t : threads) {
      t.join();
    }
    if (!arrived(state, "baseline_mpmc count", count.load(), per * mpmc_producers) ||
        !arrived(state, "baseline_mpmc sum", sum.load(), sum_below(per * mpmc_producers))) {
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * mpmc_messages);
}
BENCHMARK(baseline_mpmc)->UseRealTime();

}  // namespace
}  // namespace gofer_bench
