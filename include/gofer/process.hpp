// process.hpp: child processes with piped stdio, waited for without blocking the thread.
//
//   gofer::ProcessOptions opts;
//   opts.stdin_mode = opts.stdout_mode = gofer::stdio::pipe;
//   auto p = gofer::Process::spawn({"sort", "-r"}, opts);
//   p.in().write("a\nb\n");
//   p.in().close();                               // EOF for the child
//   auto sorted = p.out().read_all();             // "b\na\n"
//   int code = p.wait();                             // parks this task until the child exits
//
//   auto r = gofer::run({"ls", "-l"}, 5s);            // exit code, stdout and stderr at once
//
// spawn() starts the child with posix_spawnp (safe in a multithreaded process: no fork of the
// whole address space, no code between fork and exec), searching PATH for argv[0]. Each of
// stdin, stdout and stderr is inherited, a pipe (a gofer::File on the parent's side), or
// /dev/null. The child gets a clean signal mask and default SIGPIPE handling.
//
// Exit status: wait() returns the exit code (0-255), or -N when the child was killed by
// signal N (as Python's returncode). The child's exit is observed through a pidfd in the
// thread's poller (no polling loop, no SIGCHLD handler). A Process must be waited: if it is
// destroyed while the child still runs, the child is killed (SIGKILL) and reaped, so no child
// outlives its handle unnoticed and no zombie is left.
//
// Errors: std::system_error naming the program ("gofer: spawn no-such-cmd: No such file or
// directory"); std::invalid_argument for an empty argv. Deadlines (deadline.hpp: 5s, a
// steady_clock time point): wait(d) returns nullopt when d passes and leaves the child
// running; run(argv, d) kills the child (SIGKILL) when d passes and reports timed_out = true.
// Cancellation: request_stop() makes a parked wait()/run() throw gofer::cancelled (run()
// first kills and reaps its child).
// Thread-safety: a Process is used by one task at a time (it may move between threads).
// Blocking: wait() and run() park the calling task; spawn() does not block.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gofer/deadline.hpp>
#include <gofer/file.hpp>

namespace gofer {

// stdio: what a child's standard stream is connected to.
enum class stdio { inherit, pipe, null };

// ProcessOptions: how to start a child.
struct ProcessOptions {
  std::string cwd;                              // empty: the parent's working directory
  std::optional<std::vector<std::string>> env;  // "NAME=value" entries; nullopt: inherit
  stdio stdin_mode = stdio::inherit;
  stdio stdout_mode = stdio::inherit;
  stdio stderr_mode = stdio::inherit;
};

class Process {
 public:
  // spawn: starts argv[0] (searched in PATH) with argv. Throws as the header says.
  static Process spawn(const std::vector<std::string>& argv, const ProcessOptions& options = {});

  Process() noexcept = default;
  Process(Process&& o) noexcept;
  Process& operator=(Process&& o) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  // pid: the child's process id (-1 for an empty Process).
  pid_t pid() const noexcept { return pid_; }
  // in / out / err: the parent's ends of the child's stdin, stdout and stderr pipes (closed
  // Files when the stream was not stdio::pipe). Close in() to give the child EOF. (Not named
  // stdin/stdout/stderr: C lets those be macros, and musl defines them so.)
  File& in() noexcept { return in_; }
  File& out() noexcept { return out_; }
  File& err() noexcept { return err_; }

  // wait: parks until the child exits; its exit code (or -signal). Returns at once when it
  // was already waited. Throws std::logic_error for an empty Process.
  int wait();
  // wait(d): as wait(), but nullopt when the child still runs once d has passed.
  [[nodiscard]] std::optional<int> wait(Deadline d);
  // exit_code: the exit code once wait() saw the child exit; nullopt before.
  std::optional<int> exit_code() const noexcept { return exit_code_; }
  // kill: sends sig (default SIGKILL) to the child; does nothing once it was waited.
  // Throws std::system_error if the signal cannot be sent.
  void kill(int sig = SIGKILL);

 private:
  // reap: collects the exit status if the child has exited; true then.
  bool reap();
  void reset() noexcept;

  std::string name_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<int> exit_code_;
  File in_;
  File out_;
  File err_;
};

// RunResult: what run() returns.
struct RunResult {
  int exit_code = 0;       // as Process::wait()
  std::string out;         // everything the child wrote to stdout
  std::string err;         // everything the child wrote to stderr
  bool timed_out = false;  // the deadline passed and the child was killed
};

// run: spawns argv with stdout and stderr piped (stdin from /dev/null unless options say
// otherwise), collects both streams concurrently (so a chatty child cannot deadlock on a full
// pipe) and waits for its exit and for EOF on both pipes. With a deadline, the child is killed
// when it passes, and the pipes are read for at most 100 ms more (a grandchild may hold them).
RunResult run(const std::vector<std::string>& argv, ProcessOptions options = {});
RunResult run(const std::vector<std::string>& argv, Deadline d, ProcessOptions options = {});

}  // namespace gofer
