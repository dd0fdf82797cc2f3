// net_server.cpp: the Asio echo server of bench/compare_net (Boost 1.81's Asio, header-only).
//
// Usage: net_asio SIZE
//
// Listens on 127.0.0.1 (a free port, printed as "port=N" on stdout) and echoes SIZE-byte
// messages on every connection, as the other net_server peers do, with the code an Asio user
// would write: one io_context run by one thread (concurrency hint 1), C++20 coroutines
// (co_spawn, use_awaitable), one coroutine per connection doing async_read of one message and
// async_write of it back; TCP_NODELAY on every connection, as in Go and gofer.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <vector>

#include <boost/asio.hpp>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<void> session(tcp::socket s, std::size_t size) {
  std::vector<char> buf(size);
  try {
    for (;;) {
      co_await asio::async_read(s, asio::buffer(buf), asio::use_awaitable);
      co_await asio::async_write(s, asio::buffer(buf), asio::use_awaitable);
    }
  } catch (const std::exception&) {  // EOF or reset: the client went away
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, std::size_t size) {
  for (;;) {
    tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
    s.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), session(std::move(s), size), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long size = argc == 2 ? std::strtol(argv[1], nullptr, 10) : 0;
  if (size <= 0) {
    std::fprintf(stderr, "usage: net_asio SIZE\n");
    return 2;
  }
  asio::io_context ctx(1);
  tcp::acceptor acceptor(ctx);
  const tcp::endpoint at(asio::ip::make_address("127.0.0.1"), 0);
  acceptor.open(at.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(at);
  acceptor.listen(tcp::acceptor::max_listen_connections);
  std::printf("port=%d\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  asio::co_spawn(ctx, accept_loop(acceptor, static_cast<std::size_t>(size)), asio::detached);
  ctx.run();
}
