// task.cpp: spawning tasks on the local scheduler, finishing them, waiting on them.
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <typeinfo>

#include <boost/fiber/fiber.hpp>

#include <gofer/detail/group_state.hpp>
#include <gofer/errors.hpp>
#include <gofer/task.hpp>

#include "id_blocks.hpp"
#include "scheduler.hpp"
#include "stack_pool.hpp"

namespace gofer::detail {

namespace {

std::atomic<std::uint64_t> next_task_id{1};

// RecordingStack: a PooledStack that records the stack it hands out in the task's control
// block, so overflow reports and canary checks know the running task's stack.
class RecordingStack {
 public:
  RecordingStack(std::size_t size, TaskControl* tc) : inner_(size), tc_(tc) {}
  boost::context::stack_context allocate() {
    tc_->stack = inner_.allocate();
    return tc_->stack;
  }
  void deallocate(boost::context::stack_context& sctx) noexcept { inner_.deallocate(sctx); }

 private:
  PooledStack inner_;
  TaskControl* tc_;
};

void task_entry(TaskStateBase* st) noexcept {
  Scheduler* const home = Scheduler::installed();  // launch() installed it
  set_current_control(&st->control);
  std::exception_ptr error;
  try {
    st->run();
  } catch (...) {
    error = std::current_exception();
  }
  // finish() after the handler has ended: this thread holds no reference to the exception
  // object once a waiter can see it.
  st->control.finished.store(true, std::memory_order_release);
  st->finish(std::move(error));
  check_finished_stack();
  set_current_control(nullptr);
  home->task_finished(st->control);
  st->release();
}

// StateCache: a thread's cache of freed task-state blocks, by 64-byte size class. A block may
// be freed on another thread than the one that allocated it (the last reference decides);
// it then joins that thread's cache. Each class keeps at most max_cached blocks; larger
// states bypass the cache. The arrays are trivially destructible, so a state freed during
// thread exit, after the cache was emptied (Drain), still finds valid storage and then goes
// straight to the global allocator. Sanitizer builds bypass the cache so that ASan sees
// every use after free.
constexpr std::size_t state_granule = 64;
constexpr std::size_t state_classes = 8;  // blocks up to 512 bytes
constexpr std::uint32_t max_cached = 1024;

struct FreeBlock {
  FreeBlock* next;
};
struct StateCache {
  FreeBlock* head[state_classes];
  std::uint32_t count[state_classes];
  bool closed;
};
thread_local StateCache state_cache{};

struct StateCacheDrain {
  ~StateCacheDrain() {
    state_cache.closed = true;
    for (std::size_t c = 0; c < state_classes; ++c) {
      while (FreeBlock* b = state_cache.head[c]) {
        state_cache.head[c] = b->next;
        ::operator delete(b);
      }
      state_cache.count[c] = 0;
    }
  }
};

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool use_state_cache = false;
#else
constexpr bool use_state_cache = true;
#endif

}  // namespace

void* TaskStateBase::operator new(std::size_t size) {
  const std::size_t c = (size - 1) / state_granule;
  if (!use_state_cache || c >= state_classes) {
    return ::operator new(size);
  }
  if (FreeBlock* b = state_cache.head[c]) {
    state_cache.head[c] = b->next;
    --state_cache.count[c];
    return b;
  }
  return ::operator new((c + 1) * state_granule);
}

void TaskStateBase::operator delete(void* p, std::size_t size) noexcept {
  const std::size_t c = (size - 1) / state_granule;
  if (!use_state_cache || c >= state_classes || state_cache.closed ||
      state_cache.count[c] >= max_cached) {
    ::operator delete(p);
    return;
  }
  if (state_cache.count[c] == 0) {
    // The first block this class keeps: make sure the cache is emptied when the thread exits
    // (a thread_local with a destructor costs a guard check, so not on every call).
    thread_local StateCacheDrain drain;
    (void)drain;
  }
  auto* b = static_cast<FreeBlock*>(p);
  b->next = state_cache.head[c];
  state_cache.head[c] = b;
  ++state_cache.count[c];
}

std::uint64_t new_task_id() noexcept {
  return block_id<next_task_id>();
}

void describe_task_wait(const WaitInfo& info, std::string& out) {
  out += info.what;
  out += ' ';
  out += std::to_string(info.id);
}

void describe_wait_any(const WaitInfo& info, std::string& out) {
  out += "wait_any over " + std::to_string(info.a) + " tasks";
}

[[noreturn]] void throw_invalid_task() {
  throw std::logic_error("gofer: use of an empty or moved-from Task");
}

void launch(TaskStateBase* st, const TaskOptions& opts, const std::source_location& where) {
  Scheduler& sched = Scheduler::local();
  if (where.file_name() != nullptr && where.file_name()[0] != '\0') {
    st->control.created_file = where.file_name();
    st->control.created_line = where.line();
  }
  if (!opts.name.empty()) {
    st->control.name = opts.name;
  }
  const std::size_t size = opts.stack_size != 0 ? opts.stack_size : get_default_stack_size();
  st->add_ref();  // the fiber's reference
  try {
    boost::fibers::fiber f(std::allocator_arg, RecordingStack(size, &st->control),
                           [st] { task_entry(st); });
    f.detach();
  } catch (...) {
    st->release();
    throw;
  }
  sched.task_started(st->control);
  // A task spawned from a group's member joins that group. The fiber cannot run before this
  // task next switches, so the group sees it before it can end.
  if (st->control.group == nullptr) {
    const TaskControl* spawner = this_thread_running.load(std::memory_order_relaxed);
    if (spawner != nullptr && spawner->group != nullptr) [[unlikely]] {
      spawner->group->join(st->control, false);
    }
  }
}

TaskStateBase::~TaskStateBase() {
  if (error_ == nullptr || observed_) {
    return;
  }
  try {
    std::rethrow_exception(error_);
  } catch (const cancelled&) {
    if (control.stop_requested) {
      return;  // the expected end of a stopped task
    }
    std::fprintf(stderr,
                 "gofer: task %llu%s%s%s ended by gofer::cancelled that nobody waited for\n",
                 static_cast<unsigned long long>(control.id), control.name.empty() ? "" : " (",
                 control.name.c_str(), control.name.empty() ? "" : ")");
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "gofer: task %llu%s%s%s ended by an exception that nobody waited for: %s: %s\n",
                 static_cast<unsigned long long>(control.id), control.name.empty() ? "" : " (",
                 control.name.c_str(), control.name.empty() ? "" : ")",
                 type_name(typeid(e)).c_str(), e.what());
  } catch (...) {
    std::fprintf(stderr,
                 "gofer: task %llu%s%s%s ended by a non-std exception that nobody waited for\n",
                 static_cast<unsigned long long>(control.id), control.name.empty() ? "" : " (",
                 control.name.c_str(), control.name.empty() ? "" : ")");
  }
}

