// demo: gofer's main demo. go/wait, a channel pipeline across two scheduler threads, and
// select with a timeout. Run: build/samples/demo
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include <gofer/gofer.hpp>

using namespace std::chrono_literals;

int main() {
  // 1. go + wait in plain main(): wait runs this thread's loop until the task is done.
  auto answer = gofer::go(
      [](int x) {
        gofer::sleep_for(10ms);  // parks only this task
        return x * 2;
      },
      21);
  std::printf("go/wait: the answer is %d\n", answer.wait());

  // 2. A pipeline across two scheduler threads: numbers -> squares -> main.
  gofer::Runtime rt(2);
  gofer::Chan<int> numbers(16);
  gofer::Chan<long> squares(16);
  rt.go_on(0, [numbers]() mutable {
    for (int i = 1; i <= 100; ++i) {
      if (!numbers.send(i)) {
        break;  // numbers is closed: nobody takes more
      }
    }
    numbers.close();
  });
  rt.go_on(1, [numbers, squares]() mutable {
    for (int n : numbers) {  // until closed and drained
      if (!squares.send(static_cast<long>(n) * n)) {
        break;  // squares is closed: nobody takes more
      }
    }
    squares.close();
  });
  long total = 0;
  for (long sq : squares) {  // main is a plain thread: it blocks here, the runtime does not
    total += sq;
  }
  std::printf("pipeline: sum of squares 1..100 = %ld (expected 338350)\n", total);

  // 3. select with a timeout: a slow producer loses against a 20 ms timeout, then wins.
  gofer::Chan<std::string> slow;
  auto producer = rt.go([slow]() mutable {
    gofer::sleep_for(60ms);
    return slow.send("late but here");  // true once main has taken it; false if slow closed
  });
  for (int round = 1; round <= 5; ++round) {
    bool got = false;
    gofer::select(
        gofer::on_recv(slow,
                       [&](std::optional<std::string> v) {
                         std::printf("select round %d: received \"%s\"\n", round, v->c_str());
                         got = true;
                       }),
        gofer::on_timeout(20ms, [&] { std::printf("select round %d: timed out\n", round); }));
    if (got) {
      break;
    }
  }
  const bool delivered = producer.wait();
  return total == 338350 && delivered ? 0 : 1;
}
