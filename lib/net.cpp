// net.cpp: TcpStream and TcpListener (see net.hpp) on FdStream, wait_fd and resolve; UdpSocket
// is in udp.cpp, the helpers both use in socket.hpp.
//
// A TcpStream is an FdStream on the socket (its buffer gives read_line and the no-byte-lost
// timeouts; its writes use send(MSG_NOSIGNAL)). FdStream lets one reading and one writing task
// use it at once: the poller serves a reader and a writer parked on one fd together.
//
// Invariants: (1) a socket that tasks park on lives in a PollFd (poll_fd.hpp; the FdStream's,
// or the listener's), which is closed only once no call uses it, forgetting the poller
// registration first; a connecting socket, which nobody else can see yet, waits through
// wait_fd and is closed by its UniqueFd (a failed connect closes it after forget_fd). (2) every fd
// is created non-blocking and close-on-exec (SOCK_NONBLOCK | SOCK_CLOEXEC, accept4), so no call
// here ever blocks the thread and no fd leaks into a spawned process. (3) an Impl outlives close():
// it keeps the name for the EBADF message of a later call.
//
// Thread-safety and blocking: as in net.hpp.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>

#include <gofer/net.hpp>

#include "address.hpp"
#include "errno_error.hpp"
#include "fd.hpp"
#include "fd_stream.hpp"
#include "fd_wait.hpp"
#include "socket.hpp"

namespace gofer {

using detail::clock;
using detail::family_of;
using detail::native;
using detail::open_socket;

namespace {

void set_nodelay_on(int fd, bool on) noexcept {
  const int v = on ? 1 : 0;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
}

// connect_one: a connected socket, or an empty fd with the reason in err. Throws on timeout
// (naming `what`) and on cancellation.
detail::UniqueFd connect_one(const SocketAddress& to, clock::time_point deadline,
                             const std::string& what, int& err) {
  detail::UniqueFd fd = open_socket(family_of(to), SOCK_STREAM, "connect", what);
  err = detail::connect_socket(fd.get(), native(to), static_cast<socklen_t>(to.native_size()),
                               deadline, what);
  if (err != 0) {
    detail::forget_fd(fd.get());
    fd.reset();
  }
  return fd;
}

}  // namespace

// ---- TcpStream ----

class TcpStream::Impl {
 public:
  Impl(detail::UniqueFd fd, std::string name) : stream(std::move(fd), std::move(name), true, true) {
    set_nodelay_on(stream.fd(), true);
    stream.set_tcp();
  }

  detail::FdStream stream;
};

TcpStream::TcpStream() noexcept = default;
TcpStream::TcpStream(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
TcpStream::TcpStream(TcpStream&&) noexcept = default;
TcpStream& TcpStream::operator=(TcpStream&&) noexcept = default;
TcpStream::~TcpStream() = default;

TcpStream TcpStream::connect(const std::string& host, std::uint16_t port, Deadline d) {
  const auto deadline = d.time_point();
  const std::string what = detail::host_port(host, port);
  const auto addresses =
      detail::resolve("connect", host, port, {.socktype = SOCK_STREAM}, deadline);
  int err = 0;
  for (const auto& a : addresses) {
    if (auto fd = connect_one(a, deadline, what, err)) {
      return TcpStream(std::make_unique<Impl>(std::move(fd), what));
    }
  }
  detail::throw_errno_value(err, "connect", what);
}

TcpStream TcpStream::connect(const SocketAddress& to, Deadline d) {
  if (to.empty()) {
    throw std::invalid_argument("gofer::TcpStream::connect: empty SocketAddress");
  }
  const std::string what = to.to_string();
  int err = 0;
  auto fd = connect_one(to, d.time_point(), what, err);
  if (!fd) {
    detail::throw_errno_value(err, "connect", what);
  }
  return TcpStream(std::make_unique<Impl>(std::move(fd), what));
}

TcpStream::Impl& TcpStream::impl(const char* op) const {
  if (impl_ == nullptr) {
    detail::throw_errno_value(EBADF, op, "(empty or moved-from TcpStream)");
  }
  return *impl_;
}

detail::FdStream* TcpStream::stream_if_any() const noexcept {
  return impl_ != nullptr ? &impl_->stream : nullptr;
}

void TcpStream::shutdown(shutdown_how how) {
  auto& s = impl("shutdown").stream;
  s.with_fd("shutdown", [&](int fd) { detail::shutdown_socket(fd, how, s.name()); });
}

void TcpStream::set_nodelay(bool on) {
  auto& s = impl("set_nodelay").stream;
  const int v = on ? 1 : 0;
  s.with_fd("set_nodelay", [&](int fd) {
    if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) != 0) {
      detail::throw_errno("set_nodelay", s.name());
    }
  });
}

