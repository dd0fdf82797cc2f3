// stack_depot.cpp: slabs of task stacks, the shared free lists and the background trimmer. The
// layout and the lists are described in stack_depot.hpp.
//
// Invariants, besides those of stack_depot.hpp:
//  (1) guarded_reserved counts the slots of every guarded slab made (never decreases: slabs
//      live forever), and never exceeds the budget.
//  (2) dirty_total is the sum of the dirty lists' sizes.
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
};

struct Depot {
  std::mutex lock;
  std::condition_variable trim_wanted;  // dirty_total left 0
  std::condition_variable trimmed;      // a chunk in flight came back
  std::vector<std::unique_ptr<SizeClass>> classes;
  std::size_t dirty_total = 0;
  std::size_t guarded_reserved = 0;
  bool force_canary = false;
  bool trimmer_started = false;
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

// make_slab: maps a new slab for sc and makes it the one carved. The depot lock is held.
// Guarded while the budget allows; when an mprotect fails (ENOMEM: the kernel is out of
// mappings), the slab is made whole again and becomes a canary slab. Throws std::system_error
// when mmap fails, std::bad_alloc.
void make_slab(Depot& d, SizeClass& sc) {
  const std::size_t stride = guard_bytes() + sc.bytes;
  const std::size_t budget_left =
      d.force_canary ? 0 : guarded_budget() - std::min(guarded_budget(), d.guarded_reserved);
  const bool guarded = budget_left > 0;
  const std::size_t limit =
      guarded ? std::min(budget_left, max_guarded_slab_slots) : max_canary_slab_slots;
  const std::size_t count = std::clamp<std::size_t>(max_slab_bytes / stride, 1, limit);
  // Room in both lists for every slot, before anything is mapped (depot_give never allocates).
  sc.dirty.reserve(sc.slots + count);
  sc.clean.reserve(sc.slots + count);
  void* base = ::mmap(nullptr, count * stride, PROT_READ | PROT_WRITE, map_flags, -1, 0);
  if (base == MAP_FAILED) {
    throw_errno("mmap", "of a slab of " + std::to_string(count) + " " + kib(sc.bytes) +
                            " task stacks failed");
  }
  const auto first = reinterpret_cast<std::uintptr_t>(base);
  bool canary = !guarded;
  for (std::size_t i = 0; guarded && i < count; ++i) {
    if (::mprotect(reinterpret_cast<void*>(first + i * stride), guard_bytes(), PROT_NONE) != 0) {
      ::mprotect(base, count * stride, PROT_READ | PROT_WRITE);
      d.guarded_reserved = guarded_budget();  // the kernel says the budget is spent
      canary = true;
      break;
    }
  }
  if (!canary) {
    d.guarded_reserved += count;
  }
  sc.slots += count;
  sc.next_slot = first;
  sc.slots_left = count;
  sc.carving_canary = canary;
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

void trimmer_main() noexcept {
  Depot& d = depot();
  std::unique_lock lk(d.lock);
  for (;;) {
    d.trim_wanted.wait(lk, [&] { return d.dirty_total > 0; });
    d.trim_wanted.wait_for(lk, trim_period);
    trim(d, lk, false);
  }
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
    make_slab(d, sc);
  }
  sc.next_slot += guard_bytes() + bytes;  // now the top of the slot carved
  --sc.slots_left;
  return sc.carving_canary ? sc.next_slot - canary_bytes : sc.next_slot;
}

void depot_give(std::size_t bytes, std::uintptr_t sp) noexcept {
  Depot& d = depot();
  bool start_trimmer = false;
  {
    std::lock_guard guard(d.lock);
    for (const auto& sc : d.classes) {
      if (sc->bytes == bytes) {
        sc->dirty.push_back(sp);  // within capacity: invariant (1)
      }
    }
    if (d.dirty_total++ == 0) {
      d.trim_wanted.notify_one();
    }
    start_trimmer = !d.trimmer_started;
    d.trimmer_started = true;
  }
  if (start_trimmer) {
    try {
      std::thread(trimmer_main).detach();
    } catch (const std::system_error&) {
      std::lock_guard guard(d.lock);
      d.trimmer_started = false;  // no thread now: the next give tries again
    }
  }
}

void trim_stacks_now() noexcept {
  Depot& d = depot();
  std::unique_lock lk(d.lock);
  trim(d, lk, true);
  d.trimmed.wait(lk, [&] {
    return std::all_of(d.classes.begin(), d.classes.end(),
                       [](const auto& sc) { return sc->in_flight == 0; });
  });
}

void force_canary_slabs(bool on) noexcept {
  Depot& d = depot();
  std::lock_guard guard(d.lock);
  d.force_canary = on;
  for (const auto& sc : d.classes) {
    sc->slots_left = 0;  // the next take makes a slab of the wanted kind
  }
}

std::size_t guarded_slots() noexcept {
  Depot& d = depot();
  std::lock_guard guard(d.lock);
  return d.guarded_reserved;
}

}  // namespace gofer::detail
