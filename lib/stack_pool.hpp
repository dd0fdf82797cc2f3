// stack_pool.hpp: task stacks: carved from pre-reserved slabs, cached per thread, with a guard
// region below each and overflow detection that names the task.
//
// Every task runs on a stack from StackPool::local(), handed to Boost.Fiber by the PooledStack
// allocator. A thread's pool caches released stacks; a miss or an overflow of the cache goes to
// the process-wide depot (stack_depot.hpp), which carves stacks from large slabs (one mmap per
// 64 to 512 stacks, never unmapped), keeps released ones on free lists and has a background
// thread give their memory back with madvise(MADV_DONTNEED). So spawning and ending a task
// make no mmap, mprotect or munmap on its thread once the slabs exist; only making a slab does.
// Memory is mapped MAP_NORESERVE and never memset: an untouched stack costs no memory.
//
// Guard region. Below every stack's usable part lies a guard region of guard_bytes() = 64 KiB +
// one page of address space (no memory). A frame of up to 64 KiB whose caller's frame is on the
// stack therefore has its lowest byte in the stack's own guard region: it cannot reach the stack
// below. Beyond 64 KiB, code built with -fstack-clash-protection (GOFER_STACK_CLASH_PROTECTION)
// probes every page it allocates, so it touches the guard region first. A stack is one of two
// kinds, by the slab it comes from:
//   guarded: the guard region is PROT_NONE, so an overflow faults at the first write (or probe)
//     into it, and the SIGSEGV handler names the task. The handler also reports any fault taken
//     while the task's stack pointer lies below its stack (a frame that jumped the region).
//     Cost: every guarded stack splits its slab's mapping in two, i.e. two kernel mappings
//     (VMAs) of the 65530 vm.max_map_count allows by default. A PROT_NONE hole per stack for a
//     million stacks would need two million: that is why the budget below exists.
//   canary: the guard region is ordinary untouched memory in a slab that is one mapping in all,
//     so canary stacks cost no mappings. The region itself is the canary: no page of it may
//     ever become resident, which the kernel tells with one mincore call and no memory cost
//     (the stack's lowest 32 bytes [low, low + 32) lie in its last page, so they are not
//     usable). An overflow is detected, and reported with the task's name, (a) at every task
//     switch if the task's stack pointer is below its stack (two compares, no memory access);
//     (b) when the task ends, if any page of its guard region is resident; (c) in the fault
//     handler, as above; (d) when the stack is released (the task is no longer known then).
//     Not detected: an overflow on a task that never ends, whose frame returned before its
//     next switch and did not fault; it corrupts nothing while the frame was at most 64 KiB,
//     since the bytes it touched lie in the stack's own guard region. Frames larger than
//     64 KiB, even with -fstack-clash-protection (whose probes write nothing), can write into
//     the stack below before (a) or (b) reports them.
// Guarded slabs are made while the process-wide count of guarded stacks is below the budget
// (max_map_count - 16384) / 2 (/ 4 under TSan), with max_map_count read once from /proc/sys/vm,
// and canary slabs after, or when mprotect fails with ENOMEM. So the first ~24,500 stacks of a
// process (on a default kernel) are guarded, and 100,000 or 1,000,000 live tasks still fit;
// gofer never raises the kernel limit.
//
// Invariants:
//  (1) sctx.sp is the high end of a stack and sctx.size its usable length, a whole number of
//      pages; low = sp - size. A guarded stack's sp is page aligned and its guard region is
//      [low - guard_bytes(), low). A canary stack's sp lies 32 bytes below a page boundary and
//      its guard region is [low + 32 - guard_bytes(), low + 32). So
//      sp % 64 (0 or 32) tells the kinds apart with no lookup.
//  (2) No task writes at or above a stack's sp (check_finished_stack leaves one word at a canary
//      stack's sp, which its release clears).
//  (3) A cached stack is still mapped, keeps its guard region (untouched, on a canary stack), and
//      is never
//      mprotected, madvised or munmapped while cached: reuse makes no system call.
//  (4) A pool caches at most 1024 stacks and at most 1 GiB of address space (what a cached
//      stack holds resident is only what its last task touched); a release beyond that goes to
//      the depot, whose trimmer drops its pages within about a second (at once for a batch).
//
// Thread-safety: StackPool::local(), PooledStack, the default size and the counters may be used
// from any thread. A StackPool is used only by its own thread; a stack allocated on one thread
// may be deallocated on another and then joins that thread's pool. set_running_stack,
// clear_running_stack and the checks read and write only this thread's state.
//
// Blocking: nothing here parks a task. A cache hit or a cached release is a few loads and
// stores, with no lock and no system call. A miss or a release past the cache takes the depot's
// mutex briefly; a miss that needs a new slab while the depot's background thread has none ready
// blocks the thread in mmap (and, for a guarded slab, up to 64 mprotects). check_finished_stack
// makes one mincore call on canary stacks.
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

