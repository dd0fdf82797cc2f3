// dump_signal.cpp: dump_tasks_on_signal (debug.hpp).
//
// The signal handler only writes one byte to a pipe (async-signal-safe, errno preserved); a
// dedicated thread, started by the first dump_tasks_on_signal call, reads the pipe and prints
// the dump with dump_tasks(stderr) in an ordinary context, then waits for the next signal. The
// thread is detached and blocks in read() for the rest of the process (it holds no gofer lock
// while it waits); a signal that arrives while a dump is being printed queues one more dump.
//
// Thread-safety: dump_tasks_on_signal may be called from any thread, any number of times (for
// several signals). Blocks only while installing.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include <gofer/debug.hpp>

#include "signal_mask.hpp"

namespace gofer {

namespace {

int dump_pipe[2] = {-1, -1};

void on_dump_signal(int) {
  const int saved = errno;
  const char byte = 1;
  (void)!::write(dump_pipe[1], &byte, 1);  // a full pipe already has a dump pending
  errno = saved;
}

void dump_loop() {
  char buf[64];
  for (;;) {
    const ssize_t n = ::read(dump_pipe[0], buf, sizeof buf);
    if (n > 0) {
      dump_tasks(stderr);
    } else if (n < 0 && errno != EINTR) {
      return;
    }
  }
}

}  // namespace

void dump_tasks_on_signal(int sig) {
  if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP) {
    throw std::invalid_argument("gofer: dump_tasks_on_signal: " + std::to_string(sig) +
                                " is not a signal that can be caught");
  }
  static std::mutex mutex;
  std::lock_guard guard(mutex);
  if (dump_pipe[0] < 0) {
    if (::pipe2(dump_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
      throw std::system_error(errno, std::generic_category(), "gofer: dump_tasks_on_signal: pipe");
    }
    // The reader blocks; only the handler's end stays non-blocking.
    ::fcntl(dump_pipe[0], F_SETFL, 0);
    const detail::InheritBlockedSignals no_signals;  // signal_mask.hpp
    std::thread(dump_loop).detach();
  }
  struct sigaction sa {};
  sa.sa_handler = on_dump_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (::sigaction(sig, &sa, nullptr) != 0) {
    throw std::system_error(errno, std::generic_category(),
                            "gofer: dump_tasks_on_signal: sigaction(" + std::to_string(sig) + ")");
  }
}

}  // namespace gofer
