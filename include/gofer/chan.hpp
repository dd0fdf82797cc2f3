// chan.hpp: Go-style channels.
//
//   gofer::Chan<int> ch(16);                      // bounded; Chan<int>() is a rendezvous
//   gofer::go([ch]() mutable {
//     for (int i = 0; i < 3; ++i) {
//       if (!ch.send(i)) return;                  // false: someone else closed the channel
//     }
//     ch.close();
//   });
//   for (int v : ch) { ... }                      // 0, 1, 2, then ends: closed and drained
//
// Kinds. Chan<T>() (capacity 0) is a rendezvous, as Go's unbuffered chan: send returns once a
// receiver has taken the value. Chan<T>(n) buffers up to n values; Chan<T>::unbounded()
// never blocks senders. Any number of senders and receivers (MPMC), on any threads.
//
// Handles. Chan<T> is a cheap, copyable, shared handle (like Go's chan): copies refer to the
// same channel, which lives until the last handle is gone. A moved-from handle throws
// std::logic_error on use. T may be move-only; its move constructor must be noexcept.
//
// Blocking. A blocking operation parks only the calling task; on a plain thread it blocks the
// thread (its loop runs that thread's own tasks meanwhile). A sender on another thread wakes a
// parked receiver through the receiver's home scheduler (its eventfd when asleep). Every
// blocking call throws gofer::cancelled if the calling task is stopped (Task::request_stop)
// while it would block. No lock is held while parked.
//
// Close (Go semantics). close() is idempotent. After it, sends fail (send returns false,
// try_send and send(v, deadline) return chan_status::closed, and the value stays with the
// caller); receivers first drain what is buffered, then get nullopt / chan_status::closed;
// senders and receivers parked at close wake with "closed". Nothing is lost or duplicated.
//
// Values. A send moves from its argument only when it succeeds: send(T&&) returning true,
// try_send and send(v, deadline) returning chan_status::ok. When it fails (closed; full for
// try_send; timeout for send(v, deadline)) or throws (gofer::cancelled, std::bad_alloc from
// an unbounded buffer's growth), the argument is untouched, so a move-only value
// (std::unique_ptr) is still the caller's to retry or dispose of. send(const T&) sends a copy
// and never touches the caller's object; try_send(T&) and send(T&, deadline) take a non-const
// lvalue and move from it on ok. select's on_send differs: it takes its value when the case is
// built (see select.hpp).
//
// Deadlines. send(v, d) and recv(out, d) give up at the gofer::Deadline d (a duration from now
// or a steady_clock time point; deadline.hpp) with chan_status::timeout.
//
// Results. send's bool and the chan_status of try_send, try_recv, send(v, d) and recv(out, d)
// are [[nodiscard]]: dropping one hides a closed channel, a full or empty
// one, or a timeout, and with it a value that was not sent or not received.
//
// Hot path: no heap allocation per message on rendezvous and bounded channels (the buffer is
// allocated once); an unbounded channel doubles its buffer when full.
#pragma once

#include <concepts>
#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <gofer/deadline.hpp>
#include <gofer/detail/chan_state.hpp>
#include <gofer/detail/waiter.hpp>
#include <gofer/errors.hpp>

namespace gofer {

template <class T>
class Chan {
 public:
  using value_type = T;

  // Chan: a rendezvous channel (capacity 0).
  Chan() : Chan(0) {}
  // Chan(capacity): a bounded channel; capacity 0 is a rendezvous. Throws
  // std::invalid_argument when capacity exceeds detail::max_chan_capacity, and
  // gofer::out_of_memory (a std::bad_alloc naming the capacity and the bytes) when the buffer,
  // allocated up front, does not fit in memory.
  explicit Chan(std::size_t capacity) : st_(make(capacity, false)) {}
  // unbounded: a channel whose sends never block.
  static Chan unbounded() { return Chan(make(0, true)); }

  // send: blocks until the value is taken (rendezvous) or buffered; then returns true and v
  // has been moved from. Returns false once the channel is closed, and v is left untouched
  // (not moved from), so an rvalue argument can still be used: `if (!ch.send(std::move(p)))`
  // keeps p. If send throws (gofer::cancelled, or std::bad_alloc growing an unbounded buffer),
  // v is untouched too.
  [[nodiscard]] bool send(T&& v) {
    return state().send(v, detail::no_deadline, true) == chan_status::ok;
  }
  // send(const T&): sends a copy of v (copyable T only); the caller's object is never touched.
  [[nodiscard]] bool send(const T& v) requires std::copy_constructible<T> {
    T copy(v);
    return send(std::move(copy));
  }
  // recv: the next value; nullopt once the channel is closed and drained.
  std::optional<T> recv() {
    std::optional<T> out;
    state().recv(out, detail::no_deadline, true);
    return out;
  }

