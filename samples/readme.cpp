// readme: the example at the top of README.md, kept compiling and passing here.
#include <gofer/gofer.hpp>
using namespace std::chrono_literals;

int main() {
  gofer::Runtime rt(2);                          // two scheduler threads
  gofer::Chan<int> jobs(16);                     // a bounded channel
  gofer::Chan<int> results;                      // a rendezvous channel
  rt.go([jobs]() mutable {                       // a producer task on one thread
    for (int i = 1; i <= 10; ++i) jobs.send(i);  // parks the task when the buffer is full
    jobs.close();
  });
  rt.go([jobs, results]() mutable {              // a worker task on the other
    for (int j : jobs) results.send(j * j);      // until jobs is closed and drained
    results.close();
  });
  int sum = 0;
  for (bool open = true; open;) {                // main is plain code: it blocks, tasks don't
    gofer::select(
        gofer::on_recv(results, [&](std::optional<int> v) { if (v) sum += *v; else open = false; }),
        gofer::on_timeout(1s, [&] { open = false; }));
  }
  auto t = gofer::go([](int x) { gofer::sleep_for(10ms); return x + 1; }, sum);
  return gofer::wait(t) == 386 ? 0 : 1;          // wait() rethrows the task's exception
}
