// parked_tasks: the program the gdb extension's test (run_gdb_test.py) attaches to. It parks one
// task in each kind of wait on two threads of a Runtime, keeps one task running on the third
// (it blocks that thread in a plain sleep), parks the main thread in a channel receive (a
// pseudo-task), writes its own view of them (gofer::tasks()) to the file named by argv[1],
// prints "ready" and waits to be killed. It gives up by itself after argv[2] seconds (default
// 60), so a test that dies cannot leave it behind.
//
// Each task body is a named function that is never inlined, so that a backtrace of the parked
// task must show it: `gofer-bt` is checked against these names.
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gofer/gofer.hpp>

using namespace std::chrono_literals;

namespace {

volatile int sink;  // keeps what a task received alive past its wait

[[gnu::noinline]] void parked_in_recv(gofer::Chan<int> ch) {
  sink = ch.recv().value_or(0);
}

[[gnu::noinline]] void parked_in_send(gofer::Chan<int> ch) {
  sink = ch.send(2) ? 1 : 0;
}

[[gnu::noinline]] void parked_in_select(gofer::Chan<int> in, gofer::Chan<int> out) {
  gofer::select(gofer::on_recv(in, [](std::optional<int> v) { sink = v.value_or(0); }),
                gofer::on_send(out, 3, [] { sink = 3; }));
  sink = sink + 1;
}

[[gnu::noinline]] void parked_in_sleep() {
  gofer::sleep_for(1h);
  sink = 4;
}

[[gnu::noinline]] void parked_in_read(int fd) {
  gofer::File f = gofer::File::from_fd(fd, "test pipe");
  sink = static_cast<int>(f.read_chunk(16).size());
}

[[gnu::noinline]] void parked_in_lock(gofer::Mutex* mu) {
  mu->lock();
  sink = 5;
  mu->unlock();
}

[[gnu::noinline]] void parked_in_wait_group(gofer::WaitGroup* wg) {
  wg->wait();
  sink = 6;
}

[[gnu::noinline]] void parked_in_task_wait(gofer::Task<void> t) {
  gofer::wait(t);
  sink = 7;
}

// running_in_thread_sleep: stays the running task of its thread without using the CPU.
[[gnu::noinline]] void running_in_thread_sleep() {
  for (;;) {
    std::this_thread::sleep_for(10ms);
  }
}

// write_snapshot: one line per task, "<id>\t<name>\t<state>\t<created at>\t<wait>", for the
// test to compare with what gdb reads.
bool write_snapshot(const char* path) {
  std::FILE* f = std::fopen(path, "w");
  if (f == nullptr) {
    return false;
  }
  for (const gofer::TaskInfo& t : gofer::tasks()) {
    std::fprintf(f, "%llu\t%s\t%s\t%s\t%s\n", static_cast<unsigned long long>(t.id), t.name.c_str(),
                 gofer::to_string(t.state), t.created_at.c_str(), t.wait.c_str());
  }
  return std::fclose(f) == 0;
}

// all_parked: whether n tasks (besides pseudo-tasks) are listed and every one is parked, but
// for "busy", which must be running.
bool all_parked(std::size_t n) {
  std::size_t parked = 0;
  for (const gofer::TaskInfo& t : gofer::tasks()) {
    if (t.created_at.rfind("thread ", 0) == 0) {
      continue;
    }
    const auto want = t.name == "busy" ? gofer::task_state::running : gofer::task_state::parked;
    if (t.state != want) {
      return false;
    }
    ++parked;
  }
  return parked == n;
}

// wait_until_parked: polls gofer::tasks() until n tasks are listed, all parked (10 s at most).
bool wait_until_parked(std::size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!all_parked(n)) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "parked_tasks: %zu task(s) did not all park within 10 s\n", n);
      gofer::dump_tasks();
      return false;
    }
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: parked_tasks SNAPSHOT_FILE [SECONDS]\n");
    return 2;
  }
  const auto give_up = std::chrono::seconds(argc > 2 ? std::atoi(argv[2]) : 60);
  // With Yama's ptrace_scope 1, only an ancestor may attach; this lets the test's gdb attach
  // too. Without Yama the call fails, harmlessly.
  ::prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);

  gofer::Runtime rt(3);
  gofer::Chan<int> nobody_sends;
  gofer::Chan<int> full(1);
  if (!full.send(1)) {
    std::_Exit(1);  // the Runtime would wait for tasks that never end
  }
  gofer::Mutex mu;
  mu.lock();
  gofer::WaitGroup wg(1);
  int fds[2];
  if (::pipe(fds) != 0) {
    std::perror("pipe");
    std::_Exit(1);
  }
  // "waited" is parked before "joiner" waits for it.
  gofer::Task<void> waited =
      rt.go_on(1, gofer::TaskOptions{.name = "waited"}, parked_in_recv, nobody_sends);
  if (!wait_until_parked(1)) {
    std::_Exit(1);
  }
  std::vector<gofer::Task<void>> tasks;
  tasks.push_back(
      rt.go_on(0, gofer::TaskOptions{.name = "receiver"}, parked_in_recv, nobody_sends));
  tasks.push_back(rt.go_on(1, gofer::TaskOptions{.name = "sender"}, parked_in_send, full));
  tasks.push_back(
      rt.go_on(0, gofer::TaskOptions{.name = "selector"}, parked_in_select, nobody_sends, full));
  tasks.push_back(rt.go_on(1, gofer::TaskOptions{.name = "sleeper"}, parked_in_sleep));
  tasks.push_back(rt.go_on(0, gofer::TaskOptions{.name = "reader"}, parked_in_read, fds[0]));
  tasks.push_back(rt.go_on(1, gofer::TaskOptions{.name = "locker"}, parked_in_lock, &mu));
  tasks.push_back(rt.go_on(0, gofer::TaskOptions{.name = "grouper"}, parked_in_wait_group, &wg));
  tasks.push_back(
      rt.go_on(1, gofer::TaskOptions{.name = "joiner"}, parked_in_task_wait, std::move(waited)));
  tasks.push_back(rt.go_on(2, gofer::TaskOptions{.name = "busy"}, running_in_thread_sleep));
  if (!wait_until_parked(tasks.size() + 1)) {
    std::_Exit(1);
  }
  if (!write_snapshot(argv[1])) {
    std::perror(argv[1]);
    std::_Exit(1);
  }
  std::printf("ready\n");
  std::fflush(stdout);
  // The main thread parks too (a pseudo-task), until the test kills the program.
  gofer::Chan<int> quit;
  int unused = 0;
  (void)quit.recv(unused, give_up);
  std::_Exit(0);  // the tasks never finish: skip the Runtime's join
}
