// task_group.hpp: a scope of tasks that fail and stop together (Go's errgroup, structured).
//
//   gofer::TaskGroup group;
//   for (const auto& url : urls) {
//     group.go([&, url] { pages.send(fetch(url)); });   // a throw stops the other fetches
//   }
//   group.wait();   // joins them all; rethrows the first exception
//
// TaskGroup::go(f, args...) spawns f(args...) as a member of the group on the calling thread;
// go(rt, f, ...) and go_on(rt, i, f, ...) spawn one on a Runtime's threads. Members return
// nothing to anyone (a value f returns is dropped; collect results through captures or a
// channel, as with errgroup). wait() joins every member and rethrows the first exception one
// of them ended with; the others are dropped, as errgroup drops them. The first member that
// throws requests stop of the group, so its siblings' blocking gofer calls (channel, select,
// sleep, task waits, sockets, files) throw gofer::cancelled; a member ended that way is not an
// error. A member that never blocks sees the stop in this_task::stop_requested(), its
// stop_token(), and at yield() (this_task.hpp).
//
// Membership flows. A task spawned with plain gofer::go from inside a member belongs to the
// same group: wait() joins it too and a stop reaches it; its exception stays with its Task
// (wait() it; the group does not take it). A task spawned elsewhere explicitly (another
// group's go, a Runtime's go) does not. A TaskGroup created inside a task is stopped when that
// task is stopped, in particular when the task is a member of another group that stops: a
// stop flows down through any number of nested groups.
//
// Lifetime. The destructor requests stop and then joins every member, so a member never
// outlives its group (nor the locals its lambdas capture by reference). So the destructor may
// block (it parks a task; on a plain thread it runs the thread's loop) until every member has
// reached a blocking call, or its end. If a member failed and no wait() reported it, the
// destructor prints the exception to stderr: an error is never silently lost. A group may be
// reused after wait(), but once stopped (by request_stop or a failure) it stays stopped: a
// member started later starts stopped, as a Go context once cancelled.
//
// Thread-safety: every member function may be called from any thread or task, concurrently
// (wait() by several waiters too), except the destructor. Blocking: wait() parks the calling
// task (a plain thread runs its loop, as Task::wait does); go() never blocks.
// Cost: a member costs its task (one allocation and a pooled stack), nothing more.
#pragma once

#include <atomic>
#include <cstddef>
#include <optional>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>

#include <gofer/deadline.hpp>
#include <gofer/detail/group_state.hpp>
#include <gofer/runtime.hpp>
#include <gofer/task.hpp>

namespace gofer {

namespace detail {
// group_callable: what TaskGroup::go takes as f (not TaskOptions, not a Runtime).
template <class F>
concept group_callable = not_options<F> && !std::is_same_v<std::remove_cvref_t<F>, Runtime>;

// make_member_state: the state of a group member running f(args...), its result dropped.
template <class F, class... A>
TaskState<void>* make_member_state(F&& f, A&&... args) {
  static_assert(std::is_invocable_v<std::decay_t<F>, std::decay_t<A>...>,
                "TaskGroup::go: f cannot be called with these arguments");
  auto body = [fn = std::forward<F>(f), tup = std::make_tuple(std::forward<A>(args)...)]() mutable {
    static_cast<void>(std::apply(std::move(fn), std::move(tup)));
  };
  return new TaskImpl<void, decltype(body)>(std::move(body));
}
}  // namespace detail

class TaskGroup {
 public:
  // TaskGroup: an empty group. Created inside a task, it is stopped when that task is.
  TaskGroup();
  // ~TaskGroup: request_stop(), then joins every member (may block; see the header comment).
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  // go: spawns f(args...) as a member on the calling thread's scheduler (as gofer::go: the
  // arguments are decayed and moved into the task; the call's site is recorded for up to three
  // arguments). go(opts, f, args...) names it or sizes its stack.
  template <detail::group_callable F>
  void go(F&& f, detail::site where = detail::site::current()) {
    spawn_here(with_site(where), std::forward<F>(f));
  }
  template <detail::group_callable F, class A1>
  void go(F&& f, A1&& a1, detail::site where = detail::site::current()) {
    spawn_here(with_site(where), std::forward<F>(f), std::forward<A1>(a1));
  }
  template <detail::group_callable F, class A1, class A2>
  void go(F&& f, A1&& a1, A2&& a2, detail::site where = detail::site::current()) {
    spawn_here(with_site(where), std::forward<F>(f), std::forward<A1>(a1), std::forward<A2>(a2));
  }
  template <detail::group_callable F, class A1, class A2, class A3>
  void go(F&& f, A1&& a1, A2&& a2, A3&& a3, detail::site where = detail::site::current()) {
    spawn_here(with_site(where), std::forward<F>(f), std::forward<A1>(a1), std::forward<A2>(a2),
               std::forward<A3>(a3));
  }
  template <detail::group_callable F, class... A>
  void go(F&& f, A&&... args) {
    spawn_here(with_site({}), std::forward<F>(f), std::forward<A>(args)...);
  }
  template <class F, class... A>
  void go(TaskOptions opts, F&& f, A&&... args) {
    spawn_here(std::move(opts), std::forward<F>(f), std::forward<A>(args)...);
  }

