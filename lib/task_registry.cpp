// task_registry.cpp: per-scheduler task lists and the process-wide list of them.
#include "task_registry.hpp"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>

#include <gofer/detail/task_state.hpp>

namespace gofer::detail {

namespace {

struct RegistryList {
  std::mutex mutex;
  TaskRegistry* head = nullptr;
  TaskRegistry* tail = nullptr;
  int next_index = 0;
};

RegistryList& registry_list() {
  static auto* list = new RegistryList;  // never destroyed: threads may exit after main
  return *list;
}

std::string current_thread_name() {
  char name[64] = {};
  if (::pthread_getname_np(::pthread_self(), name, sizeof name) != 0) {
    return {};
  }
  return name;
}

}  // namespace

TaskRegistry::TaskRegistry(Home& owner)
    : owner_(owner), tid_(::syscall(SYS_gettid)), thread_name_(current_thread_name()) {
  thread_record_.id = new_task_id();
  thread_record_.name = thread_name_;
  RegistryList& list = registry_list();
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
  RegistryList& list = registry_list();
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
  RegistryList& list = registry_list();
  std::lock_guard guard(list.mutex);
  for (TaskRegistry* r = list.head; r != nullptr; r = r->next_registry) {
    f(*r, arg);
  }
}

}  // namespace gofer::detail
