// socket.hpp: what the socket modules (net.cpp, udp.cpp, unix.cpp) share: creating,
// connecting and listening on non-blocking sockets, and accepting connections on a PollFd.
//
// Every socket is created non-blocking and close-on-exec. A socket that tasks park on lives in
// a PollFd (poll_fd.hpp), which any task or thread may close or give deadlines.
// Thread-safety: the functions are thread-safe. Blocking: accept_socket() and connect_socket()
// park the calling task; the others never block.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

#include <gofer/detail/waiter.hpp>
#include <gofer/net.hpp>

#include "fd.hpp"
#include "poll_fd.hpp"

namespace gofer::detail {

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

// connect_socket: connects the non-blocking socket fd to `to`, parking until the connection
// is made or refused; returns 0 or the errno of the failure (the caller names it and closes
// fd after forget_fd: a wait may have registered it). Throws errc::timed_out at the deadline
// (naming `what`), gofer::cancelled.
int connect_socket(int fd, const sockaddr* to, socklen_t len, clock::time_point deadline,
                   const std::string& what);

// listen_backlog: the backlog to pass to listen(2): the system maximum (max_backlog()) for
// nullopt, else the given one. Throws std::invalid_argument naming `who` for a negative one.
int listen_backlog(std::optional<int> backlog, std::string_view who);

// accept_socket: the next connection on the listening socket `listener` (named `name`), made
// non-blocking and close-on-exec, with the peer's address in peer/len; parks until one arrives
// (PollFd::wait: the earliest of `deadline` and the listener's deadline; errc::closed when it
// is closed). Connections that died in the queue are skipped. Throws std::system_error (EMFILE
// says the connection stays queued).
UniqueFd accept_socket(PollFd& listener, clock::time_point deadline, const std::string& name,
                       sockaddr_storage& peer, socklen_t& len);

// shutdown_socket: shutdown(2) of one or both directions; throws std::system_error naming
// `name`.
void shutdown_socket(int fd, shutdown_how how, const std::string& name);

}  // namespace gofer::detail
