// fd_wait.hpp: parking a task until an fd is ready (the I/O modules' one entry to the poller).
//
// wait_fd() adds a one-shot watch to this thread's Poller and parks the caller through the
// common Waiter (waiter.hpp); the poller's dispatch claims and wakes it, on this same thread,
// when epoll reports the fd ready (or in error/hang-up, which the caller's next read/write then
// reports). A wait that ends otherwise (deadline, request_stop) removes its watch before
// returning, so no watch outlives its wait. wait_fd() is for fds whose history gofer does not
// know (a raw fd, a connecting socket, a pidfd): each wait re-registers the fd (one epoll_ctl;
// Poller::watch) and so never trusts an edge from an earlier file under the same number. Fds
// that a PollFd owns wait through PollFd::wait, which registers once per thread and then costs
// no epoll_ctl (Poller::watch_owned). forget_fd() drops the registration before the fd is
// closed (poller.hpp).
//
// FdWaiter is the watch and Waiter pair wait_fd parks on; PollFd (poll_fd.hpp) uses it too,
// linking the same Waiter into its own queue, so a close() or set_deadline() on any thread can
// claim it as well.
//
// Blocks: parks the calling task (on a plain thread, runs the thread's loop). Thread-safety:
// any number of tasks may wait on one fd, for either interest, from any threads; all that
// wait for one interest on one thread wake together.
#pragma once

#include <cstdint>
#include <string>

#include <gofer/detail/waiter.hpp>

#include "poller.hpp"

namespace gofer::detail {

// FdWaiter: the poller's callback that completes the parked Waiter with (fired, index 0);
// `op` and `subject` as for wait_fd. Lives on the waiting task's stack.
struct FdWaiter final : FdWatch {
  FdWaiter(int fd, Interest interest, const char* op, const std::string* subject) noexcept;
  void ready(std::uint32_t) noexcept override;

  Waiter waiter;
};

// wait_fd: true when fd is ready for `interest`, false at the deadline; throws
// gofer::cancelled when the task is stopped, std::system_error when the fd cannot be polled
// (EBADF, EPERM).
// `op` (static text) and `subject` (the peer, path or name; alive while parked) say what the
// wait is for in task dumps: "read 127.0.0.1:5000 (fd 7)".
bool wait_fd(int fd, Interest interest, clock::time_point deadline, const char* op = nullptr,
             const std::string* subject = nullptr);

// forget_fd: drops fd's registration from this thread's poller, if any, waking its waiters
// there; call before close.
void forget_fd(int fd) noexcept;

}  // namespace gofer::detail
