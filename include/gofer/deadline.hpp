// deadline.hpp: gofer::Deadline, the one way to say "give up at this time".
//
//   ch.recv(v, 500ms);                         // a duration: from now
//   f.read_line(1.5s);                         // floating durations too
//   auto d = gofer::Deadline(2s);              // one deadline shared by several calls
//   auto s = gofer::TcpStream::connect(host, port, d);
//   s.write(request, d);
//   t.wait(std::chrono::steady_clock::now() + 1s);   // a steady_clock time point
//
// Every gofer call that can block takes one trailing Deadline parameter. A Deadline is built
// implicitly from any std::chrono duration (integral or floating; counted from the moment the
// Deadline is built, rounded up to the clock's tick, a zero or negative duration meaning "now")
// or from any std::chrono::steady_clock time point (other clocks are rejected at compile time:
// system_clock jumps). Deadline::never() (also the default-constructed value) never passes.
// What a call does when its deadline passes depends on its family, one rule each (README,
// "Deadlines"): channels return chan_status::timeout, task waits an empty std::optional (false
// for void), sync primitives false, I/O throws std::system_error(std::errc::timed_out) having
// lost no byte.
//
// Invariants: a Deadline is a steady_clock time point; huge durations and time points beyond
// the clock's range saturate to never() (or to the clock's minimum: long passed); a NaN
// floating duration or time point throws std::invalid_argument.
// Thread-safety: a value type, cheap to copy (one 64-bit word); reading the clock is the only
// cost of building one from a duration. Nothing here blocks.
#pragma once

#include <chrono>
#include <type_traits>

namespace gofer {

namespace detail {
using clock = std::chrono::steady_clock;
inline constexpr clock::time_point no_deadline = clock::time_point::max();

[[noreturn]] void throw_nan_deadline();

// check_not_nan: a NaN duration has no meaning as a deadline (std::invalid_argument).
template <class Rep, class Period>
void check_not_nan(std::chrono::duration<Rep, Period> d) {
  if constexpr (std::chrono::treat_as_floating_point_v<Rep>) {
    if (d.count() != d.count()) {
      throw_nan_deadline();
    }
  }
}

// deadline_after: now + timeout, rounded up to the clock's tick; saturates to no_deadline for
// huge timeouts; a negative timeout means "now".
template <class Rep, class Period>
clock::time_point deadline_after(std::chrono::duration<Rep, Period> timeout) {
  check_not_nan(timeout);
  const auto now = clock::now();
  if (timeout <= timeout.zero()) {
    return now;
  }
  using ld = std::chrono::duration<long double, std::nano>;
  if (ld(timeout) >= ld(no_deadline - now)) {
    return no_deadline;
  }
  return now + std::chrono::ceil<clock::duration>(timeout);
}

// deadline_at: tp rounded up to the clock's tick, saturating at both ends of clock's range.
template <class Duration>
clock::time_point deadline_at(std::chrono::time_point<clock, Duration> tp) {
  check_not_nan(tp.time_since_epoch());
  using ld = std::chrono::duration<long double, std::nano>;
  const ld since(tp.time_since_epoch());
  if (since >= ld(clock::duration::max())) {
    return no_deadline;
  }
  if (since <= ld(clock::duration::min())) {
    return clock::time_point::min();
  }
  return std::chrono::ceil<clock::duration>(tp);
}
}  // namespace detail

class Deadline {
 public:
  using clock = std::chrono::steady_clock;

  // Deadline(): never.
  constexpr Deadline() noexcept = default;
  // Deadline(d): d from now.
  template <class Rep, class Period>
  Deadline(std::chrono::duration<Rep, Period> d)  // NOLINT(google-explicit-constructor)
      : at_(detail::deadline_after(d)) {}
  // Deadline(tp): at tp (steady_clock only), rounded up to the clock's tick.
  template <class Duration>
  Deadline(std::chrono::time_point<clock, Duration> tp)  // NOLINT
      : at_(detail::deadline_at(tp)) {}

  static constexpr Deadline never() noexcept { return Deadline(); }

  // time_point: when it passes (clock::time_point::max() for never).
  constexpr clock::time_point time_point() const noexcept { return at_; }
  constexpr bool is_never() const noexcept { return at_ == detail::no_deadline; }
  // expired: the deadline has passed.
  bool expired() const { return !is_never() && clock::now() >= at_; }
  // remaining: time left (zero once passed; clock::duration::max() for never).
  clock::duration remaining() const {
    if (is_never()) {
      return clock::duration::max();
    }
    const auto left = at_ - clock::now();
    return left > clock::duration::zero() ? left : clock::duration::zero();
  }

  // earliest: the sooner of two deadlines.
  friend constexpr Deadline earliest(Deadline a, Deadline b) noexcept {
    return a.at_ <= b.at_ ? a : b;
  }
  friend constexpr bool operator==(Deadline a, Deadline b) noexcept = default;
  friend constexpr auto operator<=>(Deadline a, Deadline b) noexcept = default;

 private:
  clock::time_point at_ = detail::no_deadline;
};

}  // namespace gofer
