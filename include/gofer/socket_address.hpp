// socket_address.hpp: IP socket addresses, and resolve() turning a host name into them.
//
//   auto a = gofer::SocketAddress::parse("::1", 8080);     // numeric only; never resolves
//   std::cout << a << "\n";                                 // "[::1]:8080"
//   for (const auto& addr : gofer::resolve("example.com", 443, 2s)) { ... }
//
// resolve() is the lookup TcpStream::connect does: numeric hosts ("10.0.0.1", "::1", "[::1]",
// "fe80::1%eth0") are parsed in place; names go to getaddrinfo on the blocking pool
// (blocking.hpp), so a slow DNS server parks only the resolving task, never its thread.
//
// Invariants: a SocketAddress is empty or holds one whole sockaddr_in or sockaddr_in6.
// Errors: resolve() throws std::system_error of resolve_category() (getaddrinfo's EAI_*
// codes: "gofer: resolve no.such.host.invalid:80: lookup failed: Name or service not known"),
// std::system_error(errc::timed_out) when its deadline passes, gofer::cancelled when the task
// is stopped. A lookup given up that way keeps running on its pool thread (getaddrinfo cannot
// be interrupted); its result is dropped when it ends.
// Thread-safety: SocketAddress is a value type; resolve() may be called from any task or
// thread at once. Blocking: resolve() of a name parks the calling task (on a plain thread it
// runs the thread's loop); nothing else here blocks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <gofer/deadline.hpp>

namespace gofer {

// resolve_category: the error category of name-resolution failures (getaddrinfo's EAI_* codes,
// and a host that looks like an IPv4 literal but is not one).
const std::error_category& resolve_category() noexcept;

// SocketAddress: an IPv4 or IPv6 address and a port (a sockaddr_in or sockaddr_in6 by value).
class SocketAddress {
 public:
  // SocketAddress(): the empty address (no family); to_string() gives "".
  SocketAddress() noexcept = default;
  // parse: a numeric IPv4 or IPv6 address ("10.0.0.1", "::1" or "[::1]") and a port; never
  // resolves names. Throws std::invalid_argument for anything else.
  static SocketAddress parse(std::string_view host, std::uint16_t port);
  // from_native: copies a sockaddr of family AF_INET or AF_INET6 (std::invalid_argument
  // otherwise).
  static SocketAddress from_native(const void* sockaddr, std::size_t size);

  // native / native_size: the sockaddr and its length, for calls gofer does not wrap.
  const void* native() const noexcept { return storage_.data(); }
  std::size_t native_size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  bool is_ipv6() const noexcept;
  // host: the address without the port ("127.0.0.1", "::1").
  std::string host() const;
  std::uint16_t port() const noexcept;
  // to_string: "127.0.0.1:80" or "[::1]:80".
  std::string to_string() const;

  friend bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept;

 private:
  alignas(8) std::array<unsigned char, 28> storage_{};  // sizeof(sockaddr_in6)
  std::uint32_t size_ = 0;
};

// operator<<: writes a.to_string().
std::ostream& operator<<(std::ostream& os, const SocketAddress& a);

// resolve: the IPv4 and IPv6 addresses of host, each with port, in getaddrinfo's order (at
// least one; each address once). An empty host is an error (EAI_NONAME). Throws as the header
// comment says.
std::vector<SocketAddress> resolve(const std::string& host, std::uint16_t port, Deadline d = {});

}  // namespace gofer
