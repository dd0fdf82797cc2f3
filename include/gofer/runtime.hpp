// runtime.hpp: a pool of scheduler threads.
//
//   gofer::Runtime rt(2);                          // two scheduler threads
//   auto t = rt.go([] { return 42; });             // placed round-robin
//   auto u = rt.go_on(1, [] { ... });              // on thread 1
//   int v = t.wait();                              // from any thread or task
//
// Each Runtime thread runs its own scheduler (loop, eventfd wake pipe, epoll poller); a task
// stays on the thread it was placed on. go()/go_on() may be called from any thread or task:
// the task's state is created by the caller (so the Task handle exists at once) and a launch
// request travels to the target thread through that thread's unbounded inbox channel.
//
// Shutdown. shutdown(shutdown_mode::wait) stops accepting new tasks and waits until every task
// on every thread has finished, including tasks those tasks spawn: the explicit way to drain.
// shutdown(shutdown_mode::stop_tasks) (what the destructor does, as std::jthread requests stop
// and joins) first request_stop()s every live task, so tasks blocked in gofer calls end with
// gofer::cancelled, and keeps stopping tasks spawned meanwhile. Either way the threads are
// joined. If tasks are still running after 5 seconds, each thread prints to stderr how many
// it is waiting for and, for each (at most 20), its id, name and what it is blocked in (then
// every 5 seconds): shutdown never hangs silently. request_stop() is the first half of
// shutdown(stop_tasks) alone: it stops every live task (and every task started later) without
// joining, for a signal handler or a watchdog to call (gofer::stop_on_signal, signal.hpp). A task
// that calls go() while the Runtime shuts down gets gofer::cancelled; go() after shutdown returned
// throws std::logic_error.
//
// Thread-safety: all members may be called from any thread, except that shutdown() and the
// destructor must not run on one of the Runtime's own threads (std::logic_error).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <gofer/chan.hpp>
#include <gofer/task.hpp>

namespace gofer {

namespace detail {
class Scheduler;
}  // namespace detail

enum class shutdown_mode { wait, stop_tasks };

class TaskGroup;

class Runtime {
 public:
  // Runtime: starts `threads` scheduler threads (>= 1, else std::invalid_argument);
  // the default is one per hardware thread. Returns once every thread's scheduler is up; if
  // one cannot start (the OS refuses a thread), the others are stopped and joined and a
  // std::system_error names the thread and the reason. Starting opens no fd: a thread's
  // epoll instance and wake pipe are made when one of its tasks first waits for an fd.
  explicit Runtime(std::size_t threads = default_threads());
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // size: the number of scheduler threads.
  std::size_t size() const noexcept { return threads_.size(); }

  // go: spawns f(args...) on the next thread in round-robin order. As with gofer::go, the
  // call's source location is the task's creation site for up to two arguments (debug.hpp).
  template <detail::not_options F>
  auto go(F&& f, detail::site where = detail::site::current()) {
    return go_on(next(), with_site(where), std::forward<F>(f));
  }
  template <detail::not_options F, class A1>
  auto go(F&& f, A1&& a1, detail::site where = detail::site::current()) {
    return go_on(next(), with_site(where), std::forward<F>(f), std::forward<A1>(a1));
  }
  template <detail::not_options F, class A1, class A2>
  auto go(F&& f, A1&& a1, A2&& a2, detail::site where = detail::site::current()) {
    return go_on(next(), with_site(where), std::forward<F>(f), std::forward<A1>(a1),
                 std::forward<A2>(a2));
  }
  template <detail::not_options F, class... A>
  auto go(F&& f, A&&... args) {
    return go_on(next(), with_site({}), std::forward<F>(f), std::forward<A>(args)...);
  }
  // go(opts, f, args...): with a name or stack size; the site is opts.where.
  template <class F, class... A>
  auto go(TaskOptions opts, F&& f, A&&... args) {
    return go_on(next(), std::move(opts), std::forward<F>(f), std::forward<A>(args)...);
  }
  // go_on: spawns f(args...) on thread i (< size(), else std::out_of_range).
  template <detail::not_options F>
  auto go_on(std::size_t i, F&& f, detail::site where = detail::site::current()) {
    return go_on(i, with_site(where), std::forward<F>(f));
  }
  template <detail::not_options F, class A1>
  auto go_on(std::size_t i, F&& f, A1&& a1, detail::site where = detail::site::current()) {
    return go_on(i, with_site(where), std::forward<F>(f), std::forward<A1>(a1));
  }
  template <detail::not_options F, class... A>
  auto go_on(std::size_t i, F&& f, A&&... args) {
    return go_on(i, with_site({}), std::forward<F>(f), std::forward<A>(args)...);
  }
  // go_on(i, opts, f, args...): with a name or stack size; the site is opts.where.
  template <class F, class... A>
  auto go_on(std::size_t i, TaskOptions opts, F&& f, A&&... args) {
    auto* st = detail::make_task_state(std::forward<F>(f), std::forward<A>(args)...);
    auto task = detail::adopt_task(st);
    post(i, st, std::move(opts));
    return task;
  }

  // request_stop: request_stop() on every live task of every thread, as shutdown(stop_tasks)
  // does first, without joining; tasks that start afterwards are stopped as they start, and a
  // later shutdown() (or the destructor) stops tasks rather than draining them. Idempotent;
  // any thread or task, even one of the Runtime's own; never blocks (short locks only).
  void request_stop() noexcept;

  // shutdown: see the header comment. Idempotent.
  void shutdown(shutdown_mode mode = shutdown_mode::wait);

  static std::size_t default_threads() noexcept;

 private:
  friend class TaskGroup;  // spawns group members through next() and post()

  struct Launch {
    detail::TaskStateBase* st;
    TaskOptions opts;
  };
  struct Worker {
    Chan<std::unique_ptr<Launch>> inbox = Chan<std::unique_ptr<Launch>>::unbounded();
    std::thread thread;
    detail::Scheduler* sched = nullptr;  // guarded by scheds_mu_: set while the thread runs
  };

  std::size_t next() noexcept { return next_.fetch_add(1, std::memory_order_relaxed) % size(); }
  static TaskOptions with_site(const detail::site& where) {
    TaskOptions opts;
    opts.where = where;
    return opts;
  }
  void post(std::size_t i, detail::TaskStateBase* st, TaskOptions opts);
  static void run_worker(Worker& w, std::size_t index, const std::atomic<bool>& stop);

  std::vector<std::unique_ptr<Worker>> threads_;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> shut_{false};
  std::atomic<bool> joined_{false};  // shutdown has joined every thread
  std::mutex scheds_mu_;
};

}  // namespace gofer
