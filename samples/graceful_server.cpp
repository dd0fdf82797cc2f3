// graceful_server: a TCP line-echo server that shuts down gracefully on SIGTERM or SIGINT.
//
//   graceful_server        serve on 127.0.0.1 (an ephemeral port, printed as "listening on
//                          PORT") until SIGTERM or SIGINT; then stop accepting, stop every
//                          connection, print "graceful_server: shut down cleanly, N
//                          connection(s) served" and exit 0.
//
// One line does the signal handling: gofer::stop_on_signal(rt, {SIGINT, SIGTERM}) calls
// rt.request_stop() on the first of them, which makes every task's blocking call (the accept,
// each connection's read or write) throw gofer::cancelled. gofer's own threads never take
// those signals, and stop_on_signal blocks them in main, so none of them ends the process the
// old way. A second SIGINT after the first gets the default action (ends the process), as
// Go's signal.NotifyContext does.
//
// CTest runs it through tests/graceful_server_test.cpp, which connects, sends SIGTERM and
// checks the exit code and the final line.
#include <pthread.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <system_error>

#include <gofer/gofer.hpp>

using namespace std::chrono_literals;

namespace {

// serve: echoes lines until the client hangs up, or the server stops (gofer::cancelled ends
// the task, which is how a stopped task is meant to end).
void serve(gofer::TcpStream conn) {
  try {
    while (auto line = conn.read_line(5min)) {
      conn.write(*line + "\n");
    }
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "graceful_server: %s\n", e.what());
  }
}

}  // namespace

int main() {
  // SIGINT and SIGTERM blocked before the first gofer call. stop_on_signal blocks them in main
  // too, but in builds where Boost.Context switches with ucontext (gofer's sanitizer builds)
  // each context keeps the mask it was made with, and the Runtime below makes main's
  // scheduler contexts (signal.hpp, "Signal masks").
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  gofer::Runtime rt(2);
  auto stop = gofer::stop_on_signal(rt, {SIGINT, SIGTERM});
  auto listener = gofer::TcpListener::bind("127.0.0.1", 0);
  std::printf("listening on %u\n", static_cast<unsigned>(listener.local_port()));
  std::fflush(stdout);

  std::atomic<int> served{0};
  auto acceptor = rt.go_on(0, [&] {
    for (;;) {
      gofer::TcpStream conn = listener.accept();  // gofer::cancelled once stopped
      served.fetch_add(1);
      rt.go(serve, std::move(conn));
    }
  });
  try {
    acceptor.wait();
  } catch (const gofer::cancelled&) {
    // The signal came: accepting has stopped, and every connection's task is being stopped.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "graceful_server: accept failed: %s\n", e.what());
    return 1;
  }
  rt.shutdown(gofer::shutdown_mode::stop_tasks);  // joins every connection's task
  listener.close();
  std::printf("graceful_server: shut down cleanly, %d connection(s) served\n", served.load());
  return 0;
}
