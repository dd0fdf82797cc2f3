// workloads.cpp (raw Boost.Fiber): the Boost.Fiber 1.81 side of the peer comparison run by
// bench/compare, written the way a Boost.Fiber user would, with no gofer code.
//
// The workloads, constants and command line are those of bench/peers/peer_util.hpp. Every
// thread uses the stock round_robin scheduler. Single-thread workloads run on the main thread;
// cross-thread ones on two std::threads, each with its own round_robin scheduler, joined by
// Boost channels shared between them. Channels: unbuffered_channel for the rendezvous ones,
// buffered_channel for the bounded ones. A buffered_channel(c) needs c a power of two and holds
// at most c - 1 values, so capacity 1024 holds 1023 and 256 holds 255. Stacks: one
// pooled_fixedsize_stack (Boost's default 128 KiB size, no guard page) per thread; the variant
// spawn/protected uses protected_fixedsize_stack (a guard page, mmap and munmap per fiber).
// There is no select in Boost.Fiber, so select_local is not run here, nor is gofer's idle_cpu.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/fiber/algo/round_robin.hpp>
#include <boost/fiber/buffered_channel.hpp>
#include <boost/fiber/fiber.hpp>
#include <boost/fiber/operations.hpp>
#include <boost/fiber/pooled_fixedsize_stack.hpp>
#include <boost/fiber/protected_fixedsize_stack.hpp>
#include <boost/fiber/unbuffered_channel.hpp>

#include "../peer_util.hpp"

namespace {

namespace fibers = boost::fibers;
using fibers::channel_op_status;
using peer::clock;

// use_round_robin: installs the stock round_robin scheduler on the calling thread.
void use_round_robin() {
  fibers::use_scheduling_algorithm<fibers::algo::round_robin>();
}

template <class StackAllocator>
void spawn(const std::string& id, double scale, StackAllocator salloc) {
  const std::int64_t n = peer::scaled(peer::spawn_tasks, scale);
  std::atomic<std::int64_t> counter{0};
  std::vector<fibers::fiber> wave;
  wave.reserve(peer::spawn_wave);
  const auto start = clock::now();
  for (std::int64_t done = 0; done < n; done += peer::spawn_wave) {
    const std::int64_t size = std::min(peer::spawn_wave, n - done);
    for (std::int64_t i = 0; i < size; ++i) {
      wave.emplace_back(std::allocator_arg, salloc,
                        [&counter] { counter.fetch_add(1, std::memory_order_relaxed); });
    }
    for (auto& f : wave) {
      f.join();
    }
    wave.clear();
  }
  const auto elapsed = clock::now() - start;
  peer::check(id, "counter", counter.load(), n);
  peer::report(id, "ns_per_op", peer::per_op<std::nano>(elapsed, n));
}

// PingPong: the two halves of a ping-pong over rendezvous channels a (ping -> pong) and b.
struct PingPong {
  fibers::unbuffered_channel<int> a;
  fibers::unbuffered_channel<int> b;
  std::int64_t trips;
  std::int64_t replies = 0;
  std::int64_t served = 0;

