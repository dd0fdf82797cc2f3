// stack_depot.hpp: the process-wide side of task stacks: their layout, the slabs they are carved
// from, the free lists all threads share and the background thread that makes slabs ahead of
// need and gives freed stacks' memory back to the kernel. StackPool (stack_pool.hpp) caches stacks
// per thread in front of it.
//
// Layout. A stack of `bytes` usable bytes (whole pages) lives in a slot of guard_bytes() + bytes:
//   [guard region: guard_bytes() | usable: bytes]            (low addresses on the left)
// guard_bytes() is 64 KiB plus one page, so any frame of up to 64 KiB that starts on the stack
// has its lowest byte inside the slot's own guard region, never in the slot below. Slots are
// carved from slabs (one mmap each, MAP_NORESERVE, never unmapped), of one of two kinds:
//   guarded slab: each guard region is PROT_NONE, set up by one mprotect per slot when the slab
//     is made. Each slot is then two kernel mappings (VMAs). sp = top of the slot (page aligned).
//   canary slab: a single RW mapping. The guard region is plain untouched memory (no RSS); an
//     overflow into it corrupts nothing but is not caught by the MMU; it makes a page of the
//     region resident, which is what the checks look for. sp = top - 32, so sp % 64 == 32
//     tells a canary stack from a guarded one with no lookup; the 32 bytes below low + 32 lie
//     in the region's last page and are not usable.
// Slabs are guarded while the process-wide count of guarded slots stays within the budget
// (vm.max_map_count - 16384) / 2 (/ 4 under TSan), and canary slabs after. Guarded slabs hold
// at most 64 slots (so making one costs at most 64 mprotects), canary slabs at most 512, and
// neither more than 64 MiB.
//
// Free lists. Each size class has a dirty list (stacks released with their pages still
// resident) and a clean list (pages already dropped). depot_take serves dirty stacks first
// (warm: no page faults), then clean ones, then carves new slots, then makes a new slab.
// depot_give adds to the dirty list. A background thread (started on first need, never joined;
// asleep while it has nothing to do) does two things. (a) When a class starts carving a slab, it
// maps and protects that class's next slab (the spare) and faults in the top page of each of
// its slots (the page every task touches first), so the thread that spawns tasks seldom makes a
// slab itself or takes that fault. A spare slab holds one resident page per slot until used. (b)
// Every 500 ms while stacks are dirty, it trims, per class, as many dirty stacks as were never
// taken since its last pass (the list's low-water mark): it drops their pages with one
// madvise(MADV_DONTNEED) per run of adjacent slots, 64 stacks at a time outside the lock, and moves
// them to the clean list. So a steady churn keeps its warm stacks, while the memory of a burst that
// ended is returned within about a second.
//
// Invariants:
//  (1) Every carved slot is in exactly one place: handed out, in a StackPool, in a dirty or
//      clean list, or in the trimmer's hands (in flight; a take that finds both lists empty
//      waits for those rather than make a slab). The dirty and clean vectors of a class have
//      capacity for every slot carved in it, so depot_give never allocates.
//  (2) A slot in the clean list has no resident page; no list holds a canary stack with a
//      resident guard-region page.
//  (3) No slab is ever unmapped or mprotected after it is made: taking and giving stacks
//      makes no system call, and madvise runs only on the background thread (and in
//      trim_stacks_now).
//
// Thread-safety: every function may be called from any thread. One mutex (the depot's) guards
// the lists and carving; it is never held across madvise, and held across mmap/mprotect only
// when depot_take makes a slab itself. Blocking: depot_take blocks its thread in mmap/mprotect
// only when it must make a slab and no spare is ready (at most once per 64 to 512 stacks), and
// both briefly wait for the mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace gofer::detail {

constexpr std::size_t canary_bytes = 32;

std::size_t page_size() noexcept;
// guard_bytes: the guard region below every stack: 64 KiB rounded up to pages, plus a page.
std::size_t guard_bytes() noexcept;
// is_canary_stack: whether the stack with this sp was carved from a canary slab.
inline bool is_canary_stack(std::uintptr_t sp) noexcept {
  return (sp & (2 * canary_bytes - 1)) != 0;
}
// slot_base: the lowest address of the slot of the stack (sp, bytes): its guard region's start.
std::uintptr_t slot_base(std::uintptr_t sp, std::size_t bytes) noexcept;

// depot_take: a stack (its sp) of `bytes` usable bytes, `bytes` a whole number of pages: the
// most recently given back one, else a new one. Throws std::system_error when mmap fails,
// std::bad_alloc.
std::uintptr_t depot_take(std::size_t bytes);
// depot_give: takes back a stack of `bytes` from depot_take (any thread's). Never allocates.
void depot_give(std::size_t bytes, std::uintptr_t sp) noexcept;

// Test hooks.
// trim_stacks_now: drops the pages of every dirty stack now, on the calling thread, and waits
// for the background thread's chunk in flight and the spare slabs asked of it, if any.
void trim_stacks_now() noexcept;
// force_canary_slabs: while on, depot_take ignores the free lists and carves every stack from
// a canary slab, whatever the budget.
void force_canary_slabs(bool on) noexcept;
// guarded_slots: how many guarded slots have been carved (for the budget tests).
std::size_t guarded_slots() noexcept;

}  // namespace gofer::detail
