// home.hpp: a thread's scheduler as the waiter layer sees it.
//
// Home holds the parts of a scheduler that waiting and waking use: the Reactor (remote-wake
// inbox, notify, the remote-waker count that keeps the thread alive during a wake), the
// TaskRegistry (the thread record a plain thread parks through, and which task runs) and the
// SchedCounters. The Scheduler (scheduler.hpp: the Boost.Fiber algorithm, its ready queue, the
// thread's installation and exit) is a Home, and installs itself as the thread's Home; the
// waiter layer (waiter.cpp) depends on this header and nothing above it.
//
// current() is inline (a thread-local pointer with a constant initializer: one TLS load, no
// call), because every wait, wake and yield asks for it.
//
// Thread-safety: current() on any thread (its own Home); the parts document their own rules.
#pragma once

#include "reactor.hpp"
#include "sched_stats.hpp"
#include "task_registry.hpp"

namespace gofer::detail {

class Home;
// this_thread_home: the thread's Home (nullptr: no scheduler installed); set by set_current().
extern constinit thread_local Home* this_thread_home;
// this_thread_service: true on gofer's own service threads (the blocking pool's), which may
// install a scheduler (a job that waits on a channel) but run no tasks: code that decides
// whether a call may park a task (the hooks, gofer/hooks.hpp) treats them as plain threads.
extern constinit thread_local bool this_thread_service;

class Home {
 public:
  Home() : registry(*this, counters) {}
  Home(const Home&) = delete;
  Home& operator=(const Home&) = delete;

  // current: this thread's Home, or nullptr when no scheduler is installed.
  static Home* current() noexcept { return this_thread_home; }

  Reactor reactor;
  SchedCounters counters;  // before registry: a reader finds it alive while listed
  TaskRegistry registry;

 protected:
  ~Home() = default;
  // set_current: installs (or, with nullptr, removes) this thread's Home.
  static void set_current(Home* h) noexcept { this_thread_home = h; }
};

}  // namespace gofer::detail
