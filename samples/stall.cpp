// stall.cpp: the watchdog's stall report. Two tasks hold up their thread: one computes for
// 600 ms without yielding, the other calls usleep(), which blocks the whole OS thread. With
// the threshold at 200 ms, each gets one report on stderr (the task, its thread, the system
// call it is blocked in, its backtrace), and the program then finishes normally.
//
// Link with -rdynamic (CMake: ENABLE_EXPORTS, as below) so the backtrace names the program's
// own functions; every frame also shows module+0xoffset for addr2line.
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include <gofer/gofer.hpp>

using namespace std::chrono_literals;

// checksum_forever: a tight loop that never parks or yields (the bug the report points at).
// Not in an anonymous namespace: -rdynamic exports only functions with external linkage.
[[gnu::noinline]] unsigned long checksum_forever(std::chrono::milliseconds how_long) {
  unsigned long sum = 0;
  const auto end = std::chrono::steady_clock::now() + how_long;
  while (std::chrono::steady_clock::now() < end) {
    sum = sum * 31 + 7;
  }
  return sum;
}

int main() {
  gofer::set_stall_threshold(200ms);
  gofer::Runtime rt(1);

  auto spinner =
      rt.go_on(0, gofer::TaskOptions{"checksum"}, [] { return checksum_forever(600ms); });
  auto ticker = rt.go_on(0, gofer::TaskOptions{"ticker"}, [] {
    for (int i = 0; i < 3; ++i) {
      gofer::sleep_for(10ms);  // held up while "checksum" spins
    }
  });
  spinner.wait();
  ticker.wait();

  // The fix for a blocking call is gofer::sleep_for (or gofer I/O, or spawn_blocking).
  auto sleeper = rt.go_on(0, gofer::TaskOptions{"napper"}, [] { ::usleep(600'000); });
  sleeper.wait();

  std::puts("stall: both stalls were reported on stderr; done");
  return 0;
}
