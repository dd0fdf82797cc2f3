// peer_util.hpp: what the two C++ peer programs (gofer, raw Boost.Fiber) share: the workload
// constants, the command line, the result line, the data checks and the RSS/CPU probes.
//
// A peer program runs one workload per process: `prog WORKLOAD[/VARIANT] [SCALE]`, or
// `prog --list` for the workloads it implements. SCALE (default 1) multiplies every count.
// A run prints exactly one line "workload=W [variant=V] unit=U value=X" on stdout and exits 0;
// when data did not arrive (a count or a sum is off) it says what on stderr and exits 1.
// bench/peers/go/workloads.go implements the same protocol and constants in Go.
//
// spawn starts its 1,000,000 tasks in waves of spawn_wave, each wave waited before the next.
// All at once, gofer holds a million untouched-but-faulted stacks before the first task runs
// (8 GB RSS and ~30 us per task in mmap and page faults on the reference machine), which a
// shared benchmark machine cannot afford five times over.
//
// spawn_live starts spawn_live_tasks tasks that all stay alive (each parks on one channel's
// receive) and reports the time per task until the last has started; then feeds them and checks
// the sum. sleepers starts sleeper_tasks tasks, task i sleeping sleeper_delay(i) (1 to 200 ms),
// each measuring how late it woke; it reports the median lateness (sleepers) or the largest
// (sleepers/max), in microseconds, and checks that every task reported one.
//
// Thread-safety: everything here is called from the program's main thread only.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace peer {

// The workload constants (names as in the Go peer).
inline constexpr std::int64_t spawn_tasks = 1'000'000;
inline constexpr std::int64_t spawn_wave = 1'000;  // tasks spawned, then all waited, per wave
inline constexpr std::int64_t pingpong_local_trips = 1'000'000;
inline constexpr std::int64_t spsc_messages = 10'000'000;
inline constexpr std::size_t spsc_capacity = 1024;
inline constexpr std::int64_t pingpong_cross_trips = 200'000;
inline constexpr std::int64_t mpmc_messages = 10'000'000;
inline constexpr std::size_t mpmc_capacity = 256;
inline constexpr int mpmc_producers = 4;
inline constexpr int mpmc_consumers = 4;
inline constexpr std::int64_t parked_tasks = 100'000;
inline constexpr std::int64_t yield_switches = 10'000'000;
inline constexpr std::int64_t select_count = 1'000'000;
inline constexpr int select_channels = 4;
inline constexpr double idle_seconds = 1.0;
inline constexpr std::int64_t spawn_live_tasks = 100'000;
inline constexpr std::int64_t sleeper_tasks = 10'000;
inline constexpr std::int64_t sleeper_max_ms = 200;

// sleeper_delay: how long sleeper i sleeps: 1 to sleeper_max_ms ms, spread by a fixed stride.
inline std::chrono::milliseconds sleeper_delay(std::int64_t i) {
  return std::chrono::milliseconds(1 + (i * 7919) % sleeper_max_ms);
}

using clock = std::chrono::steady_clock;

// Workload: one runnable id ("name" or "name/variant") and its body, given the scale.
struct Workload {
  std::string id;
  std::function<void(const std::string& id, double scale)> run;
};

// scaled: n * scale, at least `min`.
inline std::int64_t scaled(std::int64_t n, double scale, std::int64_t min = 1) {
  const auto v = static_cast<std::int64_t>(static_cast<double>(n) * scale);
  return v < min ? min : v;
}

// sum_below: 0 + 1 + ... + (n - 1).
inline std::int64_t sum_below(std::int64_t n) {
  return n * (n - 1) / 2;
}

// fail: reports a broken run on stderr and exits 1.
[[noreturn]] inline void fail(const std::string& id, const std::string& what) {
  std::fprintf(stderr, "%s: FAILED: %s\n", id.c_str(), what.c_str());
  std::fflush(stdout);
  std::exit(1);
}

// check: fail() unless got == want.
inline void check(const std::string& id, const char* what, std::int64_t got, std::int64_t want) {
  if (got != want) {
    fail(id, std::string(what) + " is " + std::to_string(got) + ", want " + std::to_string(want));
  }
}

// report: prints the result line for `id`.
inline void report(const std::string& id, const char* unit, double value) {
  const auto slash = id.find('/');
  if (slash == std::string::npos) {
    std::printf("workload=%s unit=%s value=%.6g\n", id.c_str(), unit, value);
  } else {
    std::printf("workload=%s variant=%s unit=%s value=%.6g\n", id.substr(0, slash).c_str(),
                id.substr(slash + 1).c_str(), unit, value);
  }
  std::fflush(stdout);
}