  // go(rt, f, args...): spawns a member on rt's next thread (round-robin, as Runtime::go).
  // Throws what Runtime::go throws (gofer::cancelled while rt shuts down, std::logic_error
  // after); the member is then not spawned.
  template <detail::not_options F>
  void go(Runtime& rt, F&& f, detail::site where = detail::site::current()) {
    spawn_on(rt, rt.next(), with_site(where), std::forward<F>(f));
  }
  template <detail::not_options F, class A1>
  void go(Runtime& rt, F&& f, A1&& a1, detail::site where = detail::site::current()) {
    spawn_on(rt, rt.next(), with_site(where), std::forward<F>(f), std::forward<A1>(a1));
  }
  template <detail::not_options F, class... A>
  void go(Runtime& rt, F&& f, A&&... args) {
    spawn_on(rt, rt.next(), with_site({}), std::forward<F>(f), std::forward<A>(args)...);
  }
  template <class F, class... A>
  void go(Runtime& rt, TaskOptions opts, F&& f, A&&... args) {
    spawn_on(rt, rt.next(), std::move(opts), std::forward<F>(f), std::forward<A>(args)...);
  }
  // go_on(rt, i, f, args...): spawns a member on rt's thread i (std::out_of_range if there is
  // none, as Runtime::go_on).
  template <detail::not_options F>
  void go_on(Runtime& rt, std::size_t i, F&& f, detail::site where = detail::site::current()) {
    spawn_on(rt, i, with_site(where), std::forward<F>(f));
  }
  template <detail::not_options F, class A1>
  void go_on(Runtime& rt, std::size_t i, F&& f, A1&& a1,
             detail::site where = detail::site::current()) {
    spawn_on(rt, i, with_site(where), std::forward<F>(f), std::forward<A1>(a1));
  }
  template <detail::not_options F, class... A>
  void go_on(Runtime& rt, std::size_t i, F&& f, A&&... args) {
    spawn_on(rt, i, with_site({}), std::forward<F>(f), std::forward<A>(args)...);
  }
  template <class F, class... A>
  void go_on(Runtime& rt, std::size_t i, TaskOptions opts, F&& f, A&&... args) {
    spawn_on(rt, i, std::move(opts), std::forward<F>(f), std::forward<A>(args)...);
  }

  // wait: joins every member (also those they spawned with gofer::go), then rethrows the
  // first exception a member ended with (each later wait() rethrows it again). If the waiting
  // task is stopped meanwhile, the group is stopped, wait() still joins every member, and
  // then throws the first exception or, if none, gofer::cancelled. Throws std::logic_error
  // when called from one of the group's own tasks (it would wait for itself; destroying the
  // group there aborts with a message, for the same reason).
  void wait();
  // wait(d): as wait(), but gives up at the deadline: false, and the members keep running
  // (nothing is stopped). true once every member has ended.
  [[nodiscard]] bool wait(Deadline d);

  // request_stop: asks every member to stop (their blocking gofer calls throw
  // gofer::cancelled), including members started later and groups created inside members.
  // Returns at once; wait() to join them. Idempotent.
  void request_stop() noexcept { state_.request_stop(); }
  // stop_requested: request_stop() was called, a member failed, or the task that created the
  // group was stopped.
  bool stop_requested() const noexcept { return state_.stop_requested(); }

 private:
  // StopGroup: the callback that carries the creating task's stop into the group.
  struct StopGroup {
    detail::GroupState* state;
    void operator()() const noexcept { state->request_stop(); }
  };

  static TaskOptions with_site(const detail::site& where) {
    TaskOptions opts;
    opts.where = where;
    return opts;
  }
  template <class F, class... A>
  void spawn_here(TaskOptions opts, F&& f, A&&... args) {
    auto* st = detail::make_member_state(std::forward<F>(f), std::forward<A>(args)...);
    const Task<void> handle = detail::adopt_task(st);  // freed with the handle if launch fails
    launch_here(*st, opts);
  }
  template <class F, class... A>
  void spawn_on(Runtime& rt, std::size_t i, TaskOptions opts, F&& f, A&&... args) {
    auto* st = detail::make_member_state(std::forward<F>(f), std::forward<A>(args)...);
    const Task<void> handle = detail::adopt_task(st);
    state_.join(st->control, true);
    try {
      rt.post(i, st, std::move(opts));
    } catch (...) {
      state_.leave(st->control);
      throw;
    }
  }
  void launch_here(detail::TaskStateBase& st, const TaskOptions& opts);
  bool join(detail::clock::time_point deadline);

  // state_ is declared first: parent_stop_, whose callback uses it, is destroyed before it.
  detail::GroupState state_;
  std::optional<std::stop_callback<StopGroup>> parent_stop_;
  std::atomic<bool> reported_{false};  // a wait() rethrew the error
};

}  // namespace gofer
