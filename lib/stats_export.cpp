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
        c.tasks_spawned.get(),
        r.live(),
        r.resumes(),
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

}  // namespace

std::string stats_prometheus() {
  const std::vector<SchedulerStats> all = scheduler_stats();
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help, auto value) {
    out += std::string("# HELP ") + name + " " + help + "\n";
    out += std::string("# TYPE ") + name + " " + type + "\n";
    for (const SchedulerStats& s : all) {
      out += std::string(name) + "{scheduler=\"" + std::to_string(s.scheduler) + "\",thread=\"" +
             label_value(s.thread) + "\"} " + value(s) + "\n";
    }
  };
  auto count = [](std::uint64_t SchedulerStats::*field) {
    return [field](const SchedulerStats& s) { return std::to_string(s.*field); };
  };
  family("gofer_tasks_spawned_total", "counter", "Tasks spawned on the scheduler.",
         count(&SchedulerStats::tasks_spawned));
  family("gofer_live_tasks", "gauge", "Tasks alive on the scheduler.",
         count(&SchedulerStats::live_tasks));
  family("gofer_context_switches_total", "counter", "Fibers resumed by the scheduler.",
         count(&SchedulerStats::context_switches));
  family("gofer_parks_total", "counter", "Waits that suspended on the scheduler's thread.",
         count(&SchedulerStats::parks));
  family("gofer_local_wakes_total", "counter", "Wakes of the thread's own waiters.",
         count(&SchedulerStats::local_wakes));
  family("gofer_remote_wakes_total", "counter", "Wakes of other threads' waiters.",
         count(&SchedulerStats::remote_wakes));
  family("gofer_eventfd_writes_total", "counter", "Remote wakes that woke a sleeping thread.",
         count(&SchedulerStats::eventfd_writes));
  family("gofer_wakes_without_syscall_total", "counter",
         "Remote wakes that found the target spinning or running.",
         count(&SchedulerStats::wakes_without_syscall));
  family("gofer_idle_spins_found_work_total", "counter",
         "Idle periods ended by work found while spinning.",
         count(&SchedulerStats::idle_spins_found_work));
  family("gofer_epoll_sleeps_total", "counter", "Idle periods that slept in the poller.",
         count(&SchedulerStats::epoll_sleeps));
  family("gofer_fd_events_total", "counter", "Fd readiness events dispatched.",
         count(&SchedulerStats::fd_events));
  family("gofer_timers_fired_total", "counter", "Waits that ended at their deadline.",
         count(&SchedulerStats::timers_fired));
  out += "# HELP gofer_run_delay_seconds Time from a task's wake-up to its running (sampled).\n";
  out += "# TYPE gofer_run_delay_seconds summary\n";
  for (const SchedulerStats& s : all) {
    const std::string labels = "scheduler=\"" + std::to_string(s.scheduler) + "\",thread=\"" +
                               label_value(s.thread) + "\"";
    out += "gofer_run_delay_seconds{" + labels + ",quantile=\"0.5\"} " + seconds(s.run_delay.p50) +
           "\n";
    out += "gofer_run_delay_seconds{" + labels + ",quantile=\"0.99\"} " + seconds(s.run_delay.p99) +
           "\n";
    out += "gofer_run_delay_seconds_sum{" + labels + "} " + seconds(s.run_delay.sum) + "\n";
    out += "gofer_run_delay_seconds_count{" + labels + "} " + std::to_string(s.run_delay.samples) +
           "\n";
  }
  family("gofer_run_delay_max_seconds", "gauge", "The longest sampled run delay.",
         [](const SchedulerStats& s) { return seconds(s.run_delay.max); });
  return out;
}

}  // namespace gofer
