// timer_heap.hpp: a scheduler's pending timers (gofer::Timer, after, after_func, Ticker).
//
// Each scheduler thread owns at most one TimerHeap, made by the first timer created on it: a
// binary min-heap of TimerEntry pointers ordered by deadline, where every entry knows its slot,
// so a stop is an O(log n) removal that frees the slot at once (no tombstone left to expiry).
// A timer costs its entry and one heap slot: no task, no thread, no Boost sleep-queue node.
//
// How the scheduler uses it (scheduler.hpp): while the heap is non-empty the scheduler's
// `armed` flag is set; then the idle sleep is bounded by earliest() (so the reactor's poller,
// the only user of epoll, wakes for the earliest timer) and the dispatcher calls fire_due() on
// each pass. With no timer armed the scheduler pays one well-predicted branch per pick.
//
// Entries. A TimerEntry is shared by its handle (Timer, FuncTimer, Ticker; none for after())
// and the heap, through an intrusive count: the heap holds one reference while the entry is
// in it. The entry's own SpinLock guards `seq`, `home` and what fire() does; stop and reset
// bump `seq` under it, and fire_due() runs an entry only if `seq` still has the value it had
// when the entry was inserted, so a stop or reset that returns has cancelled every firing it
// did not see (no stale tick: Go 1.23's rule).
//
// Invariants: (1) entry->index is its slot in heap_ or npos, and the heap holds a reference
// exactly while index != npos; (2) armed_ (the scheduler's flag) is true exactly while heap_
// is non-empty and the heap is attached; (3) after detach() (the owner thread exits) the heap
// is empty and refuses inserts, so pending timers never hold up a thread's exit.
//
// Lock order: an entry's lock, then the heap's lock (a channel's lock after both, in fire()).
// Thread-safety: insert/remove/earliest from any thread; fire_due() and detach() on the owner
// thread only. Nothing here blocks beyond the spin locks; fire() never parks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <gofer/detail/spin_lock.hpp>
#include <gofer/detail/waiter.hpp>

namespace gofer::detail {

class Reactor;
class TimerHeap;

struct TimerEntry {
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  TimerEntry() noexcept;
  TimerEntry(const TimerEntry&) = delete;
  TimerEntry& operator=(const TimerEntry&) = delete;

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept;

  // fired: what fire() asks of fire_due() next.
  enum class fired { done, rearm, run };
  // fire: the deadline passed (on the home thread, with `lock` held, seq checked). Returns
  // rearm to be re-inserted at `when` (a ticker's next tick), run to have run() called once
  // the lock is released.
  virtual fired fire(clock::time_point now) noexcept = 0;
  // run: the part of a firing that may allocate (spawning a task); no lock held.
  virtual void run() noexcept {}
  // drain: drops a fired but undelivered value (lock held); true when there was one.
  virtual bool drain() noexcept { return false; }

  SpinLock lock;
  std::uint64_t seq = 0;            // lock: bumped by every stop and reset
  std::shared_ptr<TimerHeap> home;  // lock: the heap it is (or was last) armed in
  // Guarded by the home heap's lock:
  clock::time_point when{};
  std::size_t index = npos;
  std::uint64_t armed_seq = 0;  // seq when inserted
  TimerEntry* next_due = nullptr;

 protected:
  virtual ~TimerEntry();

 private:
  std::atomic<std::uint32_t> refs_{1};
};

class TimerHeap {
 public:
  // TimerHeap: for the owner thread's reactor; `armed` is the scheduler's flag.
  TimerHeap(Reactor& reactor, std::atomic<bool>& armed) noexcept;
  ~TimerHeap();
  TimerHeap(const TimerHeap&) = delete;
  TimerHeap& operator=(const TimerHeap&) = delete;

  // insert: arms e (its lock held, not in a heap) at e->when with e->seq; takes a reference.
  // Wakes the owner thread when e is now the earliest and the caller is another thread.
  // Returns false (and does nothing) when the heap is detached; may throw std::bad_alloc.
  bool insert(TimerEntry& e);
  // remove: disarms e (its lock held) if it is in this heap; true when it was. The heap's
  // reference is dropped (never the last: the caller holds one).
  bool remove(TimerEntry& e) noexcept;
  // earliest: the earliest deadline, or no_deadline.
  clock::time_point earliest() const noexcept;
  // bound: the earlier of tp and earliest() (for the idle sleep).
  clock::time_point bound(clock::time_point tp) const noexcept;
  // fire_due: runs every entry whose deadline has passed (owner thread).
  void fire_due() noexcept;
  // detach: at the owner thread's exit: drops every entry and refuses further inserts.
  void detach() noexcept;
  // detached: the owner thread has exited (its timers then never fire).
  bool detached() const noexcept;
  // size: armed entries (for tests).
  std::size_t size() const noexcept;

 private:
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void place(std::size_t i, TimerEntry* e) noexcept {
    heap_[i] = e;
    e->index = i;
  }
  void erase_at(std::size_t i) noexcept;
  void set_armed() noexcept;

  mutable SpinLock lock_;
  std::vector<TimerEntry*> heap_;
  Reactor* reactor_;             // nullptr once detached
  std::atomic<bool>* armed_;     // nullptr once detached
  const void* owner_ = nullptr;  // the owner's Home, to tell it from other threads
};

// live_timer_entries: TimerEntry objects alive in the process (for tests).
std::size_t live_timer_entries() noexcept;

}  // namespace gofer::detail
