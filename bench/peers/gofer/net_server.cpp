// net_server.cpp: gofer's echo server of bench/compare_net.
//
// Usage: net_gofer SIZE
//
// Listens on 127.0.0.1 (a free port, printed as "port=N" on stdout) and echoes SIZE-byte
// messages on every connection, as the other net_server peers do, with the code a gofer user
// would write: one scheduler thread (this thread's event loop), one task per accepted
// TcpStream, read_exact of one message and write of it back, until the client goes away.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>

#include <gofer/gofer.hpp>

namespace {

void serve(gofer::TcpStream c, std::size_t size) {
  std::string buf(size, '\0');
  try {
    while (c.read_exact(buf) == size) {
      c.write(buf);
    }
  } catch (const std::system_error&) {  // the client went away
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long size = argc == 2 ? std::strtol(argv[1], nullptr, 10) : 0;
  if (size <= 0) {
    std::fprintf(stderr, "usage: net_gofer SIZE\n");
    return 2;
  }
  gofer::with_event_loop([size] {
    auto listener = gofer::TcpListener::bind("127.0.0.1", 0);
    std::printf("port=%d\n", listener.local_port());
    std::fflush(stdout);
    for (;;) {
      gofer::go(serve, listener.accept(), static_cast<std::size_t>(size));
    }
  });
}
