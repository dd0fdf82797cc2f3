// deadlock.cpp: deadlock detection and its report (see deadlock.hpp).
#include "deadlock.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "activity.hpp"
#include "scheduler.hpp"

namespace gofer::detail {

namespace {

std::atomic<std::uint64_t> reports{0};

// nothing_outside: no blocking job, no child, and every Runtime owner parked in gofer (it has
// a scheduler, which the caller checks is asleep).
bool nothing_outside(const std::vector<SchedulerSample>& samples) {
  if (blocking_jobs() != 0 || live_children() != 0) {
    return false;
  }
  for (long tid : runtime_owner_tids()) {
    if (std::none_of(samples.begin(), samples.end(),
                     [tid](const SchedulerSample& s) { return s.tid == tid; })) {
      return false;  // the owner runs user code gofer cannot see
    }
  }
  return true;
}

bool is_parked(TaskControl& tc) {
  std::lock_guard guard(tc.lock);
  return tc.parked != nullptr &&
         tc.parked->state.load(std::memory_order_acquire) == Waiter::pending;
}

// stuck: some scheduler of the episode has a parked context beyond its service loops, and
// none has moved meanwhile.
bool stuck(const std::vector<std::pair<int, std::uint64_t>>& episode) {
  bool found = false;
  bool moved = false;
  std::size_t seen = 0;
  for_each_registry([&](TaskRegistry& r) {
    ++seen;
    auto it = std::find_if(episode.begin(), episode.end(),
                           [&r](const auto& e) { return e.first == r.index(); });
    if (it == episode.end() || it->second != r.switches()) {
      moved = true;
      return;
    }
    int parked = is_parked(r.thread_record()) ? 1 : 0;
    r.for_each([&](TaskControl& tc) { parked += is_parked(tc) ? 1 : 0; });
    if (parked > r.service_waits()) {
      found = true;
    }
  });
  return found && !moved && seen == episode.size();
}

void report(deadlock_action action) {
  std::fputs("gofer: all tasks are asleep: deadlock?\n", stderr);
  dump_tasks(stderr);
  reports.fetch_add(1, std::memory_order_relaxed);
  if (action == deadlock_action::abort) {
    std::fputs("gofer: aborting (deadlock_action::abort)\n", stderr);
    std::abort();
  }
}

}  // namespace

bool DeadlockDetector::check(const std::vector<SchedulerSample>& samples,
                             monitor_clock::time_point now, std::chrono::milliseconds grace,
                             deadlock_action action) {
  const bool candidate =
      action != deadlock_action::ignore && !samples.empty() &&
      std::all_of(samples.begin(), samples.end(), [](const auto& s) { return s.asleep(); }) &&
      nothing_outside(samples);
  if (!candidate) {
    phase_ = phase::none;
    return false;
  }
  std::vector<std::pair<int, std::uint64_t>> key;
  key.reserve(samples.size());
  for (const SchedulerSample& s : samples) {
    key.emplace_back(s.index, s.resumes);
  }
  if (phase_ == phase::none || key != episode_) {
    episode_ = std::move(key);
    since_ = now;
    phase_ = phase::timing;
    return true;
  }
  if (phase_ == phase::done) {
    return false;
  }
  if (now - since_ < grace) {
    return true;
  }
  phase_ = phase::done;
  if (stuck(episode_)) {
    report(action);
  }
  return false;
}

std::uint64_t deadlock_reports() noexcept {
  return reports.load(std::memory_order_relaxed);
}

}  // namespace gofer::detail
