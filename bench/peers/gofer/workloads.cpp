// workloads.cpp (gofer): gofer's side of the peer comparison run by bench/compare.
//
// The workloads, constants and command line are those of bench/peers/peer_util.hpp, shared with
// the raw Boost.Fiber peer and (restated) with bench/peers/go/workloads.go. Single-thread
// workloads run their tasks on the main thread's scheduler (go() from plain code, then wait);
// cross-thread ones on a gofer::Runtime(2) with go_on(0)/go_on(1).
//
// Variants: spawn/stack64k and parked_memory/stack64k give each task a 64 KiB stack instead of
// the 256 KiB default (TaskOptions::stack_size); pingpong_cross/spin0 sets
// gofer::set_idle_spin(0) before the Runtime starts. pingpong_cross/floor is no gofer at all: the
// hardware floor of a cross-thread round trip (two plain threads spinning on two atomics,
// peer::atomic_pingpong), pinned to the same two cores as pingpong_cross's Runtime threads, so
// bench/compare can report gofer/floor from the same run. idle_cpu is not a comparison: it reports
// the CPU a Runtime(2) burns while idle for 1 s, right after cross-thread traffic has grown
// its adaptive spin, in ms of CPU per second.
//
// Every stack has a guard region, or a canary once the kernel's mapping budget is used up
// (gofer/stack.hpp): parked_memory's and spawn_live's 100,000 tasks pass that budget. spawn_live
// and sleepers run on the main thread's scheduler with the default 256 KiB stacks; their rt2
// variants spawn from the main thread onto a gofer::Runtime(2), alternating threads.
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gofer/gofer.hpp>

#include "../peer_util.hpp"

namespace {

using peer::clock;

constexpr std::size_t stack_64k = 64 * 1024;

void spawn(const std::string& id, double scale, std::size_t stack_size) {
  const std::int64_t n = peer::scaled(peer::spawn_tasks, scale);
  gofer::TaskOptions opts;
  opts.stack_size = stack_size;
  std::atomic<std::int64_t> counter{0};
  std::vector<gofer::Task<void>> wave;
  wave.reserve(peer::spawn_wave);
  const auto start = clock::now();
  for (std::int64_t done = 0; done < n; done += peer::spawn_wave) {
    const std::int64_t size = std::min(peer::spawn_wave, n - done);
    for (std::int64_t i = 0; i < size; ++i) {
      wave.push_back(
          gofer::go(opts, [&counter] { counter.fetch_add(1, std::memory_order_relaxed); }));
    }
    gofer::wait_all(wave);
    wave.clear();
  }
  const auto elapsed = clock::now() - start;
  peer::check(id, "counter", counter.load(), n);
  peer::report(id, "ns_per_op", peer::per_op<std::nano>(elapsed, n));
}

// PingPong: the two halves of a ping-pong over rendezvous channels a (ping -> pong) and b.
struct PingPong {
  gofer::Chan<int> a;
  gofer::Chan<int> b;
  std::int64_t trips;

