// sync.cpp: WaitGroup, Semaphore, Mutex and CondVar, all parking through the common Waiter
// (waiter.hpp).
#include <mutex>
#include <stdexcept>
#include <string>

#include <gofer/cond_var.hpp>
#include <gofer/mutex.hpp>
#include <gofer/semaphore.hpp>
#include <gofer/wait_group.hpp>

namespace gofer {

namespace {

// park_on: links a node for the caller into q (lock held on entry, released by park) and
// parks; returns true when a peer completed it. On timeout or cancellation it unlinks the node
// (then rethrows gofer::cancelled).
bool park_on(detail::SpinLock& lock, detail::WaitQueue& q,
             std::chrono::steady_clock::time_point deadline, bool cancellable = true) {
  detail::Waiter w;
  w.cancellable = cancellable;
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
    waiters_.complete_all(detail::wake_reason::fired);
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

bool Mutex::try_lock() {
  std::lock_guard g(lock_);
  if (locked_) {
    return false;
  }
  locked_ = true;
  return true;
}

bool Mutex::lock_until(std::chrono::steady_clock::time_point deadline, bool cancellable) {
  lock_.lock();
  if (!locked_) {
    locked_ = true;
    lock_.unlock();
    return true;
  }
  return park_on(lock_, waiters_, deadline, cancellable);  // fired: the lock was handed to us
}

void Mutex::unlock() {
  std::lock_guard g(lock_);
  if (!locked_) {
    throw std::logic_error("gofer: Mutex::unlock of a mutex that is not locked");
  }
  if (detail::WaitNode* node = waiters_.claim_front()) {
    node->waiter->complete(detail::wake_reason::fired, node->index);  // stays locked: handed over
  } else {
    locked_ = false;
  }
}

std::cv_status CondVar::wait_until(std::unique_lock<Mutex>& lock,
                                   std::chrono::steady_clock::time_point deadline) {
  if (!lock.owns_lock()) {
    throw std::logic_error("gofer: CondVar::wait needs a unique_lock that holds its Mutex");
  }
  Mutex& m = *lock.mutex();
  detail::Waiter w;
  detail::WaitNode node{&w};
  lock_.lock();
  waiters_.push_back(node);
  // Released only after the node is queued: a notify between the two cannot be lost.
  auto unlock = [this, &m] {
    lock_.unlock();
    m.unlock();
  };
  const detail::wake_reason r = detail::park(w, deadline, unlock);
  if (r != detail::wake_reason::fired) {
    std::lock_guard g(lock_);
    waiters_.unlink_if_linked(node);
  }
  m.lock_until(detail::no_deadline, false);
  detail::throw_if_cancelled(r);
  return r == detail::wake_reason::fired ? std::cv_status::no_timeout : std::cv_status::timeout;
}

void CondVar::notify_one() {
  std::lock_guard g(lock_);
  if (detail::WaitNode* node = waiters_.claim_front()) {
    node->waiter->complete(detail::wake_reason::fired, node->index);
  }
}

void CondVar::notify_all() {
  std::lock_guard g(lock_);
  waiters_.complete_all(detail::wake_reason::fired);
}

}  // namespace gofer
