// address.hpp: turning "host", port into socket addresses, and socket addresses into text.
//
// resolve() parses numeric addresses in place and sends names to getaddrinfo on the blocking
// pool, so a slow DNS server parks only the resolving task. Failures are std::system_error in
// resolve_category() (socket_address.hpp) naming the operation and host:port.
//
// Thread-safety: every function is thread-safe. Blocking: resolve() may park the calling task
// (never its thread); the others never block.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <gofer/detail/waiter.hpp>
#include <gofer/socket_address.hpp>

namespace gofer::detail {

// host_port: "host:port", with brackets around an IPv6 host ("[::1]:80").
std::string host_port(std::string_view host, std::uint16_t port);

// resolve_options: what resolve() looks up.
struct resolve_options {
  int socktype = 0;      // SOCK_STREAM or SOCK_DGRAM
  int family = 0;        // AF_UNSPEC (0), AF_INET or AF_INET6
  bool passive = false;  // for bind: "" means the IPv4 wildcard 0.0.0.0
};

// resolve: the addresses of host:port, in getaddrinfo's order (at least one). op names the
// caller in error messages ("connect", "bind"). Throws std::system_error (resolve_category(),
// or errc::timed_out at the deadline) or gofer::cancelled.
std::vector<SocketAddress> resolve(std::string_view op, const std::string& host, std::uint16_t port,
                                   const resolve_options& opts, clock::time_point deadline);

// local_address_of / peer_address_of: getsockname / getpeername; throw std::system_error
// naming op and name.
SocketAddress local_address_of(int fd, std::string_view op, std::string_view name);
SocketAddress peer_address_of(int fd, std::string_view op, std::string_view name);

}  // namespace gofer::detail
