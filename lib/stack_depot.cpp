// stack_depot.cpp: slabs of task stacks, the shared free lists and the background thread that
// makes slabs ahead and trims. The layout and the lists are described in stack_depot.hpp.
//
// Invariants, besides those of stack_depot.hpp:
//  (1) guarded_reserved counts the slots of every guarded slab made (never decreases: slabs
//      live forever), and never exceeds the budget.
//  (2) dirty_total is the sum of the dirty lists' sizes.
//  (3) A class's spare slab, once made, is carved by no one until the current one is used up;
//      its slots are counted in `slots` (and the budget) from the moment it is planned.
//
// Thread-safety and blocking: as stack_depot.hpp says. Lock order: one lock only, the depot's.
#include "stack_depot.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "errno_error.hpp"
#include "signal_mask.hpp"

namespace gofer::detail {

namespace {

constexpr std::size_t max_guarded_slab_slots = 64;
constexpr std::size_t max_canary_slab_slots = 512;
constexpr std::size_t max_slab_bytes = std::size_t{64} << 20;
constexpr std::size_t trim_chunk = 64;
constexpr auto trim_period = std::chrono::milliseconds(500);
constexpr long reserved_mappings = 16384;
// A guarded slot is two mappings (guard region, usable part). Under TSan, count four: TSan maps
// shadow of its own, and the margin is cheap.
#if defined(__SANITIZE_THREAD__)
constexpr long mappings_per_guarded_slot = 4;
#else
constexpr long mappings_per_guarded_slot = 2;
#endif
constexpr int map_flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK;

// SizeClass: the free lists of one stack size and the slab being carved for it.
struct SizeClass {
  std::size_t bytes = 0;
  std::vector<std::uintptr_t> dirty;
  std::vector<std::uintptr_t> clean;
  std::size_t low_water = 0;     // the fewest dirty stacks since the trimmer's last pass
  std::size_t in_flight = 0;     // stacks the trimmer is dropping the pages of
  std::size_t slots = 0;         // carved or still to carve, in every slab made
  std::uintptr_t next_slot = 0;  // base of the next slot to carve
  std::size_t slots_left = 0;    // in the slab being carved
  bool carving_canary = false;
  // A slab made ahead by the background thread, to carve once the current one is used up.
  std::uintptr_t spare = 0;
  std::size_t spare_slots = 0;
  bool spare_canary = false;
  bool spare_wanted = false;
  bool spare_making = false;
};

struct Depot {
  std::mutex lock;
  std::condition_variable wake;     // for the background thread: dirty_total left 0, or a
                                    // spare slab is wanted
  std::condition_variable trimmed;  // a chunk in flight came back, or a spare was made
  std::vector<std::unique_ptr<SizeClass>> classes;
  std::size_t dirty_total = 0;
  std::size_t guarded_reserved = 0;
  bool force_canary = false;
  bool background_started = false;
};

// depot: never destroyed, so that threads exiting during static destruction, and the trimmer,
// can still use it.
Depot& depot() {
  static auto* d = new Depot;
  return *d;
}

std::size_t guarded_budget() noexcept {
  static const std::size_t budget = [] {
    long limit = 65530;  // the kernel's default, if /proc can't tell
    if (const int fd = ::open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC); fd >= 0) {
      char text[32] = {};
      const long value = ::read(fd, text, sizeof(text) - 1) > 0 ? std::atol(text) : 0;
      limit = value > 0 ? value : limit;
      ::close(fd);
    }
    return limit > reserved_mappings
               ? static_cast<std::size_t>((limit - reserved_mappings) / mappings_per_guarded_slot)
               : 0;
  }();
  return budget;
}

std::string kib(std::size_t bytes) {
  return std::to_string(bytes / 1024) + " KiB";
}

// SlabPlan: the kind and size of a slab about to be mapped, its budget already reserved.
struct SlabPlan {
  std::size_t count;
  bool guarded;
};

// plan_slab: decides the next slab of sc and reserves for it: guarded slots in the budget, room
// in both lists (depot_give never allocates). The depot lock is held. Throws std::bad_alloc.
SlabPlan plan_slab(Depot& d, SizeClass& sc) {
  const std::size_t stride = guard_bytes() + sc.bytes;
  const std::size_t budget_left =
      d.force_canary ? 0 : guarded_budget() - std::min(guarded_budget(), d.guarded_reserved);
  const bool guarded = budget_left > 0;
  const std::size_t limit =
      guarded ? std::min(budget_left, max_guarded_slab_slots) : max_canary_slab_slots;
  const std::size_t count = std::clamp<std::size_t>(max_slab_bytes / stride, 1, limit);
  // Geometric growth: a million stacks must not copy the lists once per slab.
  for (std::vector<std::uintptr_t>* list : {&sc.dirty, &sc.clean}) {
    if (list->capacity() < sc.slots + count) {
      list->reserve(std::max(sc.slots + count, 2 * list->capacity()));
    }
  }
  sc.slots += count;
  d.guarded_reserved += guarded ? count : 0;
  return SlabPlan{count, guarded};
}

// map_slab: maps the planned slab of `bytes` stacks and, if guarded, makes each guard region
// PROT_NONE. When an mprotect fails (ENOMEM: the kernel is out of mappings), the slab is made
// whole again and plan.guarded turns false. Returns the base, or 0 with errno set when mmap
// fails. Takes no lock.
std::uintptr_t map_slab(std::size_t bytes, SlabPlan& plan) noexcept {
  const std::size_t stride = guard_bytes() + bytes;
  void* base = ::mmap(nullptr, plan.count * stride, PROT_READ | PROT_WRITE, map_flags, -1, 0);
  if (base == MAP_FAILED) {
    return 0;
  }
  const auto first = reinterpret_cast<std::uintptr_t>(base);
  for (std::size_t i = 0; plan.guarded && i < plan.count; ++i) {
    if (::mprotect(reinterpret_cast<void*>(first + i * stride), guard_bytes(), PROT_NONE) != 0) {
      ::mprotect(base, plan.count * stride, PROT_READ | PROT_WRITE);
      plan.guarded = false;
    }
  }
  return first;
}

// settle_slab: after map_slab, with the depot lock held again: gives back what a failed mmap
// reserved, or marks the budget spent when the kernel refused a guard region.
void settle_slab(Depot& d, SizeClass& sc, const SlabPlan& planned, const SlabPlan& got,
                 std::uintptr_t base) noexcept {
  if (base == 0) {
    sc.slots -= planned.count;
    d.guarded_reserved -= planned.guarded ? planned.count : 0;
  } else if (planned.guarded && !got.guarded) {
    d.guarded_reserved = std::max(d.guarded_reserved, guarded_budget());
  }
}

// carve_from: makes the slab at `base` the one sc carves.
void carve_from(SizeClass& sc, std::uintptr_t base, std::size_t count, bool canary) noexcept {
  sc.next_slot = base;
  sc.slots_left = count;
  sc.carving_canary = canary;
}

// make_slab: maps a new slab for sc, on this thread with the depot lock held, and makes it the
// one carved. Throws std::system_error when mmap fails, std::bad_alloc.
void make_slab(Depot& d, SizeClass& sc) {
  const SlabPlan planned = plan_slab(d, sc);
  SlabPlan got = planned;
  const std::uintptr_t base = map_slab(sc.bytes, got);
  settle_slab(d, sc, planned, got, base);
  if (base == 0) {
    throw_errno("mmap", "of a slab of " + std::to_string(planned.count) + " " + kib(sc.bytes) +
                            " task stacks failed");
  }
  carve_from(sc, base, got.count, !got.guarded);
}

// prefault_tops: writes the top page of every slot of a slab, so that the tasks that will run
// there do not take that page fault on the thread that spawns them. Outside ASan's view: the
// memory is fresh, and no task runs on it yet.
[[gnu::no_sanitize_address]] void prefault_tops(std::size_t bytes, std::uintptr_t base,
                                                std::size_t count) noexcept {
  const std::size_t stride = guard_bytes() + bytes;
  for (std::size_t i = 1; i <= count; ++i) {
    *reinterpret_cast<volatile char*>(base + i * stride - page_size()) = 0;
  }
}

// make_spare: on the background thread: maps sc's next slab ahead of need and faults in the top
// page of each slot, with the depot lock released meanwhile. `lk` holds the lock on entry and
// exit.
void make_spare(Depot& d, SizeClass& sc, std::unique_lock<std::mutex>& lk) noexcept {
  SlabPlan planned{};
  try {
    planned = plan_slab(d, sc);
  } catch (const std::bad_alloc&) {
    return;  // the take that needs a slab will make one (or report the failure)
  }
  sc.spare_making = true;
  lk.unlock();
  SlabPlan got = planned;
  const std::uintptr_t base = map_slab(sc.bytes, got);
  if (base != 0) {
    prefault_tops(sc.bytes, base, got.count);
  }
  lk.lock();
  settle_slab(d, sc, planned, got, base);
  sc.spare_making = false;
  if (base != 0) {
    sc.spare = base;
    sc.spare_slots = got.count;
    sc.spare_canary = !got.guarded;
  }
  d.trimmed.notify_all();
}

SizeClass& size_class(Depot& d, std::size_t bytes) {
  for (const auto& sc : d.classes) {
    if (sc->bytes == bytes) {
      return *sc;
    }
  }
  auto sc = std::make_unique<SizeClass>();
  sc->bytes = bytes;
  d.classes.push_back(std::move(sc));
  return *d.classes.back();
}

// drop_pages: MADV_DONTNEED over each run of adjacent slots among sps[0, n) (sorted here), so a
// slab whose stacks all came back costs one call. Guard regions inside a run are included:
// PROT_NONE ones hold no pages, and a canary slab's are better emptied too.
void drop_pages(std::size_t bytes, std::uintptr_t* sps, std::size_t n) noexcept {
  std::sort(sps, sps + n);
  const std::size_t page = page_size();
  const std::size_t stride = guard_bytes() + bytes;
  std::size_t i = 0;
  while (i < n) {
    const std::uintptr_t begin = slot_base(sps[i], bytes);
    std::uintptr_t end = begin + stride;
    std::size_t j = i + 1;
    while (j < n && slot_base(sps[j], bytes) == end) {
      end += stride;
      ++j;
    }
    // A guarded run starts with a guard region: it has no pages to drop.
    const std::uintptr_t from = is_canary_stack(sps[i]) ? begin : begin + guard_bytes();
    ::madvise(reinterpret_cast<void*>(from & ~(page - 1)), end - (from & ~(page - 1)),
              MADV_DONTNEED);
    i = j;
  }
}

// trim: drops the pages of dirty stacks and moves them to the clean lists: all of them, or, per
// class, as many as the class never needed since the last pass (its low-water mark), so a
// steady churn keeps its warm stacks. `lk` holds the depot lock on entry and exit; it is
// released around each chunk's madvise calls, while the chunk counts as in flight.
void trim(Depot& d, std::unique_lock<std::mutex>& lk, bool all) noexcept {
  for (std::size_t c = 0; c < d.classes.size(); ++c) {
    SizeClass& sc = *d.classes[c];
    std::size_t n = all ? sc.dirty.size() : std::min(sc.low_water, sc.dirty.size());
    while (n > 0 && !sc.dirty.empty()) {
      std::uintptr_t chunk[trim_chunk];
      const std::size_t k = std::min({n, trim_chunk, sc.dirty.size()});
      std::copy(sc.dirty.end() - static_cast<std::ptrdiff_t>(k), sc.dirty.end(), chunk);
      sc.dirty.resize(sc.dirty.size() - k);
      d.dirty_total -= k;
      sc.in_flight += k;
      lk.unlock();
      drop_pages(sc.bytes, chunk, k);
      lk.lock();
      sc.clean.insert(sc.clean.end(), chunk, chunk + k);  // within capacity: invariant (1)
      sc.in_flight -= k;
      d.trimmed.notify_all();
      n -= std::min(n, k);
    }
    sc.low_water = std::min(sc.low_water, sc.dirty.size());
  }
  for (const auto& sc : d.classes) {
    sc->low_water = sc->dirty.size();  // the next pass measures from here
  }
}

// background_main: the depot's thread: makes the spare slabs asked for, and every trim_period
// while stacks are dirty, trims what was not needed.
void background_main() noexcept {
  Depot& d = depot();
  std::unique_lock lk(d.lock);
  auto next_trim = std::chrono::steady_clock::time_point::max();
  for (;;) {
    for (std::size_t c = 0; c < d.classes.size(); ++c) {
      SizeClass& sc = *d.classes[c];
      if (sc.spare_wanted && sc.spare == 0 && !d.force_canary) {
        sc.spare_wanted = false;
        make_spare(d, sc, lk);
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (d.dirty_total > 0 && next_trim == std::chrono::steady_clock::time_point::max()) {
      next_trim = now + trim_period;
    }
    if (next_trim <= now) {
      trim(d, lk, false);
      next_trim = std::chrono::steady_clock::time_point::max();
      continue;
    }
    const bool wanted = std::any_of(d.classes.begin(), d.classes.end(), [](const auto& sc) {
      return sc->spare_wanted && sc->spare == 0;
    });
    if (wanted && !d.force_canary) {
      continue;
    }
    if (next_trim == std::chrono::steady_clock::time_point::max() && d.dirty_total == 0) {
      d.wake.wait(lk);
    } else {
      d.wake.wait_until(lk, std::min(next_trim, now + trim_period));
    }
  }
}

// wake_background: asks the background thread to look at the depot, starting it if needed.
// The depot lock is held.
void wake_background(Depot& d) noexcept {
  if (!d.background_started) {
    try {
      const InheritBlockedSignals no_signals;  // signal_mask.hpp
      std::thread(background_main).detach();
      d.background_started = true;
    } catch (const std::system_error&) {
      return;  // no thread now: the next call tries again
    }
  }
  d.wake.notify_one();
}

}  // namespace

std::size_t page_size() noexcept {
  static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

std::size_t guard_bytes() noexcept {
  static const std::size_t bytes =
      ((std::size_t{64} * 1024 + page_size() - 1) & ~(page_size() - 1)) + page_size();
  return bytes;
}

std::uintptr_t slot_base(std::uintptr_t sp, std::size_t bytes) noexcept {
  const std::uintptr_t top = is_canary_stack(sp) ? sp + canary_bytes : sp;
  return top - bytes - guard_bytes();
}

std::uintptr_t depot_take(std::size_t bytes) {
  Depot& d = depot();
  std::unique_lock lk(d.lock);
  SizeClass& sc = size_class(d, bytes);
  // A chunk the trimmer holds comes back within a few madvise calls: cheaper than a new slab.
  d.trimmed.wait(lk, [&] {
    return d.force_canary || !sc.dirty.empty() || !sc.clean.empty() || sc.in_flight == 0;
  });
  if (!sc.dirty.empty() && !d.force_canary) {
    const std::uintptr_t sp = sc.dirty.back();
    sc.dirty.pop_back();
    --d.dirty_total;
    sc.low_water = std::min(sc.low_water, sc.dirty.size());
    return sp;
  }
  if (!sc.clean.empty() && !d.force_canary) {
    const std::uintptr_t sp = sc.clean.back();
    sc.clean.pop_back();
    return sp;
  }
  if (sc.slots_left == 0) {
    if (sc.spare != 0 && !d.force_canary) {
      carve_from(sc, sc.spare, sc.spare_slots, sc.spare_canary);
      sc.spare = 0;
    } else {
      make_slab(d, sc);
    }
    // The next slab is made ahead, off this thread, while this one is carved.
    if (!d.force_canary) {
      sc.spare_wanted = true;
      wake_background(d);
    }
  }
  sc.next_slot += guard_bytes() + bytes;  // now the top of the slot carved
  --sc.slots_left;
  return sc.carving_canary ? sc.next_slot - canary_bytes : sc.next_slot;
}

void depot_give(std::size_t bytes, std::uintptr_t sp) noexcept {
  Depot& d = depot();
  std::lock_guard guard(d.lock);
  for (const auto& sc : d.classes) {
    if (sc->bytes == bytes) {
      sc->dirty.push_back(sp);  // within capacity: invariant (1)
    }
  }
  if (d.dirty_total++ == 0) {
    wake_background(d);
  }
}

void trim_stacks_now() noexcept {
  Depot& d = depot();
  std::unique_lock lk(d.lock);
  trim(d, lk, true);
  d.trimmed.wait(lk, [&] {
    return std::all_of(d.classes.begin(), d.classes.end(), [&](const auto& sc) {
      const bool spare_pending =
          sc->spare_wanted && sc->spare == 0 && !d.force_canary && d.background_started;
      return sc->in_flight == 0 && !sc->spare_making && !spare_pending;
    });
  });
}

void force_canary_slabs(bool on) noexcept {
  Depot& d = depot();
  std::lock_guard guard(d.lock);
  d.force_canary = on;
  for (const auto& sc : d.classes) {
    sc->slots_left = 0;  // the next take makes a slab of the wanted kind
    sc->spare_wanted = false;
  }
}

std::size_t guarded_slots() noexcept {
  Depot& d = depot();
  std::lock_guard guard(d.lock);
  return d.guarded_reserved;
}

}  // namespace gofer::detail
