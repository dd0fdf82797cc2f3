// waiter.hpp: the one parking mechanism of gofer (Go's sudog).
//
// Every blocking gofer call (channel send/recv, select, task wait, sleep, fd readiness) parks
// the calling task, or the plain thread's main context, through a Waiter:
//
//   1. The caller builds a Waiter (it captures the running Boost.Fiber context and a fresh
//      waker epoch) and links one WaitNode per event source into that source's WaitQueue,
//      under the source's SpinLock.
//   2. park() registers the Waiter for cancellation, runs the caller's unlock (releasing every
//      source lock), and suspends, with the deadline in Boost's sleep queue if there is one.
//   3. Whoever completes the wait (a channel peer, close, a finishing task, the poller,
//      request_stop, or the waiter itself on timeout) must first win Waiter::try_claim(), a
//      single CAS pending -> claimed. Exactly one party wins. The winner writes the outcome
//      (and, for channels, moves the value into or out of the node's slot) and calls
//      complete(), which publishes state = done (release) and wakes the context.
//      A loser does nothing to the Waiter except, if it holds a source lock, unlink the node.
//
// Invariants and why they hold:
//   - A Waiter outlives every access to it. Nodes are unlinked only under their queue's lock,
//     and park() returns only after state == done; the caller then relocks each source still
//     holding a linked node and unlinks it before the Waiter (a stack object) dies.
//     request_stop reaches a Waiter only through TaskControl::parked, cleared under
//     TaskControl::lock before park() returns.
//   - Untimed wait (the hot path): the winner stores done *before* it wakes, using a copy of
//     the waker, and touches nothing of the Waiter afterwards. The waiter can only be resumed
//     by that wake, so it finds done at once and never spins on a claimer that the kernel
//     preempted; the waker's context is alive until the wake has linked it, because the
//     fiber cannot run (let alone end) before that.
//   - Timed wait: the timer may resume the waiter while a winner is still inside wake(), and
//     a fiber that then ran to its end would free the context that wake() touches. So here
//     the winner wakes first and stores done last, and the waiter waits for done (spinning,
//     then yielding its thread). This wait is short and happens only on timed operations.
//   - A wake can never be lost or doubled. An untimed wait has one waker, the claimer: from
//     another thread it posts the Waiter to the home scheduler's inbox (Scheduler::
//     post_remote), whose dispatcher schedules the context; on the same thread it calls
//     Boost's wake(). For a timed wait, Boost's waker epoch makes wake() one-shot, and the
//     same epoch is given to the sleep queue, so the timer and the claimer cannot both resume
//     the context. A timer wake that races a claim is resolved by try_claim(): if the claimer
//     won, the waiter sees claimed/done and reports the claimer's outcome, not a timeout.
//   - Waking before the waiter has suspended is safe. A wake from another thread only links
//     the context into its home scheduler's inbox or remote-ready queue, which that scheduler
//     drains in its dispatcher, i.e. after the waiter has switched out. A wake from the same thread
//     cannot happen in that window (scheduling is cooperative).
//   - The waiter's thread cannot exit (destroying its scheduler) while a winner on another
//     thread is still inside a wake, which touches that scheduler after linking the context:
//     complete() counts itself in the home scheduler's remote-waker count before it wakes, and
//     a thread's exit waits for that count to drop to zero. The home scheduler is alive when
//     complete() starts because something of that thread (the waiter) is still parked.
//   - No SpinLock is held across a context switch, and nothing that can throw runs under one:
//     a blocking call installs its thread's scheduler (which allocates) before it locks
//     (lock_for_wait), and a Waiter's constructor cannot fail.
//   - Once a wait returns, its waker no longer touches the source object: the waker claims
//     under the source's lock and completes only after releasing it (WakeList), and complete()
//     touches the Waiter and its home scheduler, never the source.
//
// Thread-safety: try_claim/complete may run on any thread; everything else on the waiter's
// own thread. park() blocks (suspends the task; on a plain thread, the thread's loop runs
// other tasks or sleeps in the poller).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>

#include <boost/context/stack_context.hpp>
#include <boost/fiber/context.hpp>

#include <gofer/deadline.hpp>
#include <gofer/detail/spin_lock.hpp>

