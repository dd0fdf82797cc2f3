// thread_backtrace.cpp: the backtrace signal handler and its client (see thread_backtrace.hpp).
#include "thread_backtrace.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace gofer::detail {

namespace {

constexpr int max_frames = 64;

// Slot: the one request in flight and its answer (invariants in the header).
struct Slot {
  std::atomic<std::uint64_t> pending{0};   // the request a handler may answer; 0: none
  std::atomic<std::uint64_t> answered{0};  // the last request answered
  std::atomic<long> target{0};             // the thread asked
  void* frames[max_frames] = {};
  int count = 0;
  std::uintptr_t pc = 0;
};
constinit Slot slot;
std::uint64_t last_request = 0;  // the client's counter
std::atomic<bool> capture_on{false};

std::uintptr_t interrupted_pc(void* uctx) noexcept {
#if defined(__x86_64__)
  return static_cast<std::uintptr_t>(static_cast<ucontext_t*>(uctx)->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  return static_cast<std::uintptr_t>(static_cast<ucontext_t*>(uctx)->uc_mcontext.pc);
#else
  (void)uctx;
  return 0;
#endif
}

// on_backtrace_signal: async-signal-safe but for backtrace(), which is safe once primed (its
// unwinder is loaded, and glibc 2.35+ finds unwind tables without a lock: _dl_find_object).
void on_backtrace_signal(int, siginfo_t*, void* uctx) {
  const int saved_errno = errno;
  std::uint64_t request = slot.pending.load(std::memory_order_acquire);
  if (request != 0 && slot.target.load(std::memory_order_relaxed) == ::gettid() &&
      slot.pending.compare_exchange_strong(request, 0, std::memory_order_acq_rel)) {
    slot.count = ::backtrace(slot.frames, max_frames);
    slot.pc = interrupted_pc(uctx);
    slot.answered.store(request, std::memory_order_release);
  }
  errno = saved_errno;
}

// module_name: the path of the object holding a frame (the executable's own path when glibc
// reports it with an empty name).
std::string module_name(const char* fname) {
  if (fname != nullptr && fname[0] != '\0') {
    return fname;
  }
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  return n > 0 ? std::string(path, static_cast<std::size_t>(n)) : std::string("?");
}

std::string demangle(const char* name) {
  int status = 0;
  char* plain = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || plain == nullptr) {
    return name;
  }
  std::string out(plain);
  std::free(plain);
  return out;
}

}  // namespace

int backtrace_signal() noexcept {
  return SIGRTMAX - 3;
}

bool install_backtrace_signal() noexcept {
  struct sigaction current = {};
  if (::sigaction(backtrace_signal(), nullptr, &current) != 0) {
    return false;
  }
  const bool ours =
      (current.sa_flags & SA_SIGINFO) != 0 && current.sa_sigaction == on_backtrace_signal;
  if (!ours) {
    if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) {
      return false;  // the program uses this signal: leave it alone
    }
    void* prime[4];
    (void)::backtrace(prime, 4);  // loads libgcc's unwinder here, not in the handler
    struct sigaction action = {};
    action.sa_sigaction = on_backtrace_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    if (::sigaction(backtrace_signal(), &action, nullptr) != 0) {
      return false;
    }
  }
  capture_on.store(true, std::memory_order_relaxed);
  return true;
}

bool request_backtrace(long tid) noexcept {
  if (!capture_on.load(std::memory_order_relaxed)) {
    return false;
  }
  const std::uint64_t request = ++last_request;
  slot.target.store(tid, std::memory_order_relaxed);
  slot.pending.store(request, std::memory_order_release);
  if (::syscall(SYS_tgkill, ::getpid(), tid, backtrace_signal()) != 0) {
    std::uint64_t expected = request;
    slot.pending.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
    return false;
  }
  return true;
}

std::vector<void*> await_backtrace(std::chrono::milliseconds timeout) {
  const std::uint64_t request = last_request;
  auto answered = [&] { return slot.answered.load(std::memory_order_acquire) == request; };
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!answered() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!answered()) {
    std::uint64_t expected = request;
    if (slot.pending.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) {
      return {};  // withdrawn: no handler will touch the buffer
    }
    // A handler took the request: it is inside backtrace() and answers in microseconds.
    const auto grace = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (!answered() && std::chrono::steady_clock::now() < grace) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!answered()) {
      capture_on.store(false, std::memory_order_relaxed);
      return {};
    }
  }
  // Skip the handler's own frames: start at the interrupted instruction when it is listed.
  int first = 0;
  for (int i = 0; i < slot.count; ++i) {
    if (reinterpret_cast<std::uintptr_t>(slot.frames[i]) == slot.pc) {
      first = i;
      break;
    }
  }
  return std::vector<void*>(slot.frames + first, slot.frames + slot.count);
}

std::string symbolize(const std::vector<void*>& frames) {
  std::string out;
  char line[256];
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto addr = reinterpret_cast<std::uintptr_t>(frames[i]);
    Dl_info info{};
    ElfW(Sym)* sym = nullptr;
    std::snprintf(line, sizeof line, "    #%zu 0x%" PRIxPTR " in ", i, addr);
    out += line;
    if (::dladdr1(frames[i], &info, reinterpret_cast<void**>(&sym), RTLD_DL_SYMENT) == 0) {
      out += "?? (unknown module)\n";
      continue;
    }
    // dladdr names the nearest dynamic symbol below addr: trust it only when it covers addr.
    const auto start = reinterpret_cast<std::uintptr_t>(info.dli_saddr);
    if (info.dli_sname != nullptr && sym != nullptr && addr >= start &&
        addr < start + sym->st_size) {
      std::snprintf(line, sizeof line, "+0x%" PRIxPTR, addr - start);
      out += demangle(info.dli_sname) + line;
    } else {
      out += "??";
    }
    // The offset addr2line wants: from the object's load bias (0 for a non-PIE executable).
    link_map* map = nullptr;
    Dl_info ignored{};
    const std::uintptr_t bias =
        ::dladdr1(frames[i], &ignored, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) != 0 &&
                map != nullptr
            ? static_cast<std::uintptr_t>(map->l_addr)
            : reinterpret_cast<std::uintptr_t>(info.dli_fbase);
    std::snprintf(line, sizeof line, "+0x%" PRIxPTR ")\n", addr - bias);
    out += " (" + module_name(info.dli_fname) + line;
  }
  return out;
}

}  // namespace gofer::detail
