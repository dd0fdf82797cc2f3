// echo_server: a TCP line-echo server, one task per connection, on a Runtime with one scheduler
// thread per core; also its load client and a self-test.
//
//   echo_server                          self-test: a server on an ephemeral port, a few clients,
//                                        a checkable summary line, exit 0 when every line came back
//   echo_server serve [HOST [PORT]]      serve until killed (default 0.0.0.0 7007); SIGQUIT
//                                        prints a dump of every task (gofer::dump_tasks)
//   echo_server client HOST PORT N       N lines over one connection, each checked
//
// Placement: one acceptor task accepts every connection and hands it to rt.go(), which places
// the connection's task on the next scheduler thread, round robin. That keeps one wait on the
// listening socket and spreads connections evenly whatever the kernel's wake-up order; the
// price is one cross-thread hand-off per connection, nothing per message. (An acceptor per
// thread on one listener would be woken together for each connection, all but one for nothing;
// per-thread listeners with SO_REUSEPORT would spread by hash, not evenly.)
#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <gofer/gofer.hpp>

using namespace std::chrono_literals;

namespace {

// serve_connection: echoes lines until the client hangs up (or the connection fails).
void serve_connection(gofer::TcpStream conn) {
  try {
    while (auto line = conn.read_line(5min)) {  // an idle client is dropped after 5 minutes
      conn.write(*line + "\n");
    }
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "echo_server: %s\n", e.what());
  }
}

// accept_loop: accepts forever, each connection on the Runtime's next thread.
void accept_loop(gofer::Runtime& rt, gofer::TcpListener& listener) {
  for (;;) {
    try {
      gofer::TcpStream conn = listener.accept();
      gofer::TaskOptions opts{.name = "conn " + conn.peer_address().to_string()};
      rt.go(std::move(opts), serve_connection, std::move(conn));
    } catch (const std::system_error& e) {  // e.g. out of fds: report, breathe, go on
      std::fprintf(stderr, "echo_server: %s\n", e.what());
      gofer::sleep_for(100ms);
    }
  }
}

// run_client: sends n lines over one connection and checks each echo; returns how many matched.
int run_client(const std::string& host, std::uint16_t port, int n, int id) {
  auto conn = gofer::TcpStream::connect(host, port, 5s);
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    const std::string line = "client " + std::to_string(id) + " line " + std::to_string(i);
    conn.write(line + "\n", 5s);
    if (conn.read_line(5s) == line) {
      ++ok;
    }
  }
  return ok;
}

int self_test() {
  constexpr int clients = 8;
  constexpr int lines = 100;
  gofer::Runtime rt;  // one scheduler thread per core
  auto listener = gofer::TcpListener::bind("127.0.0.1", 0);
  const std::uint16_t port = listener.local_port();
  auto acceptor = rt.go_on(0, [&] { accept_loop(rt, listener); });
  std::vector<gofer::Task<int>> runs;
  for (int c = 0; c < clients; ++c) {
    runs.push_back(rt.go(run_client, "127.0.0.1", port, lines, c));
  }
  int ok = 0;
  for (auto& r : runs) {
    ok += r.wait();
  }
  acceptor.request_stop();  // the accept loop ends with gofer::cancelled
  try {
    acceptor.wait();
  } catch (const gofer::cancelled&) {
  }
  std::printf("echo_server self-test: %d clients x %d lines on %zu threads: %d/%d echoed\n",
              clients, lines, rt.size(), ok, clients * lines);
  return ok == clients * lines ? 0 : 1;
}

int serve(const std::string& host, std::uint16_t port) {
  gofer::dump_tasks_on_signal(SIGQUIT);  // kill -QUIT <pid>: every task and what it waits for
  gofer::Runtime rt;
  auto listener = gofer::TcpListener::bind(host, port);
  std::printf("echo_server: listening on %s with %zu threads\n",
              listener.local_address().to_string().c_str(), rt.size());
  std::fflush(stdout);
  rt.go_on(0, gofer::TaskOptions{.name = "acceptor"}, [&] { accept_loop(rt, listener); }).wait();
  return 0;
}

int client(const std::string& host, std::uint16_t port, int n) {
  const int ok = gofer::go_and_wait(run_client, host, port, n, 0);
  std::printf("echo_server client: %d/%d lines echoed by %s:%u\n", ok, n, host.c_str(), port);
  return ok == n ? 0 : 1;
}

std::uint16_t parse_port(const char* s) {
  const long v = std::strtol(s, nullptr, 10);
  if (v < 0 || v > 65535) {
    throw std::invalid_argument(std::string("echo_server: bad port ") + s);
  }
  return static_cast<std::uint16_t>(v);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (argc == 1) {
      return self_test();
    }
    if (mode == "serve" && argc <= 4) {
      return serve(argc > 2 ? argv[2] : "0.0.0.0", argc > 3 ? parse_port(argv[3]) : 7007);
    }
    if (mode == "client" && argc == 5) {
      return client(argv[2], parse_port(argv[3]), std::atoi(argv[4]));
    }
    std::fprintf(stderr,
                 "usage: echo_server                       (self-test)\n"
                 "       echo_server serve [HOST [PORT]]\n"
                 "       echo_server client HOST PORT N\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
