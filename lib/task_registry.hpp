// task_registry.hpp: the live tasks of one scheduler, and every scheduler of the process.
//
// TaskRegistry (one per scheduler, in its Home) lists the TaskControl records of the tasks whose
// home is that scheduler's thread, plus one record for the thread's own context (the "thread
// record", through which a plain thread blocked in a gofer call shows up as a pseudo-task). It also
// publishes which task runs now and how many times the thread resumed a task, for the dumps
// and the stall watchdog. It is the source of gofer::tasks() and dump_tasks() (debug.hpp).
//
// Every registry is linked into one process-wide list (registry_list in task_registry.cpp,
// walked by for_each_registry() and, from outside the process, by the gdb extension
// share/gofer/gdb/gofer.py) from its scheduler's installation to its destruction, and gets
// the next scheduler index (0, 1, ... in order of installation; never reused). The gdb
// extension reads the fields of TaskRegistry, TaskControl and Waiter by name: renaming one
// means changing gofer.py too (tests/gdb checks it).
//
// Invariants:
//   - A record is in exactly one registry from task_started() to task_finished(), both on the
//     home thread under the registry's lock; so a reader that holds the lock (for_each) may
//     read any listed record's fields and take its lock (order: process list -> registry ->
//     record; nothing takes them the other way round).
//   - running() is the task the thread last resumed (nullptr: none or the thread's own
//     context); together with resumes() (and service_waits()) it is written only by the home
//     thread with relaxed stores (no read-modify-write), so publishing costs a store per
//     switch, not a shared atomic operation.
//
// Thread-safety: task_started/task_finished/set_running/enter_service/leave_service on the
// home thread; for_each, live() and the reads of running()/resumes()/service_waits() from any
// thread. Nothing here blocks except on the
// short spin locks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include <gofer/detail/spin_lock.hpp>
#include <gofer/detail/waiter.hpp>

namespace gofer::detail {

class Home;

class TaskRegistry {
 public:
  explicit TaskRegistry(Home& owner);
  ~TaskRegistry();
  TaskRegistry(const TaskRegistry&) = delete;
  TaskRegistry& operator=(const TaskRegistry&) = delete;

  // index: this scheduler's process-wide number; thread_name: its thread's name (set at
  // installation, from pthread_getname_np), e.g. "gofer-rt-1" or the program's name.
  int index() const noexcept { return index_; }
  const std::string& thread_name() const noexcept { return thread_name_; }
  long thread_id() const noexcept { return tid_; }  // the kernel's thread id
  Home& owner() const noexcept { return owner_; }

  void task_started(TaskControl& tc) noexcept {
    std::lock_guard guard(lock_);
    tc.live_next = nullptr;
    tc.live_prev = tail_;
    (tail_ != nullptr ? tail_->live_next : head_) = &tc;
    tail_ = &tc;
    live_.store(live_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void task_finished(TaskControl& tc) noexcept {
    std::lock_guard guard(lock_);
    (tc.live_prev != nullptr ? tc.live_prev->live_next : head_) = tc.live_next;
    (tc.live_next != nullptr ? tc.live_next->live_prev : tail_) = tc.live_prev;
    tc.live_prev = tc.live_next = nullptr;
    live_.store(live_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    if (running_.load(std::memory_order_relaxed) == &tc) {
      running_.store(nullptr, std::memory_order_relaxed);
    }
  }
  // live: the number of live tasks (exact on the home thread, a snapshot elsewhere).
  std::size_t live() const noexcept { return live_.load(std::memory_order_relaxed); }

  TaskControl& thread_record() noexcept { return thread_record_; }

  void set_running(TaskControl* tc) noexcept {
    running_.store(tc, std::memory_order_relaxed);
    resumes_.store(resumes_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  TaskControl* running() const noexcept { return running_.load(std::memory_order_relaxed); }
  std::uint64_t resumes() const noexcept { return resumes_.load(std::memory_order_relaxed); }

  // enter_service / leave_service (home thread; see ServiceScope): bracket a loop in which one
  // context of this thread waits for work (a Runtime worker's inbox, a ThreadServer's
  // dispatcher). service_waits() is how many such loops are open; while the thread is asleep,
  // that many of its parked contexts are idle service, not stuck (the deadlock watchdog).
  void enter_service() noexcept { add_service(1); }
  void leave_service() noexcept { add_service(-1); }
  int service_waits() const noexcept { return service_.load(std::memory_order_relaxed); }

  // for_each: f(TaskControl&) for every live task, with the registry locked (f must not block
  // or re-enter the registry; it may lock the record).
  template <class F>
  void for_each(F&& f) const {
    std::lock_guard guard(lock_);
    for (TaskControl* tc = head_; tc != nullptr; tc = tc->live_next) {
      f(*tc);
    }
  }

  // The process-wide list (each registry once, in installation order).
  TaskRegistry* next_registry = nullptr;

 private:
  Home& owner_;
  int index_;
  long tid_;
  std::string thread_name_;
  mutable SpinLock lock_;
  TaskControl* head_ = nullptr;
  TaskControl* tail_ = nullptr;
  std::atomic<std::size_t> live_{0};
  TaskControl thread_record_;
  void add_service(int delta) noexcept {
    service_.store(service_.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  }

  alignas(cache_line) std::atomic<TaskControl*> running_{nullptr};
  std::atomic<std::uint64_t> resumes_{0};
  std::atomic<int> service_{0};
};

// ServiceScope: enter_service() for its lifetime (on the registry's home thread).
class ServiceScope {
 public:
  explicit ServiceScope(TaskRegistry& r) noexcept : r_(r) { r_.enter_service(); }
  ~ServiceScope() { r_.leave_service(); }
  ServiceScope(const ServiceScope&) = delete;
  ServiceScope& operator=(const ServiceScope&) = delete;

 private:
  TaskRegistry& r_;
};

// for_each_registry: f(TaskRegistry&) for every installed scheduler, in index order, with the
// process-wide list locked (so none is destroyed meanwhile).
void for_each_registry_impl(void (*f)(TaskRegistry&, void*), void* arg);
template <class F>
void for_each_registry(F&& f) {
  for_each_registry_impl([](TaskRegistry& r, void* p) { (*static_cast<F*>(p))(r); }, &f);
}

}  // namespace gofer::detail
