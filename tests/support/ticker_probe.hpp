// ticker_probe.hpp: evidence that a thread's tasks never blocked it. A TickerProbe runs a task
// on the calling thread that receives from a 1 ms gofer::Ticker and records the largest gap
// between two ticks: a task that blocks the thread (a read(2) waiting for a server) holds the
// ticker back for as long as it blocks.
//
//   gofer::test::TickerProbe probe;          // its task starts with the thread's next switch
//   ... tasks on this thread ...
//   probe.stop();
//   EXPECT_LT(probe.max_own_gap(), 20ms);
//
// Each gap is measured twice. wall: steady_clock. own: wall minus the time the kernel kept the
// thread runnable but off the CPU (its run-queue delay, the second field of
// /proc/thread-self/schedstat). A thread blocked in a system call is not runnable, so blocking
// stays in the own gap, while the wait for a CPU on a loaded machine (CI's 2 cores shared by
// parallel builds) does not: the own gap is the one to assert on; the wall gap is reported.
// Without schedstat (a kernel without CONFIG_SCHED_INFO, or with schedstats off, where the
// file reads zeros) the own gap is the wall gap.
//
// Preemption the kernel does not report this way (CPU-quota throttling of a container, a
// kernel without schedstat) can still stretch one gap past any bound, so a bound is asserted
// with gap_stays_below: up to three runs, passing on the first whose own gap is under it. A
// task that blocks its thread does so in every run; a CPU taken away by the machine rarely
// lands on the same few milliseconds three times. Each run's report names the largest gap's
// CPU time and the thread's voluntary (slept or blocked) and involuntary (preempted) context
// switches during it, so a failure says which it was.
//
// Invariants: (1) stop() (or the destructor) ends and joins the ticker task; (2) the gaps
// cover the time from the ticker task's start (or the last restart()) to its last tick.
// Thread-safety: construct, stop and query on one thread (the ticker runs on it).
// Blocking: stop() parks the caller for at most one tick.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

namespace gofer::test {

// GapReport: the largest own gap of one run and what the thread did during it.
struct GapReport {
  using Clock = std::chrono::steady_clock;
  Clock::duration own{};
  Clock::duration wall{};
  Clock::duration cpu{};
  Clock::duration at{};
  long voluntary = 0;
  long involuntary = 0;
  int ticks = 0;

  std::string describe() const {
    char text[256];
    std::snprintf(text, sizeof text,
                  "largest gap %.1f ms at %.0f ms: %.1f ms on the CPU, %ld voluntary and %ld "
                  "involuntary context switches (largest wall gap %.1f ms, %d ticks)",
                  ms(own), ms(at), ms(cpu), voluntary, involuntary, ms(wall), ticks);
    return text;
  }
  static double ms(Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  }
};

class TickerProbe {
 public:
  using Clock = std::chrono::steady_clock;

  TickerProbe() {
    task_ = gofer::go([this] { run(); });
  }
  ~TickerProbe() { stop(); }
  TickerProbe(const TickerProbe&) = delete;
  TickerProbe& operator=(const TickerProbe&) = delete;

  // stop: ends the ticker task and waits for it.
  void stop() {
    if (!done_) {
      done_ = true;
      task_.wait();
    }
  }

  // restart: forgets the gaps and ticks so far and measures from now (e.g. once a start-up
  // phase is over). Call it on the probe's thread.
  void restart() {
    start_ = last_ = Clock::now();
    last_stat_ = sched_stat(fd_);
    ticks_ = 0;
    last_switches_ = switches();
    max_wall_ = max_own_ = max_own_cpu_ = max_own_at_ = Clock::duration::zero();
    max_own_switches_ = Switches{};
  }

  int ticks() const { return ticks_; }
  Clock::duration max_wall_gap() const { return max_wall_; }
  Clock::duration max_own_gap() const { return max_own_; }
  // max_own_gap_cpu: the thread's time on the CPU during the largest own gap (the rest of it
  // the thread slept or blocked); max_own_gap_at: when that gap began, from the probe's start.
  Clock::duration max_own_gap_cpu() const { return max_own_cpu_; }
  Clock::duration max_own_gap_at() const { return max_own_at_; }
  // has_schedstat: whether the run-queue delay could be read (else own == wall).
  bool has_schedstat() const { return has_schedstat_; }
  // report: the largest own gap with the context switches made during it.
  GapReport report() const {
    GapReport r;
    r.own = max_own_;
    r.wall = max_wall_;
    r.cpu = max_own_cpu_;
    r.at = max_own_at_;
    r.voluntary = max_own_switches_.voluntary;
    r.involuntary = max_own_switches_.involuntary;
    r.ticks = ticks_;
    return r;
  }