  // ping: sends i, expects i + 1 back; returns the sum of the replies.
  std::int64_t ping() {
    std::int64_t replies = 0;
    for (std::int64_t i = 0; i < trips; ++i) {
      (void)a.send(static_cast<int>(i));  // cannot fail: not closed yet
      replies += b.recv().value_or(0);
    }
    return replies;
  }
  // pong: answers v with v + 1; returns the number of requests served.
  std::int64_t pong() {
    std::int64_t served = 0;
    for (std::int64_t i = 0; i < trips; ++i) {
      const std::optional<int> v = a.recv();
      served += v.has_value() ? 1 : 0;
      (void)b.send(v.value_or(0) + 1);  // cannot fail: not closed yet
    }
    return served;
  }
};

void check_pingpong(const std::string& id, std::int64_t n, std::int64_t replies,
                    std::int64_t served) {
  peer::check(id, "requests served", served, n);
  peer::check(id, "sum of replies", replies, peer::sum_below(n + 1));
}

void pingpong_local(const std::string& id, double scale) {
  const std::int64_t n = peer::scaled(peer::pingpong_local_trips, scale);
  PingPong pp{gofer::Chan<int>(), gofer::Chan<int>(), n};
  const auto start = clock::now();
  auto ping = gofer::go([&pp] { return pp.ping(); });
  auto pong = gofer::go([&pp] { return pp.pong(); });
  const std::int64_t served = pong.wait();
  const std::int64_t replies = ping.wait();
  const auto elapsed = clock::now() - start;
  check_pingpong(id, n, replies, served);
  peer::report(id, "ns_per_op", peer::per_op<std::nano>(elapsed, n));
}

// cross_pingpong: n round trips between tasks on threads 0 and 1 of rt, each thread pinned as
// the floor's (peer::pin_to); the elapsed time.
clock::duration cross_pingpong(const std::string& id, gofer::Runtime& rt, std::int64_t n) {
  rt.go_on(0, [] { peer::pin_to(0); }).wait();
  rt.go_on(1, [] { peer::pin_to(1); }).wait();
  PingPong pp{gofer::Chan<int>(), gofer::Chan<int>(), n};
  const auto start = clock::now();
  auto ping = rt.go_on(0, [&pp] { return pp.ping(); });
  auto pong = rt.go_on(1, [&pp] { return pp.pong(); });
  const std::int64_t served = pong.wait();
  const std::int64_t replies = ping.wait();
  const auto elapsed = clock::now() - start;
  check_pingpong(id, n, replies, served);
  return elapsed;
}

void pingpong_cross(const std::string& id, double scale, std::optional<std::int64_t> spin_ns) {
  const std::int64_t n = peer::scaled(peer::pingpong_cross_trips, scale);
  if (spin_ns) {
    gofer::set_idle_spin(std::chrono::nanoseconds(*spin_ns));
  }
  gofer::Runtime rt(2);
  const auto elapsed = cross_pingpong(id, rt, n);
  peer::report(id, "us_per_op", peer::per_op<std::micro>(elapsed, n));
}

// pingpong_cross_floor: the same number of round trips as pingpong_cross between two plain
// threads pinned to the same two cores, spinning on two atomics (peer::atomic_pingpong).
void pingpong_cross_floor(const std::string& id, double scale) {
  const std::int64_t n = peer::scaled(peer::pingpong_cross_trips, scale);
  peer::report(id, "us_per_op", peer::per_op<std::micro>(peer::atomic_pingpong(id, n), n));
}

void spsc_local(const std::string& id, double scale) {
  const std::int64_t n = peer::scaled(peer::spsc_messages, scale);
  gofer::Chan<int> ch(peer::spsc_capacity);
  const auto start = clock::now();
  auto producer = gofer::go([ch, n]() mutable {
    for (std::int64_t i = 0; i < n; ++i) {
      (void)ch.send(static_cast<int>(i));  // cannot fail: not closed yet
    }
    ch.close();
  });
  auto consumer = gofer::go([ch]() mutable {
    std::pair<std::int64_t, std::int64_t> sum_count{0, 0};
    for (int v : ch) {
      sum_count.first += v;
      ++sum_count.second;
    }
    return sum_count;
  });
  producer.wait();
  const auto [sum, count] = consumer.wait();
  const auto elapsed = clock::now() - start;
  peer::check(id, "messages received", count, n);
  peer::check(id, "sum received", sum, peer::sum_below(n));
  peer::report(id, "ns_per_op", peer::per_op<std::nano>(elapsed, n));
}

void mpmc_cross(const std::string& id, double scale) {
  const std::int64_t per = peer::scaled(peer::mpmc_messages / peer::mpmc_producers, scale);
  const std::int64_t n = per * peer::mpmc_producers;
  gofer::Runtime rt(2);
  gofer::Chan<int> ch(peer::mpmc_capacity);
  std::atomic<int> producers_left{peer::mpmc_producers};
  std::vector<gofer::Task<void>> producers;
  std::vector<gofer::Task<std::pair<std::int64_t, std::int64_t>>> consumers;
  const auto start = clock::now();
  for (int p = 0; p < peer::mpmc_producers; ++p) {
    producers.push_back(
        rt.go_on(p % 2, [ch, &producers_left, lo = p * per, hi = (p + 1) * per]() mutable {
          for (std::int64_t i = lo; i < hi; ++i) {
            (void)ch.send(static_cast<int>(i));  // cannot fail: not closed yet
          }
          if (producers_left.fetch_sub(1) == 1) {
            ch.close();  // the last producer closes
          }
        }));
  }
  for (int c = 0; c < peer::mpmc_consumers; ++c) {
    consumers.push_back(rt.go_on(c % 2, [ch]() mutable {
      std::pair<std::int64_t, std::int64_t> sum_count{0, 0};
      for (int v : ch) {
        sum_count.first += v;
        ++sum_count.second;
      }
      return sum_count;
    }));
  }
  gofer::wait_all(producers);
  std::int64_t sum = 0;
  std::int64_t count = 0;
  for (auto& [s, k] : gofer::wait_all(consumers)) {
    sum += s;
    count += k;
  }
  const auto elapsed = clock::now() - start;
  peer::check(id, "messages received", count, n);
  peer::check(id, "sum received", sum, peer::sum_below(n));
  peer::report(id, "mmsg_per_s",
               static_cast<double>(n) / std::chrono::duration<double>(elapsed).count() / 1e6);
}

void parked_memory(const std::string& id, double scale, std::size_t stack_size) {
  const std::int64_t n = peer::scaled(peer::parked_tasks, scale);
  gofer::TaskOptions opts;
  opts.stack_size = stack_size;
  gofer::Chan<int> ch;
  std::int64_t parked = 0;
  std::int64_t sum = 0;
  std::vector<gofer::Task<void>> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  const std::int64_t before = peer::rss_bytes(id);
  for (std::int64_t i = 0; i < n; ++i) {
    tasks.push_back(gofer::go(opts, [ch, &parked, &sum]() mutable {
      ++parked;
      sum += ch.recv().value_or(0);
    }));
  }
  while (parked < n) {
    gofer::yield();  // plain code: lets every ready task run up to its receive
  }
  const std::int64_t after = peer::rss_bytes(id);
  for (std::int64_t i = 1; i <= n; ++i) {
    (void)ch.send(static_cast<int>(i));  // cannot fail: not closed yet
  }
  gofer::wait_all(tasks);
  peer::check(id, "sum received", sum, peer::sum_below(n + 1));
  peer::report(id, "bytes_per_task", static_cast<double>(after - before) / static_cast<double>(n));
}

// spawn_live: on this thread's scheduler, or (rt2) spawned from this thread onto a
// gofer::Runtime(2), alternating between its threads.
void spawn_live(const std::string& id, double scale, bool rt2) {
  const std::int64_t n = peer::scaled(peer::spawn_live_tasks, scale);
  std::optional<gofer::Runtime> rt;
  if (rt2) {
    rt.emplace(2);
  }
  gofer::Chan<int> ch;
  std::atomic<std::int64_t> started{0};
  std::atomic<std::int64_t> sum{0};
  std::vector<gofer::Task<void>> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  auto body = [ch, &started, &sum]() mutable {
    started.fetch_add(1, std::memory_order_relaxed);
    sum.fetch_add(ch.recv().value_or(0), std::memory_order_relaxed);
  };
  const auto start = clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    tasks.push_back(rt ? rt->go_on(static_cast<std::size_t>(i % 2), body) : gofer::go(body));
  }
  while (started.load(std::memory_order_relaxed) < n) {
    gofer::yield();  // plain code: lets every ready task run up to its receive
  }
  const auto elapsed = clock::now() - start;
  for (std::int64_t i = 1; i <= n; ++i) {
    (void)ch.send(static_cast<int>(i));  // cannot fail: not closed yet
  }
  gofer::wait_all(tasks);
  peer::check(id, "sum received", sum.load(), peer::sum_below(n + 1));
  peer::report(id, "ns_per_op", peer::per_op<std::nano>(elapsed, n));
}

