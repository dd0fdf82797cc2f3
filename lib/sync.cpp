// sync.cpp: WaitGroup and Semaphore, both parking through the common Waiter (waiter.hpp).
#include <mutex>
#include <stdexcept>
#include <string>

#include <gofer/semaphore.hpp>
#include <gofer/wait_group.hpp>

namespace gofer {

namespace {

// park_on: links a node for the caller into q (lock held on entry, released by park) and
// parks; returns true when a peer completed it. On timeout or cancellation it unlinks the node
// (then rethrows gofer::cancelled).
bool park_on(detail::SpinLock& lock, detail::WaitQueue& q,
             std::chrono::steady_clock::time_point deadline) {
  detail::Waiter w;
  detail::WaitNode node{&w};
  q.push_back(node);
  auto unlock = [&lock] { lock.unlock(); };
  const detail::wake_reason r = detail::park(w, deadline, unlock);
  if (r != detail::wake_reason::fired) {
    std::lock_guard g(lock);
    q.unlink_if_linked(node);
  }
  detail::throw_if_cancelled(r);
  return r == detail::wake_reason::fired;
}

}  // namespace

WaitGroup::WaitGroup(std::ptrdiff_t initial) : count_(initial) {
  if (initial < 0) {
    throw std::invalid_argument("gofer: WaitGroup counter cannot start negative (" +
                                std::to_string(initial) + ")");
  }
}

void WaitGroup::add(std::ptrdiff_t n) {
  std::lock_guard g(lock_);
  if (count_ + n < 0) {
    throw std::logic_error("gofer: WaitGroup counter would go negative (" + std::to_string(count_) +
                           " + " + std::to_string(n) + "): more done() than add()");
  }
  count_ += n;
  if (count_ == 0) {
    while (detail::WaitNode* node = waiters_.claim_front()) {
      node->waiter->complete(detail::wake_reason::fired, node->index);
    }
  }
}

std::ptrdiff_t WaitGroup::count() const {
  std::lock_guard g(lock_);
  return count_;
}

bool WaitGroup::wait_until(std::chrono::steady_clock::time_point deadline) {
  lock_.lock();
  if (count_ == 0) {
    lock_.unlock();
    return true;
  }
  return park_on(lock_, waiters_, deadline);
}

Semaphore::Semaphore(std::ptrdiff_t initial) : count_(initial) {
  if (initial < 0) {
    throw std::invalid_argument("gofer: Semaphore needs a non-negative count, not " +
                                std::to_string(initial));
  }
}

bool Semaphore::try_acquire() {
  std::lock_guard g(lock_);
  if (count_ > 0) {
    --count_;
    return true;
  }
  return false;
}

bool Semaphore::try_acquire_until(std::chrono::steady_clock::time_point deadline) {
  lock_.lock();
  if (count_ > 0) {
    --count_;
    lock_.unlock();
    return true;
  }
  return park_on(lock_, waiters_, deadline);
}

void Semaphore::release(std::ptrdiff_t n) {
  if (n < 0) {
    throw std::invalid_argument("gofer: Semaphore::release of a negative count (" +
                                std::to_string(n) + ")");
  }
  std::lock_guard g(lock_);
  for (; n > 0; --n) {
    detail::WaitNode* node = waiters_.claim_front();
    if (node == nullptr) {
      break;
    }
    node->waiter->complete(detail::wake_reason::fired, node->index);
  }
  count_ += n;
}

std::ptrdiff_t Semaphore::available() const {
  std::lock_guard g(lock_);
  return count_;
}

}  // namespace gofer