namespace gofer::detail {

// wake_reason: why a parked Waiter was completed.
enum class wake_reason : std::uint8_t { fired, closed, timeout, cancelled };

class Home;
class GroupState;

// ensure_scheduler: installs gofer's scheduler on the calling thread if it has none. Call it
// before taking any lock on a path that may park: installing may throw (std::bad_alloc), and
// nothing that can throw runs while a gofer lock is held. Only a thread that parks installs a
// scheduler: waking a task never does (complete() runs on pool threads and plain threads too).
void ensure_scheduler();
// can_park: whether this thread's scheduler is installed, so a Waiter can be built.
bool can_park() noexcept;

// lock_for_wait: the entry of a blocking call. Takes `lock` and calls try_now() (noexcept)
// under it: when that returns true (no wait needed), releases the lock and returns true.
// Otherwise returns false with the lock held and the thread able to park. A thread whose
// scheduler is not installed yet installs it with the lock released and tries again, so a
// call that never has to wait installs nothing and nothing that can throw runs under the lock.
// (Channels keep the same rule in ChanState's send_parked/recv_parked.)
template <class TryNow>
bool lock_for_wait(SpinLock& lock, TryNow try_now) {
  for (;;) {
    lock.lock();
    if (try_now()) {
      lock.unlock();
      return true;
    }
    if (can_park()) {
      return false;
    }
    lock.unlock();
    ensure_scheduler();
  }
}

// WaitInfo: what a parked task (or plain thread) waits for, for task dumps (debug.hpp). The
// blocking call fills it before park(): a few stores, no lock, no allocation. A dump reads it
// on any thread while it holds the record's lock with the record's `parked` pointing at the
// Waiter (so park() has not returned and everything the info points to is alive) and formats
// it with `describe` (nullptr: `what` alone, or "a gofer call" when that is nullptr too; both
// default to nullptr so that a Waiter zero-fills them). What it points to must not change
// while parked.
// The fields after `what` are left uninitialized in a Waiter (a park costs no stores for
// them): a describe function reads only the fields its blocking call sets.
struct WaitInfo {
  void (*describe)(const WaitInfo& info, std::string& out) = nullptr;
  const char* what = nullptr;  // static text: "Mutex::lock", "sleep", an fd operation
  const void* subject;         // the call's own data (select arms, an fd's peer or path)
  std::uint64_t id;            // channel id, task id, fd
  std::uint64_t a;             // kind-specific (channel capacity, select case count)
  std::uint64_t b;             // kind-specific (buffered count, deadline)
};

// TaskControl: the record of one task (lives in its task state) or of a thread's own context
// (its scheduler's thread record): identity, cancellation, the current wait, the links of
// its home scheduler's task registry (task_registry.hpp) and of its TaskGroup (group_state.hpp).
struct TaskControl {
  SpinLock lock;
  // stop_requested: written under lock (it never goes back to false); read without it by the
  // task's cancellation points (yield, this_task::stop_requested).
  std::atomic<bool> stop_requested{false};
  struct Waiter* parked = nullptr;  // guarded by lock: the Waiter the task is parked on
  // stop_source: empty until the task's first this_task::stop_token() (no allocation per
  // task); guarded by lock. request_stop requests a copy of it after releasing the lock, so
  // std::stop_callbacks never run under a gofer lock.
  std::stop_source stop_source{std::nostopstate};
  // group: the TaskGroup this task belongs to, set before it runs and constant afterwards;
  // group_prev/group_next link it into that group's members (guarded by the group's lock).
  GroupState* group = nullptr;
  TaskControl* group_prev = nullptr;
  TaskControl* group_next = nullptr;
  bool group_owns_error = false;  // a TaskGroup::go child: its exception goes to the group
  std::uint64_t id = 0;
  std::string name;
  const char* created_file = nullptr;  // where go() was called (a static string), or nullptr
  std::uint32_t created_line = 0;
  bool blocking_job = false;              // a spawn_blocking job (no fiber; not listed)
  std::atomic<bool> finished{false};      // the body has returned (or thrown)
  boost::context::stack_context stack{};  // the task's stack, for overflow reports
  // fiber: the task's own context, cached by its first Waiter (home thread only).
  boost::fibers::context* fiber = nullptr;
  // The home scheduler's list of live tasks; live_next is read by other threads
  // (task_registry.hpp).
  TaskControl* live_prev = nullptr;
  std::atomic<TaskControl*> live_next{nullptr};
};

// current_control: the TaskControl of the running task, nullptr in plain code.
TaskControl* current_control() noexcept;
// set_current_control: records the running task (task entry and every resumption), for
// current_control(), the stack checks and TaskRegistry::running().
void set_current_control(TaskControl* tc) noexcept;
// request_stop: stops the task of tc: first requests its std::stop_source, if it has one
// (running its std::stop_callbacks, with no lock held), then sets its stop flag and completes
// its parked Waiter with `cancelled`. In that order, a task's callbacks have run before any of
// its cancellation points sees the stop (except when the task makes its stop_source during
// the call, which then comes after).
void request_stop(TaskControl& tc) noexcept;
// set_stop: the flag and the parked Waiter only (takes tc.lock), for stop_tasks.
void set_stop(TaskControl& tc) noexcept;

// StopBatch: copies of tasks' std::stop_sources not yet requested, taken while the caller
// holds the lock that keeps the tasks' records alive (a group's, a registry's), and requested
// after that lock is released: std::stop_callbacks are user code and must not run under a
// gofer lock. A copy keeps the stop state alive even if its task ends meanwhile. It holds at
// most `capacity` copies (no allocation), so the caller makes passes until one leaves room
// (stop_tasks below). The passes end: a full pass requests `capacity` sources, which later
// passes skip. Not thread-safe: a local of one caller.
class StopBatch {
 public:
  static constexpr std::size_t capacity = 32;

