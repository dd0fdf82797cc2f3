// task.hpp: tasks (stackful green threads) and waiting on them.
//
//   auto t = gofer::go([](int x) { return x * 2; }, 21);   // spawn on this thread's scheduler
//   int v = t.wait();                                      // or gofer::wait(t)
//
// go() spawns a task on the calling thread's scheduler (installing one on first use) and
// returns a move-only Task<T>. The task starts when the thread next schedules (a wait, a
// blocking call, yield(), run_event_loop()) and it always runs on that home thread.
//
// Waiting. wait() returns the task's result or rethrows its exception. In a task it parks only
// that task; in plain code (no task) it runs this thread's loop until the task is done, so
// go + wait work in main() without ceremony. wait(d) gives up at a gofer::Deadline (an empty
// optional; the task keeps running). Any thread may wait on any task. A Task can be
// waited once: the second wait() throws std::logic_error (the result was moved out). A Task
// that is dropped unwaited keeps running (it is detached); if it then ends with an exception
// that nobody took, the exception is printed to stderr with the task id and name when the
// last handle goes away: errors are never silently lost.
//
// Cancellation. request_stop() asks a task to stop: the blocking gofer call it is parked in
// (or its next one) throws gofer::cancelled, which unwinds the task; a task that is running
// (not blocked) is not interrupted, but yield() and sleep_for(0) count as blocking calls, and
// it may poll this_task::stop_requested() or its std::stop_token (this_task.hpp). A task ended
// by gofer::cancelled after request_stop() is not reported as an unobserved error. A task
// spawned from a TaskGroup's task joins that group (task_group.hpp).
//
// Thread-safety: a Task handle is not itself synchronized (use one handle from one place at a
// time); the task it refers to may be waited, inspected or stopped from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <source_location>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <gofer/deadline.hpp>
#include <gofer/detail/task_state.hpp>
#include <gofer/detail/waiter.hpp>

namespace gofer {

template <class T>
class Task;

namespace detail {
[[noreturn]] void throw_invalid_task();
template <class T>
Task<T> adopt_task(TaskState<T>* st) noexcept;

// make_task_state: the shared state of a task running f(args...), callable included.
template <class F, class... A>
auto make_task_state(F&& f, A&&... args) {
  using R = std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>;
  auto body = [fn = std::forward<F>(f),
               tup = std::make_tuple(std::forward<A>(args)...)]() mutable -> R {
    return std::apply(std::move(fn), std::move(tup));
  };
  return static_cast<TaskState<R>*>(new TaskImpl<R, decltype(body)>(std::move(body)));
}
}  // namespace detail

// Task<T>: a move-only handle to a running or finished task returning T.
template <class T>
class Task {
 public:
  using value_type = T;

