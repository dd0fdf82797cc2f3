// thread_server.cpp: the type-independent part of ThreadServer: start, the dispatcher task,
// stop in both modes, and error reports.
//
// The server thread is a gofer::Runtime with one thread; serve() runs there as one task for
// the server's whole life. State machine (state_, written by start/stop under lifecycle_):
//   idle -> starting -> running -> stopping -> stopped, and idle -> stopped, starting -> stopped
// (on_start threw). send/request succeed only in running, and the inbox is closed before the
// state leaves running, so a message is either refused or reaches serve().
//
// Invariants:
//   (1) serve() launches a handler only after the previous one has run until it first blocked
//       or returned (it yields after each launch): handlers start in inbox order, and the
//       handler tasks alive at once are the blocked ones, not the whole backlog.
//   (2) active_ counts handlers launched and not returned; running_ lists (server thread only)
//       the handlers that have started. Every launched handler starts before serve() takes
//       the next envelope, so when the inbox is drained, running_ holds every live handler.
//   (3) serve() waits on the inbox inside a ServiceScope: an idle server is waiting for work,
//       which the deadlock watchdog must not take for a stuck task (task_registry.hpp).
//   (4) dropping_ is set before the inbox is closed, so every envelope still queued at a
//       stop(drop) is seen by serve() after dropping_ (channel operations order them).
//
// Thread-safety: start/stop from the owner; post from anywhere; everything else on the server
// thread. Blocking: start() parks on the `started` channel, stop() parks on serve()'s Task and
// blocks the calling thread while the Runtime joins its thread.
#include <pthread.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include <gofer/errors.hpp>
#include <gofer/thread_server.hpp>
#include <gofer/time.hpp>

#include "scheduler.hpp"

