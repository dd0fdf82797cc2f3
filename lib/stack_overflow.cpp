// stack_overflow.cpp: overflow detection for task stacks: the SIGSEGV/SIGBUS handler that names
// the overflowing task, the checks run at task switches and at a task's end, and the one
// fatal-report helper. The stack layout is in stack_depot.hpp, the scheme in stack_pool.hpp.
//
// Invariants:
//  (1) The signal handler reads only the running record (initial-exec TLS, no allocation), the
//      saved previous actions and the layout constants, all set before the handler can run.
//  (2) running.low is 0 whenever no task's stack is the one the thread runs on.
//
// Thread-safety: the running record is per thread; the handler is installed once per process.
// Blocking: nothing here blocks. guard_untouched is one mincore call (canary stacks only).
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <utility>

#include "errno_error.hpp"
#include "stack_depot.hpp"
#include "stack_pool.hpp"

namespace gofer::detail {

namespace {

// A fault while the interrupted stack pointer lies below the running stack's low end, by at
// most this much, is an overflow (a frame that jumped the guard region, say).
constexpr std::uintptr_t overflow_sp_reach = std::uintptr_t{64} << 20;

std::atomic<std::size_t> fault_guard{0};
struct sigaction previous_segv;
struct sigaction previous_bus;

// RunningStack: what the fault handler and the checks know of the running task.
struct RunningStack {
  std::uintptr_t low;   // low end of the usable stack; 0 when no task runs
  std::uintptr_t high;  // its sp
  bool canary;
  std::uint64_t id;
  const char* name;
};
[[gnu::tls_model("initial-exec")]] constinit thread_local RunningStack running{};
// finished_mark: xor'ed with a canary stack's low end, the word check_finished_stack leaves at
// its sp (in the 32 bytes above sp, which no task uses) when it found the stack intact.
constexpr std::uintptr_t finished_mark = 0x9e3779b97f4a7c15;

[[noreturn]] void report_overflow(std::uint64_t id, const char* name) noexcept {
  die("stack overflow in task ", &id, name);
}

// stack_pointer: the caller's stack pointer, near enough (its frame address).
[[gnu::always_inline]] inline std::uintptr_t stack_pointer() noexcept {
  return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
}

// interrupted_sp: the stack pointer of the code a signal interrupted, or 0 where unknown.
std::uintptr_t interrupted_sp(void* uctx) noexcept {
#if defined(__x86_64__)
  return static_cast<std::uintptr_t>(static_cast<ucontext_t*>(uctx)->uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
  return static_cast<std::uintptr_t>(static_cast<ucontext_t*>(uctx)->uc_mcontext.sp);
#else
  (void)uctx;
  return 0;
#endif
}

// on_fault: the SIGSEGV/SIGBUS handler (async-signal-safe).
void on_fault(int sig, siginfo_t* info, void* uctx) {
  const RunningStack r = running;
  const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
  const std::uintptr_t sp = interrupted_sp(uctx);
  const bool in_guard = r.low != 0 && !r.canary && addr < r.low &&
                        addr >= r.low - fault_guard.load(std::memory_order_relaxed);
  const bool sp_below = r.low != 0 && sp != 0 && sp < r.low && r.low - sp <= overflow_sp_reach;
  if (in_guard || sp_below || (r.canary && !guard_untouched(r.low))) {
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
  fault_guard.store(guard_bytes(), std::memory_order_relaxed);
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

void die(const char* what, const std::uint64_t* id, const char* name) noexcept {
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

bool guard_untouched(std::uintptr_t low) noexcept {
  // The region is [low + 32 - guard_bytes(), low + 32): whole pages, the last one holding the
  // stack's 32 forbidden bytes. Nothing but an overflow makes any of them resident.
  const std::uintptr_t end = low + canary_bytes;
  const std::size_t pages = guard_bytes() / page_size();
  unsigned char resident[64];
  if (pages > sizeof(resident) ||
      ::mincore(reinterpret_cast<void*>(end - guard_bytes()), guard_bytes(), resident) != 0) {
    return true;  // cannot tell (not a canary stack's region): no report
  }
  for (std::size_t i = 0; i < pages; ++i) {
    if ((resident[i] & 1) != 0) {
      return false;
    }
  }
  return true;
}

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
  running = RunningStack{sp - sctx->size, sp, is_canary_stack(sp), task_id, name};
}

void clear_running_stack() noexcept {
  running = RunningStack{};
}

void check_running_stack() noexcept {
  const std::uintptr_t sp = stack_pointer();
  if (running.canary && sp < running.low && running.low - sp <= overflow_sp_reach) [[unlikely]] {
    report_overflow(running.id, running.name);
  }
}

// The mark is written and read outside ASan's view, above the stack's sp.
[[gnu::no_sanitize_address]] void check_finished_stack() noexcept {
  check_running_stack();
  if (running.canary) {
    if (!guard_untouched(running.low)) [[unlikely]] {
      report_overflow(running.id, running.name);
    }
    *reinterpret_cast<std::uintptr_t*>(running.high) = running.low ^ finished_mark;
  }
}

[[gnu::no_sanitize_address]] bool checked_at_finish(std::uintptr_t sp,
                                                    std::uintptr_t low) noexcept {
  auto* word = reinterpret_cast<std::uintptr_t*>(sp);
  if (*word != (low ^ finished_mark)) {
    return false;
  }
  *word = 0;
  return true;
}

}  // namespace gofer::detail