  // try_send: never blocks; ok (v moved from), full or closed (v untouched). The lvalue
  // overload takes a non-const T& and moves from it on ok; to keep the caller's object, pass a
  // copy (`ch.try_send(T(v))`).
  [[nodiscard]] chan_status try_send(T& v) { return state().send(v, detail::no_deadline, false); }
  [[nodiscard]] chan_status try_send(T&& v) { return try_send(v); }
  // try_recv: never blocks; ok (out assigned), empty or closed (out untouched).
  [[nodiscard]] chan_status try_recv(T& out) {
    std::optional<T> got;
    const chan_status st = state().recv(got, detail::no_deadline, false);
    if (st == chan_status::ok) {
      out = std::move(*got);
    }
    return st;
  }

  // send(v, d): as send, but give up at the deadline d (chan_status::timeout; v untouched).
  // ok means sent (v moved from); closed means the channel is closed (v untouched). The
  // rvalue form leaves the caller's object untouched unless ok too.
  [[nodiscard]] chan_status send(T& v, Deadline d) { return state().send(v, d.time_point(), true); }
  [[nodiscard]] chan_status send(T&& v, Deadline d) { return send(v, d); }
  // recv(out, d): as recv, but give up at the deadline d (chan_status::timeout); out is
  // assigned only on ok; closed once the channel is closed and drained.
  [[nodiscard]] chan_status recv(T& out, Deadline d = {}) {
    std::optional<T> got;
    const chan_status st = state().recv(got, d.time_point(), true);
    if (st == chan_status::ok) {
      out = std::move(*got);
    }
    return st;
  }

  // close: no more sends; wakes everyone parked on the channel (see the header comment).
  void close() { state().close(); }
  bool closed() const { return state().closed(); }
  // size: values buffered now. capacity: 0 (rendezvous), n, or SIZE_MAX (unbounded).
  std::size_t size() const { return state().size(); }
  std::size_t capacity() const { return state().capacity(); }
  bool is_unbounded() const { return capacity() == detail::unbounded_capacity; }

  // Range-for: receives until the channel is closed and drained.
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = T*;
    using reference = T&;

    iterator() = default;
    explicit iterator(Chan* ch) : ch_(ch) { next(); }
    T& operator*() { return *cur_; }
    T* operator->() { return &*cur_; }
    iterator& operator++() {
      next();
      return *this;
    }
    void operator++(int) { next(); }
    bool operator==(std::default_sentinel_t) const { return !cur_.has_value(); }

   private:
    void next() { cur_ = ch_->recv(); }
    Chan* ch_ = nullptr;
    std::optional<T> cur_;
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

  // Handles compare equal when they refer to the same channel.
  friend bool operator==(const Chan& a, const Chan& b) { return a.st_ == b.st_; }

 private:
  template <class U>
  friend detail::ChanState<U>& chan_state(const Chan<U>& ch);

  explicit Chan(std::shared_ptr<detail::ChanState<T>> st) : st_(std::move(st)) {}

  static std::shared_ptr<detail::ChanState<T>> make(std::size_t capacity, bool unbounded) {
    if (capacity > detail::max_chan_capacity) {
      throw std::invalid_argument("gofer: Chan capacity " + std::to_string(capacity) +
                                  " is too large (at most " +
                                  std::to_string(detail::max_chan_capacity) +
                                  "); use Chan<T>::unbounded() for an unlimited buffer");
    }
    detail::ensure_scheduler();
    try {
      return std::make_shared<detail::ChanState<T>>(capacity, unbounded);
    } catch (const std::bad_alloc&) {
      const auto bytes = static_cast<long double>(capacity) * sizeof(T);
      throw out_of_memory("gofer: Chan capacity " + std::to_string(capacity) + " needs " +
                          std::to_string(static_cast<unsigned long long>(bytes)) +
                          " bytes for its buffer (" + std::to_string(sizeof(T)) +
                          " bytes per element), allocated up front, and the allocation failed: "
                          "use a smaller capacity, or Chan<T>::unbounded(), which grows as "
                          "values arrive");
    }
  }
  detail::ChanState<T>& state() const {
    if (!st_) {
      throw std::logic_error("gofer: use of a moved-from Chan");
    }
    return *st_;
  }

  std::shared_ptr<detail::ChanState<T>> st_;
};

// chan_state: the shared state of a Chan (for select; not API).
template <class U>
detail::ChanState<U>& chan_state(const Chan<U>& ch) {
  return ch.state();
}

}  // namespace gofer
