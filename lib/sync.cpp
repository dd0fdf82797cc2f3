// sync.cpp: WaitGroup, Semaphore, Mutex and CondVar, all parking through the common Waiter
// (waiter.hpp).
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

#include <gofer/cond_var.hpp>
#include <gofer/mutex.hpp>
#include <gofer/semaphore.hpp>
#include <gofer/wait_group.hpp>

#include "describe.hpp"

namespace gofer {

namespace {

// wait_info: a wait on a sync object, shown as "Mutex::lock 0x..." in task dumps.
detail::WaitInfo wait_info(const char* what, const void* object) noexcept {
  detail::WaitInfo info{};
  info.describe = &detail::describe_object;
  info.what = what;
  info.subject = object;
  return info;
}

}  // namespace

WaitGroup::WaitGroup(std::ptrdiff_t initial) : count_(initial) {
  if (initial < 0) {
    throw std::invalid_argument("gofer: WaitGroup counter cannot start negative (" +
                                std::to_string(initial) + ")");
  }
}

void WaitGroup::add(std::ptrdiff_t n) {
  detail::WakeList wake;  // completed after the guard releases the lock: see waiter.hpp
  std::lock_guard g(lock_);
  if (count_ + n < 0) {
    throw std::logic_error("gofer: WaitGroup counter would go negative (" + std::to_string(count_) +
                           " + " + std::to_string(n) + "): more done() than add()");
  }
  count_ += n;
  if (count_ == 0) {
    wake.take_all(waiters_);
  }
}

std::ptrdiff_t WaitGroup::count() const {
  std::lock_guard g(lock_);
  return count_;
}

bool WaitGroup::wait(Deadline d) {
  if (detail::lock_for_wait(lock_, [this]() noexcept { return count_ == 0; })) {
    return true;
  }
  return detail::park_on(lock_, waiters_, d.time_point(), wait_info("WaitGroup::wait", this));
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

bool Semaphore::acquire(Deadline d) {
  const bool now = detail::lock_for_wait(lock_, [this]() noexcept {
    if (count_ > 0) {
      --count_;
      return true;
    }
    return false;
  });
  if (now) {
    return true;
  }
  return detail::park_on(lock_, waiters_, d.time_point(), wait_info("Semaphore::acquire", this));
}

void Semaphore::release(std::ptrdiff_t n) {
  if (n < 0) {
    throw std::invalid_argument("gofer: Semaphore::release of a negative count (" +
                                std::to_string(n) + ")");
  }
  detail::WakeList wake;
  std::lock_guard g(lock_);
  for (; n > 0 && wake.take_front(waiters_); --n) {
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
  const bool now =
      detail::lock_for_wait(lock_, [this]() noexcept { return !std::exchange(locked_, true); });
  if (now) {
    return true;
  }
  return detail::park_on(lock_, waiters_, deadline, wait_info("Mutex::lock", this),
                         cancellable);  // fired: the lock was handed to us
}

void Mutex::unlock() {
  detail::WakeList wake;
  std::lock_guard g(lock_);
  if (!locked_) {
    throw std::logic_error("gofer: Mutex::unlock of a mutex that is not locked");
  }
  if (!wake.take_front(waiters_)) {
    locked_ = false;  // otherwise it stays locked: handed over to the first waiter
  }
}

bool CondVar::wait(std::unique_lock<Mutex>& lock, Deadline d) {
  if (!lock.owns_lock()) {
    throw std::logic_error("gofer: CondVar::wait needs a unique_lock that holds its Mutex");
  }
  Mutex& m = *lock.mutex();
  detail::ensure_scheduler();
  detail::Waiter w;
  w.info = wait_info("CondVar::wait", this);
  detail::WaitNode node{&w};
  lock_.lock();
  waiters_.push_back(node);
  // Released only after the node is queued: a notify between the two cannot be lost.
  auto unlock = [this, &m] {
    lock_.unlock();
    m.unlock();
  };
  const detail::wake_reason r = detail::park(w, d.time_point(), unlock);
  if (r != detail::wake_reason::fired) {
    std::lock_guard g(lock_);
    waiters_.unlink_if_linked(node);
  }
  m.lock_until(detail::no_deadline, false);
  detail::throw_if_cancelled(r);
  return r == detail::wake_reason::fired;
}

void CondVar::notify_one() {
  detail::WakeList wake;
  std::lock_guard g(lock_);
  wake.take_front(waiters_);
}

void CondVar::notify_all() {
  detail::WakeList wake;
  std::lock_guard g(lock_);
  wake.take_all(waiters_);
}

}  // namespace gofer
