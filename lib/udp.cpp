// udp.cpp: UdpSocket (see net.hpp) on the socket helpers (socket.hpp) and resolve.
//
// Invariants: (1) receivers and senders park on the socket's PollFd, which the poller serves
// for both interests at once, so receiving and sending tasks can use a socket together; (2)
// every call holds a PollFd::Use, so close() from any task or thread wakes the parked ones and
// closes the fd only once all have left (poll_fd.hpp); (3) an Impl outlives close(), keeping
// the name for the errc::closed message of a later call.
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

using detail::clock;
using detail::family_of;
using detail::Interest;
using detail::native;
using detail::open_socket;
using detail::PollFd;

class UdpSocket::Impl {
 public:
  Impl(detail::UniqueFd socket, std::string bound, int socket_family)
      : name(std::move(bound)), family(socket_family), fd(std::move(socket)) {}

  void check_open(const char* op) const {
    if (!fd.is_open()) {
      detail::throw_closed(op, name);
    }
  }

  // send: one datagram to `to` (nullptr: the connected peer), parking while the buffer is full.
  void send(std::string_view bytes, const SocketAddress* to, clock::time_point deadline,
            const char* op) {
    const std::string& peer_name = to != nullptr ? to->to_string() : name;
    PollFd::Use use(fd, Interest::writable, op, peer_name);
    for (;;) {
      fd.check_open(op, peer_name);
      const ssize_t r = to != nullptr
                            ? ::sendto(fd.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL,
                                       native(*to), static_cast<socklen_t>(to->native_size()))
                            : ::send(fd.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (r >= 0) {
        return;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        fd.wait(Interest::writable, deadline, op, peer_name);
      } else if (errno != EINTR) {
        detail::throw_errno(op, peer_name);
      }
    }
  }

  // recv: one datagram into buf, with its sender.
  Datagram recv(std::span<char> buf, clock::time_point deadline, const char* op) {
    PollFd::Use use(fd, Interest::readable, op, name);
    for (;;) {
      fd.check_open(op, name);
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      // MSG_TRUNC: r is the datagram's real length, so truncation can be reported.
      const ssize_t r = ::recvfrom(fd.fd(), buf.data(), buf.size(), MSG_TRUNC,
                                   reinterpret_cast<sockaddr*>(&ss), &len);
      if (r >= 0) {
        Datagram d;
        d.size = std::min(buf.size(), static_cast<std::size_t>(r));
        d.truncated = static_cast<std::size_t>(r) > buf.size();
        d.from = SocketAddress::from_native(&ss, len);
        return d;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        fd.wait(Interest::readable, deadline, op, name);
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

  std::string name;  // the bound address
  int family = AF_INET;
  PollFd fd;
};

UdpSocket::UdpSocket() noexcept = default;
UdpSocket::UdpSocket(UdpSocket&&) noexcept = default;
UdpSocket& UdpSocket::operator=(UdpSocket&&) noexcept = default;
UdpSocket::~UdpSocket() = default;

UdpSocket UdpSocket::bind(const std::string& host, std::uint16_t port, Deadline d) {
  const std::string what = detail::host_port(host, port);
  const auto addresses = detail::resolve("bind", host, port,
                                         {.socktype = SOCK_DGRAM, .passive = true}, d.time_point());
  const SocketAddress& a = addresses.front();
  detail::UniqueFd fd = open_socket(family_of(a), SOCK_DGRAM, "bind", what);
  if (::bind(fd.get(), native(a), static_cast<socklen_t>(a.native_size())) != 0) {
    detail::throw_errno("bind", what);
  }
  UdpSocket u;
  std::string bound = detail::local_address_of(fd.get(), "bind", what).to_string();
  u.impl_ = std::make_unique<Impl>(std::move(fd), std::move(bound), family_of(a));
  return u;
}

UdpSocket::Impl& UdpSocket::impl(const char* op) const {
  if (impl_ == nullptr) {
    detail::throw_errno_value(EBADF, op, "(empty or moved-from UdpSocket)");
  }
  return *impl_;
}

void UdpSocket::send_to(std::string_view bytes, const SocketAddress& to, Deadline d) {
  impl("send_to").send(bytes, &to, d.time_point(), "send_to");
}
void UdpSocket::send_to(std::string_view bytes, const std::string& host, std::uint16_t port,
                        Deadline d) {
  auto& im = impl("send_to");
  im.check_open("send_to");
  const SocketAddress to = im.resolve_peer("send_to", host, port, d.time_point());
  im.send(bytes, &to, d.time_point(), "send_to");
}

Datagram UdpSocket::recv_from(std::span<char> buf, Deadline d) {
  return impl("recv_from").recv(buf, d.time_point(), "recv_from");
}

void UdpSocket::connect(const std::string& host, std::uint16_t port, Deadline d) {
  auto& im = impl("connect");
  const SocketAddress to = im.resolve_peer("connect", host, port, d.time_point());
  PollFd::Use use(im.fd, "connect", im.name);
  if (::connect(im.fd.fd(), native(to), static_cast<socklen_t>(to.native_size())) != 0) {
    detail::throw_errno("connect", detail::host_port(host, port));
  }
}

void UdpSocket::send(std::string_view bytes, Deadline d) {
  impl("send").send(bytes, nullptr, d.time_point(), "send");
}
std::size_t UdpSocket::recv(std::span<char> buf, Deadline d) {
  return impl("recv").recv(buf, d.time_point(), "recv").size;
}

void UdpSocket::set_read_deadline(Deadline d) {
  auto& im = impl("set_read_deadline");
  im.check_open("set_read_deadline");
  im.fd.set_deadline(Interest::readable, d.time_point());
}
void UdpSocket::set_write_deadline(Deadline d) {
  auto& im = impl("set_write_deadline");
  im.check_open("set_write_deadline");
  im.fd.set_deadline(Interest::writable, d.time_point());
}
void UdpSocket::set_deadline(Deadline d) {
  auto& im = impl("set_deadline");
  im.check_open("set_deadline");
  im.fd.set_deadline(Interest::readable, d.time_point());
  im.fd.set_deadline(Interest::writable, d.time_point());
}

bool UdpSocket::is_open() const noexcept {
  return impl_ != nullptr && impl_->fd.is_open();
}

int UdpSocket::fd() const noexcept {
  return impl_ != nullptr ? impl_->fd.fd() : -1;
}

std::uint16_t UdpSocket::local_port() const {
  auto& im = impl("local_port");
  im.check_open("local_port");
  return detail::local_address_of(im.fd.fd(), "local_port", im.name).port();
}

SocketAddress UdpSocket::local_address() const {
  auto& im = impl("local_address");
  im.check_open("local_address");
  return detail::local_address_of(im.fd.fd(), "local_address", im.name);
}

void UdpSocket::close() noexcept {
  if (impl_ != nullptr) {
    impl_->fd.close();
  }
}

}  // namespace gofer