// sleepers: on this thread's scheduler, or (rt2) on a gofer::Runtime(2) as spawn_live.
void sleepers(const std::string& id, double scale, bool max, bool rt2) {
  const std::int64_t n = peer::scaled(peer::sleeper_tasks, scale);
  std::optional<gofer::Runtime> rt;
  if (rt2) {
    rt.emplace(2);
  }
  std::vector<std::int64_t> late(static_cast<std::size_t>(n), -1);
  std::vector<gofer::Task<void>> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    auto body = [i, &late] {
      const auto d = peer::sleeper_delay(i);
      const auto start = clock::now();
      gofer::sleep_for(d);
      late[static_cast<std::size_t>(i)] =
          std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start - d).count();
    };
    tasks.push_back(rt ? rt->go_on(static_cast<std::size_t>(i % 2), body) : gofer::go(body));
  }
  gofer::wait_all(tasks);
  peer::report_lateness(id, std::move(late), max);
}

void yield_switch(const std::string& id, double scale) {
  const std::int64_t half = peer::scaled(peer::yield_switches / 2, scale);
  auto body = [half] {
    std::int64_t yields = 0;
    for (std::int64_t i = 0; i < half; ++i) {
      gofer::yield();
      ++yields;
    }
    return yields;
  };
  const auto start = clock::now();
  auto a = gofer::go(body);
  auto b = gofer::go(body);
  const std::int64_t yields = a.wait() + b.wait();
  const auto elapsed = clock::now() - start;
  peer::check(id, "yields", yields, 2 * half);
  peer::report(id, "ns_per_op", peer::per_op<std::nano>(elapsed, 2 * half));
}

