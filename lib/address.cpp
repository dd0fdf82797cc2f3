// address.cpp: SocketAddress, resolve_category() and name resolution (see address.hpp).
#include "address.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <system_error>

#include <gofer/blocking.hpp>

#include "errno_error.hpp"
#include "fd_stream.hpp"

namespace gofer {

namespace {

static_assert(sizeof(sockaddr_in6) == 28 && sizeof(sockaddr_in) <= 28);

class ResolveCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "gofer.resolve"; }
  std::string message(int ev) const override { return ::gai_strerror(ev); }
};

// numeric_host: host without the brackets of "[::1]".
std::string_view numeric_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

// looks_like_ipv4: only digits and dots, so not a name: "300.1.1.1" must not go to DNS.
bool looks_like_ipv4(std::string_view host) {
  return !host.empty() && host.find_first_not_of("0123456789.") == std::string_view::npos;
}

struct AddrInfoDeleter {
  void operator()(addrinfo* ai) const noexcept { ::freeaddrinfo(ai); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoDeleter>;

// lookup: getaddrinfo; returns 0 and the list, or the EAI_* code (EAI_SYSTEM: errno in err).
int lookup(const char* node, std::uint16_t port, const detail::resolve_options& opts, int flags,
           AddrInfoPtr& out, int& err) {
  addrinfo hints{};
  hints.ai_family = opts.family;
  hints.ai_socktype = opts.socktype;
  hints.ai_flags = flags;
  const std::string service = std::to_string(port);
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(node, service.c_str(), &hints, &res);
  err = errno;
  out.reset(res);
  return rc;
}

[[noreturn]] void throw_resolve(int rc, int err, std::string_view op, const std::string& what) {
  if (rc == EAI_SYSTEM) {
    detail::throw_errno_value(err, op, what);
  }
  throw std::system_error(rc, resolve_category(), "gofer: " + std::string(op) + " " + what);
}

std::vector<SocketAddress> to_addresses(const addrinfo* ai) {
  std::vector<SocketAddress> out;
  for (; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
      out.push_back(SocketAddress::from_native(ai->ai_addr, ai->ai_addrlen));
    }
  }
  return out;
}

}  // namespace

const std::error_category& resolve_category() noexcept {
  static const ResolveCategory category;
  return category;
}

SocketAddress SocketAddress::parse(std::string_view host, std::uint16_t port) {
  const std::string h(numeric_host(host));
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  if (::inet_pton(AF_INET, h.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    return from_native(&v4, sizeof v4);
  }
  if (::inet_pton(AF_INET6, h.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    return from_native(&v6, sizeof v6);
  }
  throw std::invalid_argument("gofer::SocketAddress::parse: \"" + std::string(host) +
                              "\" is not a numeric IPv4 or IPv6 address");
}

SocketAddress SocketAddress::from_native(const void* sa, std::size_t size) {
  sa_family_t family = AF_UNSPEC;
  if (sa != nullptr && size >= sizeof family) {
    std::memcpy(&family, static_cast<const char*>(sa) + offsetof(sockaddr, sa_family),
                sizeof family);
  }
  const std::size_t want = family == AF_INET    ? sizeof(sockaddr_in)
                           : family == AF_INET6 ? sizeof(sockaddr_in6)
                                                : 0;
  if (want == 0 || size < want) {
    throw std::invalid_argument(
        "gofer::SocketAddress::from_native: not an AF_INET or AF_INET6 "
        "address (family " +
        std::to_string(family) + ", size " + std::to_string(size) + ")");
  }
  SocketAddress a;
  std::memcpy(a.storage_.data(), sa, want);
  a.size_ = static_cast<std::uint32_t>(want);
  return a;
}

bool SocketAddress::is_ipv6() const noexcept {
  return size_ == sizeof(sockaddr_in6);
}

std::string SocketAddress::host() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (size_ == sizeof(sockaddr_in)) {
    sockaddr_in v4{};
    std::memcpy(&v4, storage_.data(), sizeof v4);
    ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
  } else if (size_ == sizeof(sockaddr_in6)) {
    sockaddr_in6 v6{};
    std::memcpy(&v6, storage_.data(), sizeof v6);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
  }
  return text;
}

std::uint16_t SocketAddress::port() const noexcept {
  // sin_port and sin6_port share their offset (2) and size.
  std::uint16_t p = 0;
  if (size_ != 0) {
    std::memcpy(&p, storage_.data() + offsetof(sockaddr_in, sin_port), sizeof p);
  }
  return ntohs(p);
}

std::string SocketAddress::to_string() const {
  return empty() ? std::string() : detail::host_port(host(), port());
}

bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept {
  return a.size_ == b.size_ && std::memcmp(a.storage_.data(), b.storage_.data(), a.size_) == 0;
}

namespace detail {

std::string host_port(std::string_view host, std::uint16_t port) {
  std::string out;
  const bool v6 = host.find(':') != std::string_view::npos && host.front() != '[';
  if (v6) {
    out += '[';
  }
  out += host;
  if (v6) {
    out += ']';
  }
  out += ':';
  out += std::to_string(port);
  return out;
}

std::vector<SocketAddress> resolve(std::string_view op, const std::string& host, std::uint16_t port,
                                   const resolve_options& opts, clock::time_point deadline) {
  const std::string what = host_port(host, port);
  if (host.empty()) {
    if (!opts.passive) {
      throw std::system_error(EAI_NONAME, resolve_category(),
                              "gofer: " + std::string(op) + " " + what + ": empty host");
    }
    return {SocketAddress::parse(opts.family == AF_INET6 ? "::" : "0.0.0.0", port)};
  }
  // Numeric hosts (with a scope, "fe80::1%eth0", too) never touch DNS: resolve them here.
  const std::string numeric(numeric_host(host));
  AddrInfoPtr list;
  int err = 0;
  if (lookup(numeric.c_str(), port, opts, AI_NUMERICHOST, list, err) == 0) {
    auto out = to_addresses(list.get());
    if (!out.empty()) {
      return out;
    }
  }
  if (looks_like_ipv4(host)) {
    throw_resolve(EAI_NONAME, 0, op, what + ": not a valid IPv4 address");
  }
  // A name: getaddrinfo may wait for DNS, so it runs on the blocking pool; this task parks
  // (cancellably, and at most until the deadline; a lookup left behind finishes on its own).
  auto job = spawn_blocking([host, port, opts] {
    struct Result {
      int rc;
      int err;
      std::vector<SocketAddress> addresses;
    };
    AddrInfoPtr res;
    int e = 0;
    const int rc = lookup(host.c_str(), port, opts, 0, res, e);
    return Result{rc, e, rc == 0 ? to_addresses(res.get()) : std::vector<SocketAddress>{}};
  });
  auto result = job.wait(deadline);
  if (!result) {
    throw_timed_out(op, what + " (resolving the name)");
  }
  if (result->rc != 0) {
    throw_resolve(result->rc, result->err, op, what + ": lookup failed");
  }
  if (result->addresses.empty()) {
    throw_resolve(EAI_NONAME, 0, op, what + ": lookup found no IPv4 or IPv6 address");
  }
  return std::move(result->addresses);
}

SocketAddress local_address_of(int fd, std::string_view op, std::string_view name) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    throw_errno(op, name);
  }
  return SocketAddress::from_native(&ss, len);
}

SocketAddress peer_address_of(int fd, std::string_view op, std::string_view name) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    throw_errno(op, name);
  }
  return SocketAddress::from_native(&ss, len);
}

}  // namespace detail

}  // namespace gofer
