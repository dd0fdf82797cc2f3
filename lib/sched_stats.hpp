// sched_stats.hpp: a scheduler's own counters and its run-delay histogram.
//
// Counter: a monotonically increasing count written by one thread only (its owner) with a
// relaxed load and store, no read-modify-write: on the hot path it costs what a plain
// increment costs, and any thread may read it (a relaxed snapshot, for scheduler_stats()).
//
// RunDelay: how long a woken task waited between its wake-up and running again, sampled (the
// waker stamps one wake in run_delay_sample_period with the TSC; the woken task, back on its
// home thread, records now - stamp). Delays are kept in ticks (ticks()) and converted to
// nanoseconds when read, with a rate measured once against steady_clock (ns_per_tick()).
// Buckets are log-linear: 8 per power of two, up to 2^40 ticks (minutes), so a quantile is
// exact to 1/8 of a power of two (< 13%); the maximum and the sum are exact.
//
// Thread-safety: record/bump on the owning thread only; reads from any thread. Never blocks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace gofer::detail {

class Counter {
 public:
  // bump: adds n; returns the new count.
  std::uint64_t bump(std::uint64_t n = 1) noexcept {
    const std::uint64_t v = v_.load(std::memory_order_relaxed) + n;
    v_.store(v, std::memory_order_relaxed);
    return v;
  }
  void raise_to(std::uint64_t v) noexcept {
    if (v > v_.load(std::memory_order_relaxed)) {
      v_.store(v, std::memory_order_relaxed);
    }
  }
  std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// ticks: the CPU's time-stamp counter (x86_64: one instruction), or steady_clock nanoseconds.
inline std::uint64_t ticks() noexcept {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch() /
                                    std::chrono::nanoseconds(1));
#endif
}
// ns_per_tick: the measured length of one tick in nanoseconds.
double ns_per_tick() noexcept;

// run_delay_sample_period: one wake in this many is timed (a power of two).
inline constexpr unsigned run_delay_sample_period = 16;

class RunDelay {
 public:
  static constexpr int sub_buckets = 8;
  static constexpr int buckets = 41 * sub_buckets;

  void record(std::uint64_t delay_ticks) noexcept;

  struct Summary {
    std::uint64_t samples = 0;
    std::chrono::nanoseconds sum{0}, p50{0}, p99{0}, max{0};
  };
  Summary summary() const noexcept;

 private:
  static int bucket_of(std::uint64_t ns) noexcept;
  static std::uint64_t bucket_upper(int b) noexcept;

  Counter counts_[buckets];
  Counter sum_;
  Counter max_;
};

// SchedCounters: what one scheduler counts (the reactor and poller count their own parts).
struct SchedCounters {
  Counter parks;             // waits that suspended here (counted as they suspend)
  Counter yields;            // gofer::yield() calls here
  Counter local_wakes;       // wakes this thread made of its own waiters
  Counter remote_wakes;      // wakes this thread made of other threads' waiters
  Counter eventfd_writes;    // of those, the ones that had to write the target's eventfd
  Counter wakes_no_syscall;  // remote wakes that found the target spinning or running
  Counter timers_fired;      // waits here that ended at their deadline
  RunDelay run_delay;
};

}  // namespace gofer::detail
