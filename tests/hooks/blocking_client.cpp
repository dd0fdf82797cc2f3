// blocking_client.cpp: see blocking_client.hpp. BLOCKING_CLIENT_FN names the function (one
// name per way the tests link it).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace {

int fail(int fd) {
  const int err = errno;
  if (fd >= 0) {
    ::close(fd);
  }
  return -err;
}

}  // namespace

extern "C" [[gnu::visibility("default")]] int BLOCKING_CLIENT_FN(const char* ip, int port,
                                                                 const char* request, char* reply,
                                                                 std::size_t cap, int timeout_ms) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return fail(-1);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<unsigned short>(port));
  ::inet_pton(AF_INET, ip, &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return fail(fd);
  }
  const std::size_t n = std::strlen(request);
  for (std::size_t sent = 0; sent < n;) {
    const ssize_t w = ::write(fd, request + sent, n - sent);
    if (w < 0) {
      return fail(fd);
    }
    sent += static_cast<std::size_t>(w);
  }
  std::size_t got = 0;
  while (got + 1 < cap) {
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, timeout_ms);
    if (ready <= 0) {
      if (ready == 0) {
        errno = ETIMEDOUT;
      }
      return fail(fd);
    }
    const ssize_t r = ::read(fd, reply + got, cap - 1 - got);
    if (r < 0) {
      return fail(fd);
    }
    if (r == 0) {
      break;
    }
    got += static_cast<std::size_t>(r);
    if (reply[got - 1] == '\n') {
      break;
    }
  }
  reply[got] = '\0';
  ::close(fd);
  return static_cast<int>(got);
}
