// thread_to_loop: a plain std::thread feeds a gofer loop (the asyncchannels example).
//
// A std::thread, which knows nothing of gofer's scheduler, sends ten strings into an unbounded
// gofer::Chan and then closes it. On main's loop, a receiver task takes them with range-for:
// while the channel is empty it parks (only itself), and a ticker task on the same thread
// keeps running. The producer waits for the ticker to tick before each send, so the output
// shows the loop was never blocked. Closing the channel ends the receiver's loop (no sentinel
// value needed); the receiver then stops the ticker.
//
// Output: "received: 0 1 2 3 4 5 6 7 8 9" and "ticker ticked before each of the 10 messages:
// yes";
// exit status 0 when both hold.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <gofer/gofer.hpp>

int main() {
  auto chan = gofer::Chan<std::string>::unbounded();
  std::atomic<int> ticks{0};
  std::atomic<bool> receiving{true};

  std::thread producer([chan, &ticks]() mutable {
    for (int i = 0; i < 10; ++i) {
      const int seen = ticks.load();
      while (ticks.load() == seen) {  // wait for one more tick of the loop thread
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      if (!chan.send(std::to_string(i))) {  // wakes the receiver's thread if it sleeps
        return;                             // chan is closed: stop producing
      }
    }
    chan.close();
  });

  auto ticker = gofer::go([&ticks, &receiving] {
    while (receiving.load()) {
      gofer::sleep_for(std::chrono::milliseconds(1));
      ++ticks;
    }
  });
  auto receiver = gofer::go([chan, &receiving]() mutable {
    std::string all;
    int count = 0;
    for (std::string& s : chan) {  // parks this task while the channel is empty
      all += (count++ == 0 ? "" : " ") + s;
    }
    receiving = false;
    return all;
  });

  const std::string all = receiver.wait();  // main's loop runs both tasks meanwhile
  ticker.wait();
  producer.join();
  std::printf("received: %s\n", all.c_str());
  const bool ticked = ticks.load() >= 10;
  std::printf("ticker ticked before each of the 10 messages: %s\n", ticked ? "yes" : "no");
  return all == "0 1 2 3 4 5 6 7 8 9" && ticked ? 0 : 1;
}
