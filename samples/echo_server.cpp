// echo_server: a TCP (or TLS) line-echo server, one task per connection, on a Runtime with one
// scheduler thread per core; also its load client and a self-test.
//
//   echo_server [TLS]                    self-test: a server on an ephemeral port, a few clients,
//                                        a checkable summary line, exit 0 when every line came back
//   echo_server serve [HOST [PORT]] [TLS]  serve until killed (default 0.0.0.0 7007); SIGQUIT
//                                        prints a dump of every task (gofer::dump_tasks)
//   echo_server client HOST PORT N [TLS] N lines over one connection, each checked
//
// TLS flags (gofer::TlsStream): --cert FILE --key FILE make the server speak TLS with that
// certificate and key; --ca FILE makes the client speak TLS trusting that CA (--tls: the
// system's CAs). The self-test takes all three (a self-signed certificate may be its own CA):
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
//     -keyout key.pem -out cert.pem -subj /CN=localhost -addext subjectAltName=DNS:localhost
//   echo_server --cert cert.pem --key key.pem --ca cert.pem
//
// Placement: one acceptor task accepts every connection and hands it to rt.go(), which places
// the connection's task on the next scheduler thread, round robin. That keeps one wait on the
// listening socket and spreads connections evenly whatever the kernel's wake-up order; the
// price is one cross-thread hand-off per connection, nothing per message. (An acceptor per
// thread on one listener would be woken together for each connection, all but one for nothing;
// per-thread listeners with SO_REUSEPORT would spread by hash, not evenly.) A TLS handshake
// runs in the connection's task, so a slow client never holds up the acceptor.
#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <gofer/gofer.hpp>
#include <gofer/tls.hpp>

using namespace std::chrono_literals;

namespace {

// Tls: the contexts the TLS flags made (empty: plain TCP).
struct Tls {
  std::optional<gofer::TlsContext> server;
  std::optional<gofer::TlsContext> client;
};

// echo_lines: echoes lines until the client hangs up.
template <class Stream>
void echo_lines(Stream& conn) {
  while (auto line = conn.read_line(5min)) {  // an idle client is dropped after 5 minutes
    conn.write(*line + "\n");
  }
}

// serve_connection: echoes lines until the client hangs up (or the connection fails).
void serve_connection(gofer::TcpStream conn, const Tls& tls) {
  try {
    if (!tls.server) {
      echo_lines(conn);
      return;
    }
    auto s = gofer::TlsStream::server(std::move(conn), *tls.server);
    s.handshake(10s);
    echo_lines(s);
    s.shutdown(5s);  // close_notify: the client reads a clean EOF
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "echo_server: %s\n", e.what());
  }
}

// accept_loop: accepts forever, each connection on the Runtime's next thread.
void accept_loop(gofer::Runtime& rt, gofer::TcpListener& listener, const Tls& tls) {
  for (;;) {
    try {
      gofer::TcpStream conn = listener.accept();
      gofer::TaskOptions opts{.name = "conn " + conn.peer_address().to_string()};
      rt.go(std::move(opts), serve_connection, std::move(conn), std::cref(tls));
    } catch (const std::system_error& e) {  // e.g. out of fds: report, breathe, go on
      std::fprintf(stderr, "echo_server: %s\n", e.what());
      gofer::sleep_for(100ms);
    }
  }
}

