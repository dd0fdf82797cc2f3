// sched_stats.cpp: the TSC clock and the run-delay histogram (see sched_stats.hpp).
#include "sched_stats.hpp"

#include <bit>

namespace gofer::detail {

double ns_per_tick() noexcept {
#if defined(__x86_64__)
  // Measured once, over 2 ms, the first time a summary is taken (never on a hot path). It
  // spins rather than sleeps: under gofer::hooks a sleep in a task parks it, and a second
  // task of the thread reaching this initializer meanwhile would wait for it forever.
  static const double rate = [] {
    const auto t0 = std::chrono::steady_clock::now();
    const std::uint64_t c0 = ticks();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(2)) {
    }
    const auto t1 = std::chrono::steady_clock::now();
    const std::uint64_t c1 = ticks();
    const double ns = static_cast<double>((t1 - t0) / std::chrono::nanoseconds(1));
    return c1 > c0 ? ns / static_cast<double>(c1 - c0) : 1.0;
  }();
  return rate;
#else
  return 1.0;
#endif
}

int RunDelay::bucket_of(std::uint64_t ns) noexcept {
  if (ns < sub_buckets) {
    return static_cast<int>(ns);
  }
  const int log = 63 - std::countl_zero(ns);  // >= 3
  const int sub = static_cast<int>((ns >> (log - 3)) & (sub_buckets - 1));
  const int b = (log - 2) * sub_buckets + sub;
  return b < buckets ? b : buckets - 1;
}

std::uint64_t RunDelay::bucket_upper(int b) noexcept {
  if (b < sub_buckets) {
    return static_cast<std::uint64_t>(b);
  }
  const int log = b / sub_buckets + 2;
  const std::uint64_t sub = static_cast<std::uint64_t>(b % sub_buckets);
  return ((sub_buckets + sub + 1) << (log - 3)) - 1;
}

void RunDelay::record(std::uint64_t delay_ticks) noexcept {
  counts_[bucket_of(delay_ticks)].bump();
  sum_.bump(delay_ticks);
  max_.raise_to(delay_ticks);
}

RunDelay::Summary RunDelay::summary() const noexcept {
  Summary s;
  const double rate = ns_per_tick();
  auto to_ns = [rate](std::uint64_t t) {
    return std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(t) * rate));
  };
  std::uint64_t total = 0;
  for (const Counter& c : counts_) {
    total += c.get();
  }
  s.samples = total;
  s.sum = to_ns(sum_.get());
  s.max = to_ns(max_.get());
  if (total == 0) {
    return s;
  }
  const std::uint64_t at50 = (total + 1) / 2;
  const std::uint64_t at99 = total - total / 100;
  std::uint64_t seen = 0;
  bool have50 = false;
  for (int b = 0; b < buckets; ++b) {
    seen += counts_[b].get();
    if (!have50 && seen >= at50) {
      s.p50 = std::min(to_ns(bucket_upper(b)), s.max);
      have50 = true;
    }
    if (seen >= at99) {
      s.p99 = std::min(to_ns(bucket_upper(b)), s.max);
      break;
    }
  }
  return s;
}

}  // namespace gofer::detail