SocketAddress TcpStream::peer_address() const {
  auto& s = impl("peer_address").stream;
  return s.with_fd("peer_address",
                   [&](int fd) { return detail::peer_address_of(fd, "peer_address", s.name()); });
}

SocketAddress TcpStream::local_address() const {
  auto& s = impl("local_address").stream;
  return s.with_fd("local_address",
                   [&](int fd) { return detail::local_address_of(fd, "local_address", s.name()); });
}

// ---- TcpListener ----

class TcpListener::Impl {
 public:
  Impl(detail::UniqueFd listening, std::string bound)
      : name(std::move(bound)), fd(std::move(listening)) {}

  // check_open: throws errc::closed naming op once the listener is closed.
  void check_open(std::string_view op) const {
    if (!fd.is_open()) {
      detail::throw_closed(op, name);
    }
  }

  std::string name;  // the bound address, "127.0.0.1:8080"
  detail::PollFd fd;

  TcpStream accept(clock::time_point deadline) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    detail::UniqueFd conn = detail::accept_socket(fd, deadline, name, ss, len);
    auto peer = SocketAddress::from_native(&ss, len).to_string();
    return TcpStream(std::make_unique<TcpStream::Impl>(std::move(conn), std::move(peer)));
  }
};

TcpListener::TcpListener() noexcept = default;
TcpListener::TcpListener(TcpListener&&) noexcept = default;
TcpListener& TcpListener::operator=(TcpListener&&) noexcept = default;
TcpListener::~TcpListener() = default;

TcpListener TcpListener::bind(const std::string& host, std::uint16_t port,
                              std::optional<int> backlog, Deadline d) {
  const int queue = detail::listen_backlog(backlog, "gofer::TcpListener::bind");
  const std::string what = detail::host_port(host, port);
  const auto addresses = detail::resolve(
      "bind", host, port, {.socktype = SOCK_STREAM, .passive = true}, d.time_point());
  const SocketAddress& a = addresses.front();
  detail::UniqueFd fd = open_socket(family_of(a), SOCK_STREAM, "bind", what);
  const int one = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    detail::throw_errno("bind", what + " (SO_REUSEADDR)");
  }
  if (::bind(fd.get(), native(a), static_cast<socklen_t>(a.native_size())) != 0) {
    detail::throw_errno("bind", what);
  }
  if (::listen(fd.get(), queue) != 0) {
    detail::throw_errno("listen", what);
  }
  TcpListener l;
  std::string bound = detail::local_address_of(fd.get(), "bind", what).to_string();
  l.impl_ = std::make_unique<Impl>(std::move(fd), std::move(bound));
  return l;
}

TcpListener::Impl& TcpListener::impl(const char* op) const {
  if (impl_ == nullptr) {
    detail::throw_errno_value(EBADF, op, "(empty or moved-from TcpListener)");
  }
  return *impl_;
}

TcpStream TcpListener::accept(Deadline d) {
  return impl("accept").accept(d.time_point());
}

void TcpListener::set_deadline(Deadline d) {
  auto& im = impl("set_deadline");
  im.check_open("set_deadline");
  im.fd.set_deadline(detail::Interest::readable, d.time_point());
}

bool TcpListener::is_open() const noexcept {
  return impl_ != nullptr && impl_->fd.is_open();
}

int TcpListener::fd() const noexcept {
  return impl_ != nullptr ? impl_->fd.fd() : -1;
}

std::uint16_t TcpListener::local_port() const {
  auto& im = impl("local_port");
  im.check_open("local_port");
  return detail::local_address_of(im.fd.fd(), "local_port", im.name).port();
}

SocketAddress TcpListener::local_address() const {
  auto& im = impl("local_address");
  im.check_open("local_address");
  return detail::local_address_of(im.fd.fd(), "local_address", im.name);
}

void TcpListener::close() noexcept {
  if (impl_ != nullptr) {
    impl_->fd.close();
  }
}

}  // namespace gofer