  void ping() {
    for (std::int64_t i = 0; i < trips; ++i) {
      a.push(static_cast<int>(i));
      int v = 0;
      if (b.pop(v) == channel_op_status::success) {
        replies += v;
      }
    }
  }
  void pong() {
    for (std::int64_t i = 0; i < trips; ++i) {
      int v = 0;
      if (a.pop(v) == channel_op_status::success) {
        ++served;
      }
      b.push(v + 1);
    }
  }
  void check(const std::string& id) const {
    peer::check(id, "requests served", served, trips);
    peer::check(id, "sum of replies", replies, peer::sum_below(trips + 1));
  }
};

void pingpong_local(const std::string& id, double scale) {
  fibers::pooled_fixedsize_stack salloc;
  PingPong pp{{}, {}, peer::scaled(peer::pingpong_local_trips, scale)};
  const auto start = clock::now();
  fibers::fiber ping(std::allocator_arg, salloc, [&pp] { pp.ping(); });
  fibers::fiber pong(std::allocator_arg, salloc, [&pp] { pp.pong(); });
  ping.join();
  pong.join();
  const auto elapsed = clock::now() - start;
  pp.check(id);
  peer::report(id, "ns_per_op", peer::per_op<std::nano>(elapsed, pp.trips));
}

// on_own_thread: a std::thread with its own round_robin scheduler running body as a fiber.
template <class F>
std::thread on_own_thread(F body) {
  return std::thread([body = std::move(body)]() mutable {
    use_round_robin();
    fibers::pooled_fixedsize_stack salloc;
    fibers::fiber(std::allocator_arg, salloc, std::move(body)).join();
  });
}

void pingpong_cross(const std::string& id, double scale) {
  PingPong pp{{}, {}, peer::scaled(peer::pingpong_cross_trips, scale)};
  const auto start = clock::now();
  std::thread t0 = on_own_thread([&pp] { pp.ping(); });
  std::thread t1 = on_own_thread([&pp] { pp.pong(); });
  t0.join();
  t1.join();
  const auto elapsed = clock::now() - start;
  pp.check(id);
  peer::report(id, "us_per_op", peer::per_op<std::micro>(elapsed, pp.trips));
}

void spsc_local(const std::string& id, double scale) {
  const std::int64_t n = peer::scaled(peer::spsc_messages, scale);
  fibers::pooled_fixedsize_stack salloc;
  fibers::buffered_channel<int> ch(peer::spsc_capacity);
  std::int64_t sum = 0;
  std::int64_t count = 0;
  const auto start = clock::now();
  fibers::fiber producer(std::allocator_arg, salloc, [&ch, n] {
    for (std::int64_t i = 0; i < n; ++i) {
      ch.push(static_cast<int>(i));
    }
    ch.close();
  });
  fibers::fiber consumer(std::allocator_arg, salloc, [&] {
    int v = 0;
    while (ch.pop(v) == channel_op_status::success) {
      sum += v;
      ++count;
    }
  });
  producer.join();
  consumer.join();
  const auto elapsed = clock::now() - start;
  peer::check(id, "messages received", count, n);
  peer::check(id, "sum received", sum, peer::sum_below(n));
  peer::report(id, "ns_per_op", peer::per_op<std::nano>(elapsed, n));
}

void mpmc_cross(const std::string& id, double scale) {
  const std::int64_t per = peer::scaled(peer::mpmc_messages / peer::mpmc_producers, scale);
  const std::int64_t n = per * peer::mpmc_producers;
  fibers::buffered_channel<int> ch(peer::mpmc_capacity);
  std::atomic<int> producers_left{peer::mpmc_producers};
  std::atomic<std::int64_t> sum{0};
  std::atomic<std::int64_t> count{0};
  // Thread t runs producers and consumers t and t + 2, as gofer's go_on(i % 2).
  auto thread_body = [&](int t) {
    use_round_robin();
    fibers::pooled_fixedsize_stack salloc;
    std::vector<fibers::fiber> fs;
    for (int p = t; p < peer::mpmc_producers; p += 2) {
      fs.emplace_back(std::allocator_arg, salloc, [&, lo = p * per, hi = (p + 1) * per] {
        for (std::int64_t i = lo; i < hi; ++i) {
          ch.push(static_cast<int>(i));
        }
        if (producers_left.fetch_sub(1) == 1) {
          ch.close();  // the last producer closes
        }
      });
    }
    for (int c = t; c < peer::mpmc_consumers; c += 2) {
      fs.emplace_back(std::allocator_arg, salloc, [&] {
        std::int64_t s = 0;
        std::int64_t k = 0;
        int v = 0;
        while (ch.pop(v) == channel_op_status::success) {
          s += v;
          ++k;
        }
        sum += s;
        count += k;
      });
    }
    for (auto& f : fs) {
      f.join();
    }
  };
  const auto start = clock::now();
  std::thread t0(thread_body, 0);
  std::thread t1(thread_body, 1);
  t0.join();
  t1.join();
  const auto elapsed = clock::now() - start;
  peer::check(id, "messages received", count.load(), n);
  peer::check(id, "sum received", sum.load(), peer::sum_below(n));
  peer::report(id, "mmsg_per_s",
               static_cast<double>(n) / std::chrono::duration<double>(elapsed).count() / 1e6);
}

void parked_memory(const std::string& id, double scale) {
  const std::int64_t n = peer::scaled(peer::parked_tasks, scale);
  fibers::pooled_fixedsize_stack salloc;
  fibers::unbuffered_channel<int> ch;
  std::int64_t parked = 0;
  std::int64_t sum = 0;
  std::vector<fibers::fiber> fs;
  fs.reserve(static_cast<std::size_t>(n));
  const std::int64_t before = peer::rss_bytes(id);
  for (std::int64_t i = 0; i < n; ++i) {
    fs.emplace_back(std::allocator_arg, salloc, [&] {
      ++parked;
      int v = 0;
      if (ch.pop(v) == channel_op_status::success) {
        sum += v;
      }
    });
  }
  while (parked < n) {
    boost::this_fiber::yield();  // lets every ready fiber run up to its receive
  }
  const std::int64_t after = peer::rss_bytes(id);
  for (std::int64_t i = 1; i <= n; ++i) {
    ch.push(static_cast<int>(i));
  }
  for (auto& f : fs) {
    f.join();
  }
  peer::check(id, "sum received", sum, peer::sum_below(n + 1));
  peer::report(id, "bytes_per_task", static_cast<double>(after - before) / static_cast<double>(n));
}

void spawn_live(const std::string& id, double scale) {
  const std::int64_t n = peer::scaled(peer::spawn_live_tasks, scale);
  fibers::pooled_fixedsize_stack salloc;
  fibers::unbuffered_channel<int> ch;
  std::int64_t started = 0;
  std::int64_t sum = 0;
  std::vector<fibers::fiber> fs;
  fs.reserve(static_cast<std::size_t>(n));
  const auto start = clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    fs.emplace_back(std::allocator_arg, salloc, [&] {
      ++started;
      int v = 0;
      if (ch.pop(v) == channel_op_status::success) {
        sum += v;
      }
    });
  }
  while (started < n) {
    boost::this_fiber::yield();  // lets every ready fiber run up to its receive
  }
  const auto elapsed = clock::now() - start;
  for (std::int64_t i = 1; i <= n; ++i) {
    ch.push(static_cast<int>(i));
  }
  for (auto& f : fs) {
    f.join();
  }
  peer::check(id, "sum received", sum, peer::sum_below(n + 1));
  peer::report(id, "ns_per_op", peer::per_op<std::nano>(elapsed, n));
}

