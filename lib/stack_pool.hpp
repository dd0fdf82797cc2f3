// stack_pool.hpp: task stacks: mmap'd, pooled per thread, with overflow detection that names
// the task.
//
// Every task runs on a stack from StackPool::local(), handed to Boost.Fiber by the PooledStack
// allocator. Memory is mapped MAP_NORESERVE and never memset, so an untouched stack costs no
// resident memory. A stack is one of two kinds:
//   guarded: its own mapping, [guard page | usable]. The guard page is PROT_NONE, so an overflow
//     faults at the offending instruction and the SIGSEGV handler names the task (a frame larger
//     than a page may jump over it: then the fault is an ordinary crash). It costs two kernel
//     mappings, of the 65530 vm.max_map_count allows by default.
//   canary: carved from a slab (one mapping holding up to 64 stacks). The lowest 32 usable bytes
//     hold a canary pattern, checked at every task switch (check_running_stack), on release and
//     in the fault handler. So an overflow is detected at the task's next switch, not at the
//     faulting instruction, and by then it may have corrupted the top of the stack below it in
//     the slab. An overflow that jumps over the canary without writing it goes unnoticed.
// Guarded stacks are handed out while the process-wide count of mapped guarded stacks is below
// the budget (max_map_count - 16384) / 2 (/ 4 under TSan, whose shadow adds mappings), with
// max_map_count read once from /proc/sys/vm. Beyond it, and whenever mmap or mprotect fails with
// ENOMEM, stacks are canary stacks. That is how 100,000+ live tasks fit in a default kernel;
// gofer never raises the kernel limit.
//
// Invariants:
//  (1) sctx.sp is the high end of a stack and sctx.size its usable length, a whole number of
//      pages; low = sp - size. A guarded stack's sp is page aligned and its guard page is
//      [low - page, low). A canary stack's sp lies 32 bytes below a page boundary and its canary
//      is [low, low + 32). So sp % 64 (0 or 32) tells the kinds apart with no lookup.
//  (2) Nothing writes at or above a stack's sp: for a canary stack, [sp, sp + 32) is the canary
//      of the next stack in its slab, in the top page that stack already dirties when it runs.
//  (3) A cached stack is still mapped, keeps its guard page or intact canary, and is never
//      mprotected, madvised or munmapped while cached: reuse makes no system call.
//  (4) A pool caches at most 1024 stacks and at most 1 GiB of address space (untouched pages
//      cost no memory, so what a cached stack holds resident is only what its last task
//      touched); a release beyond that unmaps a guarded stack and returns a canary stack to
//      its slab.
//  (5) Slabs are shared by all threads. A slab is unmapped once every stack carved from it has
//      left all pools (cache overflow or thread exit) and its carving pool has dropped it; until
//      then it stays mapped, so a thread exit can leave a slab mapped for the other threads.
//
// Thread-safety: StackPool::local(), PooledStack, the default size and the counters may be used
// from any thread. A StackPool is used only by its own thread; a stack allocated on one thread
// may be deallocated on another and then joins that thread's pool. set_running_stack,
// clear_running_stack and check_running_stack read and write only this thread's state.
//
// Blocking: nothing here parks a task. allocate() blocks the thread in mmap/mprotect when the
// cache is empty, deallocate() in munmap when the cache is full; both then may also wait briefly
// for the process-wide slab registry mutex (canary stacks only). A cache hit or a cached release
// is a few loads and stores, with no lock and no system call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <boost/context/stack_context.hpp>

#include <gofer/stack.hpp>

