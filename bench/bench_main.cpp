// bench_main.cpp: gofer_bench's main: Google Benchmark's usual flags, plus a non-zero exit
// status when any benchmark's data check failed (bench_util.hpp's arrived()).
#include <cstdio>

#include <benchmark/benchmark.h>

#include "bench_util.hpp"

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 2;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (const int failed = gofer_bench::failures().load(); failed > 0) {
    std::fprintf(stderr, "gofer_bench: %d data check(s) FAILED\n", failed);
    return 1;
  }
  return 0;
}
