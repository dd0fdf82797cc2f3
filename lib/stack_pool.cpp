// stack_pool.cpp: mmap'd task stacks pooled per thread, guard pages and canaries, and the
// SIGSEGV/SIGBUS handler that names the overflowing task. The scheme is in stack_pool.hpp.
//
// Invariants, besides those of stack_pool.hpp:
//  (1) guarded_mapped counts the guarded stacks now mapped (in use or cached). A slot is taken
//      before the mmap and given back after a failed map or a successful munmap, so the count
//      never exceeds the budget.
//  (2) A slab's `held` counts its stacks not yet given back to it; stacks not yet carved are
//      held by the carving pool until it drops the slab. `held` is only touched with the
//      registry mutex held, and whoever takes it to 0 unmaps the slab.
//  (3) The signal handler reads only the running record (initial-exec TLS, no allocation), the
//      saved previous actions and fault_page, all written before the handler can run.
//
// Thread-safety and blocking: as stack_pool.hpp says. Lock order: one lock only, the slab
// registry's, never held across a call out of this file.
#include "stack_pool.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#include "errno_error.hpp"

namespace gofer::detail {

// Slab: one mapping of `capacity` canary stacks of `stride` bytes. Stack i (i from 0) has its sp
// at base + page + (i + 1) * stride - 32, so the first page holds only stack 0's canary.
struct Slab {
  std::uintptr_t base;
  std::size_t bytes;
  std::size_t stride;
  std::size_t capacity;
  std::size_t carved;  // touched only by the carving pool's thread
  std::size_t held;    // registry mutex
};

namespace {

constexpr std::size_t min_stack_size = std::size_t{16} * 1024;
constexpr std::size_t max_stack_size = std::size_t{1} << 30;
constexpr std::size_t max_cached_stacks = 1024;
constexpr std::size_t max_cached_bytes = std::size_t{1} << 30;
constexpr std::size_t max_size_classes = 16;
constexpr std::size_t max_slab_stacks = 64;
constexpr std::size_t max_slab_bytes = std::size_t{64} << 20;
constexpr std::size_t canary_bytes = 32;
constexpr std::uint64_t canary_word = 0x9e3779b97f4a7c15;
constexpr long reserved_mappings = 16384;
// A guarded stack is two mappings (guard page, usable part). Under TSan it is about four, as
// TSan maps shadow for each of them and keeps most of it after munmap (measured).
#if defined(__SANITIZE_THREAD__)
constexpr long mappings_per_guarded_stack = 4;
#else
constexpr long mappings_per_guarded_stack = 2;
#endif
constexpr int map_flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK;

std::atomic<std::size_t> default_size{default_stack_size};
std::atomic<std::size_t> guarded_mapped{0};
std::atomic<std::size_t> live_guarded{0};
std::atomic<std::size_t> live_canary{0};
std::atomic<std::size_t> fault_page{0};
struct sigaction previous_segv;
struct sigaction previous_bus;

// RunningStack: what the fault handler and check_running_stack know of the running task.
struct RunningStack {
  std::uintptr_t low;  // low end of the usable stack; 0 when no task runs
  bool canary;
  std::uint64_t id;
  const char* name;
};
[[gnu::tls_model("initial-exec")]] constinit thread_local RunningStack running{};

std::size_t page_size() noexcept {
  static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

std::size_t round_to_pages(std::size_t bytes) noexcept {
  const std::size_t page = page_size();  // a power of two
  return (bytes + page - 1) & ~(page - 1);
}

bool is_canary_stack(std::uintptr_t sp) noexcept {
  return (sp & (2 * canary_bytes - 1)) != 0;
}

// die: writes "gofer: <what>[<id>][ (<name>)]\n" with one write(2) and aborts. Async-signal-safe.
[[noreturn]] void die(const char* what, const std::uint64_t* id, const char* name) noexcept {
  char text[512];
  std::size_t len = 0;
  auto put = [&](const char* s) {
    while (*s != '\0' && len < sizeof(text) - 1) {
      text[len++] = *s++;
    }
  };
  put("gofer: ");
  put(what);
  if (id != nullptr) {
    char digits[21] = {};
    std::to_chars(digits, digits + 20, *id);
    put(digits);
  }
  if (name != nullptr) {
    put(" (");
    put(name);
    put(")");
  }
  text[len++] = '\n';
  [[maybe_unused]] const ssize_t written = ::write(STDERR_FILENO, text, len);
  std::abort();
}

[[noreturn]] void report_overflow(std::uint64_t id, const char* name) noexcept {
  die("stack overflow in task ", &id, name);
}

// The canary is read and written outside ASan's view: a task that never returned from its frames
// can leave their shadow poisoned on a stack that is reused later.
[[gnu::no_sanitize_address]] void write_canary(std::uintptr_t low) noexcept {
  auto* words = reinterpret_cast<std::uint64_t*>(low);
  for (std::size_t i = 0; i < canary_bytes / sizeof(std::uint64_t); ++i) {
    words[i] = canary_word;
  }
}

[[gnu::no_sanitize_address]] bool canary_intact(std::uintptr_t low) noexcept {
  const auto* words = reinterpret_cast<const std::uint64_t*>(low);
  return ((words[0] ^ canary_word) | (words[1] ^ canary_word) | (words[2] ^ canary_word) |
          (words[3] ^ canary_word)) == 0;
}

std::string kib(std::size_t bytes) {
  return std::to_string(bytes / 1024) + " KiB";
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

// unmap: munmap; or, when the kernel cannot split a merged mapping (ENOMEM at the map count
// limit), keeps the range mapped but drops its pages and returns false. Other errors are bugs.
bool unmap(void* addr, std::size_t len) noexcept {
  if (::munmap(addr, len) == 0) {
    return true;
  }
  if (errno != ENOMEM) {
    die("munmap of a task stack failed", nullptr, nullptr);
  }
  ::madvise(addr, len, MADV_DONTNEED);
  return false;
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
               ? static_cast<std::size_t>((limit - reserved_mappings) / mappings_per_guarded_stack)
               : 0;
  }();
  return budget;
}

// map_guarded: a new guarded stack's sp, or 0 when the budget is spent or the kernel is out of
// mappings (ENOMEM). Throws std::system_error on any other failure.
std::uintptr_t map_guarded(std::size_t bytes) {
  if (guarded_mapped.fetch_add(1, std::memory_order_relaxed) >= guarded_budget()) {
    guarded_mapped.fetch_sub(1, std::memory_order_relaxed);
    return 0;
  }
  const std::size_t page = page_size();
  void* base = ::mmap(nullptr, bytes + page, PROT_READ | PROT_WRITE, map_flags, -1, 0);
  if (base != MAP_FAILED && ::mprotect(base, page, PROT_NONE) == 0) {
    return reinterpret_cast<std::uintptr_t>(base) + page + bytes;
  }
  const int err = errno;
  if (base != MAP_FAILED && !unmap(base, bytes + page)) {
    return 0;  // still mapped, so still counted
  }
  guarded_mapped.fetch_sub(1, std::memory_order_relaxed);
  if (err == ENOMEM) {
    return 0;
  }
  throw_errno_value(err, base == MAP_FAILED ? "mmap" : "mprotect",
                    "of a " + kib(bytes) + " task stack failed");
}

// SlabRegistry: every slab by base address, to find a released canary stack's slab. Never
// destroyed, so that threads exiting during static destruction can still give stacks back.
struct SlabRegistry {
  std::mutex lock;
  std::map<std::uintptr_t, Slab*> by_base;
};

SlabRegistry& registry() {
  static auto* slabs = new SlabRegistry;
  return *slabs;
}

Slab* new_slab(std::size_t stride) {
  const std::size_t capacity = std::clamp<std::size_t>(max_slab_bytes / stride, 1, max_slab_stacks);
  const std::size_t bytes = page_size() + capacity * stride;
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, map_flags, -1, 0);
  if (base == MAP_FAILED) {
    throw_errno("mmap", "of a slab of " + std::to_string(capacity) + " " + kib(stride) +
                            " task stacks failed");
  }
  try {
    auto slab = std::make_unique<Slab>(
        Slab{reinterpret_cast<std::uintptr_t>(base), bytes, stride, capacity, 0, capacity});
    std::lock_guard guard(registry().lock);
    registry().by_base.emplace(slab->base, slab.get());
    return slab.release();
  } catch (...) {
    unmap(base, bytes);
    throw;
  }
}

// carve: the next stack of a slab that has one left, with its canary written.
std::uintptr_t carve(Slab& slab) noexcept {
  const std::uintptr_t sp = slab.base + page_size() + ++slab.carved * slab.stride - canary_bytes;
  write_canary(sp - slab.stride);
  return sp;
}

// give_back: gives `count` stacks back to the slab holding address `addr`, and unmaps the slab
// when none is left out. The registry mutex must not be held.
void give_back(std::uintptr_t addr, std::size_t count) noexcept {
  Slab* slab;
  {
    std::lock_guard guard(registry().lock);
    slab = std::prev(registry().by_base.upper_bound(addr))->second;
    slab->held -= count;
    if (slab->held != 0) {
      return;
    }
    registry().by_base.erase(slab->base);
  }
  unmap(reinterpret_cast<void*>(slab->base), slab->bytes);
  delete slab;
}

void drop_slab(const Slab& slab) noexcept {
  give_back(slab.base, slab.capacity - slab.carved);
}

// release_stack: unmaps a guarded stack or gives a canary stack back to its slab.
void release_stack(std::uintptr_t sp, std::size_t bytes) noexcept {
  if (is_canary_stack(sp)) {
    give_back(sp, 1);
  } else if (unmap(reinterpret_cast<void*>(sp - bytes - page_size()), bytes + page_size())) {
    guarded_mapped.fetch_sub(1, std::memory_order_relaxed);
  }
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
    sp = fresh_stack(bytes, sc);
  }
  (is_canary_stack(sp) ? live_canary : live_guarded).fetch_add(1, std::memory_order_relaxed);
  boost::context::stack_context sctx;
  sctx.size = bytes;
  sctx.sp = reinterpret_cast<void*>(sp);
  return sctx;
}

std::uintptr_t StackPool::fresh_stack(std::size_t bytes, SizeClass* sc) {
  if (const std::uintptr_t sp = map_guarded(bytes); sp != 0) {
    return sp;
  }
  Slab* slab = sc != nullptr && sc->carving != nullptr ? sc->carving : new_slab(bytes);
  const std::uintptr_t sp = carve(*slab);
  const bool keep = sc != nullptr && slab->carved < slab->capacity;
  if (sc != nullptr) {
    sc->carving = keep ? slab : nullptr;
  }
  if (!keep) {
    drop_slab(*slab);
  }
  return sp;
}

void StackPool::deallocate(boost::context::stack_context& sctx) noexcept {
  const auto sp = reinterpret_cast<std::uintptr_t>(sctx.sp);
  const std::size_t bytes = sctx.size;
  if (is_canary_stack(sp)) {
    if (!canary_intact(sp - bytes)) [[unlikely]] {
      if (running.low == sp - bytes) {
        report_overflow(running.id, running.name);
      }
      die("stack overflow in a finished task (broken canary)", nullptr, nullptr);
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
      // No memory for a new size class: the stack is released below instead of cached.
    }
  }
  if (sc != nullptr && room && sc->stacks.size() < sc->stacks.capacity()) {
    sc->stacks.push_back(sp);
    ++cached_;
    cached_bytes_ += bytes;
    return;
  }
  release_stack(sp, bytes);
}

void StackPool::retire() noexcept {
  for (const SizeClass& sc : classes_) {
    for (const std::uintptr_t sp : sc.stacks) {
      release_stack(sp, sc.bytes);
    }
    if (sc.carving != nullptr) {
      drop_slab(*sc.carving);
    }
  }
  std::vector<SizeClass>().swap(classes_);
  cached_ = 0;
  cached_bytes_ = 0;
  caching_ = false;
  hot_ = nullptr;
}

namespace {

// on_fault: the SIGSEGV/SIGBUS handler (async-signal-safe).
void on_fault(int sig, siginfo_t* info, void* uctx) {
  const RunningStack r = running;
  const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
  const bool in_guard = r.low != 0 && !r.canary && addr < r.low &&
                        addr >= r.low - fault_page.load(std::memory_order_relaxed);
  if (in_guard || (r.canary && !canary_intact(r.low))) {
    report_overflow(r.id, r.name);
  }
  const struct sigaction& previous = sig == SIGBUS ? previous_bus : previous_segv;
  if ((previous.sa_flags & SA_SIGINFO) != 0) {
    if (previous.sa_sigaction != nullptr) {
      previous.sa_sigaction(sig, info, uctx);
      return;
    }
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
    return;
  }
  // The default action: the raised signal stays blocked until this handler returns, then kills.
  struct sigaction default_action = {};
  default_action.sa_handler = SIG_DFL;
  ::sigaction(sig, &default_action, nullptr);
  ::raise(sig);
}

// install_fault_handlers: on_fault for SIGSEGV and SIGBUS, the previous actions saved first (the
// handler may run as soon as it is installed). sigaction cannot fail for these signals.
void install_fault_handlers() noexcept {
  fault_page.store(page_size(), std::memory_order_relaxed);
  struct sigaction action = {};
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_ONSTACK | SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  for (const auto& [sig, previous] :
       {std::pair{SIGSEGV, &previous_segv}, {SIGBUS, &previous_bus}}) {
    if (::sigaction(sig, nullptr, previous) != 0 || ::sigaction(sig, &action, nullptr) != 0) {
      die("sigaction for SIGSEGV/SIGBUS failed", nullptr, nullptr);
    }
  }
}

// AltStack: this thread's alternate signal stack, unless the thread had one (ASan gives each
// thread its own).
struct AltStack {
  AltStack() {
    stack_t current;
    if (::sigaltstack(nullptr, &current) != 0) {
      throw_errno("sigaltstack");
    }
    if ((current.ss_flags & SS_DISABLE) == 0) {
      return;
    }
    const auto size = std::max<std::size_t>(std::size_t{64} * 1024, SIGSTKSZ);
    memory.reset(new char[size]);
    stack_t ss = {};
    ss.ss_sp = memory.get();
    ss.ss_size = size;
    if (::sigaltstack(&ss, nullptr) != 0) {
      throw_errno("sigaltstack", "(install)");
    }
  }
  ~AltStack() {
    stack_t current;
    if (memory && ::sigaltstack(nullptr, &current) == 0 && current.ss_sp == memory.get()) {
      stack_t off = {};
      off.ss_flags = SS_DISABLE;
      ::sigaltstack(&off, nullptr);
    }
  }
  AltStack(const AltStack&) = delete;
  AltStack& operator=(const AltStack&) = delete;

  std::unique_ptr<char[]> memory;
};

}  // namespace

void install_overflow_handler() {
  static std::once_flag process_handlers;
  std::call_once(process_handlers, install_fault_handlers);
  thread_local AltStack alt_stack;
}

void set_running_stack(const boost::context::stack_context* sctx, std::uint64_t task_id,
                       const char* name) noexcept {
  if (sctx == nullptr) {
    running = RunningStack{};
    return;
  }
  const auto sp = reinterpret_cast<std::uintptr_t>(sctx->sp);
  running = RunningStack{sp - sctx->size, is_canary_stack(sp), task_id, name};
}

void clear_running_stack() noexcept {
  running = RunningStack{};
}

void check_running_stack() noexcept {
  if (running.canary && !canary_intact(running.low)) [[unlikely]] {
    report_overflow(running.id, running.name);
  }
}

std::size_t live_guarded_stacks() noexcept {
  return live_guarded.load(std::memory_order_relaxed);
}

std::size_t live_canary_stacks() noexcept {
  return live_canary.load(std::memory_order_relaxed);
}

}  // namespace gofer::detail
