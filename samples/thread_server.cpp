// thread_server: a ThreadButler-style backend thread serving two message types.
//
// The "backend" server does the heavy work off the main thread. It understands:
//   - Primes{limit}: counts the primes below limit and replies through request(), which
//     returns a Task<int> (Primes declares `using reply_type = int;`);
//   - Resize{id, w, h, reply_to}: a fire-and-forget job that reports back on a channel the main
//     thread owns (ThreadButler's "send a message back to the client" pattern). Its handler
//     sleeps to stand in for slow work: other messages are handled meanwhile.
// on_start/on_stop run on the backend thread; main just sends and collects.
//
// Output: three "resized" lines (in completion order, which may differ from the send order),
// then "primes below 100000: 9592" and "backend handled 4 messages"; exit status 0 when the
// replies are right.
#include <chrono>
#include <cstdio>
#include <set>
#include <string>

#include <gofer/gofer.hpp>

namespace {

// Primes: count the primes below limit; the reply is the count.
struct Primes {
  int limit;
  using reply_type = int;
};

// Resized: the backend's report of one finished Resize.
struct Resized {
  int id;
  int pixels;
};

// Resize: resize image `id` to w x h; the result goes to reply_to.
struct Resize {
  int id;
  int w;
  int h;
  gofer::Chan<Resized> reply_to;
};

int count_primes(int limit) {
  int count = 0;
  for (int n = 2; n < limit; ++n) {
    bool prime = true;
    for (int d = 2; d * d <= n; ++d) {
      if (n % d == 0) {
        prime = false;
        break;
      }
    }
    count += prime ? 1 : 0;
  }
  return count;
}

}  // namespace

int main() {
  int handled = 0;  // touched on the backend thread only (until stop() joins it)
  gofer::ThreadServer<Primes, Resize> backend("backend");
  backend.on<Primes>([&handled](Primes p) {
    ++handled;
    return count_primes(p.limit);
  });
  backend.on<Resize>([&handled](Resize r) {
    ++handled;
    gofer::sleep_for(std::chrono::milliseconds(10 * (3 - r.id)));  // slow work, parks only this
    // false only if the client closed reply_to: it wants no answer, so there is nothing to do.
    (void)r.reply_to.send(Resized{r.id, r.w * r.h});
  });
  backend.on_start([] { std::printf("backend: started\n"); });
  backend.on_stop([] { std::printf("backend: stopping\n"); });
  backend.start();

  auto replies = gofer::Chan<Resized>::unbounded();
  backend.send(Resize{0, 640, 480, replies});
  backend.send(Resize{1, 800, 600, replies});
  backend.send(Resize{2, 1024, 768, replies});
  gofer::Task<int> primes = backend.request(Primes{100'000});

  std::set<int> pixels;
  for (int i = 0; i < 3; ++i) {
    const Resized r = replies.recv().value();  // main blocks; the backend works meanwhile
    std::printf("resized image %d: %d pixels\n", r.id, r.pixels);
    pixels.insert(r.pixels);
  }
  const int prime_count = primes.wait();
  std::printf("primes below 100000: %d\n", prime_count);
  backend.stop();
  std::printf("backend handled %d messages\n", handled);
  const std::set<int> expected{640 * 480, 800 * 600, 1024 * 768};
  return prime_count == 9592 && pixels == expected && handled == 4 ? 0 : 1;
}
