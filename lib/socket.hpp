// socket.hpp: what the socket modules (net.cpp, udp.cpp, unix.cpp) share: creating,
// connecting, listening on, accepting from, waiting on and closing non-blocking sockets.
//
// Every socket is created non-blocking and close-on-exec. A task parks on a socket through
// wait_fd (fd_wait.hpp), whose registration outlives the wait: close sockets with close_fd().
// Thread-safety: the functions are thread-safe; park() acts on the calling thread's poller.
// Blocking: park() parks the calling task; the others never block.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <optional>
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

// connect_socket: connects the non-blocking socket fd to `to`, parking until the connection
// is made or refused; returns 0 or the errno of the failure (the caller names it). Throws
// errc::timed_out at the deadline (naming `what`), gofer::cancelled.
int connect_socket(int fd, const sockaddr* to, socklen_t len, clock::time_point deadline,
                   const std::string& what);

// listen_backlog: the backlog to pass to listen(2): the system maximum (max_backlog()) for
// nullopt, else the given one. Throws std::invalid_argument naming `who` for a negative one.
int listen_backlog(std::optional<int> backlog, std::string_view who);

// accept_socket: the next connection on the listening socket fd, non-blocking and
// close-on-exec, its peer's address in peer/len; parks while none is pending. Connections that
// died in the queue are skipped. Throws std::system_error naming `name` (EMFILE, ENFILE: the
// connection stays queued), errc::timed_out at the deadline, gofer::cancelled.
UniqueFd accept_socket(int fd, clock::time_point deadline, const std::string& name,
                       sockaddr_storage& peer, socklen_t& len);

// shutdown_socket: shutdown(2) of one or both directions; throws std::system_error naming
// `name`.
void shutdown_socket(int fd, shutdown_how how, const std::string& name);

// park: parks until fd is ready for `interest`. Throws errc::timed_out at the deadline
// (naming op and name), gofer::cancelled, or std::system_error.
void park(int fd, Interest interest, clock::time_point deadline, const char* op,
          const std::string& name);

}  // namespace gofer::detail
