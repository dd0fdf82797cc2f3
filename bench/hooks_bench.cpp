// hooks_bench.cpp: what gofer::hooks costs a plain thread. A hooked call from a thread with no
// gofer scheduler should cost what libc's costs: the hook's fast path is one thread-local load
// and a branch before the real call.
//
// hooks_write_devnull: write(2) of 1 byte to /dev/null through the program's `write` symbol,
// which gofer::hooks (linked into this binary) defines.
// libc_write_devnull: the same through libc's own write, found with dlsym(RTLD_NEXT), in the
// same run: the baseline for the ratio (bench/RESULTS.md).
// hooks_read_devzero / libc_read_devzero: the same for a 1-byte read of /dev/zero.
// Every iteration checks its call returned 1 byte.
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <gofer/hooks.hpp>

#include "bench_util.hpp"

namespace gofer_bench {
namespace {

using write_fn = ssize_t (*)(int, const void*, size_t);
using read_fn = ssize_t (*)(int, void*, size_t);

// Fd: an fd opened for the benchmark's duration.
class Fd {
 public:
  Fd(const char* path, int flags) : fd_(::open(path, flags | O_CLOEXEC)) {}
  ~Fd() { ::close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

template <class Write>
void write_loop(benchmark::State& state, Write w) {
  if (!arrived(state, "gofer::hooks::active()", gofer::hooks::active(), true)) {
    return;
  }
  const Fd fd("/dev/null", O_WRONLY);
  const char c = 'x';
  std::int64_t bad = 0;
  for (auto _ : state) {
    bad += w(fd.get(), &c, 1) != 1;
  }
  arrived(state, "writes that did not write 1 byte", bad, 0);
  state.SetItemsProcessed(state.iterations());
}

template <class Read>
void read_loop(benchmark::State& state, Read r) {
  const Fd fd("/dev/zero", O_RDONLY);
  char c = 0;
  std::int64_t bad = 0;
  for (auto _ : state) {
    bad += r(fd.get(), &c, 1) != 1;
    benchmark::DoNotOptimize(c);
  }
  arrived(state, "reads that did not read 1 byte", bad, 0);
  state.SetItemsProcessed(state.iterations());
}

void hooks_write_devnull(benchmark::State& state) {
  write_loop(state, [](int fd, const void* p, size_t n) { return ::write(fd, p, n); });
}

void libc_write_devnull(benchmark::State& state) {
  const auto real = reinterpret_cast<write_fn>(::dlsym(RTLD_NEXT, "write"));
  write_loop(state, [real](int fd, const void* p, size_t n) { return real(fd, p, n); });
}

void hooks_read_devzero(benchmark::State& state) {
  read_loop(state, [](int fd, void* p, size_t n) { return ::read(fd, p, n); });
}

void libc_read_devzero(benchmark::State& state) {
  const auto real = reinterpret_cast<read_fn>(::dlsym(RTLD_NEXT, "read"));
  read_loop(state, [real](int fd, void* p, size_t n) { return real(fd, p, n); });
}

// Interleaved, so a change in the machine's load hits both sides alike.
BENCHMARK(libc_write_devnull);
BENCHMARK(hooks_write_devnull);
BENCHMARK(libc_read_devzero);
BENCHMARK(hooks_read_devzero);

}  // namespace
}  // namespace gofer_bench
