// sleep.cpp: sleep, usleep, nanosleep and clock_nanosleep. In a task (park_io.hpp's rule)
// they park the task with gofer::sleep_until, so its thread runs other tasks meanwhile; on a
// plain thread, the real call.
//
// Invariants: (1) a sleep never ends early, except when its task is stopped: then it returns
// at once with EINTR and the time left, as a signal would interrupt the real call (sleep()
// returns the whole seconds left, rounded up); (2) clock_nanosleep parks only for
// CLOCK_MONOTONIC, CLOCK_REALTIME and CLOCK_BOOTTIME (an absolute time on the last two is
// converted once, at the call: a later change of the wall clock does not move the wake-up);
// CPU-time clocks go to the real call; (3) invalid times fail with EINVAL, as in libc.
// Blocking: parks the task. Thread-safety: as libc's.
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include <gofer/errors.hpp>
#include <gofer/time.hpp>

#include "hook_list.hpp"
#include "park_io.hpp"
#include "real.hpp"

namespace gofer::hooks::detail {

namespace {

using gofer::detail::clock;
using std::chrono::nanoseconds;

// park_until: 0 once `until` has passed, EINTR when the task was stopped first.
int park_until(clock::time_point until) noexcept {
  try {
    gofer::sleep_until(until);
    return 0;
  } catch (const gofer::cancelled&) {
    return EINTR;
  } catch (...) {
    return ENOMEM;  // sleep_until throws nothing else once the scheduler is installed
  }
}

bool valid(const timespec* ts) noexcept {
  return ts != nullptr && ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1'000'000'000;
}

nanoseconds to_ns(const timespec& ts) noexcept {
  using ld = std::chrono::duration<long double, std::nano>;
  const ld v(static_cast<long double>(ts.tv_sec) * 1e9L + static_cast<long double>(ts.tv_nsec));
  return v >= ld(nanoseconds::max()) ? nanoseconds::max() : std::chrono::ceil<nanoseconds>(v);
}

clock::time_point after(nanoseconds d) noexcept {
  return gofer::detail::deadline_after(d);
}

void time_left(clock::time_point until, timespec* rem) noexcept {
  if (rem == nullptr) {
    return;
  }
  const auto left = std::max(until - clock::now(), clock::duration::zero());
  const auto ns = std::chrono::duration_cast<nanoseconds>(left).count();
  rem->tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  rem->tv_nsec = static_cast<long>(ns % 1'000'000'000);
}

// sleep_timespec: nanosleep's and relative clock_nanosleep's body; returns 0 or the error.
int sleep_timespec(const timespec* req, timespec* rem) noexcept {
  if (!valid(req)) {
    return EINVAL;
  }
  const clock::time_point until = after(to_ns(*req));
  const int err = park_until(until);
  if (err == EINTR) {
    time_left(until, rem);
  }
  return err;
}

}  // namespace

}  // namespace gofer::hooks::detail

namespace hd = gofer::hooks::detail;

extern "C" {

unsigned int sleep(unsigned int seconds) {
  if (!hd::in_task()) [[likely]] {
    return hd::real_sleep(seconds);
  }
  const auto until = hd::after(std::chrono::seconds(seconds));
  if (hd::park_until(until) == 0) {
    return 0;
  }
  errno = EINTR;
  const auto left = std::max(until - hd::clock::now(), hd::clock::duration::zero());
  return static_cast<unsigned int>(std::chrono::ceil<std::chrono::seconds>(left).count());
}

int usleep(useconds_t us) {
  if (!hd::in_task()) [[likely]] {
    return hd::real_usleep(us);
  }
  if (const int err = hd::park_until(hd::after(std::chrono::microseconds(us))); err != 0) {
    errno = err;
    return -1;
  }
  return 0;
}

int nanosleep(const timespec* req, timespec* rem) {
  if (!hd::in_task()) [[likely]] {
    return hd::real_nanosleep(req, rem);
  }
  if (const int err = hd::sleep_timespec(req, rem); err != 0) {
    errno = err;
    return -1;
  }
  return 0;
}

int clock_nanosleep(clockid_t id, int flags, const timespec* req, timespec* rem) {
  if (!hd::in_task() || (id != CLOCK_MONOTONIC && id != CLOCK_REALTIME && id != CLOCK_BOOTTIME))
      [[likely]] {
    return hd::real_clock_nanosleep(id, flags, req, rem);
  }
  if ((flags & TIMER_ABSTIME) == 0) {
    return hd::sleep_timespec(req, rem);
  }
  if (!hd::valid(req)) {
    return EINVAL;
  }
  timespec now{};
  ::clock_gettime(id, &now);
  const auto left = hd::to_ns(*req) - hd::to_ns(now);  // both below nanoseconds::max()
  return hd::park_until(hd::after(left));
}

}  // extern "C"

namespace gofer::hooks::detail {

namespace {

const HookSymbol symbols[] = {
    {"sleep", as_address(&::sleep)},
    {"usleep", as_address(&::usleep)},
    {"nanosleep", as_address(&::nanosleep)},
    {"clock_nanosleep", as_address(&::clock_nanosleep)},
};

}  // namespace

const HookList sleep_hooks = list_of(symbols);

}  // namespace gofer::hooks::detail
