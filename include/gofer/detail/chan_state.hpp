// chan_state.hpp: the shared state behind Chan<T> (not API).
//
// Invariants (all under lock; Go's chan.go, restated for this design):
//   - If the buffer is not empty, recvq is empty: a receiver parks only when there is nothing
//     to take.
//   - If the buffer has room (or the channel is unbounded), sendq is empty: a sender parks
//     only when its value cannot be placed. For a rendezvous channel (capacity 0) there is
//     never room, and a sender parks until a receiver takes its value out of its slot.
//   - Once closed, nobody parks: new sends fail, receivers drain the buffer and then see
//     "closed"; close() completes every parked receiver and sender with `closed`.
//   - Every value sent successfully is received exactly once, or destroyed with the channel
//     if nobody drains it; a value whose send failed stays with its sender.
// Nodes in recvq point at the receiver's std::optional<T>; nodes in sendq at the sender's T.
// A node whose Waiter was already claimed elsewhere (select, timeout, cancel) is dropped by
// claim_front(), never completed twice (waiter.hpp).
// A peer claimed and unlinked under the lock is completed after the lock is released (as Go's
// send() unlocks before goready): the wake-up, which may link the peer into another thread's
// queue and write its eventfd, stays out of the critical section. This is safe because a
// claimed Waiter can be completed by nobody else and stays parked until it is.
//
// Thread-safety: every member function takes `lock` itself except the *_locked ones, which
// require it held. Blocking: send/recv park through waiter.hpp; no lock is held while parked.
// Values are moved under the lock, so T's move constructor must not throw.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include <gofer/detail/spin_lock.hpp>
#include <gofer/detail/waiter.hpp>

