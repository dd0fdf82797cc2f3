// poll_fd.cpp: PollFd (see poll_fd.hpp for the protocol and its invariants).
//
// Lock order: PollFd::lock_, then a Waiter's home scheduler (inside WakeList::complete, which
// runs after lock_ is released).
#include "poll_fd.hpp"

#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include "errno_error.hpp"
#include "fd_wait.hpp"
#include "scheduler.hpp"

namespace gofer::detail {

std::uint64_t PollFd::next_key() noexcept {
  static std::atomic<std::uint64_t> last{0};
  return last.fetch_add(1, std::memory_order_relaxed) + 1;
}

void PollFd::begin_use(const Interest* dir, std::string_view op, std::string_view name) {
  const std::uint32_t s = state_.fetch_add(1, std::memory_order_acq_rel);
  const bool closed = (s & closed_bit) != 0 || fd() < 0;
  const clock::time_point d = dir != nullptr ? deadline(*dir) : no_deadline;
  if (closed || (d != no_deadline && clock::now() >= d)) {
    // Once this Use ends, a close() may finish and the owner be destroyed: copy the name.
    const std::string what(name);
    end_use();
    if (closed) {
      throw_closed(op, what);
    }
    throw_timed_out(op, what);
  }
}

void PollFd::throw_closed_for(std::string_view op, std::string_view name) {
  throw_closed(op, name);
}

void PollFd::end_use() noexcept {
  std::uint32_t s = state_.load(std::memory_order_relaxed);
  while ((s & closed_bit) == 0) {
    if (state_.compare_exchange_weak(s, s - 1, std::memory_order_acq_rel,
                                     std::memory_order_relaxed)) {
      return;
    }
  }
  // Closing (invariant 1): end under the lock, so a close() that sees no Use under it knows
  // this one is past its last access; the closer is woken after the lock is released.
  WakeList wake;
  std::lock_guard guard(lock_);
  if ((state_.fetch_sub(1, std::memory_order_acq_rel) & use_mask) == 1) {
    wake.take_all(closers_);
  }
}

bool PollFd::short_read_drains() const noexcept {
  return key_ != 0 && Scheduler::local().poller().short_read_drains(fd(), key_);
}

void PollFd::wait(Interest interest, clock::time_point call_deadline, const char* op,
                  const std::string& name) {
  Poller& poller = Scheduler::local().poller();
  const int fd = this->fd();  // open: the caller holds a Use
  WaitQueue& queue = queues_[index(interest)];
  for (;;) {
    const clock::time_point deadline = std::min(call_deadline, this->deadline(interest));
    if (deadline != no_deadline && clock::now() >= deadline) {
      throw_timed_out(op, name);
    }
    FdWaiter w(fd, interest, op, &name);
    if (key_ == 0) {
      poller.watch(fd, interest, &w);
    } else if (poller.watch_owned(fd, interest, &w, key_)) {
      return;  // an edge came while nobody waited: the caller tries its syscall again
    }
    WaitNode node{&w.waiter};
    node.index = 1;  // woken through the queue: by close() or set_deadline()
    lock_.lock();
    // Invariant 3: a close() or set_deadline() that ran since is seen here.
    const bool closed = (state_.load(std::memory_order_relaxed) & closed_bit) != 0;
    if (closed || std::min(call_deadline, this->deadline(interest)) != deadline) {
      lock_.unlock();
      poller.unwatch(fd, interest, &w);
      if (closed) {
        throw_closed(op, name);
      }
      continue;
    }
    queue.push_back(node);
    auto unlock = [this] { lock_.unlock(); };
    const wake_reason r = park(w.waiter, deadline, unlock);
    const bool ready = r == wake_reason::fired && w.waiter.fired == 0;
    if (!ready) {
      poller.unwatch(fd, interest, &w);  // the watch must not outlive w
    }
    {
      std::lock_guard guard(lock_);
      queue.unlink_if_linked(node);
    }
    throw_if_cancelled(r);
    if (r == wake_reason::closed) {
      throw_closed(op, name);
    }
    // A timeout or a new object deadline. An edge-triggered wait returns to its caller, who
    // tries the syscall again: the poller may have fired this watch's edge after the timer or
    // set_deadline() claimed the Waiter, and that edge would not come again (a level-triggered
    // wait re-registers, which reports the fd's state, so it may decide here).
    if (ready || (key_ != 0 && std::min(call_deadline, this->deadline(interest)) > clock::now())) {
      return;
    }
  }
}

void PollFd::set_deadline(Interest dir, clock::time_point tp) noexcept {
  deadlines_[index(dir)].store(tp.time_since_epoch().count(), std::memory_order_release);
  WakeList wake;
  std::lock_guard guard(lock_);
  wake.take_all(queues_[index(dir)]);
}

bool PollFd::shut() noexcept {
  if ((state_.fetch_or(closed_bit, std::memory_order_acq_rel) & closed_bit) != 0) {
    return false;
  }
  {
    WakeList wake(wake_reason::closed);
    std::lock_guard guard(lock_);
    wake.take_all(queues_[0]);
    wake.take_all(queues_[1]);
  }
  auto no_uses = [this] { return (state_.load(std::memory_order_acquire) & use_mask) == 0; };
  try {
    WaitInfo info;
    info.what = "close (until the calls it woke end)";
    while (!lock_for_wait(lock_, no_uses)) {
      park_on(lock_, closers_, no_deadline, info, false);
    }
  } catch (...) {
    // No scheduler could be installed here (out of memory): the Uses run on other threads,
    // since a task of this thread would have installed one; wait by yielding the thread.
    while (!no_uses()) {
      std::this_thread::yield();
    }
    std::lock_guard guard(lock_);  // the last Use has released lock_
  }
  return true;
}

void PollFd::release() noexcept {
  const int fd = fd_.exchange(-1, std::memory_order_acq_rel);
  if (fd >= 0) {
    forget_fd(fd);
    ::close(fd);
  }
}

}  // namespace gofer::detail
