// A minimal gofer consumer: spawns a task that sends through a channel, receives it in main.
#include <cstdio>

#include <gofer/gofer.hpp>

int main() {
  gofer::Chan<int> ch;
  auto t = gofer::go([ch]() mutable { return ch.send(42); });
  const int v = *ch.recv();
  const bool sent = t.wait();
  std::printf("consumer got %d (gofer %s)\n", v, GOFER_VERSION_STRING);
  return v == 42 && sent ? 0 : 1;
}