namespace gofer::detail {

// The default usable size of a task stack is gofer::default_stack_size (stack.hpp).

// set_default_stack_size / get_default_stack_size: the process-wide default (atomic). Sizes are
// rounded up to whole pages; a size below 16 KiB or above 1 GiB throws std::invalid_argument
// with a message saying what and why, e.g. "gofer::set_stack_size: 8192 bytes is too small for
// a task stack: sizes must lie in [16 KiB, 1 GiB]" (gofer::set_stack_size is the public setter;
// StackPool::allocate names gofer::TaskOptions::stack_size).
void set_default_stack_size(std::size_t size);
std::size_t get_default_stack_size() noexcept;

struct Slab;

// StackPool: this thread's pool of task stacks, by size class (whole pages).
class StackPool {
 public:
  // local: this thread's pool. At thread exit it unmaps its cached guarded stacks, returns its
  // canary stacks to their slabs and from then on caches nothing.
  static StackPool& local();

  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  // allocate: a stack of at least `size` usable bytes (rounded up to whole pages): the most
  // recently cached one of that size, else a new one (guarded while the budget allows).
  // Throws std::invalid_argument for a size outside [16 KiB, 1 GiB], std::system_error (with
  // errno) when mmap or mprotect fails, std::bad_alloc.
  boost::context::stack_context allocate(std::size_t size);
  // deallocate: takes back a stack from any thread's allocate(). Aborts with an overflow report
  // when a canary stack's canary is broken.
  void deallocate(boost::context::stack_context& sctx) noexcept;
  // cached: the number of stacks this pool keeps for reuse.
  std::size_t cached() const noexcept { return cached_; }

 private:
  // SizeClass: the cached stacks of one size, and the slab canary stacks are carved from.
  struct SizeClass {
    std::size_t bytes;
    std::vector<std::uintptr_t> stacks;  // sp of each cached stack; reserved, never reallocated
    Slab* carving = nullptr;
  };
  struct Reaper;

  StackPool();
  // size_class: the class for `bytes`, created when missing; nullptr past the class limit.
  // Throws std::bad_alloc.
  SizeClass* size_class(std::size_t bytes);
  // fresh_stack: a new stack's sp; carves from and updates sc->carving when sc is not null.
  std::uintptr_t fresh_stack(std::size_t bytes, SizeClass* sc);
  // retire: releases everything and turns caching off (thread exit).
  void retire() noexcept;

  std::vector<SizeClass> classes_;
  std::size_t cached_ = 0;
  std::size_t cached_bytes_ = 0;
  bool caching_ = true;
  SizeClass* hot_ = nullptr;  // the class of the last allocation (nullptr once retired)
  std::size_t hot_size_ = 0;  // the size that allocation asked for, already checked
};

// PooledStack: a Boost.Context StackAllocator (allocate()/deallocate(sctx)) of a given size that
// draws from StackPool::local(). Copyable, cheap. The size is checked by allocate().
class PooledStack {
 public:
  explicit PooledStack(std::size_t size = get_default_stack_size()) noexcept : size_(size) {}
  boost::context::stack_context allocate() { return StackPool::local().allocate(size_); }
  void deallocate(boost::context::stack_context& sctx) noexcept {
    StackPool::local().deallocate(sctx);
  }

 private:
  std::size_t size_;
};

// Overflow detection.
//
// install_overflow_handler: once per thread that runs tasks (later calls are cheap no-ops). Gives
// the thread an alternate signal stack (sigaltstack) unless it has one (ASan installs its own),
// and once per process installs a SIGSEGV/SIGBUS handler (SA_ONSTACK|SA_SIGINFO). The handler
// reports a fault in the guard page of the stack running on this thread, or any fault while
// that stack is a canary stack with a broken canary, by writing (write(2), async-signal-safe)
//   "gofer: stack overflow in task <id>\n"   or   "gofer: stack overflow in task <id> (<name>)\n"
// and calling abort(). Any other fault goes to the handler installed before (ASan's, say), or
// the default action is restored and the signal raised again. Throws std::system_error.
void install_overflow_handler();
// set_running_stack: the scheduler calls this whenever a task starts or resumes running on this
// thread: sctx of the task's stack (from a PooledStack or StackPool; nullptr = no task), its id
// and its name or nullptr (must outlive the run). thread_local stores only.
void set_running_stack(const boost::context::stack_context* sctx, std::uint64_t task_id,
                       const char* name) noexcept;
// clear_running_stack: no task runs on this thread now (plain code or the scheduler's fibers).
void clear_running_stack() noexcept;
// check_running_stack: if the running stack is a canary stack, verifies its canary; a broken
// one is reported exactly like a guard-page overflow and aborts. A few instructions: called at
// every task switch, just before the running task switches away.
void check_running_stack() noexcept;

// Debug counters for tests and leak checks: stacks handed out by allocate() and not yet
// deallocated, process-wide. Cached stacks are not counted.
std::size_t live_guarded_stacks() noexcept;
std::size_t live_canary_stacks() noexcept;

}  // namespace gofer::detail
