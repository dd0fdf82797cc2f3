// fd_ops.cpp: the bookkeeping hooks that keep the fd table (fd_table.hpp) true: pipe, pipe2,
// close, dup, dup2, dup3, fcntl (and fcntl64, which programs built with
// _FILE_OFFSET_BITS=64 call), setsockopt (SO_RCVTIMEO, SO_SNDTIMEO) and ioctl (FIONBIO).
//
// Invariants: (1) F_GETFL reports O_NONBLOCK as the caller last set it, F_SETFL and FIONBIO
// record the caller's choice and never clear the real O_NONBLOCK the hooks set; (2) close and
// dup2/dup3 over an open fd drop its registration in this thread's poller (forget_fd: a task
// parked on it there wakes and sees the fd gone) and its table entry before the fd number can
// be reused; (3) a dup'ed fd shares the original's entry values (one open file description).
// getsockopt needs no hook: the kernel keeps the timeouts the caller set.
// Thread-safety: as libc's. Blocking: none of these block.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdint>

#include "../fd_wait.hpp"
#include "hook_list.hpp"
#include "park_io.hpp"
#include "real.hpp"

namespace gofer::hooks::detail {

namespace {

void record_pipe(const int fds[2], bool nonblock) noexcept {
  for (int i = 0; i < 2; ++i) {
    if (FdEntry* const e = entry(fds[i])) {
      e->record(fds[i], fd_kind::fifo, nonblock);
    }
  }
}

// copy_entry: `to` is now a dup of `from`.
void copy_entry(int from, int to) noexcept {
  const FdEntry* const src = find(from);
  FdEntry* const dst = src != nullptr ? entry(to) : find(to);
  if (dst == nullptr) {
    return;
  }
  if (src != nullptr) {
    dst->copy_from(*src);
  } else {
    dst->reset();
  }
}

// forget: `fd` is about to be closed (or replaced by dup2).
void forget(int fd) noexcept {
  if (on_scheduler()) {
    gofer::detail::forget_fd(fd);
  }
  if (FdEntry* const e = find(fd)) {
    e->reset();
  }
}

// hides_nonblock: whether the real O_NONBLOCK of fd is the hooks' and not the caller's.
bool hides_nonblock(const FdEntry* e) noexcept {
  return e != nullptr && e->has(FdEntry::made_nonblock) && !e->has(FdEntry::user_nonblock);
}

template <class F>
int fcntl_hook(F* real, int fd, int cmd, void* arg) noexcept {
  switch (cmd) {
    case F_GETFL: {
      const int r = real(fd, cmd);
      return r >= 0 && hides_nonblock(find(fd)) ? r & ~O_NONBLOCK : r;
    }
    case F_SETFL: {
      const int flags = static_cast<int>(reinterpret_cast<std::intptr_t>(arg));
      FdEntry* const e = find(fd);
      if (e != nullptr) {
        e->set(FdEntry::user_nonblock, (flags & O_NONBLOCK) != 0);
      }
      const bool keep = e != nullptr && e->has(FdEntry::made_nonblock);
      return real(fd, cmd, keep ? flags | O_NONBLOCK : flags);
    }
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      const int r = real(fd, cmd, arg);
      if (r >= 0) {
        copy_entry(fd, r);
      }
      return r;
    }
    default:
      return real(fd, cmd, arg);
  }
}

}  // namespace

}  // namespace gofer::hooks::detail

namespace hd = gofer::hooks::detail;

extern "C" {

int pipe(int fds[2]) noexcept {
  const int r = hd::real_pipe(fds);
  if (r == 0) {
    hd::record_pipe(fds, false);
  }
  return r;
}

int pipe2(int fds[2], int flags) noexcept {
  const int r = hd::real_pipe2(fds, flags);
  if (r == 0) {
    hd::record_pipe(fds, (flags & O_NONBLOCK) != 0);
  }
  return r;
}

int close(int fd) {
  hd::forget(fd);
  return hd::real_close(fd);
}

int dup(int fd) noexcept {
  const int r = hd::real_dup(fd);
  if (r >= 0) {
    hd::copy_entry(fd, r);
  }
  return r;
}

int dup2(int from, int to) noexcept {
  if (from != to) {
    hd::forget(to);
  }
  const int r = hd::real_dup2(from, to);
  if (r >= 0 && from != to) {
    hd::copy_entry(from, to);
  }
  return r;
}

int dup3(int from, int to, int flags) noexcept {
  if (from != to) {
    hd::forget(to);
  }
  const int r = hd::real_dup3(from, to, flags);
  if (r >= 0) {
    hd::copy_entry(from, to);
  }
  return r;
}

int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* const arg = va_arg(ap, void*);  // as glibc reads it, whatever the command
  va_end(ap);
  return hd::fcntl_hook(hd::real_fcntl.get(), fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* const arg = va_arg(ap, void*);
  va_end(ap);
  return hd::fcntl_hook(hd::real_fcntl64.get(), fd, cmd, arg);
}

int setsockopt(int fd, int level, int name, const void* value, socklen_t len) noexcept {
  const int r = hd::real_setsockopt(fd, level, name, value, len);
  if (r == 0 && level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO) &&
      len >= sizeof(timeval)) {
    if (hd::FdEntry* const e = hd::entry(fd)) {
      timeval tv{};
      __builtin_memcpy(&tv, value, sizeof tv);
      const std::int64_t us = static_cast<std::int64_t>(tv.tv_sec) * 1'000'000 + tv.tv_usec;
      (name == SO_RCVTIMEO ? e->recv_timeout : e->send_timeout)
          .store(us, std::memory_order_relaxed);
    }
  }
  return r;
}

int ioctl(int fd, unsigned long request, ...) noexcept {
  va_list ap;
  va_start(ap, request);
  void* const arg = va_arg(ap, void*);
  va_end(ap);
  if (request != FIONBIO || arg == nullptr) {
    return hd::real_ioctl(fd, request, arg);
  }
  const bool on = *static_cast<const int*>(arg) != 0;
  hd::FdEntry* const e = hd::find(fd);
  if (e == nullptr || !e->has(hd::FdEntry::made_nonblock)) {
    if (e != nullptr) {
      e->set(hd::FdEntry::user_nonblock, on);
    }
    return hd::real_ioctl(fd, request, arg);
  }
  int one = 1;  // the hooks keep the real flag set; the caller's choice is recorded
  const int r = hd::real_ioctl(fd, request, &one);
  if (r == 0) {
    e->set(hd::FdEntry::user_nonblock, on);
  }
  return r;
}

}  // extern "C"

namespace gofer::hooks::detail {

namespace {

const HookSymbol symbols[] = {
    {"pipe", as_address(&::pipe)},
    {"pipe2", as_address(&::pipe2)},
    {"close", as_address(&::close)},
    {"dup", as_address(&::dup)},
    {"dup2", as_address(&::dup2)},
    {"dup3", as_address(&::dup3)},
    {"fcntl", as_address(&::fcntl)},
    {"fcntl64", as_address(&::fcntl64)},
    {"setsockopt", as_address(&::setsockopt)},
    {"ioctl", as_address(&::ioctl)},
};

}  // namespace

const HookList fd_hooks = list_of(symbols);

}  // namespace gofer::hooks::detail
