// stats_test: scheduler_stats() counts what a scripted workload did, and stats_prometheus()
// says the same in the Prometheus text format (parsed back here).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

using namespace std::chrono_literals;

namespace {

// my_index: the index of this thread's scheduler.
int my_index() {
  auto t = gofer::go([] {
    for (const auto& info : gofer::tasks()) {
      if (info.state == gofer::task_state::running) {
        return info.scheduler;
      }
    }
    return -1;
  });
  return t.wait();
}

gofer::SchedulerStats stats_of(int index) {
  for (const auto& s : gofer::scheduler_stats()) {
    if (s.scheduler == index) {
      return s;
    }
  }
  ADD_FAILURE() << "no scheduler " << index;
  return {};
}

// The workload, on a fresh thread (so a fresh scheduler whose counters start at zero).
struct Observed {
  gofer::SchedulerStats before, after;
  std::string prometheus;
};

Observed run_workload(gofer::Runtime& rt) {
  Observed o;
  std::thread worker([&] {
    const int me = my_index();  // spawns 1 task
    o.before = stats_of(me);
    // 10 tasks.
    std::vector<gofer::Task<void>> ten;
    for (int i = 0; i < 10; ++i) {
      ten.push_back(gofer::go([] {}));
    }
    gofer::wait_all(ten);
    // 100 local round trips between two tasks: each hop parks one task and wakes it locally.
    gofer::Chan<int> ping, pong;
    auto a = gofer::go([&] {
      for (int i = 0; i < 100; ++i) {
        (void)ping.send(i);
        (void)pong.recv();
      }
    });
    auto b = gofer::go([&] {
      for (int i = 0; i < 100; ++i) {
        (void)ping.recv();
        (void)pong.send(i);
      }
    });
    a.wait();
    b.wait();
    // 5 waits that end at their deadline: 3 sleeps and 2 timed receives.
    gofer::Chan<int> never;
    gofer::go([&] {
      for (int i = 0; i < 3; ++i) {
        gofer::sleep_for(2ms);
      }
      for (int i = 0; i < 2; ++i) {
        int v = 0;
        EXPECT_EQ(never.recv_for(v, 2ms), gofer::chan_status::timeout);
      }
    }).wait();
    // An fd event: a task reads a pipe another task writes.
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    gofer::File r = gofer::File::from_fd(fds[0], "pipe");
    gofer::File w = gofer::File::from_fd(fds[1], "pipe");
    auto reader = gofer::go([&] { return r.read_chunk(5); });
    gofer::go([&] {
      gofer::sleep_for(5ms);
      w.write("hello");
    }).wait();
    EXPECT_EQ(reader.wait(), "hello");
    // Remote wakes: this thread wakes a task parked on a Runtime thread, 20 times.
    gofer::Chan<int> remote;
    auto far = rt.go_on(0, [&] {
      for (int i = 0; i < 20; ++i) {
        (void)remote.recv();
      }
    });
    gofer::go([&] {
      for (int i = 0; i < 20; ++i) {
        gofer::sleep_for(1ms);  // the receiver is parked (and its thread likely asleep)
        (void)remote.send(i);
      }
    }).wait();
    far.wait();
    o.after = stats_of(me);
    o.prometheus = gofer::stats_prometheus();
  });
  worker.join();
  return o;
}

}  // namespace

