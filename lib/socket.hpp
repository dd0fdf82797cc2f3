// socket.hpp: what the socket modules (net.cpp, udp.cpp) share: creating, waiting on and
// closing non-blocking sockets.
//
// Every socket is created non-blocking and close-on-exec. A task parks on a socket through
// wait_fd (fd_wait.hpp), whose registration outlives the wait: close sockets with close_fd().
// Thread-safety: the functions are thread-safe; park() acts on the calling thread's poller.
// Blocking: park() parks the calling task; the others never block.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <string>
#include <string_view>

#include <gofer/detail/waiter.hpp>
#include <gofer/net.hpp>

#include "fd.hpp"
#include "poller.hpp"

namespace gofer::detail {

// after: the deadline `timeout` from now (saturating; see deadline_after).
inline clock::time_point after(std::chrono::nanoseconds timeout) {
  return deadline_after(timeout);
}

// family_of: AF_INET or AF_INET6.
inline int family_of(const SocketAddress& a) {
  return a.is_ipv6() ? AF_INET6 : AF_INET;
}

// native: the address as the sockaddr the socket calls take.
inline const sockaddr* native(const SocketAddress& a) {
  return static_cast<const sockaddr*>(a.native());
}

// open_socket: socket(family, type) non-blocking and close-on-exec; throws std::system_error
// naming op and what.
UniqueFd open_socket(int family, int type, std::string_view op, const std::string& what);

// close_fd: drops fd's registration from this thread's poller, then closes it (fd_wait.hpp:
// a registration left after a wake-up stays in the poller until forgotten or the socket's
// last fd closes).
void close_fd(UniqueFd& fd) noexcept;

// park: parks until fd is ready for `interest`. Throws errc::timed_out at the deadline
// (naming op and name), gofer::cancelled, or std::system_error.
void park(int fd, Interest interest, clock::time_point deadline, const char* op,
          const std::string& name);

}  // namespace gofer::detail
