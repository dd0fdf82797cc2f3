// deadlock.cpp: the watchdog's deadlock report. Two tasks each wait for the other's message
// first, so neither sends: every task is asleep and nothing in the process can wake one.
// After the grace period (here 300 ms) the watchdog prints "gofer: all tasks are asleep:
// deadlock?" and the task dump, which shows who waits on which channel.
//
// The sample then ends itself: a plain thread (which gofer cannot see, see debug.hpp) closes
// both channels after 1.5 s, so the tasks see closed channels and the program exits normally.
// In a test, gofer::set_deadlock_action(gofer::deadlock_action::abort) makes a deadlock abort
// at once, dump included.
#include <chrono>
#include <cstdio>
#include <thread>

#include <gofer/gofer.hpp>

using namespace std::chrono_literals;

int main() {
  gofer::set_deadlock_grace(300ms);
  gofer::Chan<int> to_ping;
  gofer::Chan<int> to_pong;

  auto ping = gofer::go(gofer::TaskOptions{"ping"}, [to_ping, to_pong]() mutable {
    auto ball = to_ping.recv();  // waits for pong, which waits for ping: the bug
    return ball && to_pong.send(*ball + 1);
  });
  auto pong = gofer::go(gofer::TaskOptions{"pong"}, [to_ping, to_pong]() mutable {
    auto ball = to_pong.recv();
    return ball && to_ping.send(*ball + 1);
  });

  std::thread timeout([to_ping, to_pong]() mutable {
    std::this_thread::sleep_for(1500ms);
    std::puts("deadlock: the report above is the watchdog's; closing the channels to end");
    to_ping.close();
    to_pong.close();
  });
  const bool played = ping.wait() || pong.wait();
  timeout.join();
  if (played) {
    std::puts("deadlock: unexpected: the ball was played");
    return 1;
  }
  std::puts("deadlock: done");
  return 0;
}
