// debug_test: gofer::tasks() and dump_tasks() show every task with its state, creation site
// and what it waits for, for every kind of wait (debug.hpp).
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/task_support.hpp"

using namespace std::chrono_literals;

namespace {

std::string hex(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

const gofer::TaskInfo* find(const std::vector<gofer::TaskInfo>& all, std::uint64_t id) {
  auto it = std::find_if(all.begin(), all.end(), [id](const auto& t) { return t.id == id; });
  return it == all.end() ? nullptr : &*it;
}

// settle: lets this thread's tasks run until every one of `ids` is parked (bounded).
void settle(const std::vector<std::uint64_t>& ids) {
  for (int i = 0; i < 2000; ++i) {
    gofer::sleep_for(1ms);
    const auto all = gofer::tasks();
    if (std::all_of(ids.begin(), ids.end(), [&](std::uint64_t id) {
          const auto* t = find(all, id);
          return t != nullptr && t->state == gofer::task_state::parked;
        })) {
      return;
    }
  }
}

}  // namespace

TEST(Debug, EveryWaitKindIsNamedInTheSnapshotAndTheDump) {
  gofer::Chan<int> rendezvous;
  gofer::Chan<int> full(1);
  ASSERT_EQ(full.try_send(1), gofer::chan_status::ok);
  gofer::Chan<int> other;
  gofer::Mutex mutex;
  gofer::CondVar cond;
  gofer::Mutex cond_mutex;
  gofer::WaitGroup group(1);
  gofer::Semaphore sem(0);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  gofer::File reader = gofer::File::from_fd(fds[0], "test-pipe");
  mutex.lock();

  const int line = __LINE__ + 1;
  auto recv = gofer::go([&] { (void)rendezvous.recv(); });
  auto send = gofer::go([&] { (void)full.send(2); });
  auto sel = gofer::go([&] {
    gofer::select(gofer::on_recv(rendezvous, [](std::optional<int>) {}),
                  gofer::on_send(other, 5, [](bool) {}));
  });
  auto sleeper = gofer::go([] { gofer::sleep_for(1h); });
  auto read = gofer::go([&] { (void)reader.read_chunk(16); });
  auto locker = gofer::go([&] { std::lock_guard g(mutex); });
  auto cond_waiter = gofer::go([&] {
    std::unique_lock lk(cond_mutex);
    cond.wait(lk);
  });
  auto group_waiter = gofer::go([&] { group.wait(); });
  auto sem_waiter = gofer::go([&] { sem.acquire(); });
  auto task_waiter = gofer::go([&] { recv.wait(); });
  std::latch release(1);
  auto job = gofer::spawn_blocking([&] { release.wait(); });
  auto job_waiter = gofer::go([&] { job.wait(); });
  auto child = gofer::Process::spawn({"sleep", "30"});
  auto child_waiter = gofer::go([&] { (void)child.wait(); });
  std::vector<gofer::Task<void>> pair;
  pair.push_back(gofer::go([] { gofer::sleep_for(1h); }));
  pair.push_back(gofer::go([] { gofer::sleep_for(1h); }));
  auto any_waiter = gofer::go([&] { (void)gofer::wait_any(pair); });
  const int named_line = __LINE__ + 1;
  auto named = gofer::go(gofer::TaskOptions{.name = "named"}, [] { gofer::sleep_for(1h); });

  settle({recv.id(), send.id(), sel.id(), sleeper.id(), read.id(), locker.id(), cond_waiter.id(),
          group_waiter.id(), sem_waiter.id(), task_waiter.id(), job_waiter.id(), child_waiter.id(),
          any_waiter.id(), named.id()});
  const auto all = gofer::tasks();
  const auto chan = [](const gofer::Chan<int>& c) {
    return "chan " + std::to_string(gofer::chan_state(c).id());
  };
  const struct {
    std::uint64_t id;
    std::string wait;
  } expected[] = {
      {recv.id(), chan(rendezvous) + " receive (capacity 0, 0 buffered)"},
      {send.id(), chan(full) + " send (capacity 1, 1 buffered)"},
      {sel.id(), "select over 2 cases: " + chan(rendezvous) + " receive, " + chan(other) + " send"},
      {sleeper.id(), "sleep ("},
      {read.id(), "read test-pipe (fd " + std::to_string(fds[0]) + ")"},
      {locker.id(), "Mutex::lock " + hex(&mutex)},
      {cond_waiter.id(), "CondVar::wait " + hex(&cond)},
      {group_waiter.id(), "WaitGroup::wait " + hex(&group)},
      {sem_waiter.id(), "Semaphore::acquire " + hex(&sem)},
      {task_waiter.id(), "wait for task " + std::to_string(recv.id())},
      {job_waiter.id(), "wait for blocking job " + std::to_string(job.id())},
      {any_waiter.id(), "wait_any over 2 tasks"},
      {child_waiter.id(),
       "wait for exit of child sleep (pid " + std::to_string(child.pid()) + ") (fd "},
  };
  for (const auto& e : expected) {
    const gofer::TaskInfo* t = find(all, e.id);
    ASSERT_NE(t, nullptr) << "task " << e.id << " is missing";
    EXPECT_EQ(t->state, gofer::task_state::parked) << e.wait;
    EXPECT_EQ(t->wait.rfind(e.wait, 0), 0u) << "got: " << t->wait << "\nwant: " << e.wait;
    EXPECT_GE(t->waiting_for, 0ns);
    EXPECT_EQ(t->scheduler, all.front().scheduler);
  }
  const gofer::TaskInfo* r = find(all, recv.id());
  EXPECT_NE(r->created_at.find("debug_test.cpp:" + std::to_string(line)), std::string::npos)
      << r->created_at;
  const gofer::TaskInfo* n = find(all, named.id());
  EXPECT_EQ(n->name, "named");
  EXPECT_NE(n->created_at.find("debug_test.cpp:" + std::to_string(named_line)), std::string::npos)
      << n->created_at;
  EXPECT_EQ(find(all, sleeper.id())->wait.find("left)"), find(all, sleeper.id())->wait.size() - 5);

  char* text = nullptr;
  std::size_t size = 0;
  std::FILE* out = ::open_memstream(&text, &size);
  gofer::dump_tasks(out);
  std::fclose(out);
  const std::string dump(text, size);
  std::free(text);
  EXPECT_NE(dump.find("task " + std::to_string(recv.id()) + " \"\" [parked "), std::string::npos)
      << dump;
  EXPECT_NE(dump.find(chan(rendezvous) + " receive (capacity 0, 0 buffered)"), std::string::npos);
  EXPECT_NE(dump.find("task " + std::to_string(named.id()) + " \"named\" [parked"),
            std::string::npos);
  EXPECT_NE(dump.find("created at "), std::string::npos);

  release.count_down();
  mutex.unlock();
  child.kill();
  stop_and_wait(task_waiter);  // first: it waits on recv, which the loop waits too
  stop_and_wait(any_waiter);
  for (auto& t : pair) {
    stop_and_wait(t);
  }
  for (auto* t : {&recv, &send, &sel, &sleeper, &read, &locker, &cond_waiter, &group_waiter,
                  &sem_waiter, &job_waiter, &child_waiter, &named}) {
    stop_and_wait(*t);
  }
  // The job may not even have started (a loaded pool): let it end (job_waiter may have taken
  // its result already), or it could reach the latch after this frame is gone, block on freed
  // stack memory and hold up the pool's join at exit.
  while (!job.done()) {
    gofer::sleep_for(1ms);
  }
  ::close(fds[1]);
}

TEST(Debug, StatesRunningRunnableAndTheThreadPseudoTask) {
  std::vector<gofer::TaskInfo> seen_by_task;
  auto self = gofer::go([&] { seen_by_task = gofer::tasks(); });
  auto fresh = gofer::go([] {});
  // Neither has run yet: both runnable.
  auto before = gofer::tasks();
  EXPECT_EQ(find(before, self.id())->state, gofer::task_state::runnable);
  EXPECT_EQ(find(before, fresh.id())->state, gofer::task_state::runnable);
  self.wait();
  fresh.wait();
  const gofer::TaskInfo* me = find(seen_by_task, self.id());
  ASSERT_NE(me, nullptr);
  EXPECT_EQ(me->state, gofer::task_state::running);
  EXPECT_TRUE(me->wait.empty());

  // A plain thread blocked in a gofer call shows up as a pseudo-task named after the thread.
  gofer::Chan<int> ch;
  std::thread plain([ch]() mutable {
    ::pthread_setname_np(::pthread_self(), "plain-recv");
    (void)ch.recv();
  });
  const gofer::TaskInfo* pseudo = nullptr;
  std::vector<gofer::TaskInfo> all;
  for (int i = 0; i < 2000 && pseudo == nullptr; ++i) {
    std::this_thread::sleep_for(1ms);
    all = gofer::tasks();
    auto it = std::find_if(all.begin(), all.end(), [](const auto& t) {
      return t.name == "plain-recv" && t.state == gofer::task_state::parked;
    });
    pseudo = it == all.end() ? nullptr : &*it;
  }
  ASSERT_NE(pseudo, nullptr);
  EXPECT_EQ(pseudo->created_at.rfind("thread ", 0), 0u) << pseudo->created_at;
  EXPECT_EQ(pseudo->wait, "chan " + std::to_string(gofer::chan_state(ch).id()) +
                              " receive (capacity 0, 0 buffered)");
  ASSERT_EQ(ch.send(1), true);
  plain.join();
}

TEST(Debug, SnapshotsWhileTasksComeAndGoOnTwoThreads) {
  // tasks() and dump_tasks() from a plain thread while two Runtime threads spawn and finish
  // tasks as fast as they can: each entry stays consistent (run it under TSan/ASan too).
  gofer::Runtime rt(2);
  std::atomic<bool> stop{false};
  std::vector<gofer::Task<void>> churners;
  for (std::size_t i = 0; i < 2; ++i) {
    churners.push_back(rt.go_on(i, [&stop] {
      gofer::Chan<int> ch(1);
      while (!stop.load(std::memory_order_relaxed)) {
        std::vector<gofer::Task<void>> batch;
        for (int k = 0; k < 50; ++k) {
          batch.push_back(gofer::go([ch]() mutable {
            (void)ch.send(1);
            (void)ch.recv();
          }));
        }
        gofer::wait_all(batch);
      }
    }));
  }
  std::FILE* null = std::fopen("/dev/null", "w");
  ASSERT_NE(null, nullptr);
  std::size_t max_seen = 0;
  const auto end = std::chrono::steady_clock::now() + 500ms;
  while (std::chrono::steady_clock::now() < end) {
    const auto all = gofer::tasks();
    max_seen = std::max(max_seen, all.size());
    for (const auto& t : all) {
      ASSERT_GE(t.scheduler, 0);
      // A woken task not yet resumed is runnable and still says what it waited for.
      if (t.state == gofer::task_state::running || t.state == gofer::task_state::finished) {
        ASSERT_TRUE(t.wait.empty()) << t.wait;
      }
    }
    gofer::dump_tasks(null);
  }
  std::fclose(null);
  stop = true;
  gofer::wait_all(churners);
  EXPECT_GE(max_seen, 2u);
}

TEST(Debug, DumpOnSignalPrintsOutsideTheHandlerAndTheProgramGoesOn) {
  EXPECT_THROW(gofer::dump_tasks_on_signal(SIGKILL), std::invalid_argument);
  EXPECT_THROW(gofer::dump_tasks_on_signal(0), std::invalid_argument);
  gofer::dump_tasks_on_signal(SIGUSR2);
  gofer::Chan<int> ch;
  auto t = gofer::go(gofer::TaskOptions{.name = "signalled"}, [&] { (void)ch.recv(); });
  settle({t.id()});
  testing::internal::CaptureStderr();
  ASSERT_EQ(::raise(SIGUSR2), 0);
  // The dump is printed by gofer's dump thread; wait for it (bounded).
  std::string err;
  for (int i = 0; i < 200 && err.find("\"signalled\"") == std::string::npos; ++i) {
    gofer::sleep_for(10ms);
    err += testing::internal::GetCapturedStderr();
    testing::internal::CaptureStderr();
  }
  err += testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("task " + std::to_string(t.id()) + " \"signalled\" [parked"),
            std::string::npos)
      << err;
  EXPECT_EQ(ch.send(1), true);  // the program goes on
  t.wait();
  ::signal(SIGUSR2, SIG_DFL);
}

TEST(Debug, RuntimeTaskIdIsKnownAtOnceAndMatchesItsRecord) {
  // The id is given when the task state is made, not at launch on the home thread (reading it
  // from the handle raced the launch before: TSan).
  gofer::Runtime rt(1);
  gofer::Chan<int> ch;
  auto t = rt.go([ch]() mutable { (void)ch.recv(); });
  const std::uint64_t id = t.id();
  EXPECT_NE(id, 0u);
  const gofer::TaskInfo* seen = nullptr;
  std::vector<gofer::TaskInfo> all;
  for (int i = 0; i < 2000 && (seen == nullptr || seen->state != gofer::task_state::parked); ++i) {
    std::this_thread::sleep_for(1ms);
    all = gofer::tasks();
    seen = find(all, id);
  }
  ASSERT_NE(seen, nullptr);
  EXPECT_EQ(seen->state, gofer::task_state::parked);
  EXPECT_NE(seen->created_at.find("debug_test.cpp:"), std::string::npos) << seen->created_at;
  EXPECT_TRUE(ch.send(1));
  t.wait();
}
