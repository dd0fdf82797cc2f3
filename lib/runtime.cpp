#include <pthread.h>

#include <cstdio>
#include <exception>
#include <future>
#include <stdexcept>
#include <string>
#include <system_error>

#include <gofer/errors.hpp>
#include <gofer/runtime.hpp>

#include "activity.hpp"
#include "scheduler.hpp"
#include "signal_mask.hpp"
#include "task_dump.hpp"

namespace gofer {

namespace {
thread_local const Runtime* current_runtime = nullptr;
}  // namespace

std::size_t Runtime::default_threads() noexcept {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

Runtime::Runtime(std::size_t threads) {
  if (threads == 0) {
    throw std::invalid_argument("gofer: Runtime needs at least one thread");
  }
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    threads_.push_back(std::make_unique<Worker>());
  }
  // The constructing thread runs user code the deadlock watchdog cannot see: while it owns
  // this Runtime, it counts as busy unless it is parked in gofer (activity.hpp).
  detail::note_runtime_owner(this);
  // Each worker reports whether its scheduler is up before the next one starts; the first
  // failure (a thread that cannot be created, a scheduler that cannot be installed) stops the
  // ones already running and is thrown from here, naming the worker.
  for (std::size_t i = 0; i < threads; ++i) {
    Worker& w = *threads_[i];
    std::promise<void> up;
    std::future<void> started = up.get_future();
    try {
      const detail::InheritBlockedSignals no_signals;  // signal_mask.hpp
      w.thread = std::thread([this, &w, i, up = std::move(up)]() mutable {
        current_runtime = this;
        const std::string name = "gofer-rt-" + std::to_string(i);
        ::pthread_setname_np(::pthread_self(), name.c_str());
        try {
          detail::ensure_scheduler();
        } catch (...) {
          up.set_exception(std::current_exception());
          return;
        }
        {
          std::lock_guard guard(scheds_mu_);
          w.sched = detail::Scheduler::installed();
        }
        up.set_value();
        run_worker(w, i, stop_);
        std::lock_guard guard(scheds_mu_);
        w.sched = nullptr;  // no task is left; the scheduler dies at thread exit
      });
      started.get();
    } catch (const std::exception& e) {
      shutdown(shutdown_mode::stop_tasks);
      detail::forget_runtime_owner(this);
      throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again),
                              "gofer: Runtime could not start thread " + std::to_string(i) +
                                  " of " + std::to_string(threads) + ": " + e.what());
    }
  }
}

Runtime::~Runtime() {
  shutdown(shutdown_mode::stop_tasks);
  detail::forget_runtime_owner(this);
}

void Runtime::post(std::size_t i, detail::TaskStateBase* st, TaskOptions opts) {
  if (i >= threads_.size()) {
    throw std::out_of_range("gofer: Runtime::go_on thread " + std::to_string(i) +
                            " does not exist (the Runtime has " + std::to_string(threads_.size()) +
                            ")");
  }
  // Once shutdown has begun no go() is accepted, on any thread: checked before the send, since
  // the inboxes close one by one (and a task stopped on a thread whose inbox is closed could
  // otherwise still spawn on one that is not).
  auto refuse = [this] {
    if (!joined_.load()) {
      throw cancelled();  // a task spawning while the Runtime shuts down is being stopped
    }
    throw std::logic_error("gofer: Runtime::go after shutdown");
  };
  if (shut_.load()) {
    refuse();
  }
  st->add_ref();  // the launch request's reference, handed to launch() on the target thread
  if (!threads_[i]->inbox.send(std::make_unique<Launch>(Launch{st, std::move(opts)}))) {
    st->release();
    refuse();
  }
}

void Runtime::run_worker(Worker& w, std::size_t index, const std::atomic<bool>& stop) {
  detail::Scheduler& sched = detail::Scheduler::local();
  {
    // Waiting on the inbox is waiting for work, not a stuck wait (deadlock watchdog).
    detail::ServiceScope service(sched.registry);
    for (auto& job : w.inbox) {
      try {
        detail::launch(job->st, job->opts, job->opts.where);
        if (stop.load()) {
          detail::request_stop(job->st->control);  // Runtime::request_stop came first
        }
      } catch (...) {
        // The task never started: finish it with the error so its waiters see it.
        job->st->finish(std::current_exception());
      }
      job->st->release();
    }
  }
  for (int waited = 0; sched.live_tasks() > 0;) {
    if (stop.load()) {
      sched.stop_all();
    }
    if (sched.wait_idle(detail::clock::now() + std::chrono::seconds(1))) {
      break;
    }
    if (++waited % 5 == 0) {
      std::fprintf(stderr, "gofer: Runtime thread %zu: shutdown still waiting for %zu task(s):\n",
                   index, sched.live_tasks());
      char prefix[64];
      std::snprintf(prefix, sizeof prefix, "gofer: Runtime thread %zu:", index);
      detail::report_live(sched.registry, stderr, prefix, 20);
    }
  }
}

void Runtime::request_stop() noexcept {
  stop_.store(true);
  std::lock_guard guard(scheds_mu_);
  for (auto& w : threads_) {
    if (w->sched != nullptr) {
      w->sched->stop_all();
    }
  }
}

void Runtime::shutdown(shutdown_mode mode) {
  if (current_runtime == this) {
    throw std::logic_error("gofer: Runtime::shutdown called from one of its own threads");
  }
  if (mode == shutdown_mode::stop_tasks) {
    stop_.store(true);
  }
  if (shut_.exchange(true)) {
    return;
  }
  for (auto& w : threads_) {
    w->inbox.close();
  }
  for (auto& w : threads_) {
    if (w->thread.joinable()) {
      w->thread.join();
    }
  }
  joined_.store(true);
}

}  // namespace gofer
