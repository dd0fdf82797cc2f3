// task_registry.hpp: the live tasks of one scheduler, and every scheduler of the process.
//
// TaskRegistry (one per scheduler, in its Home) lists the TaskControl records of the tasks whose
// home is that scheduler's thread, plus one record for the thread's own context (the "thread
// record", through which a plain thread blocked in a gofer call shows up as a pseudo-task). It also
// publishes which task runs now and how many context switches the thread made, for the dumps
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
//     home thread; the list is in start order. Only the home thread changes the list. It
//     unlinks under the registry's lock, so a reader that holds the lock (for_each) may read
//     any listed record's fields and take its lock (order: process list -> registry ->
//     record; nothing takes them the other way round).
//   - Appending takes no lock (a spawn pays no atomic read-modify-write for the list). Why a
//     reader holding the lock still sees a consistent list: the home thread is the only writer,
//     and the lock keeps it from unlinking while the reader walks, so the only concurrent
//     change is an append. It initializes the new record (live_next = nullptr, every field a
//     reader uses) and then publishes it with one release store into the last record's
//     live_next (or head_ when the list is empty); the reader loads head_ and live_next with
//     acquire, so it either stops at the old end or sees the new record whole. live_prev and
//     tail_ are read by the home thread only.
//   - running() is the task the thread runs now (nullptr: none, or the thread's own context).
//     It is read from the thread-local this_thread_running that set_current_control()
//     (waiter.hpp) stores on every switch anyway, through a pointer taken at construction: a
//     switch publishes it at no extra cost. The thread's thread-locals outlive its registry.
//   - switches() moves whenever a context of the thread gives up the CPU: it is the sum of
//     tasks started and finished here and of waits that suspended and yields (counted by the
//     home thread, SchedCounters), so no switch pays a store for it. A scheduler whose
//     switches() stays put while it is busy is running one task all that time (stall.hpp).
//   - started/finished and service_waits() are written only by the home thread with relaxed
//     stores (no read-modify-write).
//
// Thread-safety: task_started/task_finished/enter_service/leave_service on the home thread;
// for_each, live(), running(), switches() and service_waits() from any thread. Nothing here
// blocks except on the short spin locks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include <gofer/detail/spin_lock.hpp>
#include <gofer/detail/waiter.hpp>

#include "sched_stats.hpp"

namespace gofer::detail {

class Home;

// this_thread_running: the TaskControl of the task running on this thread (nullptr in plain
// code); written by set_current_control() (waiter.cpp), read by other threads through
// TaskRegistry::running().
extern constinit thread_local std::atomic<TaskControl*> this_thread_running;

class TaskRegistry {
 public:
  // TaskRegistry: on its home thread; `counters` are its Home's (read by switches()).
  TaskRegistry(Home& owner, const SchedCounters& counters);
  ~TaskRegistry();
  TaskRegistry(const TaskRegistry&) = delete;
  TaskRegistry& operator=(const TaskRegistry&) = delete;

  // index: this scheduler's process-wide number; thread_name: its thread's name (set at
  // installation, from pthread_getname_np), e.g. "gofer-rt-1" or the program's name.
  int index() const noexcept { return index_; }
  const std::string& thread_name() const noexcept { return thread_name_; }
  long thread_id() const noexcept { return tid_; }  // the kernel's thread id
  Home& owner() const noexcept { return owner_; }

  // task_started / task_finished: list and unlist tc (home thread; see the invariants).
  void task_started(TaskControl& tc) noexcept {
    TaskControl* const last = tail_;
    tc.live_prev = last;
    tc.live_next.store(nullptr, std::memory_order_relaxed);
    (last != nullptr ? last->live_next : head_).store(&tc, std::memory_order_release);
    tail_ = &tc;
    started_.bump();
  }
  // task_finished returns the number of tasks still live.
  std::uint64_t task_finished(TaskControl& tc) noexcept {
    {
      std::lock_guard guard(lock_);
      TaskControl* const next = tc.live_next.load(std::memory_order_relaxed);
      (tc.live_prev != nullptr ? tc.live_prev->live_next : head_)
          .store(next, std::memory_order_relaxed);
      (next != nullptr ? next->live_prev : tail_) = tc.live_prev;
    }
    return started_.get() - finished_.bump();
  }
  // live: the number of live tasks (exact on the home thread, a snapshot elsewhere).
  std::size_t live() const noexcept {
    const std::uint64_t finished = finished_.get();
    const std::uint64_t started = started_.get();
    return started > finished ? started - finished : 0;
  }
  // started: the tasks started on this thread so far (SchedulerStats::tasks_spawned).
  std::uint64_t started() const noexcept { return started_.get(); }

  TaskControl& thread_record() noexcept { return thread_record_; }

  TaskControl* running() const noexcept { return running_->load(std::memory_order_relaxed); }
  // switches: see the invariants (SchedulerStats::context_switches).
  std::uint64_t switches() const noexcept {
    return started_.get() + finished_.get() + counters_.parks.get() + counters_.yields.get();
  }

  // enter_service / leave_service (home thread; see ServiceScope): bracket a loop in which one
  // context of this thread waits for work (a Runtime worker's inbox, a ThreadServer's
  // dispatcher). service_waits() is how many such loops are open; while the thread is asleep,
  // that many of its parked contexts are idle service, not stuck (the deadlock watchdog).
  void enter_service() noexcept { add_service(1); }
  void leave_service() noexcept { add_service(-1); }
  int service_waits() const noexcept { return service_.load(std::memory_order_relaxed); }

  // for_each: f(TaskControl&) for every live task, in start order, with the registry locked
  // (f must not block or re-enter the registry; it may lock the record).
  template <class F>
  void for_each(F&& f) const {
    std::lock_guard guard(lock_);
    for (TaskControl* tc = head_.load(std::memory_order_acquire); tc != nullptr;
         tc = tc->live_next.load(std::memory_order_acquire)) {
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
  const SchedCounters& counters_;
  mutable SpinLock lock_;                    // held to unlink and to walk the list
  std::atomic<TaskControl*> head_{nullptr};  // the first live task (then live_next)
  TaskControl* tail_ = nullptr;              // the last one (home thread only)
  TaskControl thread_record_;
  void add_service(int delta) noexcept {
    service_.store(service_.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  }

  const std::atomic<TaskControl*>* running_;  // the home thread's this_thread_running
  Counter started_;
  Counter finished_;
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