void select_local(const std::string& id, double scale) {
  const std::int64_t per = peer::scaled(peer::select_count / peer::select_channels, scale);
  const std::int64_t n = per * peer::select_channels;
  std::vector<gofer::Chan<int>> chans(peer::select_channels);
  std::vector<gofer::Task<void>> producers;
  const auto start = clock::now();
  for (int p = 0; p < peer::select_channels; ++p) {
    producers.push_back(gofer::go([ch = chans[p], lo = p * per, per]() mutable {
      for (std::int64_t i = 0; i < per; ++i) {
        (void)ch.send(static_cast<int>(lo + i));  // cannot fail: not closed yet
      }
    }));
  }
  auto selector = gofer::go([&chans, n] {
    std::pair<std::int64_t, std::int64_t> sum_count{0, 0};
    auto take = [&sum_count](std::optional<int> v) { sum_count.first += v.value_or(0); };
    for (std::int64_t i = 0; i < n; ++i) {
      gofer::select(gofer::on_recv(chans[0], take), gofer::on_recv(chans[1], take),
                    gofer::on_recv(chans[2], take), gofer::on_recv(chans[3], take));
      ++sum_count.second;
    }
    return sum_count;
  });
  const auto [sum, count] = selector.wait();
  gofer::wait_all(producers);
  const auto elapsed = clock::now() - start;
  peer::check(id, "selects", count, n);
  peer::check(id, "sum received", sum, peer::sum_below(n));
  peer::report(id, "ns_per_op", peer::per_op<std::nano>(elapsed, n));
}

void idle_cpu(const std::string& id, double scale) {
  const double idle = std::clamp(peer::idle_seconds * scale, 0.05, peer::idle_seconds);
  gofer::Runtime rt(2);
  cross_pingpong(id, rt, peer::scaled(10'000, scale));  // grows the adaptive spin first
  // The window opens once the ping-pong's tasks have been torn down (their stacks returned to
  // the pool) on the Runtime's threads, which is not idle CPU.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double cpu_before = peer::cpu_seconds();
  std::this_thread::sleep_for(std::chrono::duration<double>(idle));
  const double cpu = peer::cpu_seconds() - cpu_before;
  peer::report(id, "cpu_ms_per_s", cpu * 1000.0 / idle);
}

}  // namespace

int main(int argc, char** argv) {
  using std::nullopt;
  const std::vector<peer::Workload> workloads = {
      {"spawn", [](const std::string& id, double s) { spawn(id, s, 0); }},
      {"spawn/stack64k", [](const std::string& id, double s) { spawn(id, s, stack_64k); }},
      {"pingpong_local", pingpong_local},
      {"spsc_local", spsc_local},
      {"pingpong_cross", [](const std::string& id, double s) { pingpong_cross(id, s, nullopt); }},
      {"pingpong_cross/spin0", [](const std::string& id, double s) { pingpong_cross(id, s, 0); }},
      {"pingpong_cross/floor", pingpong_cross_floor},
      {"mpmc_cross", mpmc_cross},
      {"parked_memory", [](const std::string& id, double s) { parked_memory(id, s, 0); }},
      {"parked_memory/stack64k",
       [](const std::string& id, double s) { parked_memory(id, s, stack_64k); }},
      {"spawn_live", [](const std::string& id, double s) { spawn_live(id, s, false); }},
      {"spawn_live/rt2", [](const std::string& id, double s) { spawn_live(id, s, true); }},
      {"sleepers", [](const std::string& id, double s) { sleepers(id, s, false, false); }},
      {"sleepers/max", [](const std::string& id, double s) { sleepers(id, s, true, false); }},
      {"sleepers/rt2", [](const std::string& id, double s) { sleepers(id, s, false, true); }},
      {"sleepers/rt2_max", [](const std::string& id, double s) { sleepers(id, s, true, true); }},
      {"yield", yield_switch},
      {"select_local", select_local},
      {"idle_cpu", idle_cpu},
  };
  return peer::run_main(argc, argv, "gofer_workloads", workloads);
}
