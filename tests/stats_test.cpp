// stats_test: scheduler_stats() counts what a scripted workload did, and stats_prometheus()
// says the same in the Prometheus text format (parsed back here).
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
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

// wait_parked: until task `id` is parked (bounded: 5 s).
void wait_parked(std::uint64_t id) {
  for (int i = 0; i < 5000; ++i) {
    for (const auto& t : gofer::tasks()) {
      if (t.id == id && t.state == gofer::task_state::parked) {
        return;
      }
    }
    std::this_thread::sleep_for(1ms);
  }
  ADD_FAILURE() << "task " << id << " never parked";
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
        EXPECT_EQ(never.recv(v, 2ms), gofer::chan_status::timeout);
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
        gofer::sleep_for(1ms);
        wait_parked(far.id());  // so this send wakes it (one remote wake), whatever the timing
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

bool valid_name(const std::string& n) {
  if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0]))) {
    return false;
  }
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  });
}

// Sample: one line `name{k="v",...} value` of the text format, parsed strictly.
struct Sample {
  bool ok = false;
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

Sample parse_sample(const std::string& line) {
  Sample s;
  const auto brace = line.find('{');
  const auto close = line.find("} ");
  if (brace == std::string::npos || close == std::string::npos || close < brace) {
    return s;
  }
  s.name = line.substr(0, brace);
  std::size_t i = brace + 1;
  while (i < close) {
    const auto eq = line.find("=\"", i);
    if (eq == std::string::npos || eq > close) {
      return s;
    }
    const std::string key = line.substr(i, eq - i);
    std::string value;
    std::size_t j = eq + 2;
    for (; j < line.size() && line[j] != '"'; ++j) {
      if (line[j] == '\\' && j + 1 < line.size()) {
        ++j;
      }
      value += line[j];
    }
    if (j >= line.size() || !valid_name(key)) {
      return s;
    }
    s.labels[key] = value;
    i = j + 1;
    if (i < close && line[i] == ',') {
      ++i;
    }
  }
  const std::string number = line.substr(close + 2);
  std::size_t used = 0;
  try {
    s.value = std::stod(number, &used);
  } catch (const std::exception&) {
    return s;
  }
  s.ok = used == number.size() && valid_name(s.name);
  return s;
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
  // 20, plus go_on's launch request when it found the Runtime thread parked on its inbox.
  EXPECT_GE(a.remote_wakes - b.remote_wakes, 20u);
  EXPECT_LE(a.remote_wakes - b.remote_wakes, 21u);
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
  std::map<std::string, std::string> types;
  std::map<std::pair<std::string, int>, double> values;
  std::istringstream in(o.prometheus);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name, rest;
      words >> name >> rest;
      ASSERT_TRUE(valid_name(name)) << line;
      ASSERT_FALSE(rest.empty()) << line;
      if (line[2] == 'T') {
        types[name] = rest;
      }
      continue;
    }
    const Sample smp = parse_sample(line);
    ASSERT_TRUE(smp.ok) << "not a sample line: " << line;
    ASSERT_TRUE(smp.labels.count("scheduler") && smp.labels.count("thread")) << line;
    std::string name = smp.name;
    if (smp.labels.count("quantile")) {
      name += "{quantile=" + smp.labels.at("quantile") + "}";
    }
    values[{name, std::stoi(smp.labels.at("scheduler"))}] = smp.value;
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