  Task() = default;
  Task(Task&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      reset();
      st_ = std::exchange(o.st_, nullptr);
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { reset(); }

  // valid: false for a default-constructed or moved-from Task.
  bool valid() const noexcept { return st_ != nullptr; }
  // done: the task has finished (returned or thrown).
  bool done() const { return state().done(); }
  // id: process-unique task id (also used in error reports).
  std::uint64_t id() const { return state().control.id; }
  // request_stop: cooperative cancellation (see the header comment).
  void request_stop() { detail::request_stop(state().control); }

  // wait: the result, or the task's exception rethrown. Throws std::logic_error when the
  // Task is not valid or was already waited, gofer::cancelled if the waiting task is stopped.
  T wait() {
    auto& st = state();
    st.check_not_waited();
    st.await(detail::no_deadline);
    return take();
  }

  // wait(d): as wait(), but give up at the deadline d (a duration from now or a steady_clock
  // time point; deadline.hpp): then the result is empty (std::optional<T>; for Task<void>,
  // false) and the task keeps running (it is not stopped) and can be waited again.
  [[nodiscard]] auto wait(Deadline d) {
    using R = std::conditional_t<std::is_void_v<T>, bool, std::optional<T>>;
    auto& st = state();
    st.check_not_waited();
    if (!st.await(d.time_point())) {
      return R{};
    }
    if constexpr (std::is_void_v<T>) {
      take();
      return true;
    } else {
      return R(take());
    }
  }

 private:
  friend Task detail::adopt_task<T>(detail::TaskState<T>* st) noexcept;
  template <class U>
  friend detail::TaskStateBase& detail_state(const Task<U>& t);

  explicit Task(detail::TaskState<T>* st) noexcept : st_(st) {}
  detail::TaskState<T>& state() const {
    if (st_ == nullptr) {
      detail::throw_invalid_task();
    }
    return *st_;
  }
  T take() {
    st_->mark_waited();
    st_->take_error();
    if constexpr (!std::is_void_v<T>) {
      return std::move(*st_->value);
    }
  }
  void reset() noexcept {
    if (st_ != nullptr) {
      st_->release();
      st_ = nullptr;
    }
  }

  detail::TaskState<T>* st_ = nullptr;
};

// detail_state: the shared state of a valid Task (for wait_any and friends; not API).
template <class U>
detail::TaskStateBase& detail_state(const Task<U>& t) {
  return t.state();
}

template <class T>
Task<T> detail::adopt_task(TaskState<T>* st) noexcept {
  return Task<T>(st);
}

namespace detail {
template <class F>
concept not_options = !std::is_same_v<std::decay_t<F>, TaskOptions>;
using site = std::source_location;

template <class F, class... A>
auto go_at(const site& where, const TaskOptions& opts, F&& f, A&&... args) {
  auto* st = detail::make_task_state(std::forward<F>(f), std::forward<A>(args)...);
  auto task = detail::adopt_task(st);
  detail::launch(st, opts, where);
  return task;
}
}  // namespace detail

// go: spawns f(args...) as a task on the calling thread's scheduler. Arguments are decayed
// and moved into the task (use std::ref to pass a reference). The call's source location is
// recorded as the task's creation site (debug.hpp) for up to three arguments; a call with more
// records the TaskOptions' site (see TaskOptions::where), or none.
template <detail::not_options F>
auto go(F&& f, detail::site where = detail::site::current()) {
  return detail::go_at(where, {}, std::forward<F>(f));
}
template <detail::not_options F, class A1>
auto go(F&& f, A1&& a1, detail::site where = detail::site::current()) {
  return detail::go_at(where, {}, std::forward<F>(f), std::forward<A1>(a1));
}
template <detail::not_options F, class A1, class A2>
auto go(F&& f, A1&& a1, A2&& a2, detail::site where = detail::site::current()) {
  return detail::go_at(where, {}, std::forward<F>(f), std::forward<A1>(a1), std::forward<A2>(a2));
}
template <detail::not_options F, class A1, class A2, class A3>
auto go(F&& f, A1&& a1, A2&& a2, A3&& a3, detail::site where = detail::site::current()) {
  return detail::go_at(where, {}, std::forward<F>(f), std::forward<A1>(a1), std::forward<A2>(a2),
                       std::forward<A3>(a3));
}
template <detail::not_options F, class... A>
auto go(F&& f, A&&... args) {
  return detail::go_at(detail::site(), {}, std::forward<F>(f), std::forward<A>(args)...);
}
// go(opts, f, args...): with a name or stack size; the site is where `opts` was made.
template <class F, class... A>
auto go(TaskOptions opts, F&& f, A&&... args) {
  return detail::go_at(opts.where, opts, std::forward<F>(f), std::forward<A>(args)...);
}

// wait: free-function form of Task::wait.
template <class T>
T wait(Task<T>& t) {
  return t.wait();
}
template <class T>
T wait(Task<T>&& t) {
  return t.wait();
}

// wait(t, d): free-function form of Task::wait(d) (NimGo's wait(task, timeoutMs)).
template <class T>
[[nodiscard]] auto wait(Task<T>& t, Deadline d) {
  return t.wait(d);
}

// go_and_wait: spawn and wait in one call (NimGo's goAndWait).
template <class F, class... A>
auto go_and_wait(F&& f, A&&... args) {
  return go(std::forward<F>(f), std::forward<A>(args)...).wait();
}

namespace detail {
// wait_any_until: index of the first done task among `tasks`, or -1 at the deadline.
std::ptrdiff_t wait_any_until(TaskStateBase* const* tasks, std::size_t n,
                              clock::time_point deadline);
}  // namespace detail

// wait_any: index of the first task that is done (its result stays in it: wait() it).
// Throws std::invalid_argument for an empty vector.
template <class T>
std::size_t wait_any(std::vector<Task<T>>& tasks) {
  return *wait_any(tasks, Deadline::never());
}
// wait_any(tasks, d): empty if none is done by the deadline d.
template <class T>
[[nodiscard]] std::optional<std::size_t> wait_any(std::vector<Task<T>>& tasks, Deadline d) {
  std::vector<detail::TaskStateBase*> states;
  states.reserve(tasks.size());
  for (auto& t : tasks) {
    states.push_back(&detail_state(t));
  }
  auto i = detail::wait_any_until(states.data(), states.size(), d.time_point());
  if (i < 0) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(i);
}

// wait_all: waits for every task, then returns their results in order (void for Task<void>);
// if any task threw, rethrows the first exception in order once all are done.
template <class T>
auto wait_all(std::vector<Task<T>>& tasks) {
  for (auto& t : tasks) {
    detail_state(t).await(detail::no_deadline);
  }
  if constexpr (std::is_void_v<T>) {
    for (auto& t : tasks) {
      t.wait();
    }
  } else {
    std::vector<T> out;
    out.reserve(tasks.size());
    for (auto& t : tasks) {
      out.push_back(t.wait());
    }
    return out;
  }
}
// wait_all(tasks, d): false if not every task finished by the deadline d (they keep running
// and can be waited again); true once all are done (then wait() each for its result).
template <class T>
[[nodiscard]] bool wait_all(std::vector<Task<T>>& tasks, Deadline d) {
  for (auto& t : tasks) {
    if (!detail_state(t).await(d.time_point())) {
      return false;
    }
  }
  return true;
}

namespace detail {
template <class T>
using result_or_monostate = std::conditional_t<std::is_void_v<T>, std::monostate, T>;
template <class T>
result_or_monostate<T> wait_or_monostate(Task<T>& t) {
  if constexpr (std::is_void_v<T>) {
    t.wait();
    return {};
  } else {
    return t.wait();
  }
}
}  // namespace detail

// wait_all(t1, t2, ...): a tuple of the results (std::monostate for a Task<void>).
template <class... T>
requires(sizeof...(T) > 0) auto wait_all(Task<T>&... tasks) {
  (detail_state(tasks).await(detail::no_deadline), ...);
  return std::tuple<detail::result_or_monostate<T>...>{detail::wait_or_monostate(tasks)...};
}

// in_task: true when called from inside a gofer task.
inline bool in_task() noexcept {
  return detail::current_control() != nullptr;
}

}  // namespace gofer
