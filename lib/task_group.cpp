// task_group.cpp: TaskGroup and its shared state (task_group.hpp, detail/group_state.hpp).
//
// Invariants: those of detail/group_state.hpp. Lock order: GroupState::lock_ -> a member's
// TaskControl::lock; no std::stop_callback runs under either (StopBatch).
// Thread-safety and blocking: as task_group.hpp states; only await() (wait(), the destructor)
// parks.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <typeinfo>

#include <gofer/errors.hpp>
#include <gofer/task_group.hpp>
#include <gofer/this_task.hpp>

namespace gofer {

namespace detail {

namespace {

// is_cancelled: whether `error` holds a gofer::cancelled.
bool is_cancelled(const std::exception_ptr& error) noexcept {
  try {
    std::rethrow_exception(error);
  } catch (const cancelled&) {
    return true;
  } catch (...) {
    return false;
  }
}

void describe_group_wait(const WaitInfo& info, std::string& out) {
  out += "TaskGroup::wait for " + std::to_string(info.a) + (info.a == 1 ? " task" : " tasks");
}

}  // namespace

void GroupState::join(TaskControl& tc, bool owns_error) noexcept {
  std::lock_guard guard(lock_);
  tc.group = this;
  tc.group_owns_error = owns_error;
  tc.group_prev = nullptr;
  tc.group_next = head_;
  if (head_ != nullptr) {
    head_->group_prev = &tc;
  }
  head_ = &tc;
  ++live_;
  if (stopped_.load(std::memory_order_relaxed)) {
    set_stop(tc);  // (2): it has no Waiter and no stop_source yet
  }
}

void GroupState::leave(TaskControl& tc) noexcept {
  WakeList wake;
  std::lock_guard guard(lock_);
  if (tc.group_prev != nullptr) {
    tc.group_prev->group_next = tc.group_next;
  } else {
    head_ = tc.group_next;
  }
  if (tc.group_next != nullptr) {
    tc.group_next->group_prev = tc.group_prev;
  }
  tc.group_prev = tc.group_next = nullptr;
  if (--live_ == 0) {
    wake.take_all(waiters_);  // (1)
  }
}

void GroupState::child_failed(TaskControl& tc, std::exception_ptr error) noexcept {
  if (tc.stop_requested.load(std::memory_order_acquire) && is_cancelled(error)) {
    return;  // the expected end of a stopped member
  }
  bool first = false;
  {
    std::lock_guard guard(lock_);
    if (error_ == nullptr) {
      error_ = std::move(error);
      first = true;
    }
  }
  if (first) {
    request_stop();
  }
}

void GroupState::request_stop() noexcept {
  {
    std::lock_guard guard(lock_);
    if (stopped_.load(std::memory_order_relaxed)) {
      return;
    }
    stopped_.store(true, std::memory_order_release);  // members joining from now on start stopped
    stopping_.fetch_add(1, std::memory_order_relaxed);
  }
  stop_tasks([this](auto f) noexcept {
    std::lock_guard guard(lock_);
    for (TaskControl* m = head_; m != nullptr; m = m->group_next) {
      f(*m);
    }
  });
  stopping_.fetch_sub(1, std::memory_order_release);  // (5): the last touch
}

bool GroupState::await(clock::time_point deadline, bool cancellable) {
  if (lock_for_wait(lock_, [this]() noexcept { return live_ == 0; })) {
    return true;
  }
  WaitInfo info{};
  info.describe = &describe_group_wait;
  info.what = "TaskGroup::wait";
  info.a = live_;
  return park_on(lock_, waiters_, deadline, info, cancellable);
}

void GroupState::await_stoppers() const noexcept {
  // A stopper holds no lock between its passes and never parks there (its callbacks should not
  // block): this wait is as short as the callbacks.
  while (stopping_.load(std::memory_order_acquire) != 0) {
    std::this_thread::yield();
  }
}

std::exception_ptr GroupState::error() const {
  std::lock_guard guard(lock_);
  return error_;
}

}  // namespace detail

TaskGroup::TaskGroup() {
  if (in_task()) {
    // The creating task's stop flows into the group (at once, if it was stopped already).
    parent_stop_.emplace(this_task::stop_token(), StopGroup{&state_});
  }
}

namespace {
// in_member_of: whether the caller is a task of the group (waiting would wait for itself).
bool in_member_of(const detail::GroupState& state) noexcept {
  const detail::TaskControl* tc = detail::current_control();
  return tc != nullptr && tc->group == &state;
}
}  // namespace

TaskGroup::~TaskGroup() {
  if (in_member_of(state_)) {
    std::fputs(
        "gofer: a TaskGroup destroyed by one of its own tasks would wait for itself forever\n",
        stderr);
    std::abort();
  }
  state_.request_stop();
  state_.await(detail::no_deadline, false);
  parent_stop_.reset();  // waits for a callback running on another thread
  state_.await_stoppers();
  if (reported_.load(std::memory_order_relaxed)) {
    return;
  }
  if (const std::exception_ptr error = state_.error()) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      std::fprintf(stderr,
                   "gofer: TaskGroup destroyed with a task's exception that no wait() reported: "
                   "%s: %s\n",
                   detail::type_name(typeid(e)).c_str(), e.what());
    } catch (...) {
      std::fprintf(stderr,
                   "gofer: TaskGroup destroyed with a task's non-std exception that no wait() "
                   "reported\n");
    }
  }
}

void TaskGroup::launch_here(detail::TaskStateBase& st, const TaskOptions& opts) {
  state_.join(st.control, true);
  try {
    detail::launch(&st, opts, opts.where);
  } catch (...) {
    state_.leave(st.control);
    throw;
  }
}

bool TaskGroup::join(detail::clock::time_point deadline) {
  if (in_member_of(state_)) {
    throw std::logic_error(
        "gofer: TaskGroup::wait called from one of the group's own tasks (it would wait for "
        "itself)");
  }
  bool stopped = false;
  try {
    if (!state_.await(deadline, true)) {
      return false;
    }
  } catch (const cancelled&) {
    stopped = true;  // joined below, outside the handler: a task must not park inside one
  }
  if (stopped) {
    state_.request_stop();
    state_.await(detail::no_deadline, false);
  }
  if (const std::exception_ptr error = state_.error()) {
    reported_.store(true, std::memory_order_relaxed);
    std::rethrow_exception(error);
  }
  if (stopped) {
    throw cancelled();
  }
  return true;
}

void TaskGroup::wait() {
  join(detail::no_deadline);
}

bool TaskGroup::wait(Deadline d) {
  return join(d.time_point());
}

}  // namespace gofer
