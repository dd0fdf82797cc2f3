// blocking_pool.cpp: the process-wide pool of OS threads behind spawn_blocking.
//
// Invariants (all under Pool::mutex_):
//   (1) threads_ counts pool threads that exist; idle_ counts those waiting for a job; a job
//       is queued only after submit() made sure a thread will take it: an idle thread was
//       woken, a new thread was started, or threads_ already reached the limit (then the
//       next thread to finish a job takes it).
//       A thread that leaves while jobs are queued passes a wake to an idle thread.
//   (2) A thread that leaves (idle past the keep-alive, or surplus after the limit dropped)
//       moves its std::thread to done_; done_ is joined by the next submit() and at exit, so
//       a thread object is never destroyed while joinable.
//   (3) At exit (the pool's static destructor) stopping_ is set: threads drain the queue and
//       leave; the destructor joins them all.
//
// Outstanding jobs (queued or running) are counted for the deadlock watchdog (activity.hpp).
//
// Thread-safety: submit() and the settings may be called from any thread; jobs run on pool
// threads, and finish their task state there (TaskStateBase::finish wakes waiters on their
// home schedulers through the Waiter protocol).
// Blocking: submit() never blocks beyond the pool's mutex; pool threads block on a condvar.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include <gofer/blocking.hpp>
#include <gofer/errors.hpp>

#include "activity.hpp"
#include "home.hpp"
#include "signal_mask.hpp"

namespace gofer {

namespace {

constexpr std::size_t default_limit = 64;
constexpr auto keep_alive = std::chrono::seconds(10);

class Pool {
 public:
  static Pool& instance() {
    static Pool pool;
    return pool;
  }

  ~Pool() {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    cv_.notify_all();
    while (threads_ > 0) {
      drained_.wait(lock);
    }
    join_done(lock);
  }

  void submit(detail::TaskStateBase* st) {
    std::unique_lock lock(mutex_);
    join_done(lock);
    queue_.push_back(st);
    if (idle_ > woken_) {
      ++woken_;
      cv_.notify_one();
      return;
    }
    if (threads_ >= limit_) {
      return;  // a running thread takes it when it finishes its job
    }
    try {
      ++threads_;
      threads_list_.emplace_back();
      auto it = std::prev(threads_list_.end());
      const detail::InheritBlockedSignals no_signals;  // signal_mask.hpp
      *it = std::thread([this, it] { run(it); });
    } catch (...) {
      --threads_;
      threads_list_.pop_back();
      queue_.pop_back();
      throw;
    }
  }

  void set_limit(std::size_t n) {
    std::lock_guard lock(mutex_);
    limit_ = n;
    cv_.notify_all();  // surplus idle threads leave
  }
  std::size_t limit() {
    std::lock_guard lock(mutex_);
    return limit_;
  }
  std::size_t threads() {
    std::lock_guard lock(mutex_);
    return threads_;
  }

 private:
  using ThreadList = std::list<std::thread>;

  void run(ThreadList::iterator self) {
    detail::this_thread_service = true;  // the hooks pass this thread's calls through
    std::unique_lock lock(mutex_);
    for (;;) {
      if (!queue_.empty() && threads_ <= limit_) {
        auto* st = queue_.front();
        queue_.pop_front();
        lock.unlock();
        execute(st);
        lock.lock();
        continue;
      }
      if (stopping_ || threads_ > limit_) {
        break;
      }
      ++idle_;
      const bool timed_out = !cv_.wait_for(
          lock, keep_alive, [this] { return woken_ > 0 || stopping_ || threads_ > limit_; });
      --idle_;
      if (woken_ > 0) {
        --woken_;
      }
      if (timed_out && queue_.empty()) {
        break;
      }
    }
    --threads_;
    if (!queue_.empty() && idle_ > woken_) {
      ++woken_;  // a surplus thread may have taken the wake meant for a job: pass it on
      cv_.notify_one();
    }
    done_.splice(done_.end(), threads_list_, self);
    if (threads_ == 0) {
      drained_.notify_all();
    }
  }

  static void execute(detail::TaskStateBase* st) noexcept {
    bool stopped = false;
    {
      std::lock_guard g(st->control.lock);
      stopped = st->control.stop_requested;
    }
    std::exception_ptr error;
    if (stopped) {
      error = std::make_exception_ptr(cancelled());
    } else {
      try {
        st->run();
      } catch (...) {
        error = std::current_exception();
      }
    }
    // finish() after the handler has ended: this thread holds no reference to the exception
    // object once a waiter can see it.
    st->finish(std::move(error));
    st->release();
    detail::note_blocking_job(-1);  // after finish(): its waiter is woken first
  }

  // join_done: joins threads that left (they are past their last touch of the pool's state
  // once they released mutex_, which the caller now holds). Lock held on entry and exit.
  void join_done(std::unique_lock<std::mutex>& lock) {
    if (done_.empty()) {
      return;
    }
    ThreadList leaving;
    leaving.splice(leaving.end(), done_);
    lock.unlock();
    for (auto& t : leaving) {
      t.join();
    }
    lock.lock();
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable drained_;
  std::deque<detail::TaskStateBase*> queue_;
  ThreadList threads_list_;
  ThreadList done_;
  std::size_t limit_ = default_limit;
  std::size_t threads_ = 0;
  std::size_t idle_ = 0;
  std::size_t woken_ = 0;
  bool stopping_ = false;
};

}  // namespace

namespace detail {
void submit_blocking(TaskStateBase* st) {
  st->control.blocking_job = true;
  st->add_ref();  // the pool's reference
  note_blocking_job(1);
  try {
    Pool::instance().submit(st);
  } catch (...) {
    note_blocking_job(-1);
    st->release();
    throw;
  }
}
}  // namespace detail

void set_blocking_pool_limit(std::size_t threads) {
  if (threads == 0) {
    throw std::invalid_argument("gofer::set_blocking_pool_limit: the limit must be >= 1, not 0");
  }
  Pool::instance().set_limit(threads);
}

std::size_t blocking_pool_limit() noexcept {
  return Pool::instance().limit();
}

std::size_t blocking_pool_threads() noexcept {
  return Pool::instance().threads();
}

}  // namespace gofer
