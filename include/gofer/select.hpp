// select.hpp: wait on several channel operations at once (Go's select).
//
//   std::size_t i = gofer::select(
//       gofer::on_recv(jobs, [](std::optional<Job> j) { ... }),   // nullopt: jobs closed
//       gofer::on_send(out, value, [] { ... }),
//       gofer::on_timeout(50ms, [] { ... }));                     // or gofer::on_default(...)
//
// Exactly one case runs, and select returns its position in the argument list. When several
// channel cases are ready, one is chosen uniformly at random (Go's fairness). Without a ready
// case, on_default runs at once if present; otherwise the caller parks (a task parks, a plain
// thread blocks) until a case becomes ready or the on_timeout expires.
//
// Cases. on_recv(ch, f): f(std::optional<T>) or f(); a closed, drained channel is ready and
// passes nullopt. on_send(ch, value, f): f() or f(bool sent); sending on a closed channel is
// ready: f(false) for the bool form, and std::logic_error (Go panics) for the f() form. A
// channel may appear in several cases.
//
// on_send's value, unlike Chan::send's, belongs to the case from the moment the case is built,
// before select runs: an lvalue is copied into it (the caller's object is never touched), an
// rvalue is moved into it at once. A value the case does not send (the channel is closed, or
// another case ran) is destroyed with the case, at the end of the statement that built it. So
// a move-only value passed as std::move(p) is gone whether or not it was sent; to keep it on
// failure, use Chan::send or try_send, which leave their argument untouched unless
// they succeed.
//
// How it works (Go's selectgo): lock the channels in address order (each once); visit the cases
// in a random order and fire the first ready one; else link one WaitNode per case into its
// channel and park one Waiter (waiter.hpp): the first peer to claim it wins, the others drop
// their node. After waking, relock and unlink the remaining nodes.
//
// Throws gofer::cancelled if the calling task is stopped while parked, std::invalid_argument
// for a select that could never finish (no case), and std::logic_error for a moved-from Chan.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <gofer/chan.hpp>
#include <gofer/deadline.hpp>
#include <gofer/detail/waiter.hpp>

namespace gofer {

namespace detail {

// SelectArm: one channel case, type-erased for the select algorithm in lib/select.cpp.
class SelectArm {
 public:
  virtual SpinLock& lock() noexcept = 0;
  virtual const void* chan() const noexcept = 0;
  // chan_id / sends: which channel and direction (task dumps).
  virtual std::uint64_t chan_id() const noexcept = 0;
  virtual bool sends() const noexcept = 0;
  // try_now: lock held; performs the operation if it can complete now (closed counts). A peer
  // it claimed is left in `woken` for the caller to complete after unlocking (chan_state.hpp).
  virtual bool try_now(WaitNode*& woken) = 0;
  virtual void enqueue(WaitNode& n) = 0;           // lock held
  virtual void dequeue(WaitNode& n) noexcept = 0;  // lock held
  // woken: the arm was completed by a peer with reason r (fired or closed).
  virtual void woken(wake_reason r) noexcept = 0;

 protected:
  ~SelectArm() = default;
};

inline constexpr std::ptrdiff_t select_default = -1;
inline constexpr std::ptrdiff_t select_timeout = -2;

// select_arms: the algorithm; returns the fired arm's index, select_default or select_timeout.
// nodes: scratch space of n entries; order: of 2n entries (the lock order, then the poll order).
std::ptrdiff_t select_arms(SelectArm* const* arms, std::size_t n, WaitNode* nodes,
                           std::size_t* order, bool has_default, clock::time_point deadline);

template <class T, class F>
class RecvArm final : public SelectArm {
 public:
  // RecvArm: throws std::logic_error for a moved-from Chan (before select locks anything).
  RecvArm(Chan<T> ch, F f) : st_(&chan_state(ch)), ch_(std::move(ch)), f_(std::move(f)) {}
  SpinLock& lock() noexcept override { return st_->lock; }
  const void* chan() const noexcept override { return st_; }
  std::uint64_t chan_id() const noexcept override { return st_->id(); }
  bool sends() const noexcept override { return false; }
  bool try_now(WaitNode*& woken) override {
    return st().try_recv_locked(out_, woken) != chan_status::empty;
  }
  void enqueue(WaitNode& n) override { st().enqueue_recv_locked(n, out_); }
  void dequeue(WaitNode& n) noexcept override { st().dequeue_recv_locked(n); }
  void woken(wake_reason) noexcept override {}
  void run() {
    if constexpr (std::is_invocable_v<F&, std::optional<T>>) {
      f_(std::move(out_));
    } else {
      f_();
    }
  }

 private:
  ChanState<T>& st() const noexcept { return *st_; }
  // st_ stays the first member: the gdb extension reads it right after the vtable pointer.
  ChanState<T>* st_;
  Chan<T> ch_;  // keeps the channel alive for the select
  F f_;
  std::optional<T> out_;
};

template <class T, class F>
class SendArm final : public SelectArm {
 public:
  // SendArm: throws std::logic_error for a moved-from Chan (before select locks anything).
  SendArm(Chan<T> ch, T v, F f)
      : st_(&chan_state(ch)), ch_(std::move(ch)), v_(std::move(v)), f_(std::move(f)) {}
  SpinLock& lock() noexcept override { return st_->lock; }
  const void* chan() const noexcept override { return st_; }
  std::uint64_t chan_id() const noexcept override { return st_->id(); }
  bool sends() const noexcept override { return true; }
  bool try_now(WaitNode*& woken) override {
    const chan_status s = st().try_send_locked(v_, woken);
    closed_ = s == chan_status::closed;
    return s != chan_status::full;
  }
  void enqueue(WaitNode& n) override { st().enqueue_send_locked(n, v_); }
  void dequeue(WaitNode& n) noexcept override { st().dequeue_send_locked(n); }
  void woken(wake_reason r) noexcept override { closed_ = r == wake_reason::closed; }
  void run() {
    if constexpr (std::is_invocable_v<F&, bool>) {
      f_(!closed_);
    } else {
      if (closed_) {
        throw std::logic_error(
            "gofer: select sent on a closed channel (use on_send with a "
            "callback taking bool to handle it)");
      }
      f_();
    }
  }