void TaskStateBase::finish(std::exception_ptr error) noexcept {
  GroupState* const group = control.group;
  if (group != nullptr && control.group_owns_error && error != nullptr) {
    group->child_failed(control, std::move(error));
    error = nullptr;
  }
  {
    WakeList wake;
    std::lock_guard guard(lock_);
    error_ = std::move(error);
    done_.store(true, std::memory_order_release);
    wake.take_all(waiters_);
  }
  // Last: a group's wait() returns only once its members' outcomes are published.
  if (group != nullptr) {
    group->leave(control);
  }
}

bool TaskStateBase::enqueue_waiter(WaitNode& n) {
  std::lock_guard guard(lock_);
  if (done()) {
    return false;
  }
  waiters_.push_back(n);
  return true;
}

void TaskStateBase::dequeue_waiter(WaitNode& n) noexcept {
  std::lock_guard guard(lock_);
  waiters_.unlink_if_linked(n);
}

bool TaskStateBase::await_slow(clock::time_point deadline, bool cancellable) {
  if (lock_for_wait(lock_, [this]() noexcept { return done(); })) {
    return true;
  }
  WaitInfo info{};
  info.describe = &describe_task_wait;
  info.what = control.blocking_job ? "wait for blocking job" : "wait for task";
  info.id = control.id;
  return park_on(lock_, waiters_, deadline, info, cancellable);
}

void TaskStateBase::throw_waited_twice() {
  throw std::logic_error("gofer: Task waited twice: its result was already taken by wait()");
}

void TaskStateBase::rethrow_error() {
  // The waiter takes the exception out: the state's last reference may be dropped on another
  // thread (a pool thread, the task's home), which then frees no exception object the
  // waiter's catch block may still be using. (libstdc++ counts exception references with
  // atomics that ThreadSanitizer cannot see, so sharing it would also report a false race.)
  std::exception_ptr error = std::move(error_);
  error_ = nullptr;
  std::rethrow_exception(error);
}

std::ptrdiff_t wait_any_until(TaskStateBase* const* tasks, std::size_t n,
                              clock::time_point deadline) {
  if (n == 0) {
    throw std::invalid_argument("gofer: wait_any needs at least one task");
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (tasks[i]->done()) {
      return static_cast<std::ptrdiff_t>(i);
    }
  }
  ensure_scheduler();
  Waiter w;
  w.info.describe = &describe_wait_any;
  w.info.a = n;
  std::vector<WaitNode> nodes(n);
  std::ptrdiff_t found = -1;
  for (std::size_t i = 0; i < n && found < 0; ++i) {
    nodes[i].waiter = &w;
    nodes[i].index = static_cast<int>(i);
    if (!tasks[i]->enqueue_waiter(nodes[i])) {
      found = static_cast<std::ptrdiff_t>(i);
    }
  }
  wake_reason r = wake_reason::fired;
  if (found < 0) {
    auto nothing = [] {};
    r = park(w, deadline, nothing);
    if (r == wake_reason::fired) {
      found = w.fired;
    }
  } else if (!w.try_claim()) {
    // A task finished and claimed us while we were still registering: wait for its wake.
    auto nothing = [] {};
    r = park(w, no_deadline, nothing);
    found = w.fired;
  } else {
    w.state.store(Waiter::done, std::memory_order_release);
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (nodes[i].waiter != nullptr) {
      tasks[i]->dequeue_waiter(nodes[i]);
    }
  }
  throw_if_cancelled(r);
  return found;
}

}  // namespace gofer::detail