  // add: copies tc's stop_source if it has one not requested yet and the batch has room
  // (takes tc.lock).
  void add(TaskControl& tc) noexcept;
  // request_all: requests and drops every copy; true when the batch was full (another pass
  // may find more). Call it with no gofer lock held.
  bool request_all() noexcept;

 private:
  std::optional<std::stop_source> sources_[capacity];
  std::size_t size_ = 0;
  bool full_ = false;
};

// stop_tasks: request_stop for a set of tasks guarded by one lock (a group's members, a
// thread's live tasks). for_each(f) must lock the set, call f(TaskControl&) for every task in
// it, and unlock; it is called several times. The std::stop_sources are requested with no lock
// held (StopBatch), before the flags are set and the Waiters completed, as request_stop does;
// a last pass requests the sources the tasks made meanwhile.
template <class ForEach>
void stop_tasks(ForEach for_each) noexcept {
  StopBatch batch;
  auto add = [&batch](TaskControl& tc) noexcept { batch.add(tc); };
  do {
    for_each(add);
  } while (batch.request_all());
  for_each([](TaskControl& tc) noexcept { set_stop(tc); });
  do {
    for_each(add);
  } while (batch.request_all());
}

// Waiter: one parked task (or plain thread) waiting for the first of several events.
struct Waiter {
  static constexpr std::uint32_t pending = 0;
  static constexpr std::uint32_t claimed = 1;
  static constexpr std::uint32_t done = 2;

  // Waiter: captures the running context; needs the thread's scheduler installed already
  // (ensure_scheduler(), called before any source lock is taken), so it never throws. In a
  // task, the context is the one its TaskControl caches (every suspension goes through park()
  // or yield(), which set current_control() again on resumption, and a task's fiber never
  // changes), which saves asking Boost (a call through its thread-local state) on every wait.
  Waiter() noexcept;
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  // try_claim: the single CAS that decides who completes this Waiter.
  bool try_claim() noexcept {
    std::uint32_t expected = pending;
    return state.compare_exchange_strong(expected, claimed, std::memory_order_acq_rel,
                                         std::memory_order_relaxed);
  }
  // complete: only after a successful try_claim; records the outcome and wakes the waiter.
  void complete(wake_reason r, int index) noexcept;

  boost::fibers::context* ctx;
  Home* home;  // the waiter's scheduler (home.hpp); kept alive by complete() while it wakes
  boost::fibers::waker waker;
  std::atomic<std::uint32_t> state{pending};
  bool timed = false;                       // set by park() before anyone can claim
  bool cancellable = true;                  // false: request_stop does not end this wait
  wake_reason reason = wake_reason::fired;  // written by the winner before done
  int fired = -1;                           // which node fired (its WaitNode::index)
  Waiter* next_posted = nullptr;            // the home scheduler's inbox link (remote wakes)
  std::uint64_t woken_at = 0;               // the winner's ticks() stamp, on sampled wakes
  // The fields above are the ones a waker writes: they share the Waiter's first cache line.
  // The ones below are written by the waiter only and read by task dumps.
  WaitInfo info;        // what it waits for
  std::uint64_t since;  // when it parked (ticks(), sched_stats.hpp; set by park())
};

// WaitNode: a Waiter's entry in one WaitQueue. `slot` points at the value to move (a sender's
// T, or a receiver's std::optional<T>); `index` tells the waiter which of its nodes fired.
struct WaitNode {
  Waiter* waiter = nullptr;
  void* slot = nullptr;
  int index = 0;
  bool linked = false;
  WaitNode* prev = nullptr;
  WaitNode* next = nullptr;
};

// WaitQueue: intrusive FIFO of WaitNodes; guarded by its owner's SpinLock.
class WaitQueue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  void push_back(WaitNode& n) noexcept {
    n.prev = tail_;
    n.next = nullptr;
    n.linked = true;
    if (tail_ != nullptr) {
      tail_->next = &n;
    } else {
      head_ = &n;
    }
    tail_ = &n;
  }
  void remove(WaitNode& n) noexcept {
    if (n.prev != nullptr) {
      n.prev->next = n.next;
    } else {
      head_ = n.next;
    }
    if (n.next != nullptr) {
      n.next->prev = n.prev;
    } else {
      tail_ = n.prev;
    }
    n.prev = n.next = nullptr;
    n.linked = false;
  }
  // claim_front: unlinks nodes from the front until one whose Waiter it claims; returns it
  // (claimed, unlinked) or nullptr. Nodes of Waiters already claimed elsewhere are dropped.
  WaitNode* claim_front() noexcept {
    while (head_ != nullptr) {
      WaitNode* n = head_;
      remove(*n);
      if (n->waiter->try_claim()) {
        return n;
      }
    }
    return nullptr;
  }
  // unlink_if_linked: for a waiter cleaning up after it was completed or timed out.
  void unlink_if_linked(WaitNode& n) noexcept {
    if (n.linked) {
      remove(n);
    }
  }

