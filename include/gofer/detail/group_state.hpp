// group_state.hpp: the shared state behind a TaskGroup (not API; task_group.hpp).
//
// A group's members are the TaskControls of its tasks, linked into an intrusive list (no
// allocation per member): join() links a task before it can run, leave() unlinks it from
// TaskStateBase::finish(), after the task's outcome is published. A member is a task started
// by TaskGroup::go / go_on (it owns no Task handle: its exception goes to the group), or one
// started by plain gofer::go from inside a member (it keeps its Task handle and its exception).
//
// Invariants:
//   (1) live_ is the number of linked members; waiters_ is non-empty only while live_ > 0 (the
//       leave() that brings live_ to 0 completes every waiter).
//   (2) stopped_ never goes back to false; every member linked after it was set is stopped in
//       join(), before it runs, so no member of a stopped group misses the stop.
//   (3) error_ is the first error a group-owned member ended with (gofer::cancelled in a
//       stopped member is no error); it is set once.
//   (4) A linked member's TaskControl is alive: its task state holds a reference (the fiber's,
//       or a Runtime launch request's) until after leave(). So the stop walk may touch every
//       linked member under lock_.
//   (5) Once live_ is 0 and stopping_ is 0, nothing but the owner touches the state: leave()
//       touches nothing after it releases lock_ (WakeList), and request_stop() counts itself in
//       stopping_ while it may still take lock_, and touches nothing after it leaves.
//
// Lock order: lock_ -> a member's TaskControl::lock. A std::stop_callback never runs under
// lock_ (StopBatch, waiter.hpp).
//
// Thread-safety: every member function may be called from any thread and any task. await()
// parks (a task parks; a plain thread runs its loop); the rest never blocks except on the
// short spin locks (the stop walk holds lock_ for one step per member).
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>

#include <gofer/detail/spin_lock.hpp>
#include <gofer/detail/waiter.hpp>

namespace gofer::detail {

class GroupState {
 public:
  GroupState() = default;
  GroupState(const GroupState&) = delete;
  GroupState& operator=(const GroupState&) = delete;

  // join: links tc (whose task has not run yet) as a member; owns_error: a TaskGroup::go
  // child, whose exception goes to the group. A stopped group stops it at once (2).
  void join(TaskControl& tc, bool owns_error) noexcept;
  // leave: unlinks a member; the last one out completes the waiters. tc is not touched again.
  void leave(TaskControl& tc) noexcept;
  // child_failed: a group-owned member ended with `error`; the first error (3) is kept and
  // stops the group; the others, and a stopped member's gofer::cancelled, are dropped.
  // Called by the member itself, while still linked.
  void child_failed(TaskControl& tc, std::exception_ptr error) noexcept;

  // request_stop: stops every member (set_stop under lock_, then their std::stop_sources with
  // no lock held) and every member linked later. Idempotent; the first call does the work.
  void request_stop() noexcept;
  bool stop_requested() const noexcept { return stopped_.load(std::memory_order_acquire); }

  // await: parks until no member is left (true) or the deadline passes (false); throws
  // gofer::cancelled if the caller is stopped, unless `cancellable` is false.
  bool await(clock::time_point deadline, bool cancellable);
  // await_stoppers: returns once no request_stop() is still running (5); the owner calls it
  // before the state dies.
  void await_stoppers() const noexcept;
  // error: the first error (3), or nullptr; read after await() returned true.
  std::exception_ptr error() const;

 private:
  mutable SpinLock lock_;
  std::atomic<bool> stopped_{false};
  std::atomic<int> stopping_{0};
  std::size_t live_ = 0;
  TaskControl* head_ = nullptr;
  WaitQueue waiters_;
  std::exception_ptr error_;
};

}  // namespace gofer::detail
