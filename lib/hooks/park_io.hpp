// park_io.hpp: blocking semantics for one fd: try the call, and while it says EAGAIN on an fd
// the caller believes blocking, wait for readiness and try again.
//
// io_call() is what every hooked read, write, send, recv, accept... does:
//   - fast path (no gofer scheduler on this thread: a plain thread): the real call, then a
//     comparison; one TLS load and a branch before it (on_scheduler());
//   - in a task (the thread has a scheduler and is not a gofer service thread) on a socket or
//     FIFO the caller believes blocking (fd_table.hpp): the fd is made O_NONBLOCK underneath,
//     and each EAGAIN parks the task in this thread's poller (wait_fd) until the fd is ready,
//     the fd's SO_RCVTIMEO / SO_SNDTIMEO passes (-1, EAGAIN, as the kernel does) or the task
//     is stopped (-1, ECANCELED: gofer::hooks::stop_errno);
//   - on a plain thread, an EAGAIN on an fd the hooks made non-blocking (a task elsewhere used
//     it) waits in the real poll() with the same timeout, and retries;
//   - everything else (regular files, ttys, eventfds, fds the caller made non-blocking) is the
//     real call alone.
// A write (whole > 0) on a blocking fd goes on until all `whole` bytes are written, as the
// kernel's blocking write does; a timeout or stop after a partial write returns the count.
//
// Blocking: parks the calling task (never its thread); on a plain thread blocks as libc does.
// Thread-safety: as the real call. Never throws; gofer's exceptions become errno values.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <cstddef>

#include "../fd_wait.hpp"
#include "../home.hpp"
#include "fd_table.hpp"

namespace gofer::hooks::detail {

using gofer::detail::Interest;

// on_scheduler: whether this thread has a gofer scheduler (one TLS load): the hooks' only
// question on a plain thread's path.
inline bool on_scheduler() noexcept {
  return gofer::detail::Home::current() != nullptr;
}

// may_park: on a thread with a scheduler, whether the running context may park: not on a
// gofer service thread, and not on Boost's dispatcher fiber (gofer's own scheduler code, e.g.
// draining its eventfd, runs there and must never park).
bool may_park() noexcept;

// in_task: a call here may park (in a task, or in plain code on a thread whose scheduler
// runs its loop meanwhile).
inline bool in_task() noexcept {
  return on_scheduler() && may_park();
}

// task_entry: in a task, fd's entry if the call may park (a socket or FIFO the caller
// believes blocking, now O_NONBLOCK underneath); nullptr: pass the call through. Also nullptr
// on a gofer service thread, and for the standard streams 0, 1 and 2: their open file
// description is shared with other processes (a shell, a pipeline, ctest) and with this
// process's stdio, which would see EAGAIN if the hooks made them non-blocking (and a signal
// handler writing to stderr must not allocate a table page).
FdEntry* task_entry(int fd) noexcept;

// Waiting: the wait between two tries of one call (in a task: park; on a plain thread: the
// real poll()), with the deadline from the fd's timeout fixed at the first wait.
class Waiting {
 public:
  Waiting(int fd, Interest interest, FdEntry& e, bool task, const char* op) noexcept
      : fd_(fd), interest_(interest), entry_(e), task_(task), op_(op) {}
  // wait: 0 when the fd became ready (try again); otherwise the errno to fail with (EAGAIN
  // at the timeout, or when the entry turns out stale (fd_table.hpp: the object is not the
  // one the hooks made non-blocking, so its EAGAIN is its own), ECANCELED on a stop, EINTR
  // from poll on a plain thread).
  int wait() noexcept;

 private:
  int fd_;
  Interest interest_;
  FdEntry& entry_;
  bool task_;
  const char* op_;
  bool started_ = false;
  gofer::detail::clock::time_point deadline_{};
};

// finish_call: the slow path of io_call, after the first try returned r.
template <class Attempt>
ssize_t finish_call(int fd, Interest interest, const char* op, std::size_t whole, ssize_t r,
                    FdEntry& e, bool task, Attempt& attempt) noexcept {
  Waiting waiting(fd, interest, e, task, op);
  std::size_t done = 0;
  for (;;) {
    if (r > 0) {
      done += static_cast<std::size_t>(r);
      if (done >= whole) {
        return static_cast<ssize_t>(done);
      }
    } else if (r == 0) {
      return static_cast<ssize_t>(done);
    } else if (errno != EAGAIN) {
      return done > 0 ? static_cast<ssize_t>(done) : -1;
    }
    if (const int err = waiting.wait(); err != 0) {
      if (done > 0) {
        return static_cast<ssize_t>(done);
      }
      errno = err;
      return -1;
    }
    r = attempt(done);
  }
}

// plain_retry: a plain thread's call that returned r (EAGAIN, or a short write): blocking
// semantics if the hooks made the fd non-blocking behind a caller who believes it blocking.
// It takes the attempt by value, so the fast path need not build it in memory.
template <class Attempt>
[[gnu::noinline]] ssize_t plain_retry(int fd, Interest interest, const char* op, std::size_t whole,
                                      ssize_t r, Attempt attempt) noexcept {
  const int err = errno;
  FdEntry* const e = find(fd);
  if (e == nullptr || !e->has(FdEntry::made_nonblock) || e->has(FdEntry::user_nonblock)) {
    errno = err;
    return r;
  }
  return finish_call(fd, interest, op, whole, r, *e, false, attempt);
}

// task_call: io_call in a task (out of line, so the plain path stays short).
template <class Attempt>
[[gnu::noinline]] ssize_t task_call(int fd, Interest interest, const char* op, std::size_t whole,
                                    Attempt attempt) noexcept {
  FdEntry* const e = task_entry(fd);
  if (e == nullptr) {
    return attempt(0);
  }
  const ssize_t r = attempt(0);
  return finish_call(fd, interest, op, whole, r, *e, true, attempt);
}

// io_call: attempt(done) makes the real call for the part after `done` bytes (reads ignore
// it) and returns its result with errno; `whole` is the byte count a write must complete
// (0 for reads, accept, connect).
template <class Attempt>
ssize_t io_call(int fd, Interest interest, const char* op, std::size_t whole,
                Attempt attempt) noexcept {
  if (on_scheduler()) [[unlikely]] {
    return task_call(fd, interest, op, whole, attempt);
  }
  const ssize_t r = attempt(0);
  if (r >= 0 ? static_cast<std::size_t>(r) >= whole : errno != EAGAIN) [[likely]] {
    return r;
  }
  return plain_retry(fd, interest, op, whole, r, attempt);
}

// park_fd: parks the calling task until fd is ready for `interest` or the deadline; 0 when
// ready, else the errno (EAGAIN at the deadline, ECANCELED when stopped, or why the poller
// refused the fd).
int park_fd(int fd, Interest interest, gofer::detail::clock::time_point deadline,
            const char* op) noexcept;

}  // namespace gofer::hooks::detail