namespace gofer::detail {

namespace {

// describe: "<exception type>: <what>" for reports.
std::string describe(std::exception_ptr error) {
  try {
    std::rethrow_exception(std::move(error));
  } catch (const std::exception& e) {
    return type_name(typeid(e)) + ": " + e.what();
  } catch (...) {
    return "a non-std exception";
  }
}

bool is_cancelled(std::exception_ptr error) {
  try {
    std::rethrow_exception(std::move(error));
  } catch (const cancelled&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

ThreadServerCore::HandlerScope::HandlerScope(ThreadServerCore& core) noexcept
    : core_(core), task_(current_control()), next_(core.running_) {
  if (next_ != nullptr) {
    next_->prev_ = this;
  }
  core_.running_ = this;
}

ThreadServerCore::HandlerScope::~HandlerScope() {
  if (prev_ != nullptr) {
    prev_->next_ = next_;
  } else {
    core_.running_ = next_;
  }
  if (next_ != nullptr) {
    next_->prev_ = prev_;
  }
  core_.active_.done();
}

ThreadServerCore::ThreadServerCore(std::string name, std::vector<std::string> type_names)
    : name_(std::move(name)), type_names_(std::move(type_names)) {
  task_names_.reserve(type_names_.size());
  for (const auto& t : type_names_) {
    task_names_.push_back(name_ + "/" + t);
  }
}

ThreadServerCore::~ThreadServerCore() {
  stop_quietly();
}

void ThreadServerCore::check_configurable(const char* what) const {
  if (state_.load() != idle_state) {
    throw std::logic_error("gofer: ThreadServer '" + name_ + "': " + what +
                           "() must be called before start()");
  }
}

void ThreadServerCore::set_on_start(std::function<void()> f) {
  check_configurable("on_start");
  on_start_ = std::move(f);
}

void ThreadServerCore::set_on_stop(std::function<void()> f) {
  check_configurable("on_stop");
  on_stop_ = std::move(f);
}

void ThreadServerCore::set_on_error(ThreadServerErrorHook f) {
  check_configurable("on_error");
  on_error_ = std::move(f);
}

void ThreadServerCore::start() {
  std::lock_guard lock(lifecycle_);
  if (state_.load() != idle_state) {
    throw std::logic_error("gofer: ThreadServer '" + name_ +
                           "': start() called twice or after stop() (a server starts once)");
  }
  state_.store(starting_state);
  try {
    runtime_ = std::make_unique<Runtime>(1);
    Chan<std::exception_ptr> started(1);
    main_ = runtime_->go_on(0, TaskOptions{name_}, [this, started] { serve(started); });
    const auto error = started.recv().value_or(nullptr);
    if (error != nullptr) {
      std::rethrow_exception(error);
    }
  } catch (...) {
    inbox_.close();
    if (main_.valid()) {
      main_.wait();
      main_ = Task<void>();
    }
    runtime_.reset();
    state_.store(stopped_state);
    throw;
  }
  state_.store(running_state);
}

void ThreadServerCore::stop(stop_mode mode) {
  if (server_thread_.load() == std::this_thread::get_id()) {
    throw std::logic_error("gofer: ThreadServer '" + name_ +
                           "': stop() called from the server's own thread (it would wait for "
                           "itself); stop it from another thread");
  }
  std::lock_guard lock(lifecycle_);
  const int state = state_.load();
  if (state == stopped_state) {
    return;
  }
  if (state == idle_state) {
    state_.store(stopped_state);
    return;
  }
  if (mode == stop_mode::drop) {
    dropping_.store(true);
  }
  state_.store(stopping_state);
  inbox_.close();
  if (main_.valid()) {
    main_.wait();
    main_ = Task<void>();
  }
  runtime_->shutdown(mode == stop_mode::drop ? shutdown_mode::stop_tasks : shutdown_mode::wait);
  state_.store(stopped_state);
}

void ThreadServerCore::stop_quietly() noexcept {
  try {
    stop(stop_mode::drain);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gofer: ThreadServer '%s': stop at destruction failed: %s\n",
                 name_.c_str(), e.what());
  }
}

void ThreadServerCore::post(ServerEnvelope env, const char* what) {
  const int state = state_.load();
  if (state == running_state && inbox_.send(std::move(env))) {
    return;
  }
  throw std::logic_error("gofer: ThreadServer '" + name_ + "': " + what +
                         (state < running_state ? "() before start()" : "() after stop()"));
}

void ThreadServerCore::serve(Chan<std::exception_ptr> started) {
  server_thread_.store(std::this_thread::get_id());
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  try {
    if (on_start_) {
      on_start_();
    }
  } catch (...) {
    server_thread_.store(std::thread::id());
    (void)started.send(std::current_exception());  // cannot fail: started is never closed
    return;
  }
  (void)started.send(nullptr);  // cannot fail: started is never closed, and has room for one

  {
    // Waiting on the inbox is waiting for work, not a stuck wait (deadlock watchdog).
    ServiceScope service(Scheduler::local().registry);
    for (auto& env : inbox_) {
      if (dropping_.load()) {
        drop(env);
      } else {
        dispatch(env);
      }
    }
  }
  if (dropping_.load()) {
    for (HandlerScope* h = running_; h != nullptr; h = h->next_) {
      request_stop(*h->task_);
    }
  }
  for (int waited = 0; !active_.wait(std::chrono::seconds(1));) {
    if (++waited % 5 == 0) {
      std::fprintf(stderr, "gofer: ThreadServer '%s': stop still waiting for %td handler(s)\n",
                   name_.c_str(), active_.count());
    }
  }
  try {
    if (on_stop_) {
      on_stop_();
    }
  } catch (...) {
    report_hook_error("on_stop", std::current_exception());
  }
  server_thread_.store(std::thread::id());
}

void ThreadServerCore::dispatch(ServerEnvelope& env) {
  active_.add();
  try {
    launch(env.state(), TaskOptions{task_names_[env.type()]}, std::source_location());
  } catch (...) {
    // The handler never started (no stack): its Task, or the unobserved-error report of a
    // send()'s task, carries the error.
    active_.done();
    env.state()->finish(std::current_exception());
    return;
  }
  yield();
}

void ThreadServerCore::drop(ServerEnvelope& env) {
  if (env.request()) {
    env.state()->finish(std::make_exception_ptr(
        std::runtime_error("gofer: ThreadServer '" + name_ + "' dropped the request (" +
                           type_names_[env.type()] + ") at stop(stop_mode::drop)")));
  }
}

void ThreadServerCore::report(std::size_t type, std::exception_ptr error) noexcept {
  if (dropping_.load() && is_cancelled(error)) {
    return;  // stop(drop) stopped this handler: the expected end
  }
  if (on_error_) {
    try {
      on_error_(type_names_[type], error);
      return;
    } catch (...) {
      report_hook_error("on_error", std::current_exception());
    }
  }
  std::fprintf(stderr, "gofer: ThreadServer '%s': handler for %s threw %s\n", name_.c_str(),
               type_names_[type].c_str(), describe(error).c_str());
}

void ThreadServerCore::report_hook_error(const char* hook, std::exception_ptr error) noexcept {
  std::fprintf(stderr, "gofer: ThreadServer '%s': %s threw %s\n", name_.c_str(), hook,
               describe(std::move(error)).c_str());
}

void ThreadServerCore::throw_no_handler(std::size_t type) const {
  throw std::logic_error("gofer: ThreadServer '" + name_ + "': no handler registered for " +
                         type_names_[type] + " (register one with on<" + type_names_[type] +
                         ">() before start())");
}

}  // namespace gofer::detail
