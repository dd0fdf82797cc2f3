// stall.cpp: stall detection and its report (see stall.hpp).
#include "stall.hpp"

#include <sys/syscall.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>

#include "scheduler.hpp"
#include "thread_backtrace.hpp"

namespace gofer::detail {

namespace {

constexpr auto backtrace_timeout = std::chrono::milliseconds(100);

std::atomic<std::uint64_t> reports{0};

struct SyscallName {
  long nr;
  const char* name;
  bool restarts;  // the kernel restarts it after a SA_RESTART handler: safe to signal
};

// The common blocking calls of a task gone wrong.
constexpr SyscallName syscall_names[] = {
    {SYS_read, "read", true},
    {SYS_write, "write", true},
    {SYS_readv, "readv", true},
    {SYS_writev, "writev", true},
    {SYS_pread64, "pread64", true},
    {SYS_pwrite64, "pwrite64", true},
    {SYS_openat, "openat", true},
    {SYS_futex, "futex", true},
    {SYS_wait4, "wait4", true},
    {SYS_waitid, "waitid", true},
    {SYS_flock, "flock", true},
    {SYS_fsync, "fsync", true},
    {SYS_fdatasync, "fdatasync", true},
    {SYS_accept, "accept", true},
    {SYS_accept4, "accept4", true},
    {SYS_recvfrom, "recvfrom", true},
    {SYS_sendto, "sendto", true},
    {SYS_recvmsg, "recvmsg", true},
    {SYS_sendmsg, "sendmsg", true},
    {SYS_connect, "connect", false},
    {SYS_nanosleep, "nanosleep", false},
    {SYS_clock_nanosleep, "clock_nanosleep", false},
    {SYS_ppoll, "ppoll", false},
    {SYS_pselect6, "pselect6", false},
    {SYS_epoll_pwait, "epoll_pwait", false},
#ifdef SYS_poll
    {SYS_poll, "poll", false},
#endif
#ifdef SYS_select
    {SYS_select, "select", false},
#endif
#ifdef SYS_epoll_wait
    {SYS_epoll_wait, "epoll_wait", false},
#endif
#ifdef SYS_pause
    {SYS_pause, "pause", false},
#endif
};

const SyscallName* find_syscall(long nr) noexcept {
  for (const SyscallName& s : syscall_names) {
    if (s.nr == nr) {
      return &s;
    }
  }
  return nullptr;
}

// blocked_syscall: the system call thread `tid` sleeps in, or -1 (running user code, or
// unknown). /proc/<tid>/stat's state tells a sleep (S, D) from a run; syscall names the call.
long blocked_syscall(long tid) {
  const std::string dir = "/proc/self/task/" + std::to_string(tid) + "/";
  std::ifstream stat(dir + "stat");
  std::string text;
  if (!std::getline(stat, text)) {
    return -1;
  }
  const auto paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size() ||
      (text[paren + 2] != 'S' && text[paren + 2] != 'D')) {
    return -1;
  }
  std::ifstream sys(dir + "syscall");
  long nr = -1;
  if (!(sys >> nr)) {
    return -1;  // "running"
  }
  return nr;
}

// Stalled: what the report says about the stalled scheduler, read under the registry locks.
struct Stalled {
  bool found = false;
  std::uint64_t id = 0;
  std::string name;
  std::string created_at;
  std::string thread_name;
  long tid = 0;
  long syscall = -1;
  bool signalled = false;
};

// inspect: finds scheduler `index` still stalled at `resumes`, reads its running task and
// its system call, and asks for its backtrace while the registry (so the thread) is alive.
Stalled inspect(int index, std::uint64_t resumes) {
  Stalled s;
  for_each_registry([&](TaskRegistry& r) {
    if (r.index() != index || r.switches() != resumes || r.owner().reactor.is_idle()) {
      return;
    }
    const TaskControl* running = r.running();
    r.for_each([&](TaskControl& tc) {
      if (&tc != running) {
        return;
      }
      s.found = true;
      s.id = tc.id;
      s.name = tc.name;
      if (tc.created_file != nullptr) {
        s.created_at = std::string(tc.created_file) + ":" + std::to_string(tc.created_line);
      }
    });
    if (!s.found) {
      return;
    }
    s.thread_name = r.thread_name();
    s.tid = r.thread_id();
    s.syscall = blocked_syscall(s.tid);
    const SyscallName* call = find_syscall(s.syscall);
    if (s.syscall < 0 || (call != nullptr && call->restarts)) {
      s.signalled = request_backtrace(s.tid);
    }
  });
  return s;
}

void report(int index, const Stalled& s, std::chrono::milliseconds ran) {
  std::string text = "gofer: task " + std::to_string(s.id);
  if (!s.name.empty()) {
    text += " (" + s.name + ")";
  }
  if (!s.created_at.empty()) {
    text += " created at " + s.created_at;
  }
  text += " has run " + std::to_string(ran.count()) + " ms without yielding on scheduler " +
          std::to_string(index) + " (thread \"" + s.thread_name + "\", tid " +
          std::to_string(s.tid) + ")\n";
  if (s.syscall >= 0) {
    const SyscallName* call = find_syscall(s.syscall);
    const std::string nr = std::to_string(s.syscall);
    text += "  it is blocked in system call " +
            (call != nullptr ? std::string(call->name) + " (" + nr + ")" : nr) +
            ": blocking calls stall every task of the thread; use gofer::sleep_for / gofer "
            "I/O or spawn_blocking\n";
  }
  if (s.signalled) {
    const std::vector<void*> frames = await_backtrace(backtrace_timeout);
    if (frames.empty()) {
      text += "  (no backtrace: the thread did not answer within " +
              std::to_string(backtrace_timeout.count()) + " ms)\n";
    } else {
      text += "  backtrace of thread " + std::to_string(s.tid) + ":\n" + symbolize(frames);
      if (text.find(" in ?? (") != std::string::npos) {
        text +=
            "  (?? frames: addr2line -f -C -e <module> <offset>; names of the program's own "
            "functions need -rdynamic)\n";
      }
    }
  } else if (s.syscall >= 0) {
    text += "  (no backtrace: a signal would cut that system call short)\n";
  } else {
    text += "  (no backtrace: the backtrace signal is not available)\n";
  }
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
  reports.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

void StallDetector::check(const std::vector<SchedulerSample>& samples,
                          monitor_clock::time_point now, std::chrono::milliseconds threshold) {
  std::unordered_map<int, Watch> busy;
  for (const SchedulerSample& s : samples) {
    if (threshold.count() <= 0 || s.idle || !s.task_running) {
      continue;  // an idle sample ends the watch: a stall must be seen busy throughout
    }
    auto it = watches_.find(s.index);
    Watch w = it != watches_.end() && it->second.resumes == s.resumes
                  ? it->second
                  : Watch{s.resumes, now, false};
    if (!w.reported && now - w.since >= threshold) {
      w.reported = true;
      const Stalled stalled = inspect(s.index, s.resumes);
      if (stalled.found) {
        report(s.index, stalled,
               std::chrono::duration_cast<std::chrono::milliseconds>(now - w.since));
      }
    }
    busy.emplace(s.index, w);
  }
  watches_ = std::move(busy);
}

std::uint64_t stall_reports() noexcept {
  return reports.load(std::memory_order_relaxed);
}

}  // namespace gofer::detail