namespace gofer {

// chan_status: the outcome of a non-blocking or timed channel operation.
enum class chan_status {
  ok,       // the value was sent / received
  empty,    // try_recv: nothing to receive now
  full,     // try_send: no receiver and no room now
  closed,   // the channel is closed (and, for receives, drained)
  timeout,  // send(v, deadline) / recv(out, deadline): the deadline passed
};

namespace detail {

// max_chan_capacity: the largest bounded capacity (elements).
inline constexpr std::size_t max_chan_capacity = std::size_t{1} << 30;
inline constexpr std::size_t unbounded_capacity = std::numeric_limits<std::size_t>::max();

// new_chan_id: a process-unique channel id (threads take ids in blocks: no shared atomic).
std::uint64_t new_chan_id() noexcept;
// describe_chan: "chan 3 receive (capacity 0, 0 buffered)" for a parked send or receive
// (info: what = "send"/"receive", id, a = capacity, b = buffered when it parked).
void describe_chan(const WaitInfo& info, std::string& out);

// Ring: a FIFO of T in one allocation; fixed size when bounded, doubling when unbounded.
template <class T>
class Ring {
 public:
  explicit Ring(std::size_t reserve) { grow_to(reserve); }
  ~Ring() {
    while (count_ > 0) {
      pop();
    }
    ::operator delete(data_, std::align_val_t(alignof(T)));
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  std::size_t size() const noexcept { return count_; }
  std::size_t room() const noexcept { return cap_ - count_; }
  void push(T&& v) {
    if (count_ == cap_) {
      grow_to(std::max<std::size_t>(16, cap_ * 2));
    }
    ::new (static_cast<void*>(data_ + (head_ + count_) % cap_)) T(std::move(v));
    ++count_;
  }
  T pop() noexcept {
    T* p = data_ + head_;
    T v(std::move(*p));
    p->~T();
    head_ = (head_ + 1) % cap_;
    --count_;
    return v;
  }

 private:
  void grow_to(std::size_t cap) {
    if (cap == 0) {
      return;
    }
    T* fresh = static_cast<T*>(::operator new(cap * sizeof(T), std::align_val_t(alignof(T))));
    for (std::size_t i = 0; i < count_; ++i) {
      T* p = data_ + (head_ + i) % cap_;
      ::new (static_cast<void*>(fresh + i)) T(std::move(*p));
      p->~T();
    }
    ::operator delete(data_, std::align_val_t(alignof(T)));
    data_ = fresh;
    cap_ = cap;
    head_ = 0;
  }

  T* data_ = nullptr;
  std::size_t cap_ = 0;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

template <class T>
class ChanState {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "gofer::Chan<T> needs a T whose move constructor is noexcept (values are moved "
                "while the channel is locked); wrap such a type in std::unique_ptr");

 public:
  ChanState(std::size_t capacity, bool unbounded)
      : buf_(unbounded ? 16 : capacity), cap_(unbounded ? unbounded_capacity : capacity) {}

  SpinLock lock;

  std::size_t capacity() const noexcept { return cap_; }
  std::uint64_t id() const noexcept { return id_; }
  std::size_t size() {
    std::lock_guard g(lock);
    return buf_.size();
  }
  bool closed() {
    std::lock_guard g(lock);
    return closed_;
  }

  // try_send_locked: ok (v moved out), closed or full. If a parked receiver took v, `woken`
  // is its node, claimed: the caller completes it (complete_woken) once the lock is released.
  chan_status try_send_locked(T& v, WaitNode*& woken) {
    if (closed_) {
      return chan_status::closed;
    }
    if (WaitNode* n = recvq_.claim_front()) {
      static_cast<std::optional<T>*>(n->slot)->emplace(std::move(v));
      woken = n;
      return chan_status::ok;
    }
    if (buf_.size() < cap_) {
      buf_.push(std::move(v));
      return chan_status::ok;
    }
    return chan_status::full;
  }

  // try_recv_locked: ok (out holds the value), closed or empty. If a parked sender's value was
  // taken, `woken` is its node, to complete as for try_send_locked.
  chan_status try_recv_locked(std::optional<T>& out, WaitNode*& woken) {
    if (buf_.size() > 0) {
      out.emplace(buf_.pop());
      if (WaitNode* n = sendq_.claim_front()) {
        buf_.push(std::move(*static_cast<T*>(n->slot)));
        woken = n;
      }
      return chan_status::ok;
    }
    if (WaitNode* n = sendq_.claim_front()) {
      out.emplace(std::move(*static_cast<T*>(n->slot)));
      woken = n;
      return chan_status::ok;
    }
    return closed_ ? chan_status::closed : chan_status::empty;
  }

  void enqueue_send_locked(WaitNode& n, T& v) {
    n.slot = &v;
    sendq_.push_back(n);
  }
  void enqueue_recv_locked(WaitNode& n, std::optional<T>& out) {
    n.slot = &out;
    recvq_.push_back(n);
  }
  void dequeue_send_locked(WaitNode& n) noexcept { sendq_.unlink_if_linked(n); }
  void dequeue_recv_locked(WaitNode& n) noexcept { recvq_.unlink_if_linked(n); }

  // send: blocks (parks) until sent, closed, or the deadline; block=false for try_send. The
  // fast path stays small enough to inline; waiting is send_parked's.
  chan_status send(T& v, clock::time_point deadline, bool block) {
    lock.lock();
    WaitNode* woken = nullptr;
    chan_status st;
    try {
      st = try_send_locked(v, woken);  // an unbounded buffer's growth may throw bad_alloc
    } catch (...) {
      lock.unlock();
      throw;
    }
    if (st != chan_status::full || !block) {
      lock.unlock();
      complete_woken(woken);
      return st;
    }
    return send_parked(v, deadline);
  }

  // recv: as send, for receiving into out.
  chan_status recv(std::optional<T>& out, clock::time_point deadline, bool block) {
    lock.lock();
    WaitNode* woken = nullptr;
    const chan_status st = try_recv_locked(out, woken);
    if (st != chan_status::empty || !block) {
      lock.unlock();
      complete_woken(woken);
      return st;
    }
    return recv_parked(out, deadline);
  }

  void close() {
    WakeList wake(wake_reason::closed);  // completed once the guard released the lock
    std::lock_guard g(lock);
    if (closed_) {
      return;
    }
    closed_ = true;
    wake.take_all(recvq_);
    wake.take_all(sendq_);
  }

 private:
  // send_parked / recv_parked: lock held on entry (the fast path found no peer and no room or
  // value); park until done. A thread without a scheduler installs it with the lock released
  // and tries again (nothing that can throw runs under the lock; see lock_for_wait).
  [[gnu::noinline]] chan_status send_parked(T& v, clock::time_point deadline) {
    if (!can_park()) {
      lock.unlock();
      ensure_scheduler();
      return send(v, deadline, true);
    }
    Waiter w;
    describe_wait(w, "send");
    WaitNode n{&w};
    enqueue_send_locked(n, v);
    return finish_park(w, n, deadline, sendq_);
  }

  [[gnu::noinline]] chan_status recv_parked(std::optional<T>& out, clock::time_point deadline) {
    if (!can_park()) {
      lock.unlock();
      ensure_scheduler();
      return recv(out, deadline, true);
    }
    // The parked receiver's node, value slot and Waiter, packed from a cache-line boundary:
    // a sender on another thread writes all three, and the receiver reads them back once it
    // wakes, so each cache line here is one transfer each way.
    struct alignas(cache_line) Parked {
      WaitNode n;
      std::optional<T> value;
      Waiter w;
    } p;
    p.n.waiter = &p.w;
    describe_wait(p.w, "receive");
    enqueue_recv_locked(p.n, p.value);
    const chan_status got = finish_park(p.w, p.n, deadline, recvq_);
    if (got == chan_status::ok) {
      out.emplace(std::move(*p.value));
    }
    return got;
  }

  void describe_wait(Waiter& w, const char* what) const noexcept {
    w.info.describe = &describe_chan;
    w.info.what = what;
    w.info.id = id_;
    w.info.a = cap_;
    w.info.b = buf_.size();
  }

  // finish_park: lock held on entry, released by park(); maps the wake reason to a status.
  chan_status finish_park(Waiter& w, WaitNode& n, clock::time_point deadline, WaitQueue& q) {
    auto unlock = [this] { lock.unlock(); };
    const wake_reason r = park(w, deadline, unlock);
    switch (r) {
      case wake_reason::fired:
        return chan_status::ok;
      case wake_reason::closed:
        return chan_status::closed;
      case wake_reason::timeout:
      case wake_reason::cancelled:
        break;
    }
    {
      std::lock_guard g(lock);
      q.unlink_if_linked(n);
    }
    throw_if_cancelled(r);
    return chan_status::timeout;
  }

  // The gdb extension (share/gofer/gdb/gofer.py) reads id_ of a select arm's channel at a fixed
  // offset, for any T: keep lock, buf_ (four words), cap_ and id_ first and in this order
  // (tests/gdb checks it).
  Ring<T> buf_;
  std::size_t cap_;
  std::uint64_t id_ = new_chan_id();
  bool closed_ = false;
  WaitQueue recvq_;
  WaitQueue sendq_;
};

}  // namespace detail
}  // namespace gofer
