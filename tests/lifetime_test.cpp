// lifetime_test.cpp: Go's and POSIX's lifetime guarantee for every sync primitive: once a wait
// returns (or a lock is acquired), the waker no longer touches the object, so the waiter may
// destroy it at once. The canonical Go pattern, repeated with the object at the same address
// every round (a stack local) so that a waker still inside the previous round's object would
// claim the next round's waiter:
//
//   WaitGroup wg(1); go_on(1, [&] { finished = true; wg.done(); }); wg.wait(); check finished
//
// Each primitive runs from a plain thread waiting on a Runtime(2)'s task, and from a task on
// thread 0 waiting on a task on thread 1. The Unmapped variants put the object in a page of its
// own that is unmapped as soon as the wait returns: a waker that still touches it faults (and
// ASan reports it).
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <mutex>
#include <new>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/scale.hpp"
#include "support/watchdog.hpp"

namespace {

using gofer::test::sanitizer_scale;
using gofer::test::Watchdog;

constexpr int rounds = 100'000 / sanitizer_scale;
constexpr int unmapped_rounds = 10'000 / sanitizer_scale;

// Page: one object of type T alone in a fresh anonymous mapping, unmapped by the destructor.
template <class T>
class Page {
 public:
  template <class... A>
  explicit Page(A&&... args) {
    size_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    mem_ = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem_ == MAP_FAILED) {
      throw std::bad_alloc();
    }
    obj_ = ::new (mem_) T(std::forward<A>(args)...);
  }
  ~Page() {
    obj_->~T();
    munmap(mem_, size_);
  }
  Page(const Page&) = delete;
  Page& operator=(const Page&) = delete;
  T& operator*() { return *obj_; }

 private:
  void* mem_;
  std::size_t size_;
  T* obj_;
};

// Each round_* function is one round of the pattern with the object `make()` returns; `on1`
// spawns the waker on Runtime thread 1. Each returns false if the wait returned early.

template <class Make>
bool round_wait_group(gofer::Runtime& rt, Make make) {
  std::atomic<bool> finished{false};
  auto holder = make(1);
  gofer::WaitGroup& wg = *holder;
  rt.go_on(1, [&finished, &wg] {
    finished.store(true);
    wg.done();
  });
  wg.wait();
  const bool ok = finished.load();
  return ok;
}

template <class Make>
bool round_semaphore(gofer::Runtime& rt, Make make) {
  std::atomic<bool> finished{false};
  auto holder = make(0);
  gofer::Semaphore& sem = *holder;
  rt.go_on(1, [&finished, &sem] {
    finished.store(true);
    sem.release();
  });
  sem.acquire();
  const bool ok = finished.load();
  return ok;
}

// CondVar: the waiter sets `waiting` under the Mutex and waits; the waker can take the Mutex
// only once the waiter is parked on the CondVar (wait releases it after queueing), sets the
// flag, releases the Mutex and notifies *after* unlocking. So the waiter wakes only through
// notify_all, and destroys the CondVar while notify_all may still be returning.
template <class MakeMutex, class MakeCv>
bool round_cond_var(gofer::Runtime& rt, MakeMutex make_mutex, MakeCv make_cv) {
  std::atomic<bool> finished{false};
  std::atomic<bool> waiting{false};
  auto m_holder = make_mutex();
  auto cv_holder = make_cv();
  gofer::Mutex& m = *m_holder;
  gofer::CondVar& cv = *cv_holder;
  bool ready = false;
  rt.go_on(1, [&] {
    while (!waiting.load()) {
      gofer::yield();
    }
    {
      std::lock_guard lk(m);
      ready = true;
      finished.store(true);
    }
    cv.notify_all();
  });
  {
    std::unique_lock lk(m);
    waiting.store(true);
    cv.wait(lk, [&ready] { return ready; });
  }
  return finished.load();
}

template <class Make>
bool round_mutex(gofer::Runtime& rt, Make make) {
  std::atomic<bool> finished{false};
  std::atomic<bool> locked{false};
  auto holder = make();
  gofer::Mutex& m = *holder;
  rt.go_on(1, [&] {
    m.lock();
    locked.store(true);
    gofer::yield();
    finished.store(true);
    m.unlock();
  });
  while (!locked.load()) {
    gofer::yield();
  }
  m.lock();
  const bool ok = finished.load();
  m.unlock();
  return ok;
}

