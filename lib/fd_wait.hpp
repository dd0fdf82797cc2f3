// fd_wait.hpp: parking a task until an fd is ready (the I/O modules' one entry to the poller).
//
// wait_fd() registers a one-shot interest with this thread's Poller and parks the caller
// through the common Waiter (waiter.hpp); the poller's dispatch claims and wakes it, on this
// same thread, when epoll reports the fd ready (or in error/hang-up, which the caller's next
// read/write then reports). The registration is removed before wait_fd returns, whatever the
// outcome, so the fd may be closed right after.
//
// Blocks: parks the calling task (on a plain thread, runs the thread's loop). Thread-safety:
// the fd must not be waited on by two callers at once on the same thread.
#pragma once

#include <cstdint>

#include <gofer/detail/waiter.hpp>

namespace gofer::detail {

// fd_readable / fd_writable: the event masks for wait_fd.
std::uint32_t fd_readable() noexcept;
std::uint32_t fd_writable() noexcept;

// wait_fd: true when fd is ready for `events`, false at the deadline; throws gofer::cancelled
// when the task is stopped, std::system_error when the fd cannot be polled (EBADF, EPERM).
bool wait_fd(int fd, std::uint32_t events, clock::time_point deadline);

}  // namespace gofer::detail
