// timer_heap.cpp: a scheduler's pending timers (see timer_heap.hpp).
#include "timer_heap.hpp"

#include <algorithm>
#include <mutex>

#include "home.hpp"
#include "reactor.hpp"

namespace gofer::detail {

namespace {
std::atomic<std::size_t> live_entries{0};
}  // namespace

std::size_t live_timer_entries() noexcept {
  return live_entries.load(std::memory_order_relaxed);
}

TimerEntry::TimerEntry() noexcept {
  live_entries.fetch_add(1, std::memory_order_relaxed);
}

TimerEntry::~TimerEntry() {
  live_entries.fetch_sub(1, std::memory_order_relaxed);
}

void TimerEntry::release() noexcept {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    delete this;
  }
}

TimerHeap::TimerHeap(Reactor& reactor, std::atomic<bool>& armed) noexcept
    : reactor_(&reactor), armed_(&armed), owner_(Home::current()) {}

TimerHeap::~TimerHeap() {
  detach();
}

bool TimerHeap::insert(TimerEntry& e) {
  Reactor* wake = nullptr;
  for (;;) {
    std::size_t want = 0;
    {
      std::lock_guard guard(lock_);
      if (reactor_ == nullptr) {
        return false;
      }
      if (heap_.size() < heap_.capacity()) {
        e.add_ref();
        e.armed_seq = e.seq;
        heap_.push_back(&e);  // within capacity: cannot throw
        e.index = heap_.size() - 1;
        sift_up(e.index);
        set_armed();
        if (e.index == 0 && Home::current() != owner_) {
          wake = reactor_;
          wake->begin_remote_wake();  // the owner cannot exit before end_remote_wake()
        }
        break;
      }
      want = std::max<std::size_t>(16, 2 * heap_.capacity());
    }
    // Grow with no lock held (allocation may throw), then swap the bigger buffer in.
    std::vector<TimerEntry*> bigger;
    bigger.reserve(want);
    std::lock_guard guard(lock_);
    if (heap_.capacity() < want) {
      bigger.assign(heap_.begin(), heap_.end());  // within capacity: no allocation
      heap_.swap(bigger);
    }
  }
  if (wake != nullptr) {
    (void)wake->notify();  // the owner re-reads earliest() before it sleeps again
    wake->end_remote_wake();
  }
  return true;
}

bool TimerHeap::remove(TimerEntry& e) noexcept {
  {
    std::lock_guard guard(lock_);
    if (e.index == TimerEntry::npos || e.index >= heap_.size() || heap_[e.index] != &e) {
      return false;
    }
    erase_at(e.index);
    set_armed();
  }
  e.release();  // the caller's reference keeps e alive
  return true;
}

clock::time_point TimerHeap::earliest() const noexcept {
  std::lock_guard guard(lock_);
  return heap_.empty() ? no_deadline : heap_.front()->when;
}

clock::time_point TimerHeap::bound(clock::time_point tp) const noexcept {
  return std::min(tp, earliest());
}

void TimerHeap::fire_due() noexcept {
  const clock::time_point now = clock::now();
  TimerEntry* due = nullptr;
  TimerEntry** tail = &due;
  {
    std::lock_guard guard(lock_);
    while (!heap_.empty() && heap_.front()->when <= now) {
      TimerEntry* e = heap_.front();
      erase_at(0);
      e->next_due = nullptr;
      *tail = e;  // the heap's reference moves to the list
      tail = &e->next_due;
    }
    set_armed();
  }
  while (due != nullptr) {
    TimerEntry* e = due;
    due = e->next_due;
    TimerEntry::fired what = TimerEntry::fired::done;
    {
      std::lock_guard guard(e->lock);
      // A stop or reset since the insertion cancelled this firing (and re-armed, for reset).
      if (e->seq == e->armed_seq) {
        what = e->fire(now);
      }
      if (what == TimerEntry::fired::rearm) {
        try {
          (void)insert(*e);
        } catch (...) {
          // No memory for the slot: this ticker stops ticking (the heap only grows here when
          // another thread inserted meanwhile).
        }
      }
    }
    if (what == TimerEntry::fired::run) {
      e->run();
    }
    e->release();
  }
}

void TimerHeap::detach() noexcept {
  std::vector<TimerEntry*> dropped;
  {
    std::lock_guard guard(lock_);
    dropped.swap(heap_);
    for (TimerEntry* e : dropped) {
      e->index = TimerEntry::npos;
    }
    if (armed_ != nullptr) {
      armed_->store(false, std::memory_order_relaxed);
    }
    reactor_ = nullptr;
    armed_ = nullptr;
  }
  for (TimerEntry* e : dropped) {
    e->release();  // may destroy e (and its channel): outside the lock
  }
}

bool TimerHeap::detached() const noexcept {
  std::lock_guard guard(lock_);
  return reactor_ == nullptr;
}

std::size_t TimerHeap::size() const noexcept {
  std::lock_guard guard(lock_);
  return heap_.size();
}

void TimerHeap::set_armed() noexcept {
  if (armed_ != nullptr) {
    armed_->store(!heap_.empty(), std::memory_order_relaxed);
  }
}

void TimerHeap::erase_at(std::size_t i) noexcept {
  TimerEntry* const gone = heap_[i];
  gone->index = TimerEntry::npos;
  TimerEntry* const last = heap_.back();
  heap_.pop_back();
  if (last == gone) {
    return;
  }
  place(i, last);
  if (i > 0 && last->when < heap_[(i - 1) / 2]->when) {
    sift_up(i);
  } else {
    sift_down(i);
  }
}

void TimerHeap::sift_up(std::size_t i) noexcept {
  TimerEntry* const e = heap_[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (!(e->when < heap_[parent]->when)) {
      break;
    }
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, e);
}

void TimerHeap::sift_down(std::size_t i) noexcept {
  TimerEntry* const e = heap_[i];
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) {
      break;
    }
    if (child + 1 < n && heap_[child + 1]->when < heap_[child]->when) {
      ++child;
    }
    if (!(heap_[child]->when < e->when)) {
      break;
    }
    place(i, heap_[child]);
    i = child;
  }
  place(i, e);
}

}  // namespace gofer::detail