  static double ms(Clock::duration d) { return GapReport::ms(d); }

 private:
  // Switches: the thread's context switches so far (getrusage(RUSAGE_THREAD)).
  struct Switches {
    long voluntary = 0;
    long involuntary = 0;
  };
  static Switches switches() {
    rusage u{};
    if (::getrusage(RUSAGE_THREAD, &u) != 0) {
      return {};
    }
    return {u.ru_nvcsw, u.ru_nivcsw};
  }
  static Clock::duration thread_cpu() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  }

  // SchedStat: the thread's time on the CPU (CLOCK_THREAD_CPUTIME_ID) and its run-queue delay
  // so far, in ns (the delay is zero without schedstat).
  struct SchedStat {
    std::int64_t on_cpu = 0;
    std::int64_t run_delay = 0;
  };
  static SchedStat sched_stat(int fd) {
    char buf[128] = {};
    if (fd < 0 || ::pread(fd, buf, sizeof buf - 1, 0) <= 0) {
      return {};
    }
    char* end = nullptr;
    SchedStat s;
    s.on_cpu = std::chrono::nanoseconds(thread_cpu()).count();
    const long long stat_on_cpu = std::strtoll(buf, &end, 10);
    s.run_delay = stat_on_cpu > 0 ? std::strtoll(end, nullptr, 10) : 0;
    return s;
  }

  void run() {
    fd_ = ::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    char buf[128] = {};
    has_schedstat_ =
        fd_ >= 0 && ::pread(fd_, buf, sizeof buf - 1, 0) > 0 && std::strtoll(buf, nullptr, 10) > 0;
    gofer::Ticker tick(std::chrono::milliseconds(1));
    restart();
    while (!done_) {
      (void)tick.chan().recv();
      const auto now = Clock::now();
      const auto stat = sched_stat(fd_);
      const auto sw = switches();
      const auto wall = now - last_;
      const auto own = wall - std::chrono::nanoseconds(stat.run_delay - last_stat_.run_delay);
      max_wall_ = std::max(max_wall_, wall);
      if (own > max_own_) {
        max_own_ = own;
        max_own_cpu_ = std::chrono::nanoseconds(stat.on_cpu - last_stat_.on_cpu);
        max_own_at_ = last_ - start_;
        max_own_switches_ = {sw.voluntary - last_switches_.voluntary,
                             sw.involuntary - last_switches_.involuntary};
      }
      last_ = now;
      last_stat_ = stat;
      last_switches_ = sw;
      ++ticks_;
    }
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }

  gofer::Task<void> task_;
  int fd_ = -1;
  Clock::time_point start_;
  Clock::time_point last_;
  SchedStat last_stat_;
  Switches last_switches_;
  Switches max_own_switches_;
  bool done_ = false;
  bool has_schedstat_ = false;
  int ticks_ = 0;
  Clock::duration max_wall_{};
  Clock::duration max_own_{};
  Clock::duration max_own_cpu_{};
  Clock::duration max_own_at_{};
};

// gap_stays_below: runs `run` (one measurement on the caller's thread, returning its probe's
// report) up to `tries` times and succeeds on the first run whose own gap is under `limit`;
// the failure lists every run's report.
template <class Run>
::testing::AssertionResult gap_stays_below(std::chrono::steady_clock::duration limit, Run run,
                                           int tries = 3) {
  std::string seen;
  for (int i = 0; i < tries; ++i) {
    const GapReport r = run();
    if (r.own < limit) {
      return ::testing::AssertionSuccess();
    }
    seen += "\n  run " + std::to_string(i + 1) + ": " + r.describe();
  }
  return ::testing::AssertionFailure()
         << "the ticker's largest gap reached " << GapReport::ms(limit) << " ms in all " << tries
         << " runs:" << seen;
}

}  // namespace gofer::test
