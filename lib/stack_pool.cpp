// stack_pool.cpp: the per-thread caches of task stacks in front of the shared depot
// (stack_depot.hpp), the stack size settings and the live-stack counters. The scheme is in
// stack_pool.hpp; overflow detection is in stack_overflow.cpp.
//
// Invariants, besides those of stack_pool.hpp:
//  (1) cached_ and cached_bytes_ are the count and the usable bytes of the stacks in classes_.
//  (2) A SizeClass's vector is reserved for its whole limit when made, so caching a stack never
//      allocates.
//
// Thread-safety and blocking: as stack_pool.hpp says. This file takes no lock itself.
#include "stack_pool.hpp"

#include <algorithm>
#include <atomic>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#include "stack_depot.hpp"

namespace gofer::detail {

namespace {

constexpr std::size_t min_stack_size = std::size_t{16} * 1024;
constexpr std::size_t max_stack_size = std::size_t{1} << 30;
constexpr std::size_t max_cached_stacks = 1024;
constexpr std::size_t max_cached_bytes = std::size_t{1} << 30;
constexpr std::size_t max_size_classes = 16;

std::atomic<std::size_t> default_size{default_stack_size};
std::atomic<std::size_t> live_guarded{0};
std::atomic<std::size_t> live_canary{0};

std::size_t round_to_pages(std::size_t bytes) noexcept {
  const std::size_t page = page_size();  // a power of two
  return (bytes + page - 1) & ~(page - 1);
}

// checked_stack_size: `size` rounded up to whole pages; throws std::invalid_argument naming
// `who` (the user-facing setting) when it is outside [16 KiB, 1 GiB].
std::size_t checked_stack_size(std::size_t size, const char* who) {
  if (size < min_stack_size || size > max_stack_size) {
    throw std::invalid_argument(std::string(who) + ": " + std::to_string(size) + " bytes is too " +
                                (size < min_stack_size ? "small" : "large") +
                                " for a task stack: sizes must lie in [16 KiB, 1 GiB]");
  }
  return round_to_pages(size);
}

// This thread's pool lives in trivially destructible storage and is never destroyed: a Reaper
// retires it at thread exit, and Boost.Fiber's own thread-exit cleanup, which may run later and
// release the last fibers' stacks, still finds a (non-caching) pool.
thread_local StackPool* local_pool = nullptr;
alignas(StackPool) thread_local unsigned char local_pool_storage[sizeof(StackPool)];

}  // namespace

void set_default_stack_size(std::size_t size) {
  default_size.store(checked_stack_size(size, "gofer::set_stack_size"), std::memory_order_relaxed);
}

std::size_t get_default_stack_size() noexcept {
  return default_size.load(std::memory_order_relaxed);
}

struct StackPool::Reaper {
  ~Reaper() { local_pool->retire(); }
};

StackPool& StackPool::local() {
  if (local_pool == nullptr) [[unlikely]] {
    local_pool = ::new (static_cast<void*>(local_pool_storage)) StackPool();
    thread_local Reaper reaper;
  }
  return *local_pool;
}

StackPool::SizeClass* StackPool::size_class(std::size_t bytes) {
  for (SizeClass& sc : classes_) {
    if (sc.bytes == bytes) {
      return &sc;
    }
  }
  if (classes_.size() == max_size_classes) {
    return nullptr;
  }
  std::vector<std::uintptr_t> stacks;
  stacks.reserve(std::min(max_cached_stacks, max_cached_bytes / bytes));
  classes_.push_back(SizeClass{.bytes = bytes, .stacks = std::move(stacks)});
  return &classes_.back();
}

StackPool::StackPool() {
  classes_.reserve(max_size_classes);  // SizeClass pointers (hot_) stay valid
}

boost::context::stack_context StackPool::allocate(std::size_t size) {
  // The requested size of the last allocation was checked then, and maps to hot_.
  SizeClass* sc = hot_;
  std::size_t bytes;
  if (sc != nullptr && size == hot_size_) [[likely]] {
    bytes = sc->bytes;
  } else {
    bytes = checked_stack_size(size, "gofer::TaskOptions::stack_size");
    sc = caching_ ? size_class(bytes) : nullptr;
    if (sc != nullptr) {
      hot_ = sc;
      hot_size_ = size;
    }
  }
  std::uintptr_t sp;
  if (sc != nullptr && !sc->stacks.empty()) {
    sp = sc->stacks.back();
    sc->stacks.pop_back();
    --cached_;
    cached_bytes_ -= bytes;
  } else {
    sp = depot_take(bytes);
  }
  (is_canary_stack(sp) ? live_canary : live_guarded).fetch_add(1, std::memory_order_relaxed);
  boost::context::stack_context sctx;
  sctx.size = bytes;
  sctx.sp = reinterpret_cast<void*>(sp);
  return sctx;
}

void StackPool::deallocate(boost::context::stack_context& sctx) noexcept {
  const auto sp = reinterpret_cast<std::uintptr_t>(sctx.sp);
  const std::size_t bytes = sctx.size;
  if (is_canary_stack(sp)) {
    if (!checked_at_finish(sp, sp - bytes) && !guard_untouched(sp - bytes)) [[unlikely]] {
      die("stack overflow in a finished task (its guard region was touched)", nullptr, nullptr);
    }
    live_canary.fetch_sub(1, std::memory_order_relaxed);
  } else {
    live_guarded.fetch_sub(1, std::memory_order_relaxed);
  }
  const bool room = cached_ < max_cached_stacks && cached_bytes_ + bytes <= max_cached_bytes;
  SizeClass* sc = hot_ != nullptr && hot_->bytes == bytes ? hot_ : nullptr;
  if (sc == nullptr && caching_ && room) {
    try {
      sc = size_class(bytes);
    } catch (const std::bad_alloc&) {
      // No memory for a new size class: the stack goes back to the depot below.
    }
  }
  if (sc != nullptr && room && sc->stacks.size() < sc->stacks.capacity()) {
    sc->stacks.push_back(sp);
    ++cached_;
    cached_bytes_ += bytes;
    return;
  }
  depot_give(bytes, sp);
}

void StackPool::retire() noexcept {
  for (const SizeClass& sc : classes_) {
    for (const std::uintptr_t sp : sc.stacks) {
      depot_give(sc.bytes, sp);
    }
  }
  std::vector<SizeClass>().swap(classes_);
  cached_ = 0;
  cached_bytes_ = 0;
  caching_ = false;
  hot_ = nullptr;
}

std::size_t live_guarded_stacks() noexcept {
  return live_guarded.load(std::memory_order_relaxed);
}

std::size_t live_canary_stacks() noexcept {
  return live_canary.load(std::memory_order_relaxed);
}

}  // namespace gofer::detail