 private:
  ChanState<T>& st() const noexcept { return *st_; }
  // st_ stays the first member: the gdb extension reads it right after the vtable pointer.
  ChanState<T>* st_;
  Chan<T> ch_;  // keeps the channel alive for the select
  T v_;
  F f_;
  bool closed_ = false;
};

template <class F>
struct TimeoutCase {
  clock::time_point deadline;
  F f;
};
template <class F>
struct DefaultCase {
  F f;
};

template <class C>
struct is_arm : std::false_type {};
template <class T, class F>
struct is_arm<RecvArm<T, F>> : std::true_type {};
template <class T, class F>
struct is_arm<SendArm<T, F>> : std::true_type {};

}  // namespace detail

// on_recv: a receive case.
template <class T, class F>
detail::RecvArm<T, std::decay_t<F>> on_recv(const Chan<T>& ch, F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&, std::optional<T>> ||
                    std::is_invocable_v<std::decay_t<F>&>,
                "on_recv's callback must take std::optional<T> or nothing");
  return {ch, std::forward<F>(f)};
}

// on_send: a send case. The value is copied (lvalue) or moved (rvalue) into the case now, and
// destroyed with the case if it is not sent (see the header comment).
template <class T, class V, class F>
detail::SendArm<T, std::decay_t<F>> on_send(const Chan<T>& ch, V&& value, F&& f) {
  static_assert(
      std::is_invocable_v<std::decay_t<F>&, bool> || std::is_invocable_v<std::decay_t<F>&>,
      "on_send's callback must take bool or nothing");
  return {ch, T(std::forward<V>(value)), std::forward<F>(f)};
}

// on_timeout: runs f if no other case is ready by the deadline d (a duration from now or a
// steady_clock time point; deadline.hpp).
template <class F>
detail::TimeoutCase<std::decay_t<F>> on_timeout(Deadline d, F&& f) {
  return {d.time_point(), std::forward<F>(f)};
}

// on_default: runs f at once if no channel case is ready (a non-blocking select).
template <class F>
detail::DefaultCase<std::decay_t<F>> on_default(F&& f) {
  return {std::forward<F>(f)};
}

namespace detail {

template <class C>
struct is_timeout : std::false_type {};
template <class F>
struct is_timeout<TimeoutCase<F>> : std::true_type {};
template <class C>
struct is_default : std::false_type {};
template <class F>
struct is_default<DefaultCase<F>> : std::true_type {};

}  // namespace detail

// select: see the header comment. Returns the index of the case that ran.
template <class... Cases>
std::size_t select(Cases&&... cases) {
  constexpr std::size_t n_timeout =
      (std::size_t{0} + ... + detail::is_timeout<std::decay_t<Cases>>::value);
  constexpr std::size_t n_default =
      (std::size_t{0} + ... + detail::is_default<std::decay_t<Cases>>::value);
  constexpr std::size_t n_arms =
      (std::size_t{0} + ... + detail::is_arm<std::decay_t<Cases>>::value);
  static_assert(n_timeout <= 1, "select takes at most one on_timeout case");
  static_assert(n_default <= 1, "select takes at most one on_default case");
  static_assert(n_arms + n_timeout + n_default == sizeof...(Cases),
                "select's arguments must be on_recv, on_send, on_timeout or on_default cases");
  static_assert(sizeof...(Cases) > 0, "select with no case would block forever");

  std::array<detail::SelectArm*, n_arms + 1> arms{};
  std::array<std::size_t, n_arms + 1> arm_pos{};  // arm -> argument position
  detail::clock::time_point deadline = detail::no_deadline;
  {
    std::size_t a = 0;
    std::size_t pos = 0;
    auto collect = [&](auto& c) {
      using C = std::decay_t<decltype(c)>;
      if constexpr (detail::is_arm<C>::value) {
        arms[a] = &c;
        arm_pos[a++] = pos;
      } else if constexpr (detail::is_timeout<C>::value) {
        deadline = c.deadline;
      }
      ++pos;
    };
    (collect(cases), ...);
  }
  std::array<detail::WaitNode, n_arms + 1> nodes{};
  std::array<std::size_t, 2 * n_arms + 1> order{};
  const std::ptrdiff_t fired =
      detail::select_arms(arms.data(), n_arms, nodes.data(), order.data(), n_default > 0, deadline);
  std::size_t ran = 0;
  std::size_t pos = 0;
  auto run = [&](auto& c) {
    using C = std::decay_t<decltype(c)>;
    if constexpr (detail::is_arm<C>::value) {
      if (fired >= 0 && arm_pos[static_cast<std::size_t>(fired)] == pos) {
        c.run();
        ran = pos;
      }
    } else if constexpr (detail::is_timeout<C>::value) {
      if (fired == detail::select_timeout) {
        c.f();
        ran = pos;
      }
    } else {
      if (fired == detail::select_default) {
        c.f();
        ran = pos;
      }
    }
    ++pos;
  };
  (run(cases), ...);
  return ran;
}

}  // namespace gofer
