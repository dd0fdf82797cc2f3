// poll.cpp: poll, ppoll, select and pselect. In a task (park_io.hpp's rule) a call that would wait
// first asks the real function with a zero timeout; if nothing is ready it parks on all its
// fds with its timeout (multi_wait.hpp), then asks again with a zero timeout for the result,
// and parks again if a wake-up found nothing (an event nobody asked for). On a plain thread,
// and for a zero timeout, the real call alone.
//
// Invariants: (1) results always come from the real function, so revents and fd_sets mean
// exactly what libc says; (2) select's timeval is updated to the time left, as Linux does
// (pselect's timespec is const and stays as given); (3) a ppoll or pselect signal mask applies
// to the zero-timeout checks only: a parked task's thread runs other tasks, so the mask cannot
// be held while it waits.
// Blocking: parks the task (see park_io.hpp for stop_errno). Thread-safety: as libc's.
#include <poll.h>
#include <sys/select.h>

#include <chrono>
#include <new>
#include <vector>

#include "hook_list.hpp"
#include "multi_wait.hpp"
#include "park_io.hpp"
#include "real.hpp"

namespace gofer::hooks::detail {

namespace {

using gofer::detail::clock;
using gofer::detail::no_deadline;

clock::time_point deadline_after_ms(int ms) noexcept {
  return ms < 0 ? no_deadline : gofer::detail::deadline_after(std::chrono::milliseconds(ms));
}

// deadline_after: for a validated timespec (nullptr: never).
clock::time_point deadline_after(const timespec* ts) noexcept {
  if (ts == nullptr) {
    return no_deadline;
  }
  using ld = std::chrono::duration<long double>;
  return gofer::detail::deadline_after(
      ld(static_cast<long double>(ts->tv_sec) + static_cast<long double>(ts->tv_nsec) / 1e9));
}

// pollfd_interests: what each polled fd waits for (errors and hang-ups wake a readable watch).
std::vector<FdInterest> pollfd_interests(const pollfd* fds, nfds_t n) {
  std::vector<FdInterest> out;
  for (nfds_t i = 0; i < n; ++i) {
    if (fds[i].fd < 0) {
      continue;
    }
    const bool out_wanted = (fds[i].events & POLLOUT) != 0;
    if ((fds[i].events & ~POLLOUT) != 0 || !out_wanted) {
      out.push_back({fds[i].fd, Interest::readable});
    }
    if (out_wanted) {
      out.push_back({fds[i].fd, Interest::writable});
    }
  }
  return out;
}

// parked_poll: the task's poll: check, park, check again; `check` is a zero-timeout poll.
template <class Check>
int parked_poll(const pollfd* fds, nfds_t n, clock::time_point deadline, const char* what,
                Check check) noexcept {
  std::vector<FdInterest> interests;
  try {
    interests = pollfd_interests(fds, n);
  } catch (const std::bad_alloc&) {
    errno = ENOMEM;
    return -1;
  }
  for (;;) {
    const int r = check();
    if (r != 0) {
      return r;
    }
    const int err = park_fds(interests, deadline, what);
    if (err == EAGAIN) {
      return check();
    }
    if (err != 0) {
      errno = err;
      return -1;
    }
  }
}

// FdSets: select's three sets, kept to ask again after a wake-up.
struct FdSets {
  fd_set sets[3];
  bool given[3];

  FdSets(fd_set* r, fd_set* w, fd_set* e) noexcept {
    fd_set* in[3] = {r, w, e};
    for (int i = 0; i < 3; ++i) {
      given[i] = in[i] != nullptr;
      if (given[i]) {
        sets[i] = *in[i];
      }
    }
  }
  // check: `zero_select` (a zero-timeout select or pselect) on copies of the sets; the result
  // is written to out.
  template <class ZeroSelect>
  int check(int nfds, fd_set* r, fd_set* w, fd_set* e, ZeroSelect zero_select) const noexcept {
    fd_set copy[3];
    fd_set* args[3] = {nullptr, nullptr, nullptr};
    for (int i = 0; i < 3; ++i) {
      if (given[i]) {
        copy[i] = sets[i];
        args[i] = &copy[i];
      }
    }
    const int n = zero_select(nfds, args[0], args[1], args[2]);
    if (n >= 0) {
      fd_set* out[3] = {r, w, e};
      for (int i = 0; i < 3; ++i) {
        if (given[i]) {
          *out[i] = copy[i];
        }
      }
    }
    return n;
  }
  std::vector<FdInterest> interests(int nfds) const {
    std::vector<FdInterest> out;
    for (int fd = 0; fd < nfds && fd < FD_SETSIZE; ++fd) {
      if ((given[0] && FD_ISSET(fd, &sets[0])) || (given[2] && FD_ISSET(fd, &sets[2]))) {
        out.push_back({fd, Interest::readable});
      }
      if (given[1] && FD_ISSET(fd, &sets[1])) {
        out.push_back({fd, Interest::writable});
      }
    }
    return out;
  }
};

// parked_select: select's and pselect's task path: check, park on the sets' fds until the
// deadline, check again (and park again if a wake-up found nothing).
template <class ZeroSelect>
int parked_select(int nfds, fd_set* r, fd_set* w, fd_set* e, clock::time_point deadline,
                  const char* what, ZeroSelect zero_select) noexcept {
  const FdSets sets(r, w, e);
  std::vector<FdInterest> interests;
  try {
    interests = sets.interests(nfds);
  } catch (const std::bad_alloc&) {
    errno = ENOMEM;
    return -1;
  }
  for (;;) {
    const int n = sets.check(nfds, r, w, e, zero_select);
    if (n != 0) {
      return n;
    }
    const int err = park_fds(interests, deadline, what);
    if (err == EAGAIN) {
      return sets.check(nfds, r, w, e, zero_select);
    }
    if (err != 0) {
      errno = err;
      return -1;
    }
  }
}

void set_time_left(timeval* tv, clock::time_point deadline) noexcept {
  if (tv == nullptr || deadline == no_deadline) {
    return;
  }
  const auto left = std::max(deadline - clock::now(), clock::duration::zero());
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
  tv->tv_sec = static_cast<time_t>(us / 1'000'000);
  tv->tv_usec = static_cast<suseconds_t>(us % 1'000'000);
}

}  // namespace

}  // namespace gofer::hooks::detail