// echo_checked: sends n lines and checks each echo; returns how many matched.
template <class Stream>
int echo_checked(Stream& conn, int n, int id) {
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

// run_client: sends n lines over one connection and checks each echo; returns how many matched.
int run_client(const std::string& host, std::uint16_t port, int n, int id, const Tls& tls) {
  if (!tls.client) {
    auto conn = gofer::TcpStream::connect(host, port, 5s);
    return echo_checked(conn, n, id);
  }
  auto conn = gofer::TlsStream::connect(host, port, *tls.client, 5s);
  const int ok = echo_checked(conn, n, id);
  conn.shutdown(5s);
  return ok;
}

int self_test(const Tls& tls) {
  constexpr int clients = 8;
  constexpr int lines = 100;
  gofer::Runtime rt;  // one scheduler thread per core
  auto listener = gofer::TcpListener::bind("127.0.0.1", 0);
  const std::uint16_t port = listener.local_port();
  auto acceptor = rt.go_on(0, [&] { accept_loop(rt, listener, tls); });
  std::vector<gofer::Task<int>> runs;
  for (int c = 0; c < clients; ++c) {
    // "localhost": the name a TLS client checks the server's certificate against.
    runs.push_back(
        rt.go(run_client, tls.client ? "localhost" : "127.0.0.1", port, lines, c, std::cref(tls)));
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
  std::printf("echo_server self-test%s: %d clients x %d lines on %zu threads: %d/%d echoed\n",
              tls.client ? " over TLS" : "", clients, lines, rt.size(), ok, clients * lines);
  return ok == clients * lines ? 0 : 1;
}

int serve(const std::string& host, std::uint16_t port, const Tls& tls) {
  gofer::dump_tasks_on_signal(SIGQUIT);  // kill -QUIT <pid>: every task and what it waits for
  gofer::Runtime rt;
  auto listener = gofer::TcpListener::bind(host, port);
  std::printf("echo_server: listening on %s%s with %zu threads\n",
              listener.local_address().to_string().c_str(), tls.server ? " (TLS)" : "", rt.size());
  std::fflush(stdout);
  rt.go_on(0, gofer::TaskOptions{.name = "acceptor"}, [&] {
      accept_loop(rt, listener, tls);
    }).wait();
  return 0;
}

int client(const std::string& host, std::uint16_t port, int n, const Tls& tls) {
  const int ok = gofer::go_and_wait(run_client, host, port, n, 0, std::cref(tls));
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

// tls_from_flags: the contexts --cert/--key (server) and --ca/--tls (client) ask for.
Tls tls_from_flags(const std::map<std::string, std::string>& flags) {
  Tls tls;
  if (flags.contains("--cert") || flags.contains("--key")) {
    gofer::TlsConfig config;
    config.certificate_file = flags.contains("--cert") ? flags.at("--cert") : "";
    config.private_key_file = flags.contains("--key") ? flags.at("--key") : "";
    tls.server = gofer::TlsContext::server(config);
  }
  if (flags.contains("--ca") || flags.contains("--tls")) {
    gofer::TlsConfig config;
    config.ca_file = flags.contains("--ca") ? flags.at("--ca") : "";  // "": the system's CAs
    tls.client = gofer::TlsContext::client(config);
  }
  return tls;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<std::string> args;
    std::map<std::string, std::string> flags;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--tls") {
        flags[a] = "";
      } else if ((a == "--cert" || a == "--key" || a == "--ca") && i + 1 < argc) {
        flags[a] = argv[++i];
      } else if (a.rfind("--", 0) == 0) {
        args = {"?"};  // an unknown flag, or one without its FILE: usage
        break;
      } else {
        args.push_back(a);
      }
    }
    const Tls tls = tls_from_flags(flags);
    const std::string mode = args.empty() ? "" : args[0];
    if (args.empty() && (tls.server.has_value() == tls.client.has_value())) {
      return self_test(tls);
    }
    if (mode == "serve" && args.size() <= 3) {
      return serve(args.size() > 1 ? args[1] : "0.0.0.0",
                   args.size() > 2 ? parse_port(args[2].c_str()) : 7007, tls);
    }
    if (mode == "client" && args.size() == 4) {
      return client(args[1], parse_port(args[2].c_str()), std::atoi(args[3].c_str()), tls);
    }
    std::fprintf(stderr,
                 "usage: echo_server [--cert FILE --key FILE --ca FILE]        (self-test)\n"
                 "       echo_server serve [HOST [PORT]] [--cert FILE --key FILE]\n"
                 "       echo_server client HOST PORT N [--ca FILE | --tls]\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
