// task_state.hpp: the shared state behind a Task<T> (not API).
//
// A TaskState is reference counted: one reference for the running fiber, one per Task handle.
// It is created by go() on the spawning thread, and from then on:
//   - run(), finish() and the scheduler's live-task accounting happen on the home thread;
//   - done(), await(), enqueue_waiter()/dequeue_waiter() and request_stop may run anywhere.
// finish() publishes the result under lock_ and completes every waiter (waiter.hpp protocol);
// the result is read only after done() was observed (acquire), so it needs no lock.
// When the last reference goes and the task ended with an exception nobody took (wait()), the
// destructor prints it to stderr with the task's id and name: an error is never silently lost.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <source_location>
#include <string>
#include <utility>

#include <gofer/detail/waiter.hpp>

namespace gofer {

// TaskOptions: per-task settings for go(opts, f, args...).
struct TaskOptions {
  std::string name;            // shown in error reports and task dumps (debug.hpp)
  std::size_t stack_size = 0;  // usable stack bytes; 0 = the process default (stack.hpp)
  // where: the creation site shown in task dumps; defaults to where the TaskOptions object
  // is made, e.g. go(TaskOptions{.name = "w"}, f) records the line of that call.
  std::source_location where = std::source_location::current();
};

namespace detail {

// new_task_id: a process-unique task id, increasing on each thread (threads take ids in
// blocks; tasks, blocking jobs and thread records share them).
std::uint64_t new_task_id() noexcept;

class TaskStateBase {
 public:
  // The id is given here, on the creating thread, so a Task handle knows it at once (a
  // Runtime task is launched later, on its home thread).
  TaskStateBase() noexcept { control.id = new_task_id(); }
  TaskStateBase(const TaskStateBase&) = delete;
  TaskStateBase& operator=(const TaskStateBase&) = delete;

  // operator new / delete: task states come from a per-thread cache of small blocks (task.cpp):
  // spawning in waves would otherwise miss malloc's 7-entry thread cache on most calls.
  static void* operator new(std::size_t size);
  static void operator delete(void* p, std::size_t size) noexcept;

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      delete this;
    }
  }

  bool done() const noexcept { return done_.load(std::memory_order_acquire); }
  // await: parks until done or the deadline; false on timeout; throws gofer::cancelled
  // (unless `cancellable` is false: then request_stop does not end the wait).
  bool await(clock::time_point deadline, bool cancellable = true) {
    return done() || await_slow(deadline, cancellable);
  }
  // enqueue_waiter: links n unless the task is done (then returns false).
  bool enqueue_waiter(WaitNode& n);
  void dequeue_waiter(WaitNode& n) noexcept;
  // take_error: marks the outcome observed and rethrows the task's exception, if any.
  void take_error() {
    observed_ = true;
    if (error_ != nullptr) {
      rethrow_error();
    }
  }
  // check_not_waited / mark_waited: throw std::logic_error when wait() already took the result.
  void check_not_waited() const {
    if (waited_.load(std::memory_order_relaxed)) {
      throw_waited_twice();
    }
  }
  void mark_waited() {
    if (waited_.exchange(true, std::memory_order_relaxed)) {
      throw_waited_twice();
    }
  }

  // run: the task body (home thread). finish: publishes the outcome and wakes waiters.
  virtual void run() = 0;
  void finish(std::exception_ptr error) noexcept;

  TaskControl control;

 protected:
  virtual ~TaskStateBase();

 private:
  bool await_slow(clock::time_point deadline, bool cancellable);
  [[noreturn]] void rethrow_error();
  [[noreturn]] static void throw_waited_twice();

  std::atomic<int> refs_{1};
  std::atomic<bool> done_{false};
  std::atomic<bool> waited_{false};
  SpinLock lock_;
  WaitQueue waiters_;
  std::exception_ptr error_;
  bool observed_ = false;
};

// launch: starts st's fiber on this thread's scheduler (adds the fiber's reference); `where`
// is the creation site (file_name() empty or nullptr when unknown).
void launch(TaskStateBase* st, const TaskOptions& opts, const std::source_location& where);

template <class T>
class TaskState : public TaskStateBase {
 public:
  std::optional<T> value;
};
template <>
class TaskState<void> : public TaskStateBase {};

// TaskImpl: a TaskState that also holds the callable (one allocation per task).
template <class T, class Fn>
class TaskImpl final : public TaskState<T> {
 public:
  explicit TaskImpl(Fn&& fn) : fn_(std::move(fn)) {}
  void run() override {
    struct Reset {
      std::optional<Fn>& fn;
      ~Reset() { fn.reset(); }  // captured state dies when the body ends, not with the handle
    } reset{fn_};
    if constexpr (std::is_void_v<T>) {
      (*fn_)();
    } else {
      this->value.emplace((*fn_)());
    }
  }

 private:
  std::optional<Fn> fn_;
};

}  // namespace detail
}  // namespace gofer
