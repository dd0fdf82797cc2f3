// monitor.cpp: the watchdog thread, its settings and its wake-up (see monitor.hpp).
//
// The settings are atomics read at every tick; a setter stores and then wakes the monitor so
// that the new value takes effect at once. The thread sleeps on a futex word (`generation`):
// a waker increments it and wakes the futex, so a wake between the monitor's read of the word
// and its sleep is not lost (the futex compares the word first).
#include "monitor.hpp"

#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>

#include <gofer/debug.hpp>

#include "deadlock.hpp"
#include "monitor_hook.hpp"
#include "scheduler.hpp"
#include "stall.hpp"
#include "thread_backtrace.hpp"

namespace gofer {

namespace {

using std::chrono::milliseconds;

constinit std::atomic<std::int64_t> threshold_ms{500};
constinit std::atomic<std::int64_t> grace_ms{1000};
constinit std::atomic<int> action{static_cast<int>(deadlock_action::report)};

constinit std::atomic<std::uint32_t> generation{0};  // the futex word
constinit std::atomic<bool> stopping{false};

constexpr milliseconds min_period{10};
constexpr milliseconds long_sleep{1000};

void wake() noexcept {
  generation.fetch_add(1, std::memory_order_release);
  ::syscall(SYS_futex, &generation, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

void sleep_for(std::uint32_t seen, milliseconds d) noexcept {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(d.count() / 1000);
  ts.tv_nsec = static_cast<long>(d.count() % 1000) * 1'000'000;
  ::syscall(SYS_futex, &generation, FUTEX_WAIT_PRIVATE, seen, &ts, nullptr, 0);
}

bool any_busy() {
  bool busy = false;
  detail::for_each_registry(
      [&](detail::TaskRegistry& r) { busy = busy || !r.owner().reactor.is_idle(); });
  return busy;
}

void run_monitor() {
  detail::install_backtrace_signal();
  detail::StallDetector stall;
  detail::DeadlockDetector deadlock;
  while (!stopping.load(std::memory_order_acquire)) {
    const std::uint32_t seen = generation.load(std::memory_order_acquire);
    const auto threshold = milliseconds(threshold_ms.load(std::memory_order_relaxed));
    const auto grace = milliseconds(grace_ms.load(std::memory_order_relaxed));
    const auto now = detail::monitor_clock::now();
    const std::vector<detail::SchedulerSample> samples = detail::sample_schedulers();
    stall.check(samples, now, threshold);
    const bool timing =
        deadlock.check(samples, now, grace, static_cast<deadlock_action>(action.load()));
    const bool busy = std::any_of(samples.begin(), samples.end(),
                                  [](const detail::SchedulerSample& s) { return !s.idle; });
    const bool stalls_on = threshold.count() > 0;
    const milliseconds stall_period = std::max(min_period, threshold / 4);
    milliseconds period = std::max(long_sleep, threshold);
    if (busy && stalls_on) {
      period = std::min(period, stall_period);
    }
    if (timing) {
      period = std::min(period, std::max(min_period, grace / 4));
    }
    if (period >= long_sleep && stalls_on) {
      // Sleep until a scheduler leaves idle (monitor_hook.hpp). The flag is set before the
      // second look, so a scheduler that got busy after the sample either is seen here or
      // sees the flag (up to the reactor's relaxed load: then the long sleep bounds the delay).
      detail::monitor_parked.store(true);
      if (any_busy()) {
        detail::monitor_parked.store(false);
        period = stall_period;
      }
    }
    sleep_for(seen, period);
    detail::monitor_parked.store(false, std::memory_order_relaxed);
  }
}

// Monitor: the thread, started once; joined at exit by the process that started it.
struct Monitor {
  pthread_t thread{};
  pid_t pid = -1;

  Monitor() {
    // The thread takes no signal meant for the process (it inherits this mask).
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    const int err = ::pthread_create(
        &thread, nullptr,
        [](void*) -> void* {
          ::pthread_setname_np(::pthread_self(), "gofer-monitor");
          run_monitor();
          return nullptr;
        },
        nullptr);
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (err == 0) {
      pid = ::getpid();
    }
  }
  ~Monitor() {
    if (pid != ::getpid()) {
      return;  // never started, or a forked child: the thread is not ours
    }
    stopping.store(true, std::memory_order_release);
    wake();
    ::pthread_join(thread, nullptr);
  }
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;
};

constinit std::atomic<bool> started{false};

}  // namespace

namespace detail {

void wake_monitor() noexcept {
  if (monitor_parked.exchange(false)) {
    wake();
  }
}

void start_monitor() noexcept {
  if (started.load(std::memory_order_acquire)) {
    wake_monitor();
    return;
  }
  static std::mutex m;
  std::lock_guard guard(m);
  if (!started.load(std::memory_order_relaxed)) {
    try {
      static Monitor monitor;  // destroyed (joined) at exit
    } catch (...) {
      // Out of memory for the static's guard: no watchdog, as when the thread cannot start.
    }
    started.store(true, std::memory_order_release);
  }
}

std::vector<SchedulerSample> sample_schedulers() {
  std::vector<SchedulerSample> out;
  for_each_registry([&](TaskRegistry& r) {
    Reactor& re = r.owner().reactor;
    const bool idle = re.is_idle();
    out.push_back(SchedulerSample{r.index(), idle, idle && re.idle_deadline() != no_deadline,
                                  re.poller().watching(), re.inbox_empty(), r.switches(),
                                  r.running() != nullptr, r.thread_id()});
  });
  return out;
}

}  // namespace detail

void set_stall_threshold(std::chrono::milliseconds threshold) {
  if (threshold.count() < 0) {
    throw std::invalid_argument("gofer::set_stall_threshold: " + std::to_string(threshold.count()) +
                                " ms is negative (0 turns stall reports off)");
  }
  threshold_ms.store(threshold.count(), std::memory_order_relaxed);
  wake();
}

std::chrono::milliseconds stall_threshold() noexcept {
  return milliseconds(threshold_ms.load(std::memory_order_relaxed));
}

void set_deadlock_action(deadlock_action a) noexcept {
  action.store(static_cast<int>(a));
  wake();
}

deadlock_action get_deadlock_action() noexcept {
  return static_cast<deadlock_action>(action.load());
}

void set_deadlock_grace(std::chrono::milliseconds grace) {
  if (grace.count() < 0) {
    throw std::invalid_argument("gofer::set_deadlock_grace: " + std::to_string(grace.count()) +
                                " ms is negative");
  }
  grace_ms.store(grace.count(), std::memory_order_relaxed);
  wake();
}

std::chrono::milliseconds deadlock_grace() noexcept {
  return milliseconds(grace_ms.load(std::memory_order_relaxed));
}

}  // namespace gofer
