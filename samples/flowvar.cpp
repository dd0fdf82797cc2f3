// flowvar: spawn_blocking as a FlowVar: blocking work runs on a pool thread while the task
// loop keeps serving other tasks.
//
// A "request server" task receives file paths on a channel; for each it starts a blocking
// job (here: a slow checksum of the file with plain read(2) calls, plus a simulated 20 ms
// lookup) and keeps receiving further requests while the jobs run. A heartbeat task on the
// same thread ticks every millisecond throughout: its count shows the thread never blocked.
//
// Run: build/samples/flowvar
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <gofer/gofer.hpp>

using namespace std::chrono_literals;

namespace {

// checksum: blocking code from a "C library": it blocks its OS thread.
std::uint64_t checksum(const std::string& path) {
  std::this_thread::sleep_for(20ms);  // a slow lookup
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw std::runtime_error("cannot open " + path);
  }
  std::uint64_t sum = 0;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; ++i) {
      sum = sum * 31 + static_cast<unsigned char>(buf[i]);
    }
  }
  ::close(fd);
  return sum;
}

}  // namespace

int main() {
  int heartbeats = 0;
  int answered = 0;
  int failed = 0;
  gofer::with_event_loop([&] {
    gofer::Chan<std::string> requests(8);
    bool done = false;
    auto heartbeat = gofer::go([&] {
      while (!done) {
        ++heartbeats;
        gofer::sleep_for(1ms);
      }
    });
    auto server = gofer::go([&, requests]() mutable {
      std::vector<gofer::Task<void>> in_flight;
      for (std::string path : requests) {
        // The FlowVar: a Task fed by a pool thread; this loop does not wait for it here.
        auto flow = gofer::spawn_blocking(checksum, path);
        in_flight.push_back(gofer::go([&, path, flow = std::move(flow)]() mutable {
          try {
            std::printf("  %-22s checksum %016llx\n", path.c_str(),
                        static_cast<unsigned long long>(flow.wait()));
            ++answered;
          } catch (const std::exception& e) {
            std::printf("  %-22s error: %s\n", path.c_str(), e.what());
            ++failed;
          }
        }));
      }
      gofer::wait_all(in_flight);
    });
    for (const char* p : {"/etc/hostname", "/etc/passwd", "/no/such/file", "/etc/os-release",
                          "/proc/self/status", "/etc/group"}) {
      if (!requests.send(p)) {
        break;  // requests is closed: no more are taken
      }
    }
    requests.close();
    server.wait();
    done = true;
    heartbeat.wait();
  });
  std::printf("flowvar: %d answered, %d failed, %d heartbeats while the jobs ran\n", answered,
              failed, heartbeats);
  // Six 20 ms jobs ran in parallel on the pool: the heartbeat kept ticking all the while.
  return answered + failed == 6 && failed == 1 && heartbeats > 5 ? 0 : 1;
}