// A stack holder: the object lives in the round's frame, at the same address every round.
template <class T>
struct OnStack {
  template <class... A>
  explicit OnStack(A&&... args) : obj(std::forward<A>(args)...) {}
  T& operator*() { return obj; }
  T obj;
};

struct Primitives {
  static auto wg_stack(int n) { return OnStack<gofer::WaitGroup>(n); }
  static auto sem_stack(int n) { return OnStack<gofer::Semaphore>(n); }
  static auto mutex_stack() { return OnStack<gofer::Mutex>(); }
  static auto cv_stack() { return OnStack<gofer::CondVar>(); }
  static auto wg_page(int n) { return Page<gofer::WaitGroup>(n); }
  static auto sem_page(int n) { return Page<gofer::Semaphore>(n); }
  static auto mutex_page() { return Page<gofer::Mutex>(); }
  static auto cv_page() { return Page<gofer::CondVar>(); }
};

// run_rounds: calls round(rt) n times, from the plain test thread or from a task on thread 0.
// Idle spinning is off: every wake then goes through the sleeping waiter's wake-up syscall, on
// return from which the waker is still inside the primitive while the waiter already runs.
template <class Round>
void run_rounds(bool from_task, int n, Round round) {
  Watchdog dog(std::chrono::seconds(50));
  const auto spin = gofer::idle_spin();
  gofer::set_idle_spin(std::chrono::nanoseconds(0));
  gofer::Runtime rt(2);
  auto loop = [&rt, n, &round] {
    for (int i = 0; i < n; ++i) {
      if (!round(rt)) {
        return i;
      }
    }
    return -1;
  };
  const int early = from_task ? rt.go_on(0, loop).wait() : loop();
  gofer::set_idle_spin(spin);
  EXPECT_EQ(early, -1) << "a wait returned before its waker ran, in round " << early;
}

class Lifetime : public testing::TestWithParam<bool> {};

TEST_P(Lifetime, WaitGroupOnTheStack) {
  run_rounds(GetParam(), rounds,
             [](gofer::Runtime& rt) { return round_wait_group(rt, Primitives::wg_stack); });
}

TEST_P(Lifetime, SemaphoreOnTheStack) {
  run_rounds(GetParam(), rounds,
             [](gofer::Runtime& rt) { return round_semaphore(rt, Primitives::sem_stack); });
}

TEST_P(Lifetime, MutexOnTheStack) {
  run_rounds(GetParam(), rounds / 2,
             [](gofer::Runtime& rt) { return round_mutex(rt, Primitives::mutex_stack); });
}

TEST_P(Lifetime, CondVarOnTheStack) {
  run_rounds(GetParam(), rounds / 2, [](gofer::Runtime& rt) {
    return round_cond_var(rt, Primitives::mutex_stack, Primitives::cv_stack);
  });
}

TEST_P(Lifetime, WaitGroupUnmapped) {
  run_rounds(GetParam(), unmapped_rounds,
             [](gofer::Runtime& rt) { return round_wait_group(rt, Primitives::wg_page); });
}

TEST_P(Lifetime, SemaphoreUnmapped) {
  run_rounds(GetParam(), unmapped_rounds,
             [](gofer::Runtime& rt) { return round_semaphore(rt, Primitives::sem_page); });
}

TEST_P(Lifetime, MutexUnmapped) {
  run_rounds(GetParam(), unmapped_rounds,
             [](gofer::Runtime& rt) { return round_mutex(rt, Primitives::mutex_page); });
}

TEST_P(Lifetime, CondVarUnmapped) {
  run_rounds(GetParam(), unmapped_rounds, [](gofer::Runtime& rt) {
    return round_cond_var(rt, Primitives::mutex_page, Primitives::cv_page);
  });
}

INSTANTIATE_TEST_SUITE_P(Waiters, Lifetime, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& p) {
                           return p.param ? std::string("FromTask")
                                          : std::string("FromPlainThread");
                         });

}  // namespace