void sleepers(const std::string& id, double scale, bool max) {
  const std::int64_t n = peer::scaled(peer::sleeper_tasks, scale);
  fibers::pooled_fixedsize_stack salloc;
  std::vector<std::int64_t> late(static_cast<std::size_t>(n), -1);
  std::vector<fibers::fiber> fs;
  fs.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    fs.emplace_back(std::allocator_arg, salloc, [i, &late] {
      const auto d = peer::sleeper_delay(i);
      const auto start = clock::now();
      boost::this_fiber::sleep_for(d);
      late[static_cast<std::size_t>(i)] =
          std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start - d).count();
    });
  }
  for (auto& f : fs) {
    f.join();
  }
  peer::report_lateness(id, std::move(late), max);
}

void yield_switch(const std::string& id, double scale) {
  const std::int64_t half = peer::scaled(peer::yield_switches / 2, scale);
  fibers::pooled_fixedsize_stack salloc;
  std::int64_t yields[2] = {0, 0};
  auto body = [half](std::int64_t& out) {
    for (std::int64_t i = 0; i < half; ++i) {
      boost::this_fiber::yield();
      ++out;
    }
  };
  const auto start = clock::now();
  fibers::fiber a(std::allocator_arg, salloc, body, std::ref(yields[0]));
  fibers::fiber b(std::allocator_arg, salloc, body, std::ref(yields[1]));
  a.join();
  b.join();
  const auto elapsed = clock::now() - start;
  peer::check(id, "yields", yields[0] + yields[1], 2 * half);
  peer::report(id, "ns_per_op", peer::per_op<std::nano>(elapsed, 2 * half));
}

}  // namespace

int main(int argc, char** argv) {
  use_round_robin();
  const std::vector<peer::Workload> workloads = {
      {"spawn",
       [](const std::string& id, double s) { spawn(id, s, fibers::pooled_fixedsize_stack()); }},
      {"spawn/protected",
       [](const std::string& id, double s) { spawn(id, s, fibers::protected_fixedsize_stack()); }},
      {"pingpong_local", pingpong_local},
      {"spsc_local", spsc_local},
      {"pingpong_cross", pingpong_cross},
      {"mpmc_cross", mpmc_cross},
      {"parked_memory", parked_memory},
      {"spawn_live", spawn_live},
      {"sleepers", [](const std::string& id, double s) { sleepers(id, s, false); }},
      {"sleepers/max", [](const std::string& id, double s) { sleepers(id, s, true); }},
      {"yield", yield_switch},
  };
  return peer::run_main(argc, argv, "fiber_workloads", workloads);
}
