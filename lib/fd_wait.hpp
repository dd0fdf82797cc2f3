// fd_wait.hpp: parking a task until an fd is ready (the I/O modules' one entry to the poller).
//
// wait_fd() arms a one-shot interest with this thread's Poller and parks the caller through
// the common Waiter (waiter.hpp); the poller's dispatch claims and wakes it, on this same
// thread, when epoll reports the fd ready (or in error/hang-up, which the caller's next
// read/write then reports).
//
// Invariant: a registration left in a poller is never armed. After a readiness wake-up the
// one-shot registration stays in epoll, disarmed by the kernel, so the next wait_fd on this
// fd re-arms it with one epoll_ctl (MOD) instead of an ADD and a DEL per wait. A wait that
// ends otherwise (deadline, request_stop) removes it before returning: an armed registration
// would point at the finished wait's Waiter. A disarmed registration is harmless whatever
// happens next: the fd may be closed (the kernel drops it with the file) or moved to another
// thread (whose poller registers it anew). forget_fd() removes it from this thread's poller
// when the fd is closed, so the poller's count of watched fds stays right.
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

// forget_fd: drops fd's registration from this thread's poller, if any; call before close.
void forget_fd(int fd) noexcept;

}  // namespace gofer::detail
