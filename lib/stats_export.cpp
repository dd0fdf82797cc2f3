// stats_export.cpp: scheduler_stats() and stats_prometheus() (debug.hpp), read from each
// scheduler's counters (sched_stats.hpp), reactor and poller.
#include <cstdio>
#include <string>

#include <gofer/debug.hpp>

#include "home.hpp"

namespace gofer {

std::vector<SchedulerStats> scheduler_stats() {
  std::vector<SchedulerStats> out;
  detail::for_each_registry([&](detail::TaskRegistry& r) {
    detail::Home& s = r.owner();
    const detail::SchedCounters& c = s.counters;
    const detail::RunDelay::Summary d = c.run_delay.summary();
    out.push_back(SchedulerStats{
        r.index(),
        r.thread_name(),
        r.started(),
        r.live(),
        r.switches(),
        c.parks.get(),
        c.local_wakes.get(),
        c.remote_wakes.get(),
        c.eventfd_writes.get(),
        c.wakes_no_syscall.get(),
        s.reactor.spins_found_work(),
        s.reactor.sleeps(),
        s.reactor.poller().fd_events(),
        c.timers_fired.get(),
        {d.samples, d.sum, d.p50, d.p99, d.max},
    });
  });
  return out;
}

namespace {

// label_value: a Prometheus label value with \, " and newline escaped.
std::string label_value(const std::string& v) {
  std::string out;
  for (char ch : v) {
    if (ch == '\\' || ch == '"') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else {
      out += ch;
    }
  }
  return out;
}

std::string seconds(std::chrono::nanoseconds d) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(d.count()) / 1e9);
  return buf;
}

// Counter families: one line per scheduler each (name, type, help, field).
struct Family {
  const char* name;
  const char* type;
  const char* help;
  std::uint64_t SchedulerStats::*field;
};
constexpr Family families[] = {
    {"gofer_tasks_spawned_total", "counter", "Tasks spawned on the scheduler.",
     &SchedulerStats::tasks_spawned},
    {"gofer_live_tasks", "gauge", "Tasks alive on the scheduler.", &SchedulerStats::live_tasks},
    {"gofer_context_switches_total", "counter",
     "Context switches: task starts and ends, waits that suspended, yields.",
     &SchedulerStats::context_switches},
    {"gofer_parks_total", "counter", "Waits that suspended on the scheduler's thread.",
     &SchedulerStats::parks},
    {"gofer_local_wakes_total", "counter", "Wakes of the thread's own waiters.",
     &SchedulerStats::local_wakes},
    {"gofer_remote_wakes_total", "counter", "Wakes of other threads' waiters.",
     &SchedulerStats::remote_wakes},
    {"gofer_eventfd_writes_total", "counter", "Remote wakes that woke a sleeping thread.",
     &SchedulerStats::eventfd_writes},
    {"gofer_wakes_without_syscall_total", "counter",
     "Remote wakes that found the target spinning or running.",
     &SchedulerStats::wakes_without_syscall},
    {"gofer_idle_spins_found_work_total", "counter",
     "Idle periods ended by work found while spinning.", &SchedulerStats::idle_spins_found_work},
    {"gofer_epoll_sleeps_total", "counter", "Idle periods that slept in the poller.",
     &SchedulerStats::epoll_sleeps},
    {"gofer_fd_events_total", "counter", "Fd readiness events dispatched.",
     &SchedulerStats::fd_events},
    {"gofer_timers_fired_total", "counter", "Waits that ended at their deadline.",
     &SchedulerStats::timers_fired},
};

std::string labels(const SchedulerStats& s) {
  return "scheduler=\"" + std::to_string(s.scheduler) + "\",thread=\"" + label_value(s.thread) +
         "\"";
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n";
  out += std::string("# TYPE ") + name + " " + type + "\n";
}

}  // namespace

std::string stats_prometheus() {
  const std::vector<SchedulerStats> all = scheduler_stats();
  std::string out;
  for (const Family& f : families) {
    header(out, f.name, f.type, f.help);
    for (const SchedulerStats& s : all) {
      out += std::string(f.name) + "{" + labels(s) + "} " + std::to_string(s.*f.field) + "\n";
    }
  }
  header(out, "gofer_run_delay_seconds", "summary",
         "Time from a task's wake-up to its running (sampled).");
  for (const SchedulerStats& s : all) {
    const std::string l = labels(s);
    out += "gofer_run_delay_seconds{" + l + ",quantile=\"0.5\"} " + seconds(s.run_delay.p50) + "\n";
    out +=
        "gofer_run_delay_seconds{" + l + ",quantile=\"0.99\"} " + seconds(s.run_delay.p99) + "\n";
    out += "gofer_run_delay_seconds_sum{" + l + "} " + seconds(s.run_delay.sum) + "\n";
    out += "gofer_run_delay_seconds_count{" + l + "} " + std::to_string(s.run_delay.samples) + "\n";
  }
  header(out, "gofer_run_delay_max_seconds", "gauge", "The longest sampled run delay.");
  for (const SchedulerStats& s : all) {
    out += "gofer_run_delay_max_seconds{" + labels(s) + "} " + seconds(s.run_delay.max) + "\n";
  }
  return out;
}

}  // namespace gofer
