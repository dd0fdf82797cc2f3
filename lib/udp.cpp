// udp.cpp: UdpSocket (see net.hpp) on the socket helpers (socket.hpp) and resolve.
//
// Invariants: (1) receivers and senders park on the socket fd, which the poller serves for
// both interests at once, so receiving and sending tasks can use a socket together; (2) the
// fd is closed through close_fd(); (3) an Impl outlives close(), keeping the name for the
// EBADF message of a later call.
//
// Thread-safety and blocking: as in net.hpp.
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <span>
#include <string>

#include <gofer/net.hpp>

#include "address.hpp"
#include "errno_error.hpp"
#include "fd.hpp"
#include "socket.hpp"

namespace gofer {

using detail::after;
using detail::clock;
using detail::close_fd;
using detail::family_of;
using detail::Interest;
using detail::native;
using detail::open_socket;
using detail::park;

class UdpSocket::Impl {
 public:
  Impl() = default;
  ~Impl() { close(); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void close() noexcept { close_fd(fd); }

  void check_open(const char* op) const {
    if (!fd) {
      detail::throw_errno_value(EBADF, op, name + " (the socket is closed)");
    }
  }

  // send: one datagram to `to` (nullptr: the connected peer), parking while the buffer is full.
  void send(std::string_view bytes, const SocketAddress* to, clock::time_point deadline,
            const char* op) {
    check_open(op);
    const std::string& peer_name = to != nullptr ? to->to_string() : name;
    for (;;) {
      const ssize_t r = to != nullptr
                            ? ::sendto(fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL,
                                       native(*to), static_cast<socklen_t>(to->native_size()))
                            : ::send(fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (r >= 0) {
        return;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        park(fd.get(), Interest::writable, deadline, op, peer_name);
      } else if (errno != EINTR) {
        detail::throw_errno(op, peer_name);
      }
    }
  }

  // recv: one datagram into buf, with its sender.
  Datagram recv(std::span<char> buf, clock::time_point deadline, const char* op) {
    check_open(op);
    for (;;) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      // MSG_TRUNC: r is the datagram's real length, so truncation can be reported.
      const ssize_t r = ::recvfrom(fd.get(), buf.data(), buf.size(), MSG_TRUNC,
                                   reinterpret_cast<sockaddr*>(&ss), &len);
      if (r >= 0) {
        Datagram d;
        d.size = std::min(buf.size(), static_cast<std::size_t>(r));
        d.truncated = static_cast<std::size_t>(r) > buf.size();
        d.from = SocketAddress::from_native(&ss, len);
        return d;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        park(fd.get(), Interest::readable, deadline, op, name);
      } else if (errno != EINTR) {
        detail::throw_errno(op, name);
      }
    }
  }

  // resolve_peer: host:port as an address of this socket's family.
  SocketAddress resolve_peer(std::string_view op, const std::string& host, std::uint16_t port,
                             clock::time_point deadline) const {
    return detail::resolve(op, host, port, {.socktype = SOCK_DGRAM, .family = family}, deadline)
        .front();
  }

  detail::UniqueFd fd;
  std::string name;  // the bound address
  int family = AF_INET;
};

UdpSocket::UdpSocket() noexcept = default;
UdpSocket::UdpSocket(UdpSocket&&) noexcept = default;
UdpSocket& UdpSocket::operator=(UdpSocket&&) noexcept = default;
UdpSocket::~UdpSocket() = default;

UdpSocket UdpSocket::bind(const std::string& host, std::uint16_t port) {
  const std::string what = detail::host_port(host, port);
  const auto addresses = detail::resolve(
      "bind", host, port, {.socktype = SOCK_DGRAM, .passive = true}, detail::no_deadline);
  const SocketAddress& a = addresses.front();
  detail::UniqueFd fd = open_socket(family_of(a), SOCK_DGRAM, "bind", what);
  if (::bind(fd.get(), native(a), static_cast<socklen_t>(a.native_size())) != 0) {
    detail::throw_errno("bind", what);
  }
  UdpSocket u;
  u.impl_ = std::make_unique<Impl>();
  u.impl_->name = detail::local_address_of(fd.get(), "bind", what).to_string();
  u.impl_->family = family_of(a);
  u.impl_->fd = std::move(fd);
  return u;
}

UdpSocket::Impl& UdpSocket::impl(const char* op) const {
  if (impl_ == nullptr) {
    detail::throw_errno_value(EBADF, op, "(empty or moved-from UdpSocket)");
  }
  return *impl_;
}

void UdpSocket::send_to(std::string_view bytes, const SocketAddress& to) {
  impl("send_to").send(bytes, &to, detail::no_deadline, "send_to");
}
void UdpSocket::send_to(std::string_view bytes, const SocketAddress& to,
                        std::chrono::nanoseconds timeout) {
  impl("send_to").send(bytes, &to, after(timeout), "send_to");
}
void UdpSocket::send_to(std::string_view bytes, const std::string& host, std::uint16_t port) {
  send_to(bytes, host, port, std::chrono::nanoseconds::max());
}
void UdpSocket::send_to(std::string_view bytes, const std::string& host, std::uint16_t port,
                        std::chrono::nanoseconds timeout) {
  auto& im = impl("send_to");
  im.check_open("send_to");
  const auto deadline = after(timeout);
  const SocketAddress to = im.resolve_peer("send_to", host, port, deadline);
  im.send(bytes, &to, deadline, "send_to");
}

Datagram UdpSocket::recv_from(std::span<char> buf) {
  return impl("recv_from").recv(buf, detail::no_deadline, "recv_from");
}
Datagram UdpSocket::recv_from(std::span<char> buf, std::chrono::nanoseconds timeout) {
  return impl("recv_from").recv(buf, after(timeout), "recv_from");
}

void UdpSocket::connect(const std::string& host, std::uint16_t port) {
  auto& im = impl("connect");
  im.check_open("connect");
  const SocketAddress to = im.resolve_peer("connect", host, port, detail::no_deadline);
  if (::connect(im.fd.get(), native(to), static_cast<socklen_t>(to.native_size())) != 0) {
    detail::throw_errno("connect", detail::host_port(host, port));
  }
}

void UdpSocket::send(std::string_view bytes) {
  impl("send").send(bytes, nullptr, detail::no_deadline, "send");
}
void UdpSocket::send(std::string_view bytes, std::chrono::nanoseconds timeout) {
  impl("send").send(bytes, nullptr, after(timeout), "send");
}
std::size_t UdpSocket::recv(std::span<char> buf) {
  return impl("recv").recv(buf, detail::no_deadline, "recv").size;
}
std::size_t UdpSocket::recv(std::span<char> buf, std::chrono::nanoseconds timeout) {
  return impl("recv").recv(buf, after(timeout), "recv").size;
}

bool UdpSocket::is_open() const noexcept {
  return impl_ != nullptr && static_cast<bool>(impl_->fd);
}

int UdpSocket::fd() const noexcept {
  return impl_ != nullptr ? impl_->fd.get() : -1;
}

std::uint16_t UdpSocket::local_port() const {
  auto& im = impl("local_port");
  im.check_open("local_port");
  return detail::local_address_of(im.fd.get(), "local_port", im.name).port();
}

SocketAddress UdpSocket::local_address() const {
  auto& im = impl("local_address");
  im.check_open("local_address");
  return detail::local_address_of(im.fd.get(), "local_address", im.name);
}

void UdpSocket::close() noexcept {
  if (impl_ != nullptr) {
    impl_->close();
  }
}

}  // namespace gofer
