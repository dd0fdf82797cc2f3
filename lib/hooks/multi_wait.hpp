// multi_wait.hpp: parking a task until the first of several fds is ready (for poll, ppoll,
// select and pselect), built on the poller's FdWatch and the common Waiter (waiter.hpp).
//
// park_fds() gives every (fd, interest) pair its own watch in this thread's poller, all
// claiming one Waiter with their index, as select() does with channel cases: the first fd
// ready claims the Waiter and wakes the task; later events find it claimed and do nothing.
// Before park_fds returns, every watch is removed (unwatch is harmless for the one that
// fired), so no watch outlives the call.
//
// Blocking: parks the calling task (its thread must have a gofer scheduler). Thread-safety:
// the watches live on the caller's stack and heap and are touched by this thread only.
#pragma once

#include <cstddef>
#include <span>

#include <gofer/deadline.hpp>

#include "../poller.hpp"

namespace gofer::hooks::detail {

// FdInterest: one fd and what to wait for on it.
struct FdInterest {
  int fd;
  gofer::detail::Interest interest;
};

// park_fds: 0 when one of `fds` is ready, EAGAIN at the deadline, stop_errno when the task
// is stopped, else the errno why the poller refused an fd (EBADF, EPERM for a regular file)
// or ENOMEM. No fds: a plain timed park. `what` names the call in task dumps.
int park_fds(std::span<const FdInterest> fds, gofer::detail::clock::time_point deadline,
             const char* what) noexcept;

}  // namespace gofer::hooks::detail
