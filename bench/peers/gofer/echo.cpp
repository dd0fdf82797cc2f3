// echo.cpp: gofer's peer of the TCP echo benchmark (run by bench/compare_echo).
//
// Usage: gofer_echo echo/SIZE [SCALE]     gofer_echo --list
//
// Same workload, constants and result line as bench/peers/go/echo.go: in one process, a server
// on 127.0.0.1 with one task per connection that reads SIZE-byte messages (read_exact) and
// writes each back, and 50 client connections, each doing TRIPS request/response round trips
// one after another (4000 for 64-byte and 1000 for 4096-byte messages, times SCALE); every
// reply is compared with its request. Everything runs on a gofer::Runtime with one scheduler
// thread per core (Go's default GOMAXPROCS); one acceptor task hands each connection to rt.go(),
// so server and client tasks are spread round robin over the threads.
// Prints "workload=echo variant=SIZE unit=msg/s value=X p50_us=Y p99_us=Z cpu_us=C", C being the
// process's CPU time (user + system, both sides) per round trip: on a shared machine the
// wall-clock figures depend on the other load, this one much less.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include <gofer/gofer.hpp>

#include "../peer_util.hpp"

namespace {

using peer::clock;

constexpr int conns = 50;
const std::map<int, std::int64_t> trips = {{64, 4000}, {4096, 1000}};

void serve(gofer::TcpStream c, std::size_t size) {
  std::string buf(size, '\0');
  try {
    while (c.read_exact(buf) == size) {
      c.write(buf);
    }
  } catch (const std::system_error&) {  // the client went away
  }
}

// client: n round trips on one connection; the latencies in ns. Fails the run on bad data.
std::vector<std::int64_t> client(const std::string& id, std::uint16_t port, std::size_t size,
                                 int conn, std::int64_t n) {
  auto c = gofer::TcpStream::connect("127.0.0.1", port);
  std::string msg(size, '\0');
  std::string reply(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    msg[i] = static_cast<char>(i * 7);
  }
  std::vector<std::int64_t> lat;
  lat.reserve(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) {
    const std::uint64_t tag =
        (static_cast<std::uint64_t>(conn) << 32) | static_cast<std::uint64_t>(k);
    std::memcpy(msg.data(), &tag, sizeof tag);  // little-endian, as the Go peer writes it
    const auto t0 = clock::now();
    c.write(msg);
    if (c.read_exact(reply) != size) {
      peer::fail(id, "connection " + std::to_string(conn) + ": EOF from the server");
    }
    lat.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t0).count());
    if (reply != msg) {
      peer::fail(id, "connection " + std::to_string(conn) + " trip " + std::to_string(k) +
                         ": reply differs from request");
    }
  }
  return lat;
}

void echo(const std::string& id, double scale) {
  const int size = std::stoi(id.substr(id.find('/') + 1));
  const std::int64_t n = peer::scaled(trips.at(size), scale);
  const auto usize = static_cast<std::size_t>(size);

  gofer::Runtime rt;
  auto listener = gofer::TcpListener::bind("127.0.0.1", 0, 1024);
  const std::uint16_t port = listener.local_port();
  auto acceptor = rt.go_on(0, [&] {
    for (;;) {
      rt.go(serve, listener.accept(), usize);
    }
  });

  std::vector<gofer::Task<std::vector<std::int64_t>>> clients;
  const double cpu_start = peer::cpu_seconds();
  const auto start = clock::now();
  for (int i = 0; i < conns; ++i) {
    clients.push_back(rt.go(client, id, port, usize, i, n));
  }
  std::vector<std::int64_t> all;
  all.reserve(static_cast<std::size_t>(conns * n));
  for (auto& c : clients) {
    auto lat = c.wait();
    all.insert(all.end(), lat.begin(), lat.end());
  }
  const auto elapsed = clock::now() - start;
  const double cpu = peer::cpu_seconds() - cpu_start;
  acceptor.request_stop();
  try {
    acceptor.wait();
  } catch (const gofer::cancelled&) {
  }

  peer::check(id, "round trips", static_cast<std::int64_t>(all.size()), conns * n);
  std::sort(all.begin(), all.end());
  const double p50 = static_cast<double>(all[all.size() * 50 / 100]) / 1e3;
  const double p99 = static_cast<double>(all[all.size() * 99 / 100]) / 1e3;
  const double rate =
      static_cast<double>(all.size()) / std::chrono::duration<double>(elapsed).count();
  const double cpu_us = cpu * 1e6 / static_cast<double>(all.size());
  std::printf(
      "workload=echo variant=%d unit=msg/s value=%.6g p50_us=%.6g p99_us=%.6g cpu_us=%.6g\n", size,
      rate, p50, p99, cpu_us);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<peer::Workload> workloads = {{"echo/64", echo}, {"echo/4096", echo}};
  return peer::run_main(argc, argv, "gofer_echo", workloads);
}
