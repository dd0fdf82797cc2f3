// fd_wait.cpp: parking a task on fd readiness (see fd_wait.hpp), and the public
// wait_readable / wait_writable for fds gofer does not own (fd_ready.hpp).
#include "fd_wait.hpp"

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

#include <gofer/fd_ready.hpp>

#include "errno_error.hpp"
#include "poller.hpp"
#include "scheduler.hpp"

namespace gofer::detail {

namespace {

// describe_fd: "read 127.0.0.1:5000 (fd 7)", or "fd 7 readable" with no operation.
void describe_fd(const WaitInfo& info, std::string& out) {
  const auto* subject = static_cast<const std::string*>(info.subject);
  if (info.what != nullptr) {
    out += info.what;
    if (subject != nullptr && !subject->empty()) {
      out += ' ';
      out += *subject;
    }
    out += " (fd " + std::to_string(info.id) + ")";
  } else {
    out += "fd " + std::to_string(info.id) + (info.a != 0 ? " writable" : " readable");
  }
}

}  // namespace

FdWaiter::FdWaiter(int fd, Interest interest, const char* op, const std::string* subject) noexcept {
  waiter.info.describe = &describe_fd;
  waiter.info.what = op;
  waiter.info.subject = subject;
  waiter.info.id = static_cast<std::uint64_t>(fd);
  waiter.info.a = interest == Interest::writable ? 1 : 0;
}

void FdWaiter::ready(std::uint32_t) noexcept {
  if (waiter.try_claim()) {
    waiter.complete(wake_reason::fired, 0);
  }
}

bool wait_fd(int fd, Interest interest, clock::time_point deadline, const char* op,
             const std::string* subject) {
  Poller& poller = Scheduler::local().poller();
  FdWaiter w(fd, interest, op, subject);
  poller.watch(fd, interest, &w);
  auto nothing = [] {};
  const wake_reason r = park(w.waiter, deadline, nothing);
  if (r != wake_reason::fired) {
    poller.unwatch(fd, interest, &w);  // the watch must not outlive w
  }
  throw_if_cancelled(r);
  return r == wake_reason::fired;
}

void forget_fd(int fd) noexcept {
  if (Scheduler* s = Scheduler::installed()) {
    s->poller().forget(fd);
  }
}

}  // namespace gofer::detail

namespace gofer {

namespace {

void wait_ready(int fd, detail::Interest interest, Deadline d, const char* op) {
  if (fd < 0) {
    throw std::invalid_argument(std::string("gofer::") + op + ": invalid fd " + std::to_string(fd) +
                                " (a file descriptor is >= 0)");
  }
  const std::string name = "fd " + std::to_string(fd);
  bool ready = false;
  try {
    ready = detail::wait_fd(fd, interest, d.time_point(), op);
  } catch (const std::system_error& e) {
    if (e.code() == std::error_code(EPERM, std::system_category())) {
      detail::throw_errno_value(EPERM, op,
                                name +
                                    " (the poller cannot watch it: a regular file or a "
                                    "directory is always ready; read it directly or on the "
                                    "blocking pool)");
    }
    if (e.code() == std::error_code(EBADF, std::system_category())) {
      detail::throw_errno_value(EBADF, op, name + " (not an open file descriptor)");
    }
    throw;
  }
  if (!ready) {
    detail::throw_timed_out(op, name);
  }
}

}  // namespace

void wait_readable(int fd, Deadline d) {
  wait_ready(fd, detail::Interest::readable, d, "wait_readable");
}

void wait_writable(int fd, Deadline d) {
  wait_ready(fd, detail::Interest::writable, d, "wait_writable");
}

}  // namespace gofer
