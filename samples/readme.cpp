// readme: the example at the top of README.md, kept compiling and passing here.
#include <gofer/gofer.hpp>
using namespace std::chrono_literals;

int main() {
  gofer::Runtime rt(2);       // two scheduler threads, each with its own epoll loop
  gofer::Chan<int> jobs(16);  // a bounded channel
  gofer::Chan<int> results;   // a rendezvous channel

  rt.go([jobs]() mutable {  // a producer task
    for (int i = 1; i <= 10; ++i) {
      if (!jobs.send(i)) {  // parks this task (not its thread) while the buffer is full
        break;              // false: jobs is closed, nobody takes more
      }
    }
    jobs.close();
  });
  rt.go([jobs, results]() mutable {  // a worker task
    for (int j : jobs) {             // until jobs is closed and drained
      if (!results.send(j * j)) {
        break;
      }
    }
    results.close();
  });

  int sum = 0;
  bool open = true;
  auto on_result = [&](std::optional<int> v) { v ? void(sum += *v) : void(open = false); };
  while (open) {  // main is plain code: it blocks here while the tasks run
    gofer::select(gofer::on_recv(results, on_result), gofer::on_timeout(1s, [&] { open = false; }));
  }

  auto t = gofer::go([sum] {  // a task on main's own scheduler
    gofer::sleep_for(10ms);
    return sum + 1;
  });
  return gofer::wait(t) == 386 ? 0 : 1;  // wait() rethrows the task's exception
}
