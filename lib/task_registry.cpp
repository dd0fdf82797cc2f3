// task_registry.cpp: per-scheduler task lists and the process-wide list of them.
#include "task_registry.hpp"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>
#include <type_traits>

#include <gofer/detail/task_state.hpp>

namespace gofer::detail {

// RegistryList: the process-wide list of registries (see the header).
struct RegistryList {
  std::mutex mutex;
  TaskRegistry* head = nullptr;
  TaskRegistry* tail = nullptr;
  int next_index = 0;
};
static_assert(std::is_trivially_destructible_v<RegistryList>,
              "registry_list must outlive main: threads may exit after it");

// registry_list: the one list. Constant-initialized, so it exists before any static
// constructor can install a scheduler, and trivially destructible, so it is still there for
// threads that exit after main. A namespace-scope object with external linkage so that
// debuggers find it by name: share/gofer/gdb/gofer.py reads gofer::detail::registry_list
// (head, then each registry's next_registry) from a live process or a core file. This file is
// compiled with -g in every build type for the same reason (CMakeLists.txt).
extern constinit RegistryList registry_list;
constinit RegistryList registry_list;

constinit thread_local std::atomic<TaskControl*> this_thread_running{nullptr};

namespace {

std::string current_thread_name() {
  char name[64] = {};
  if (::pthread_getname_np(::pthread_self(), name, sizeof name) != 0) {
    return {};
  }
  return name;
}

}  // namespace

TaskRegistry::TaskRegistry(Home& owner, const SchedCounters& counters)
    : owner_(owner),
      tid_(::syscall(SYS_gettid)),
      thread_name_(current_thread_name()),
      counters_(counters),
      running_(&this_thread_running) {
  thread_record_.id = new_task_id();
  thread_record_.name = thread_name_;
  RegistryList& list = registry_list;
  std::lock_guard guard(list.mutex);
  index_ = list.next_index++;
  if (list.tail != nullptr) {
    list.tail->next_registry = this;
  } else {
    list.head = this;
  }
  list.tail = this;
}

TaskRegistry::~TaskRegistry() {
  RegistryList& list = registry_list;
  std::lock_guard guard(list.mutex);
  TaskRegistry* prev = nullptr;
  for (TaskRegistry* r = list.head; r != nullptr; prev = r, r = r->next_registry) {
    if (r == this) {
      (prev != nullptr ? prev->next_registry : list.head) = next_registry;
      if (list.tail == this) {
        list.tail = prev;
      }
      return;
    }
  }
}

void for_each_registry_impl(void (*f)(TaskRegistry&, void*), void* arg) {
  RegistryList& list = registry_list;
  std::lock_guard guard(list.mutex);
  for (TaskRegistry* r = list.head; r != nullptr; r = r->next_registry) {
    f(*r, arg);
  }
}

}  // namespace gofer::detail
