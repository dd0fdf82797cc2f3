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
// Without schedstat (a kernel without CONFIG_SCHED_INFO) the own gap is the wall gap.
//
// Invariants: (1) stop() (or the destructor) ends and joins the ticker task; (2) the gaps
// cover the time from the ticker task's start (or the last restart()) to its last tick.
// Thread-safety: construct, stop and query on one thread (the ticker runs on it).
// Blocking: stop() parks the caller for at most one tick.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <gofer/gofer.hpp>

namespace gofer::test {

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
    max_wall_ = max_own_ = max_own_cpu_ = max_own_at_ = Clock::duration::zero();
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

  static double ms(Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  }

 private:
  // SchedStat: the thread's time on the CPU and its run-queue delay so far, in ns (zeros
  // without schedstat).
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
    s.on_cpu = std::strtoll(buf, &end, 10);
    s.run_delay = std::strtoll(end, nullptr, 10);
    return s;
  }

  void run() {
    fd_ = ::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    has_schedstat_ = fd_ >= 0;
    gofer::Ticker tick(std::chrono::milliseconds(1));
    restart();
    while (!done_) {
      (void)tick.chan().recv();
      const auto now = Clock::now();
      const auto stat = sched_stat(fd_);
      const auto wall = now - last_;
      const auto own = wall - std::chrono::nanoseconds(stat.run_delay - last_stat_.run_delay);
      max_wall_ = std::max(max_wall_, wall);
      if (own > max_own_) {
        max_own_ = own;
        max_own_cpu_ = std::chrono::nanoseconds(stat.on_cpu - last_stat_.on_cpu);
        max_own_at_ = last_ - start_;
      }
      last_ = now;
      last_stat_ = stat;
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
  bool done_ = false;
  bool has_schedstat_ = false;
  int ticks_ = 0;
  Clock::duration max_wall_{};
  Clock::duration max_own_{};
  Clock::duration max_own_cpu_{};
  Clock::duration max_own_at_{};
};

}  // namespace gofer::test