namespace hd = gofer::hooks::detail;

extern "C" {

int poll(pollfd* fds, nfds_t n, int timeout) {
  if (timeout == 0 || !hd::in_task()) [[likely]] {
    return hd::real_poll(fds, n, timeout);
  }
  return hd::parked_poll(fds, n, hd::deadline_after_ms(timeout), "poll",
                         [=] { return hd::real_poll(fds, n, 0); });
}

int ppoll(pollfd* fds, nfds_t n, const timespec* timeout, const sigset_t* mask) {
  const bool zero = timeout != nullptr && timeout->tv_sec == 0 && timeout->tv_nsec == 0;
  if (zero || !hd::in_task()) [[likely]] {
    return hd::real_ppoll(fds, n, timeout, mask);
  }
  if (timeout != nullptr &&
      (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1'000'000'000)) {
    errno = EINVAL;
    return -1;
  }
  const timespec none{0, 0};
  return hd::parked_poll(fds, n, hd::deadline_after(timeout), "ppoll",
                         [=, &none] { return hd::real_ppoll(fds, n, &none, mask); });
}

int select(int nfds, fd_set* r, fd_set* w, fd_set* e, timeval* timeout) {
  const bool zero = timeout != nullptr && timeout->tv_sec == 0 && timeout->tv_usec == 0;
  if (zero || !hd::in_task()) [[likely]] {
    return hd::real_select(nfds, r, w, e, timeout);
  }
  if (nfds < 0 || nfds > FD_SETSIZE ||
      (timeout != nullptr && (timeout->tv_sec < 0 || timeout->tv_usec < 0))) {
    errno = EINVAL;
    return -1;
  }
  const timespec ts = timeout == nullptr
                          ? timespec{}
                          : timespec{timeout->tv_sec, static_cast<long>(timeout->tv_usec) * 1000};
  const auto deadline = hd::deadline_after(timeout == nullptr ? nullptr : &ts);
  const int n = hd::parked_select(nfds, r, w, e, deadline, "select",
                                  [](int k, fd_set* a0, fd_set* a1, fd_set* a2) {
                                    timeval none{0, 0};
                                    return hd::real_select(k, a0, a1, a2, &none);
                                  });
  hd::set_time_left(timeout, deadline);
  return n;
}

int pselect(int nfds, fd_set* r, fd_set* w, fd_set* e, const timespec* timeout,
            const sigset_t* mask) {
  const bool zero = timeout != nullptr && timeout->tv_sec == 0 && timeout->tv_nsec == 0;
  if (zero || !hd::in_task()) [[likely]] {
    return hd::real_pselect(nfds, r, w, e, timeout, mask);
  }
  if (nfds < 0 || nfds > FD_SETSIZE ||
      (timeout != nullptr &&
       (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1'000'000'000))) {
    errno = EINVAL;
    return -1;
  }
  return hd::parked_select(nfds, r, w, e, hd::deadline_after(timeout), "pselect",
                           [mask](int k, fd_set* a0, fd_set* a1, fd_set* a2) {
                             const timespec none{0, 0};
                             return hd::real_pselect(k, a0, a1, a2, &none, mask);
                           });
}

}  // extern "C"

namespace gofer::hooks::detail {

namespace {

const HookSymbol symbols[] = {
    {"poll", as_address(&::poll)},
    {"ppoll", as_address(&::ppoll)},
    {"select", as_address(&::select)},
    {"pselect", as_address(&::pselect)},
};

}  // namespace

const HookList poll_hooks = list_of(symbols);

}  // namespace gofer::hooks::detail
