// process.cpp: Process and run() (see process.hpp).
//
// Invariants: (1) pid_ > 0 and !exit_code_ means the child is ours and not reaped yet, and
// pidfd_ is open; once waitpid() reaped it, exit_code_ is set and pidfd_ closed, so the pid
// (which the kernel may reuse) is never signalled again; (2) every fd made for the child is
// O_CLOEXEC in the parent, so children spawned concurrently by other threads inherit none of
// them; the child's ends are closed in the parent right after posix_spawnp; (3) a child is
// counted in activity.hpp's live_children() from its spawn until it is reaped (for the
// deadlock watchdog: its exit can wake a task).
// Blocking: only the destructor of an unwaited Process blocks its thread, in waitpid() after
// SIGKILL (a killed child exits at once unless stuck in the kernel).
#include <fcntl.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include <gofer/errors.hpp>
#include <gofer/process.hpp>
#include <gofer/task.hpp>

#include "activity.hpp"
#include "errno_error.hpp"
#include "fd.hpp"
#include "fd_stream.hpp"
#include "fd_wait.hpp"

extern char** environ;

namespace gofer {

namespace {

// SpawnPlumbing: the fds and posix_spawn objects for one spawn, released on every path.
struct SpawnPlumbing {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  detail::UniqueFd child_ends[3];
  detail::UniqueFd parent_ends[3];

  SpawnPlumbing() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnPlumbing() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnPlumbing(const SpawnPlumbing&) = delete;
  SpawnPlumbing& operator=(const SpawnPlumbing&) = delete;

  void connect(int target, stdio mode, const std::string& name) {
    if (mode == stdio::inherit) {
      return;
    }
    if (mode == stdio::null) {
      const int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      if (fd < 0) {
        detail::throw_errno("open /dev/null for", name);
      }
      child_ends[target].reset(fd);
    } else {
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) != 0) {
        detail::throw_errno("pipe for", name);
      }
      const bool child_reads = target == 0;
      child_ends[target].reset(child_reads ? fds[0] : fds[1]);
      parent_ends[target].reset(child_reads ? fds[1] : fds[0]);
    }
    // dup2 onto 0-2 clears FD_CLOEXEC on the target in the child.
    posix_spawn_file_actions_adddup2(&actions, child_ends[target].get(), target);
  }
};

File pipe_file(detail::UniqueFd fd, const std::string& what) {
  if (!fd) {
    return File();
  }
  return File(std::make_unique<detail::FdStream>(std::move(fd), what, true));
}

int decode_status(int status) noexcept {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return -WTERMSIG(status);
  }
  return -1;
}

}  // namespace

Process Process::spawn(const std::vector<std::string>& argv, const ProcessOptions& options) {
  if (argv.empty() || argv[0].empty()) {
    throw std::invalid_argument("gofer::Process::spawn: argv needs at least a program name");
  }
  const std::string& name = argv[0];
  SpawnPlumbing plumbing;
  plumbing.connect(0, options.stdin_mode, name);
  plumbing.connect(1, options.stdout_mode, name);
  plumbing.connect(2, options.stderr_mode, name);
  if (!options.cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(&plumbing.actions, options.cwd.c_str());
  }
  sigset_t none;
  sigset_t defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&plumbing.attr, &none);
  posix_spawnattr_setsigdefault(&plumbing.attr, &defaults);
  posix_spawnattr_setflags(&plumbing.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  std::vector<char*> env;
  if (options.env) {
    for (const auto& e : *options.env) {
      env.push_back(const_cast<char*>(e.c_str()));
    }
    env.push_back(nullptr);
  }
  pid_t pid = -1;
  const int err = posix_spawnp(&pid, name.c_str(), &plumbing.actions, &plumbing.attr, args.data(),
                               options.env ? env.data() : environ);
  if (err != 0) {
    detail::throw_errno_value(err, "spawn",
                              options.cwd.empty() ? name : name + " in " + options.cwd);
  }
  Process p;
  p.name_ = name;
  p.pid_ = pid;
  detail::note_child(1);
  p.pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (p.pidfd_ < 0) {
    const int open_err = errno;
    p.reset();  // kills and reaps the child we cannot watch
    detail::throw_errno_value(open_err, "pidfd_open (Linux 5.3 or later is needed) for", name);
  }
  for (auto& fd : plumbing.child_ends) {
    fd.reset();
  }
  p.in_ = pipe_file(std::move(plumbing.parent_ends[0]), "stdin of " + name);
  p.out_ = pipe_file(std::move(plumbing.parent_ends[1]), "stdout of " + name);
  p.err_ = pipe_file(std::move(plumbing.parent_ends[2]), "stderr of " + name);
  return p;
}

