// A gofer::hooks consumer: the hooks are active, and a plain read() in a task parks it while
// another task of the same thread writes the bytes it waits for.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include <gofer/gofer.hpp>
#include <gofer/hooks.hpp>

int main() {
  if (!gofer::hooks::active()) {
    std::puts("gofer::hooks is linked but not active");
    return 1;
  }
  int fd[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fd) != 0) {
    return 1;
  }
  auto reader = gofer::go([fd] {
    char c = 0;
    return ::read(fd[0], &c, 1) == 1 && c == 'x';  // parks: the writer runs on this thread
  });
  auto writer = gofer::go([fd] { return ::write(fd[1], "x", 1) == 1; });
  const bool ok = reader.wait() && writer.wait();
  ::close(fd[0]);
  ::close(fd[1]);
  std::printf("hooks consumer: %s\n", ok ? "parked and woke" : "FAILED");
  return ok ? 0 : 1;
}
