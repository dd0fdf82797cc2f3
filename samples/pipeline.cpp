// pipeline: a child process's stdout streamed through a channel to worker tasks.
//
// `seq 1 N` runs as a child; one task reads its stdout line by line and sends each number
// into a bounded channel; four workers on a two-thread Runtime square the numbers and send
// them to a collector. Every stage parks its task, never a thread, while it waits.
//
// Run: build/samples/pipeline [N]      (default 100000; prints the sum of squares)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <gofer/gofer.hpp>

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 100000;
  gofer::Runtime rt(2);
  gofer::Chan<long> numbers(256);
  gofer::Chan<long> squares(256);

  auto reader = rt.go([numbers, n]() mutable {
    gofer::ProcessOptions opts;
    opts.stdout_mode = gofer::stdio::pipe;
    auto child = gofer::Process::spawn({"seq", "1", std::to_string(n)}, opts);
    long lines = 0;
    while (auto line = child.out().read_line()) {
      if (!numbers.send(std::stol(*line))) {
        break;  // numbers is closed: nobody takes more
      }
      ++lines;
    }
    numbers.close();
    return child.wait() == 0 ? lines : -1;
  });

  std::vector<gofer::Task<void>> workers;
  for (int w = 0; w < 4; ++w) {
    workers.push_back(rt.go([numbers, squares]() mutable {
      for (long v : numbers) {
        if (!squares.send(v * v)) {
          return;  // squares is closed: nobody takes more
        }
      }
    }));
  }
  auto closer = rt.go([&workers, squares]() mutable {
    gofer::wait_all(workers);
    squares.close();
  });

  long long sum = 0;
  for (long s : squares) {  // main is plain code: it blocks on the channel
    sum += s;
  }
  closer.wait();
  const long lines = reader.wait();
  const long long expected = static_cast<long long>(n) * (n + 1) * (2 * n + 1) / 6;
  std::printf("pipeline: %ld lines from seq, sum of squares %lld (%s)\n", lines, sum,
              sum == expected && lines == n ? "ok" : "WRONG");
  return sum == expected && lines == n ? 0 : 1;
}
