// task_dump.cpp: tasks(), dump_tasks() and the shutdown report's lines (see task_dump.hpp).
#include "task_dump.hpp"

#include <algorithm>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>

#include "describe.hpp"
#include "home.hpp"
#include "sched_stats.hpp"

namespace gofer {

const char* to_string(task_state s) noexcept {
  switch (s) {
    case task_state::runnable:
      return "runnable";
    case task_state::running:
      return "running";
    case task_state::parked:
      return "parked";
    case task_state::finished:
      return "finished";
  }
  return "unknown";
}

namespace detail {

namespace {

// read_wait: the state and wait text of a record (its lock held).
void read_wait(const TaskControl& tc, TaskInfo& info) {
  const Waiter* w = tc.parked;
  if (w == nullptr) {
    return;
  }
  info.state = w->state.load(std::memory_order_acquire) == Waiter::pending ? task_state::parked
                                                                           : task_state::runnable;
  if (w->info.describe != nullptr) {
    w->info.describe(w->info, info.wait);
  } else {
    info.wait = w->info.what != nullptr ? w->info.what : "a gofer call";
  }
  const std::uint64_t now = ticks();
  info.waiting_for = std::chrono::nanoseconds(
      now > w->since
          ? static_cast<std::int64_t>(static_cast<double>(now - w->since) * ns_per_tick())
          : 0);
}

}  // namespace

TaskInfo snapshot(TaskControl& tc, const TaskRegistry& r) {
  TaskInfo info{tc.id, tc.name, {}, r.index(), task_state::runnable, {}, {}};
  if (tc.created_file != nullptr) {
    info.created_at = std::string(tc.created_file) + ":" + std::to_string(tc.created_line);
  }
  std::lock_guard guard(tc.lock);
  if (tc.finished.load(std::memory_order_acquire)) {
    info.state = task_state::finished;
    return info;
  }
  if (tc.parked == nullptr) {
    info.state = r.running() == &tc && !r.owner().reactor.is_idle() ? task_state::running
                                                                    : task_state::runnable;
    return info;
  }
  read_wait(tc, info);
  return info;
}

bool thread_snapshot(TaskRegistry& r, TaskInfo& out) {
  TaskControl& tc = r.thread_record();
  std::lock_guard guard(tc.lock);
  if (tc.parked == nullptr) {
    return false;
  }
  out = TaskInfo{
      tc.id, tc.name, "thread " + std::to_string(r.thread_id()), r.index(), task_state::parked,
      {},    {}};
  read_wait(tc, out);
  return true;
}

void report_live(const TaskRegistry& r, std::FILE* out, const char* prefix, std::size_t max_lines) {
  std::vector<TaskInfo> infos;
  std::size_t more = 0;
  r.for_each([&](TaskControl& tc) {
    if (infos.size() < max_lines) {
      infos.push_back(snapshot(tc, r));
    } else {
      ++more;
    }
  });
  for (const TaskInfo& t : infos) {
    std::fprintf(out, "%s task %llu (%s): %s%s%s\n", prefix, static_cast<unsigned long long>(t.id),
                 t.name.empty() ? "unnamed" : t.name.c_str(), to_string(t.state),
                 t.wait.empty() ? "" : " in ", t.wait.c_str());
  }
  if (more > 0) {
    std::fprintf(out, "%s ... and %zu more task(s)\n", prefix, more);
  }
}

}  // namespace detail

namespace {

// Snapshot: one scheduler's live tasks, oldest first, and its thread record when that is parked.
struct Snapshot {
  int index;
  std::string thread_name;
  long tid;
  std::vector<TaskInfo> tasks;
  std::optional<TaskInfo> thread;
};

std::vector<Snapshot> snapshot_all() {
  std::vector<Snapshot> all;
  detail::for_each_registry([&](detail::TaskRegistry& r) {
    Snapshot s{r.index(), r.thread_name(), r.thread_id(), {}, std::nullopt};
    r.for_each([&](detail::TaskControl& tc) { s.tasks.push_back(detail::snapshot(tc, r)); });
    TaskInfo thread;
    if (detail::thread_snapshot(r, thread)) {
      s.thread = std::move(thread);
    }
    all.push_back(std::move(s));
  });
  return all;
}

// append_entry: one block of the dump ("task 7" or, for a thread record, "thread").
void append_entry(std::string& text, const TaskInfo& t, bool is_thread) {
  text += is_thread ? "  thread" : "  task " + std::to_string(t.id);
  text += " \"" + t.name + "\" [" + to_string(t.state);
  if (t.state == task_state::parked) {
    text += " ";
    detail::append_duration(text, t.waiting_for);
  }
  text += "]";
  if (!t.wait.empty()) {
    text += ": " + t.wait;
  }
  text += "\n";
  if (!is_thread && !t.created_at.empty()) {
    text += "      created at " + t.created_at + "\n";
  }
}

}  // namespace

std::vector<TaskInfo> tasks() {
  std::vector<TaskInfo> out;
  for (Snapshot& s : snapshot_all()) {
    std::move(s.tasks.begin(), s.tasks.end(), std::back_inserter(out));
    if (s.thread) {
      out.push_back(std::move(*s.thread));
    }
  }
  return out;
}

void dump_tasks(std::FILE* out) {
  const std::vector<Snapshot> all = snapshot_all();
  std::size_t total = 0;
  for (const Snapshot& s : all) {
    total += s.tasks.size();
  }
  std::string text = "gofer: " + std::to_string(total) + " task(s) on " +
                     std::to_string(all.size()) + " scheduler(s)\n";
  for (const Snapshot& s : all) {
    text += "\nscheduler " + std::to_string(s.index) + " (thread \"" + s.thread_name + "\", tid " +
            std::to_string(s.tid) + "):\n";
    for (const TaskInfo& t : s.tasks) {
      append_entry(text, t, false);
    }
    if (s.thread) {
      append_entry(text, *s.thread, true);
    }
  }
  std::fputs(text.c_str(), out);
  std::fflush(out);
}

}  // namespace gofer