// per_op: elapsed time per operation in the unit of Unit (e.g. std::nano).
template <class Unit>
double per_op(clock::duration elapsed, std::int64_t ops) {
  return std::chrono::duration<double, Unit>(elapsed).count() / static_cast<double>(ops);
}

// report_lateness: checks that all n sleepers recorded a lateness (ns, -1 = none) and reports
// the median, or the largest when `max`, in microseconds.
inline void report_lateness(const std::string& id, std::vector<std::int64_t> late, bool max) {
  std::int64_t missing = 0;
  for (const std::int64_t v : late) {
    missing += v < 0 ? 1 : 0;
  }
  check(id, "sleepers that did not report", missing, 0);
  std::sort(late.begin(), late.end());
  const std::int64_t v = max ? late.back() : late[late.size() / 2];
  report(id, "us", static_cast<double>(v) / 1000.0);
}

// rss_bytes: VmRSS of this process, from /proc/self/status.
inline std::int64_t rss_bytes(const std::string& id) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::strtoll(line.c_str() + 6, nullptr, 10) * 1024;
    }
  }
  fail(id, "no VmRSS line in /proc/self/status");
}

// cpu_seconds: user + system CPU time of the whole process so far.
inline double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
  };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

// pin_to: pins the calling thread to the k-th CPU (k = 0 or 1) of the process's affinity mask,
// so that a cross-thread workload and its floor run between the same two cores. Does nothing
// (returns false) when the process may use fewer than two CPUs.
inline bool pin_to(int k) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2) {
    return false;
  }
  for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &allowed) && seen++ == k) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      return pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0;
    }
  }
  return false;
}

// atomic_pingpong: the hardware floor of a cross-thread round trip: two plain threads, pinned
// as pin_to(0) and pin_to(1), pass a value through two atomics (one cache line each) by
// spinning, `trips` times: ping stores i, pong answers i + 1. Returns the elapsed time and
// checks the sum of the replies. Each round trip moves each line once each way, the least any
// hand-off between two cores can do.
inline clock::duration atomic_pingpong(const std::string& id, std::int64_t trips) {
  struct alignas(64) Line {
    std::atomic<std::int64_t> v{-1};
  };
  Line to_pong;
  Line to_ping;
  std::atomic<int> ready{0};
  auto spin_until = [](const std::atomic<std::int64_t>& a, std::int64_t want) {
    while (a.load(std::memory_order_acquire) != want) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  };
  std::thread pong([&] {
    pin_to(1);
    ready.fetch_add(1);
    for (std::int64_t i = 0; i < trips; ++i) {
      spin_until(to_pong.v, i);
      to_ping.v.store(i + 1, std::memory_order_release);
    }
  });
  pin_to(0);
  ready.fetch_add(1);
  while (ready.load() < 2) {
  }
  std::int64_t replies = 0;
  const auto start = clock::now();
  for (std::int64_t i = 0; i < trips; ++i) {
    to_pong.v.store(i, std::memory_order_release);
    spin_until(to_ping.v, i + 1);
    replies += to_ping.v.load(std::memory_order_relaxed);
  }
  const auto elapsed = clock::now() - start;
  pong.join();
  check(id, "sum of replies", replies, sum_below(trips + 1));
  return elapsed;
}

// run_main: the command line shared by the peers (see the header comment).
inline int run_main(int argc, char** argv, const char* program,
                    const std::vector<Workload>& workloads) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s WORKLOAD[/VARIANT] [SCALE] | --list\n", program);
    return 2;
  }
  const std::string_view what = argv[1];
  if (what == "--list") {
    for (const auto& w : workloads) {
      std::printf("%s\n", w.id.c_str());
    }
    return 0;
  }
  double scale = 1.0;
  if (argc == 3) {
    char* end = nullptr;
    scale = std::strtod(argv[2], &end);
    if (end == argv[2] || *end != '\0' || !(scale > 0)) {
      std::fprintf(stderr, "%s: bad scale \"%s\": want a positive number\n", program, argv[2]);
      return 2;
    }
  }
  for (const auto& w : workloads) {
    if (w.id == what) {
      w.run(w.id, scale);
      return 0;
    }
  }
  std::fprintf(stderr, "%s: unknown workload \"%s\" (see --list)\n", program, argv[1]);
  return 2;
}

}  // namespace peer
