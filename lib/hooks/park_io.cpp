// park_io.cpp: the waits behind io_call (park_io.hpp): parking a task on one fd, or, on a plain
// thread, the real poll().
#include "park_io.hpp"

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <new>
#include <system_error>

#include <boost/fiber/context.hpp>

#include <gofer/errors.hpp>
#include <gofer/hooks.hpp>

#include "real.hpp"

namespace gofer::hooks::detail {

namespace {

using gofer::detail::clock;

// poll_ms: the real poll()'s timeout for a deadline, rounded up so a wait never ends early.
int poll_ms(clock::time_point deadline) noexcept {
  if (deadline == gofer::detail::no_deadline) {
    return -1;
  }
  const auto left = deadline - clock::now();
  if (left <= clock::duration::zero()) {
    return 0;
  }
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > 0x7fffffff ? 0x7fffffff : static_cast<int>(ms);
}

}  // namespace

bool may_park() noexcept {
  return !gofer::detail::this_thread_service &&
         !boost::fibers::context::active()->is_context(boost::fibers::type::dispatcher_context);
}

FdEntry* task_entry(int fd) noexcept {
  if (fd <= STDERR_FILENO || !may_park()) {
    return nullptr;
  }
  for (int pass = 0; pass < 2; ++pass) {  // a stale entry is reset and classified afresh
    FdEntry* const e = classified(fd);
    if (e == nullptr || !e->parkable()) {
      return nullptr;
    }
    if (e->has(FdEntry::made_nonblock)) {
      return e;
    }
    if (same_object(fd, *e)) {
      return make_nonblocking(fd, *e) ? e : nullptr;
    }
  }
  return nullptr;
}

int park_fd(int fd, Interest interest, clock::time_point deadline, const char* op) noexcept {
  try {
    return gofer::detail::wait_fd(fd, interest, deadline, op) ? 0 : EAGAIN;
  } catch (const gofer::cancelled&) {
    return stop_errno;
  } catch (const std::system_error& e) {
    return e.code().category() == std::system_category() ? e.code().value() : EIO;
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  } catch (...) {
    return EIO;
  }
}

int Waiting::wait() noexcept {
  if (!started_) {
    started_ = true;
    const auto& timeout =
        interest_ == Interest::readable ? entry_.recv_timeout : entry_.send_timeout;
    const std::int64_t us = timeout.load(std::memory_order_relaxed);
    deadline_ = us > 0 ? clock::now() + std::chrono::microseconds(us) : gofer::detail::no_deadline;
  }
  if (!same_object(fd_, entry_)) {
    return EAGAIN;
  }
  if (task_) {
    return park_fd(fd_, interest_, deadline_, op_);
  }
  pollfd p{fd_, static_cast<short>(interest_ == Interest::readable ? POLLIN : POLLOUT), 0};
  const int n = real_poll(&p, 1, poll_ms(deadline_));
  if (n < 0) {
    return errno;
  }
  return n == 0 ? EAGAIN : 0;
}

}  // namespace gofer::hooks::detail
