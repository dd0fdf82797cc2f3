// activity.cpp: the counters and the Runtime-owner list of activity.hpp.
#include "activity.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <utility>

namespace gofer::detail {

namespace {

constinit std::atomic<std::size_t> jobs{0};
constinit std::atomic<std::size_t> children{0};

struct OwnerList {
  std::mutex mutex;
  std::vector<std::pair<const void*, long>> owners;  // (Runtime, owner's tid)
};

OwnerList& owner_list() {
  static auto* list = new OwnerList;  // never destroyed: Runtimes may die after main
  return *list;
}

}  // namespace

void note_blocking_job(int delta) noexcept {
  jobs.fetch_add(static_cast<std::size_t>(delta), std::memory_order_acq_rel);
}

std::size_t blocking_jobs() noexcept {
  return jobs.load(std::memory_order_acquire);
}

void note_child(int delta) noexcept {
  children.fetch_add(static_cast<std::size_t>(delta), std::memory_order_acq_rel);
}

std::size_t live_children() noexcept {
  return children.load(std::memory_order_acquire);
}

void note_runtime_owner(const void* runtime) {
  const long tid = ::syscall(SYS_gettid);
  OwnerList& list = owner_list();
  std::lock_guard guard(list.mutex);
  list.owners.emplace_back(runtime, tid);
}

void forget_runtime_owner(const void* runtime) noexcept {
  OwnerList& list = owner_list();
  std::lock_guard guard(list.mutex);
  auto it = std::find_if(list.owners.begin(), list.owners.end(),
                         [runtime](const auto& o) { return o.first == runtime; });
  if (it != list.owners.end()) {
    list.owners.erase(it);
  }
}

std::vector<long> runtime_owner_tids() {
  OwnerList& list = owner_list();
  std::lock_guard guard(list.mutex);
  std::vector<long> tids;
  tids.reserve(list.owners.size());
  for (const auto& o : list.owners) {
    tids.push_back(o.second);
  }
  return tids;
}

}  // namespace gofer::detail
