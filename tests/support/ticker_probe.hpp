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
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

namespace gofer::test {

// GapReport: the largest own gap of one run and what the thread did during it, the largest
// wall gap, and the number of ticks.
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
    last_sample_ = sample();
    max_ = GapReport{};
  }

  int ticks() const { return max_.ticks; }
  Clock::duration max_wall_gap() const { return max_.wall; }
  Clock::duration max_own_gap() const { return max_.own; }
  // max_own_gap_cpu: the thread's time on the CPU during the largest own gap (the rest of it
  // the thread slept or blocked); max_own_gap_at: when that gap began, from the probe's start.
  Clock::duration max_own_gap_cpu() const { return max_.cpu; }
  Clock::duration max_own_gap_at() const { return max_.at; }
  // report: the largest own gap with what the thread did during it.
  GapReport report() const { return max_; }

  static double ms(Clock::duration d) { return GapReport::ms(d); }

 private:
  // Sample: the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), run-queue delay (schedstat's
  // second field; zero without schedstat) and context switches (getrusage) so far.
  struct Sample {
    Clock::duration cpu{};
    Clock::duration run_delay{};
    long voluntary = 0;
    long involuntary = 0;
  };
  Sample sample() const {
    Sample s;
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    s.cpu = std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
    char buf[128] = {};
    if (fd_ >= 0 && ::pread(fd_, buf, sizeof buf - 1, 0) > 0) {
      char* end = nullptr;
      (void)std::strtoll(buf, &end, 10);
      s.run_delay = std::chrono::nanoseconds(std::strtoll(end, nullptr, 10));
    }
    rusage u{};
    if (::getrusage(RUSAGE_THREAD, &u) == 0) {
      s.voluntary = u.ru_nvcsw;
      s.involuntary = u.ru_nivcsw;
    }
    return s;
  }

  // open_schedstat: this thread's schedstat, or -1 where it is missing or reads zeros
  // (schedstats off: its time on the CPU, the first field, is never zero on a running thread).
  static int open_schedstat() {
    const int fd = ::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    char buf[128] = {};
    if (fd >= 0 &&
        (::pread(fd, buf, sizeof buf - 1, 0) <= 0 || std::strtoll(buf, nullptr, 10) <= 0)) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  void run() {
    fd_ = open_schedstat();
    gofer::Ticker tick(std::chrono::milliseconds(1));
    restart();
    while (!done_) {
      (void)tick.chan().recv();
      const auto now = Clock::now();
      const Sample s = sample();
      const auto wall = now - last_;
      const auto own = wall - (s.run_delay - last_sample_.run_delay);
      max_.wall = std::max(max_.wall, wall);
      if (own > max_.own) {
        max_.own = own;
        max_.cpu = s.cpu - last_sample_.cpu;
        max_.at = last_ - start_;
        max_.voluntary = s.voluntary - last_sample_.voluntary;
        max_.involuntary = s.involuntary - last_sample_.involuntary;
      }
      last_ = now;
      last_sample_ = s;
      ++max_.ticks;
    }
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }

  gofer::Task<void> task_;
  int fd_ = -1;
  Clock::time_point start_;
  Clock::time_point last_;
  Sample last_sample_;
  bool done_ = false;
  GapReport max_;  // the largest gaps so far, and the ticks
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