 private:
  WaitNode* head_ = nullptr;
  WaitNode* tail_ = nullptr;
};

// park: see the protocol above. `unlock(arg)` releases the caller's source locks; it runs
// exactly once, before the context switch. Returns the outcome; never throws.
wake_reason park(Waiter& w, clock::time_point deadline, void (*unlock)(void*), void* arg) noexcept;

template <class Unlock>
wake_reason park(Waiter& w, clock::time_point deadline, Unlock& unlock) noexcept {
  return park(
      w, deadline, [](void* p) { (*static_cast<Unlock*>(p))(); }, &unlock);
}

// complete_woken: completes a node claimed (and unlinked) under a source lock, with `fired`,
// after that lock was released; nullptr does nothing.
inline void complete_woken(WaitNode* n) noexcept {
  if (n != nullptr) {
    n->waiter->complete(wake_reason::fired, n->index);
  }
}

// WakeList: the waker's half of the lifetime rule. Waiters are claimed (and unlinked) while
// the source's lock is held, and completed only after it is released, by complete() or the
// destructor; completing touches the claimed Waiters and nothing of the source. So once a
// wait returns (or a lock is handed over), its waker no longer touches the object, and the
// object may be destroyed at once (Go's and POSIX's guarantee). Declare the list before the
// lock guard, so the guard releases the lock first:
//
//   WakeList wake;
//   std::lock_guard g(lock_);
//   ... wake.take_all(waiters_);
//
// A claimed node's `next` link is free until it is completed (its Waiter stays parked until
// then, see the protocol above), so the list threads through the nodes: no allocation.
// Not thread-safe: a local of one waker.
class WakeList {
 public:
  explicit WakeList(wake_reason r = wake_reason::fired) noexcept : reason_(r) {}
  WakeList(const WakeList&) = delete;
  WakeList& operator=(const WakeList&) = delete;
  ~WakeList() { complete(); }

  // take_front: claims q's first claimable Waiter into the list; false when there is none.
  bool take_front(WaitQueue& q) noexcept {
    WaitNode* n = q.claim_front();
    if (n == nullptr) {
      return false;
    }
    n->next = nullptr;
    if (tail_ != nullptr) {
      tail_->next = n;
    } else {
      head_ = n;
    }
    tail_ = n;
    return true;
  }
  // take_all: claims every claimable Waiter of q into the list, in queue order.
  void take_all(WaitQueue& q) noexcept {
    while (take_front(q)) {
    }
  }
  // complete: completes the taken Waiters in order (call it with no source lock held).
  void complete() noexcept {
    WaitNode* n = head_;
    head_ = tail_ = nullptr;
    while (n != nullptr) {
      WaitNode* const next = n->next;  // n may be gone once its Waiter is completed
      n->waiter->complete(reason_, n->index);
      n = next;
    }
  }

 private:
  wake_reason reason_;
  WaitNode* head_ = nullptr;
  WaitNode* tail_ = nullptr;
};

// park_on: the caller holds `lock`, which guards q; links a node for the calling task (or
// plain thread) at q's back and parks, releasing the lock. A waker claims the node through a
// WakeList. On timeout or cancellation the node is unlinked again under the lock before
// park_on returns. Returns true when a waker completed the node, false at the deadline; throws
// gofer::cancelled when the task was stopped. `info` says what the wait is for (task dumps).
bool park_on(SpinLock& lock, WaitQueue& q, clock::time_point deadline, const WaitInfo& info,
             bool cancellable = true);

// throw_if_cancelled: throws gofer::cancelled when reason says so.
void throw_if_cancelled(wake_reason r);

}  // namespace gofer::detail