Process::Process(Process&& o) noexcept
    : name_(std::move(o.name_)),
      pid_(std::exchange(o.pid_, -1)),
      pidfd_(std::exchange(o.pidfd_, -1)),
      exit_code_(std::exchange(o.exit_code_, std::nullopt)),
      in_(std::move(o.in_)),
      out_(std::move(o.out_)),
      err_(std::move(o.err_)) {}

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    reset();
    name_ = std::move(o.name_);
    pid_ = std::exchange(o.pid_, -1);
    pidfd_ = std::exchange(o.pidfd_, -1);
    exit_code_ = std::exchange(o.exit_code_, std::nullopt);
    in_ = std::move(o.in_);
    out_ = std::move(o.out_);
    err_ = std::move(o.err_);
  }
  return *this;
}

Process::~Process() {
  reset();
}

void Process::reset() noexcept {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    detail::note_child(-1);
  }
  if (pidfd_ >= 0) {
    detail::forget_fd(pidfd_);
    ::close(pidfd_);
    pidfd_ = -1;
  }
  pid_ = -1;
}

bool Process::reap() {
  int status = 0;
  pid_t r = 0;
  do {
    r = ::waitpid(pid_, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) {
    return false;
  }
  if (r < 0) {
    detail::throw_errno("wait for", name_ + " (pid " + std::to_string(pid_) + ")");
  }
  exit_code_ = decode_status(status);
  detail::note_child(-1);
  detail::forget_fd(pidfd_);
  ::close(pidfd_);
  pidfd_ = -1;
  return true;
}

std::optional<int> Process::wait(Deadline d) {
  if (pid_ <= 0) {
    throw std::logic_error("gofer::Process::wait: empty or moved-from Process");
  }
  const std::string child = "child " + name_ + " (pid " + std::to_string(pid_) + ")";  // dumps
  while (!exit_code_ && !reap()) {
    if (!detail::wait_fd(pidfd_, detail::Interest::readable, d.time_point(), "wait for exit of",
                         &child)) {
      reap();
      break;
    }
  }
  return exit_code_;
}

int Process::wait() {
  return *wait(Deadline::never());
}

void Process::kill(int sig) {
  if (pid_ <= 0 || exit_code_) {
    return;
  }
  if (::kill(pid_, sig) != 0) {
    detail::throw_errno("kill", name_ + " (pid " + std::to_string(pid_) + ")");
  }
}

namespace {

// collect: a task appending everything f yields to out until EOF (or until stopped).
Task<void> collect(File& f, std::string& out) {
  return go([&f, &out] {
    if (!f.is_open()) {
      return;
    }
    try {
      while (true) {
        auto chunk = f.read_chunk();
        if (chunk.empty()) {
          return;
        }
        out += chunk;
      }
    } catch (const cancelled&) {
      // Stopped by run(): what was read so far stays in out.
    }
  });
}

// finish: waits for a collector until `deadline`, then stops it and waits for its end; the
// wait itself cannot be cancelled (the collector uses run()'s locals).
void finish(Task<void>& t, detail::clock::time_point deadline) noexcept {
  if (!detail_state(t).await(deadline, false)) {
    t.request_stop();
    detail_state(t).await(detail::no_deadline, false);
  }
  try {
    t.wait();
  } catch (...) {  // a read error ends that stream's collection; the exit code still stands
  }
}

}  // namespace

RunResult run(const std::vector<std::string>& argv, ProcessOptions options) {
  return run(argv, Deadline::never(), std::move(options));
}

RunResult run(const std::vector<std::string>& argv, Deadline d, ProcessOptions options) {
  if (options.stdin_mode == stdio::inherit) {
    options.stdin_mode = stdio::null;
  }
  options.stdout_mode = stdio::pipe;
  options.stderr_mode = stdio::pipe;
  auto p = Process::spawn(argv, options);
  p.in().close();
  const auto deadline = d.time_point();
  RunResult result;
  auto out = collect(p.out(), result.out);
  auto err = collect(p.err(), result.err);
  auto join = [&](detail::clock::time_point until) noexcept {
    finish(out, until);
    finish(err, until);
  };
  std::optional<int> code;
  try {
    code = p.wait(d);
    if (!code) {
      result.timed_out = true;
      p.kill();
      code = p.wait();
    }
  } catch (...) {
    p.kill();  // cancelled (or failed): neither the child nor the collectors outlive run()
    join(detail::clock::now());
    throw;
  }
  // After a timeout the child is gone, but a grandchild may still hold the pipes: take what
  // is there within 100 ms.
  join(result.timed_out ? Deadline(std::chrono::milliseconds(100)).time_point() : deadline);
  result.exit_code = *code;
  return result;
}

}  // namespace gofer
