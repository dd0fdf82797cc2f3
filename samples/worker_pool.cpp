// worker_pool: work distribution and result aggregation (the example of Nim's
// threading/channels documentation), with gofer tasks on a Runtime's threads.
//
// Main produces 256 numbered jobs into a bounded channel; workers spread over the Runtime's
// threads take them, "work" 3 ms each (gofer::sleep_for parks the worker, not its thread) and
// send the job's number to a results channel; one collector task gathers them. Instead of
// Nim's one stop message per worker, the producer closes the jobs channel: each worker's
// range-for ends once the channel is closed and drained.
//
// Output: "worker_pool: 256 jobs, 8 workers on 2 threads, 256 distinct results collected";
// exit status 0 when every job came back exactly once.
#include <chrono>
#include <cstdio>
#include <set>
#include <vector>

#include <gofer/gofer.hpp>

namespace {

constexpr int job_count = 256;
constexpr auto work_time = std::chrono::milliseconds(3);

// Job: a job number and where to report it done.
struct Job {
  gofer::Chan<int> done;
  int idx;
};

}  // namespace

int main() {
  gofer::Runtime rt(2);
  const std::size_t worker_count = 4 * rt.size();
  gofer::Chan<Job> jobs(16);
  gofer::Chan<int> results(16);

  // collector: one task taking exactly job_count results.
  auto collector = rt.go([results]() mutable {
    std::multiset<int> got;
    for (int i = 0; i < job_count; ++i) {
      got.insert(results.recv().value());
    }
    return got;
  });

  // workers: spread round-robin over the Runtime's threads.
  std::vector<gofer::Task<void>> workers;
  for (std::size_t w = 0; w < worker_count; ++w) {
    workers.push_back(rt.go([jobs]() mutable {
      for (Job& job : jobs) {
        gofer::sleep_for(work_time);
        if (!job.done.send(job.idx)) {
          return;  // results is closed: nobody takes more
        }
      }
    }));
  }

  // producer: main itself; send blocks this plain thread while the buffer is full.
  for (int idx = 0; idx < job_count; ++idx) {
    if (!jobs.send(Job{results, idx})) {
      break;  // jobs was closed: the workers take no more
    }
  }
  jobs.close();

  gofer::wait_all(workers);
  const std::multiset<int> got = collector.wait();
  const std::set<int> distinct(got.begin(), got.end());
  const bool ok = got.size() == job_count && distinct.size() == job_count &&
                  *distinct.begin() == 0 && *distinct.rbegin() == job_count - 1;
  std::printf("worker_pool: %d jobs, %zu workers on %zu threads, %zu distinct results collected\n",
              job_count, worker_count, rt.size(), distinct.size());
  return ok ? 0 : 1;
}
