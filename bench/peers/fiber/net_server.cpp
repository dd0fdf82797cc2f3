// net_server.cpp: the raw Boost.Fiber echo server of bench/compare_net.
//
// Usage: net_fiber SIZE
//
// Listens on 127.0.0.1 (a free port, printed as "port=N" on stdout) and echoes SIZE-byte
// messages on every connection, as the other net_server peers do, with the code a Boost.Fiber
// user would write: Boost's own asio integration example (libs/fiber/examples/asio:
// round_robin.hpp, the scheduler that runs an io_context as its idle loop, and yield.hpp, the
// completion token that parks the calling fiber), one thread, one fiber per connection doing
// async_read of one message and async_write of it back with boost::fibers::asio::yield;
// TCP_NODELAY on every connection, as in Go and gofer. The example headers are not installed
// by Debian: bench/compare_net extracts them from the boost1.81 source package
// (scripts/boost_sources.sh's cache) and CMake builds this program only when they are there.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include <boost/asio.hpp>
#include <boost/fiber/all.hpp>

#include "round_robin.hpp"
#include "yield.hpp"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

void session(tcp::socket s, std::size_t size) {
  std::vector<char> buf(size);
  for (;;) {
    boost::system::error_code ec;
    asio::async_read(s, asio::buffer(buf), boost::fibers::asio::yield[ec]);
    if (ec) {
      return;  // EOF or reset: the client went away
    }
    asio::async_write(s, asio::buffer(buf), boost::fibers::asio::yield[ec]);
    if (ec) {
      return;
    }
  }
}

void accept_loop(const std::shared_ptr<asio::io_context>& io, tcp::acceptor& acceptor,
                 std::size_t size) {
  for (;;) {
    tcp::socket s(*io);
    boost::system::error_code ec;
    acceptor.async_accept(s, boost::fibers::asio::yield[ec]);
    if (ec) {
      std::fprintf(stderr, "net_fiber: accept: %s\n", ec.message().c_str());
      std::exit(1);
    }
    s.set_option(tcp::no_delay(true));
    boost::fibers::fiber(session, std::move(s), size).detach();
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long size = argc == 2 ? std::strtol(argv[1], nullptr, 10) : 0;
  if (size <= 0) {
    std::fprintf(stderr, "usage: net_fiber SIZE\n");
    return 2;
  }
  // Asio's default concurrency hint: with 1 (no internal locking) the example scheduler stops
  // serving after the first message (its dispatcher runs io_context::poll() from inside a
  // handler that io_context::run() is executing).
  auto io = std::make_shared<asio::io_context>();
  boost::fibers::use_scheduling_algorithm<boost::fibers::asio::round_robin>(io);
  tcp::acceptor acceptor(*io);
  const tcp::endpoint at(asio::ip::make_address("127.0.0.1"), 0);
  acceptor.open(at.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(at);
  acceptor.listen(tcp::acceptor::max_listen_connections);
  std::printf("port=%d\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  boost::fibers::fiber([&] { accept_loop(io, acceptor, static_cast<std::size_t>(size)); }).detach();
  io->run();
}