// StackPool: this thread's pool of task stacks, by size class (whole pages).
class StackPool {
 public:
  // local: this thread's pool. At thread exit it gives its cached stacks to the depot and from
  // then on caches nothing.
  static StackPool& local();

  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  // allocate: a stack of at least `size` usable bytes (rounded up to whole pages): the most
  // recently cached one of that size, else one from the depot. Throws std::invalid_argument for
  // a size outside [16 KiB, 1 GiB], std::system_error (with errno) when mmap fails,
  // std::bad_alloc.
  boost::context::stack_context allocate(std::size_t size);
  // deallocate: takes back a stack from any thread's allocate(). Aborts with an overflow report
  // when a canary stack's guard region was touched (unless check_finished_stack just checked
  // it on this thread).
  void deallocate(boost::context::stack_context& sctx) noexcept;
  // cached: the number of stacks this pool keeps for reuse.
  std::size_t cached() const noexcept { return cached_; }

 private:
  // SizeClass: the cached stacks of one size.
  struct SizeClass {
    std::size_t bytes;
    std::vector<std::uintptr_t> stacks;  // sp of each cached stack; reserved, never reallocated
  };
  struct Reaper;

  StackPool();
  // size_class: the class for `bytes`, created when missing; nullptr past the class limit.
  // Throws std::bad_alloc.
  SizeClass* size_class(std::size_t bytes);
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
// reports a fault in the guard region of the stack running on this thread, a fault while the
// interrupted stack pointer lies below that stack (by at most 64 MiB), or any fault while that
// stack is a canary stack whose guard region was touched, by writing (write(2),
// async-signal-safe)
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
// check_running_stack: if the running stack is a canary stack, verifies that the caller's stack
// pointer is not below it (by up to 64 MiB); a failure is reported exactly like a guard-region
// fault and aborts. Two compares, no memory access: called at every task switch, just before the
// running task switches away, on the task's own stack.
void check_running_stack() noexcept;
// check_finished_stack: check_running_stack, then, on a canary stack, guard_untouched (one
// mincore call); reported the same way. Called as a task ends, on its stack.
void check_finished_stack() noexcept;
// checked_at_finish: whether check_finished_stack found the canary stack (sp, low) intact since
// it was last released (it leaves a mark in the unused word at sp, which this clears), so its
// release need not check again.
bool checked_at_finish(std::uintptr_t sp, std::uintptr_t low) noexcept;

// die: writes "gofer: <what>[<id>][ (<name>)]\n" with one write(2) and aborts. Async-signal-safe.
[[noreturn]] void die(const char* what, const std::uint64_t* id, const char* name) noexcept;
// guard_untouched: whether no page of the guard region of the canary stack whose low end is
// `low` is resident (one mincore call; async-signal-safe).
bool guard_untouched(std::uintptr_t low) noexcept;

// Debug counters for tests and leak checks: stacks handed out by allocate() and not yet
// deallocated, process-wide. Cached stacks are not counted.
std::size_t live_guarded_stacks() noexcept;
std::size_t live_canary_stacks() noexcept;

}  // namespace gofer::detail
