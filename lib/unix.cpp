// unix.cpp: UnixStream and UnixListener (see unix.hpp) on FdStream, PollFd and the socket
// helpers.
//
// Invariants: (1) every fd is created non-blocking and close-on-exec; a connected one lives in
// an FdStream, a listening one in a PollFd, which close it once no call uses it any more,
// forgetting its poller registration first (a connect that fails forgets it itself); (2) a
// listener's unlink_ is set only when its own bind() created the socket file, and the file is
// unlinked by the one close() that PollFd lets through, so a file is unlinked at most once and
// a file someone else created never; (3) an Impl outlives close(): it keeps the path for the
// errc::closed message of a later call.
//
// Thread-safety and blocking: as in unix.hpp.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include <gofer/unix.hpp>

#include "errno_error.hpp"
#include "fd.hpp"
#include "fd_stream.hpp"
#include "fd_wait.hpp"
#include "poll_fd.hpp"
#include "socket.hpp"

namespace gofer {

namespace {

static_assert(UnixStream::max_path_length + 1 == sizeof(sockaddr_un::sun_path));

// UnixAddress: a sockaddr_un and the length the socket calls take.
struct UnixAddress {
  sockaddr_un sa{};
  socklen_t len = 0;
  bool abstract = false;
};

// is_abstract: path names the abstract namespace ('@' or NUL first).
bool is_abstract(const std::string& path) {
  return !path.empty() && (path.front() == '@' || path.front() == '\0');
}

// abstract_name: "@" and the name's bytes (GCC 12 warns falsely on "@" + std::string).
std::string abstract_name(const char* name, std::size_t n) {
  std::string out(n + 1, '@');
  std::memcpy(out.data() + 1, name, n);
  return out;
}

// printable: path as messages and local_path() show it ("@name" for an abstract name).
std::string printable(const std::string& path) {
  return is_abstract(path) ? abstract_name(path.data() + 1, path.size() - 1) : path;
}

// unix_address: path as a socket address; throws std::invalid_argument naming `who`.
UnixAddress unix_address(const std::string& path, const char* who) {
  const auto bad = [&](const std::string& rule) {
    return std::invalid_argument(std::string(who) + ": path \"" + printable(path) + "\" " + rule);
  };
  if (path.empty()) {
    throw std::invalid_argument(std::string(who) + ": empty path");
  }
  if (path.size() > UnixStream::max_path_length) {
    throw bad("is " + std::to_string(path.size()) + " bytes; a Unix socket path holds at most " +
              std::to_string(UnixStream::max_path_length) + " (sun_path)");
  }
  if (path.find('\0', 1) != std::string::npos) {
    throw bad("contains a NUL byte");
  }
  UnixAddress a;
  a.sa.sun_family = AF_UNIX;
  a.abstract = is_abstract(path);
  std::memcpy(a.sa.sun_path, path.data(), path.size());
  if (a.abstract) {
    // The name is exactly the bytes after the NUL: no terminator is part of it.
    a.sa.sun_path[0] = '\0';
    a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  } else {
    a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  }
  return a;
}

// path_of: the path in a sockaddr_un of length len ("@name", or "" when unnamed).
std::string path_of(const sockaddr_un& sa, socklen_t len) {
  const std::size_t offset = offsetof(sockaddr_un, sun_path);
  if (len <= offset) {
    return {};
  }
  const std::size_t n = std::min<std::size_t>(len - offset, sizeof sa.sun_path);
  if (sa.sun_path[0] == '\0') {
    return abstract_name(sa.sun_path + 1, n - 1);
  }
  return std::string(sa.sun_path, strnlen(sa.sun_path, n));
}

// socket_path: getsockname (local) or getpeername of fd as a path.
std::string socket_path(int fd, bool local, const char* op, const std::string& name) {
  sockaddr_un sa{};
  socklen_t len = sizeof sa;
  const int r = local ? ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len)
                      : ::getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  if (r != 0) {
    detail::throw_errno(op, name);
  }
  return path_of(sa, len);
}

std::unique_ptr<detail::FdStream> make_stream(detail::UniqueFd fd, std::string name) {
  return std::make_unique<detail::FdStream>(std::move(fd), std::move(name), true, true);
}

}  // namespace

// ---- UnixStream ----

UnixStream::UnixStream() noexcept = default;
UnixStream::UnixStream(std::unique_ptr<detail::FdStream> s) noexcept : s_(std::move(s)) {}
UnixStream::UnixStream(UnixStream&&) noexcept = default;
UnixStream& UnixStream::operator=(UnixStream&&) noexcept = default;
UnixStream::~UnixStream() = default;