TEST(Stats, CountWhatAScriptedWorkloadDid) {
  gofer::Runtime rt(1);
  const auto saved_spin = gofer::idle_spin();
  gofer::set_idle_spin(0ns);  // every idle period sleeps in the poller
  const Observed o = run_workload(rt);
  gofer::set_idle_spin(saved_spin);
  const auto& b = o.before;
  const auto& a = o.after;
  EXPECT_EQ(b.tasks_spawned, 1u);
  EXPECT_EQ(a.tasks_spawned - b.tasks_spawned, 10u + 2u + 1u + 2u + 1u);
  EXPECT_EQ(a.live_tasks, 0u);
  EXPECT_EQ(a.timers_fired - b.timers_fired, 3u + 2u + 20u + 1u);  // + the sender's sleeps
  EXPECT_GE(a.parks - b.parks, 200u);
  EXPECT_GE(a.local_wakes - b.local_wakes, 200u);
  EXPECT_EQ(a.remote_wakes - b.remote_wakes, 20u + 1u);  // + go_on's launch request
  EXPECT_EQ(
      a.remote_wakes - b.remote_wakes,
      (a.eventfd_writes - b.eventfd_writes) + (a.wakes_without_syscall - b.wakes_without_syscall));
  EXPECT_GE(a.fd_events - b.fd_events, 1u);
  EXPECT_GE(a.epoll_sleeps - b.epoll_sleeps, 1u);
  EXPECT_GE(a.context_switches - b.context_switches, a.parks - b.parks);
  EXPECT_GE(a.run_delay.samples, 10u);  // one wake in 16 of >= 200
  EXPECT_LE(a.run_delay.p50, a.run_delay.p99);
  EXPECT_LE(a.run_delay.p99, a.run_delay.max);
  EXPECT_GT(a.run_delay.max, 0ns);
  EXPECT_GE(a.run_delay.sum, a.run_delay.max);
}

TEST(Stats, PrometheusTextParsesBackToTheSameCounters) {
  gofer::Runtime rt(1);
  const Observed o = run_workload(rt);
  const std::regex sample(R"re(^([a-zA-Z_:][a-zA-Z0-9_:]*)\{scheduler="(\d+)",thread="([^"\\]*)")re"
                          R"re((,quantile="([0-9.]+)")?\} (\S+)$)re");
  const std::regex meta(R"(^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$)");
  std::map<std::string, std::string> types;
  std::map<std::pair<std::string, int>, double> values;
  std::istringstream in(o.prometheus);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, meta)) {
      if (m[1] == "TYPE") {
        types[m[2]] = m[3];
      }
      continue;
    }
    ASSERT_TRUE(std::regex_match(line, m, sample)) << "not a sample line: " << line;
    std::size_t used = 0;
    const double v = std::stod(m[6], &used);
    ASSERT_EQ(used, m[6].length()) << line;
    std::string name = m[1];
    if (m[5].matched) {
      name += "{quantile=" + std::string(m[5]) + "}";
    }
    values[{name, std::stoi(m[2])}] = v;
  }
  EXPECT_EQ(types["gofer_tasks_spawned_total"], "counter");
  EXPECT_EQ(types["gofer_live_tasks"], "gauge");
  EXPECT_EQ(types["gofer_run_delay_seconds"], "summary");
  const int me = o.after.scheduler;
  const auto& a = o.after;
  auto value = [&](const std::string& name) { return values[std::make_pair(name, me)]; };
  auto has = [&](const std::string& name) { return values.count(std::make_pair(name, me)) == 1; };
  const std::pair<const char*, std::uint64_t> counters[] = {
      {"gofer_tasks_spawned_total", a.tasks_spawned},
      {"gofer_context_switches_total", a.context_switches},
      {"gofer_parks_total", a.parks},
      {"gofer_local_wakes_total", a.local_wakes},
      {"gofer_remote_wakes_total", a.remote_wakes},
      {"gofer_eventfd_writes_total", a.eventfd_writes},
      {"gofer_wakes_without_syscall_total", a.wakes_without_syscall},
      {"gofer_idle_spins_found_work_total", a.idle_spins_found_work},
      {"gofer_epoll_sleeps_total", a.epoll_sleeps},
      {"gofer_fd_events_total", a.fd_events},
      {"gofer_timers_fired_total", a.timers_fired},
  };
  for (const auto& [name, expected] : counters) {
    ASSERT_TRUE(has(name)) << name;
    EXPECT_EQ(value(name), static_cast<double>(expected)) << name;
  }
  EXPECT_EQ(value("gofer_run_delay_seconds_count"), static_cast<double>(a.run_delay.samples));
  EXPECT_NEAR(value("gofer_run_delay_max_seconds"),
              static_cast<double>(a.run_delay.max.count()) / 1e9, 1e-9);
  EXPECT_TRUE(has("gofer_run_delay_seconds{quantile=0.99}"));
  EXPECT_TRUE(has("gofer_live_tasks"));
}
