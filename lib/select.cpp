// select.cpp: the select algorithm over type-erased arms (see select.hpp).
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <gofer/select.hpp>

namespace gofer::detail {

namespace {

// next_random: a per-thread xorshift generator for the order in which cases are tried.
std::uint64_t next_random() noexcept {
  thread_local std::uint64_t x = 0x9E3779B97F4A7C15ULL ^ reinterpret_cast<std::uintptr_t>(&x);
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

// LockSet: the arms' channel locks, taken in address order, each channel once.
class LockSet {
 public:
  LockSet(SelectArm* const* arms, std::size_t n, std::size_t* order)
      : arms_(arms), n_(n), order_(order) {
    for (std::size_t i = 0; i < n; ++i) {
      order_[i] = i;
    }
    std::sort(order_, order_ + n, [arms](std::size_t a, std::size_t b) {
      return std::less<const void*>()(arms[a]->chan(), arms[b]->chan());
    });
  }
  void lock() noexcept {
    for (std::size_t i = 0; i < n_; ++i) {
      if (i == 0 || arms_[order_[i]]->chan() != arms_[order_[i - 1]]->chan()) {
        arms_[order_[i]]->lock().lock();
      }
    }
  }
  void unlock() noexcept {
    for (std::size_t i = n_; i-- > 0;) {
      if (i == 0 || arms_[order_[i]]->chan() != arms_[order_[i - 1]]->chan()) {
        arms_[order_[i]]->lock().unlock();
      }
    }
  }

 private:
  SelectArm* const* arms_;
  std::size_t n_;
  std::size_t* order_;
};

// describe_select: "select over 2 cases: chan 3 receive, chan 4 send" (with a timeout, the
// parked Waiter's deadline says so in the dump's state).
void describe_select(const WaitInfo& info, std::string& out) {
  const auto* arms = static_cast<SelectArm* const*>(info.subject);
  out += "select over " + std::to_string(info.a) + (info.a == 1 ? " case" : " cases");
  for (std::size_t i = 0; i < info.a; ++i) {
    out += i == 0 ? ": chan " : ", chan ";
    out += std::to_string(arms[i]->chan_id());
    out += arms[i]->sends() ? " send" : " receive";
  }
}

}  // namespace

std::ptrdiff_t select_arms(SelectArm* const* arms, std::size_t n, WaitNode* nodes,
                           std::size_t* order, bool has_default, bool has_stop,
                           clock::time_point deadline) {
  ensure_scheduler();
  const TaskControl* const self = current_control();
  // on_stop: a stop takes precedence over every other case (select.hpp).
  if (has_stop && self != nullptr && self->stop_requested.load(std::memory_order_acquire)) {
    return select_stopped;
  }
  if (n == 0 && !has_default && deadline == no_deadline && (!has_stop || self == nullptr)) {
    throw std::invalid_argument(
        has_stop ? "gofer: select with only on_stop in plain code (no task) would block forever: "
                   "nothing can stop the caller"
                 : "gofer: select with no channel case, no timeout and no default "
                   "would block forever");
  }
  LockSet locks(arms, n, order);
  locks.lock();
  // Pass 1: try the cases in a random order (Fisher-Yates into `poll`).
  std::size_t* const poll = order + n;
  for (std::size_t i = 0; i < n; ++i) {
    const auto j = static_cast<std::size_t>(next_random() % (i + 1));
    poll[i] = poll[j];
    poll[j] = i;
  }
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = poll[k];
    bool ready;
    WaitNode* woken = nullptr;
    try {
      ready = arms[i]->try_now(woken);
    } catch (...) {
      locks.unlock();
      throw;
    }
    if (ready) {
      locks.unlock();
      complete_woken(woken);
      return static_cast<std::ptrdiff_t>(i);
    }
  }
  if (has_default) {
    locks.unlock();
    return select_default;
  }
  // Pass 2: enqueue on every channel, in the poll order (as Go's selectgo): two cases on one
  // channel are then found by a later peer in random order, not always the first one.
  Waiter w;
  w.info.describe = &describe_select;
  w.info.subject = arms;
  w.info.a = n;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = poll[k];
    nodes[i].waiter = &w;
    nodes[i].index = static_cast<int>(i);
    arms[i]->enqueue(nodes[i]);
  }
  auto unlock = [&locks] { locks.unlock(); };
  const wake_reason r = park(w, deadline, unlock);
  // Pass 3: unlink from the channels that did not fire.
  locks.lock();
  for (std::size_t i = 0; i < n; ++i) {
    arms[i]->dequeue(nodes[i]);
  }
  locks.unlock();
  if (r == wake_reason::cancelled && has_stop) {
    return select_stopped;
  }
  throw_if_cancelled(r);
  if (r == wake_reason::timeout) {
    return select_timeout;
  }
  arms[w.fired]->woken(r);
  return w.fired;
}

}  // namespace gofer::detail