UnixStream UnixStream::connect(const std::string& path, Deadline d) {
  const UnixAddress a = unix_address(path, "gofer::UnixStream::connect");
  const std::string what = printable(path);
  detail::UniqueFd fd = detail::open_socket(AF_UNIX, SOCK_STREAM, "connect", what);
  const int err = detail::connect_socket(fd.get(), reinterpret_cast<const sockaddr*>(&a.sa), a.len,
                                         d.time_point(), what);
  if (err != 0) {
    detail::forget_fd(fd.get());
    fd.reset();
    detail::throw_errno_value(err, "connect", what);
  }
  return UnixStream(make_stream(std::move(fd), what));
}

void UnixStream::shutdown(shutdown_how how) {
  auto& s = stream("shutdown");
  s.with_fd("shutdown", [&](int fd) { detail::shutdown_socket(fd, how, s.name()); });
}

std::string UnixStream::local_path() const {
  auto& s = stream("local_path");
  return s.with_fd("local_path",
                   [&](int fd) { return socket_path(fd, true, "local_path", s.name()); });
}

std::string UnixStream::peer_path() const {
  auto& s = stream("peer_path");
  return s.with_fd("peer_path",
                   [&](int fd) { return socket_path(fd, false, "peer_path", s.name()); });
}

// ---- UnixListener ----

class UnixListener::Impl {
 public:
  Impl(detail::UniqueFd listening, std::string path, bool owns_file)
      : name(std::move(path)), fd(std::move(listening)), unlink_(owns_file) {}
  ~Impl() { close(); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // check_open: throws errc::closed naming op once the listener is closed.
  void check_open(std::string_view op) const {
    if (!fd.is_open()) {
      detail::throw_closed(op, name);
    }
  }

  // close: PollFd::close runs its callback for the first caller only (invariant 2).
  void close() noexcept {
    fd.close([this] {
      if (unlink_) {
        ::unlink(name.c_str());
      }
    });
  }

  std::string name;  // the path, abstract names as "@name"
  detail::PollFd fd;

 private:
  bool unlink_;  // close() removes the socket file bind created
};

UnixListener::UnixListener() noexcept = default;
UnixListener::UnixListener(UnixListener&&) noexcept = default;
UnixListener& UnixListener::operator=(UnixListener&&) noexcept = default;
UnixListener::~UnixListener() = default;

UnixListener UnixListener::bind(const std::string& path, std::optional<int> backlog) {
  const char* who = "gofer::UnixListener::bind";
  const int queue = detail::listen_backlog(backlog, who);
  const UnixAddress a = unix_address(path, who);
  std::string name = printable(path);
  detail::UniqueFd fd = detail::open_socket(AF_UNIX, SOCK_STREAM, "bind", name);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a.sa), a.len) != 0) {
    detail::throw_errno("bind", name);
  }
  // From here on the socket file is ours: the Impl, or a failing listen, removes it.
  auto im = std::make_unique<Impl>(std::move(fd), std::move(name), !a.abstract);
  if (::listen(im->fd.fd(), queue) != 0) {
    detail::throw_errno("listen", im->name);
  }
  UnixListener l;
  l.impl_ = std::move(im);
  return l;
}

UnixListener::Impl& UnixListener::impl(const char* op) const {
  if (impl_ == nullptr) {
    detail::throw_errno_value(EBADF, op, "(empty or moved-from UnixListener)");
  }
  return *impl_;
}

UnixStream UnixListener::accept(Deadline d) {
  auto& im = impl("accept");
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  detail::UniqueFd conn = detail::accept_socket(im.fd, d.time_point(), im.name, peer, len);
  return UnixStream(make_stream(std::move(conn), im.name));
}

void UnixListener::set_deadline(Deadline d) {
  auto& im = impl("set_deadline");
  im.check_open("set_deadline");
  im.fd.set_deadline(detail::Interest::readable, d.time_point());
}

bool UnixListener::is_open() const noexcept {
  return impl_ != nullptr && impl_->fd.is_open();
}

int UnixListener::fd() const noexcept {
  return impl_ != nullptr ? impl_->fd.fd() : -1;
}

std::string UnixListener::local_path() const {
  auto& im = impl("local_path");
  im.check_open("local_path");
  return im.name;
}

void UnixListener::close() noexcept {
  if (impl_ != nullptr) {
    impl_->close();
  }
}

}  // namespace gofer
