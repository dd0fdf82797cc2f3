// signal.cpp: signal_chan and stop_on_signal (signal.hpp).
//
// One process-wide Hub: one signalfd per signal ever watched (made once, never changed, so no
// thread modifies an fd another one polls), the registrations (a channel, or a one-shot
// function), and the "gofer-signal" thread. That thread runs a gofer scheduler: for each new
// signalfd (sent to it over a channel) it starts a "signal watcher" task that parks on the fd
// with wait_fd (fd_wait.hpp: the poller is the only user of epoll), reads every pending
// siginfo, and fans each signal out under the hub's lock: try_send to each channel registered for
// it (a full channel drops it; a closed one is unregistered) and one call of each one-shot function
// (then unregistered). A signal nobody is registered for any more is raised again in the signal
// thread with the signal briefly unblocked there, so its usual disposition applies (signal.hpp).
//
// Invariants: (1) once started, the thread, its tasks and the signalfds live until the
// process ends (the thread is detached; nothing holds a lock while parked); (2) every watched
// signal keeps its signalfd and stays blocked in the threads gofer starts and in each thread
// that called signal_chan; (3) a registration is never called after its unregistration returned
// (both under the hub's lock).
//
// Lock order: the hub's mutex, then a channel's lock (try_send) or whatever the target's
// request_stop() takes. Thread-safety: see signal.hpp.
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include <gofer/signal.hpp>
#include <gofer/task.hpp>

#include "fd_wait.hpp"
#include "signal_mask.hpp"

namespace gofer {

namespace {

struct Registration {
  std::uint64_t id;
  sigset_t signals;
  std::optional<Chan<int>> ch;    // a signal_chan's channel, or none
  std::function<void(int)> once;  // stop_on_signal's call, or empty
};

struct Hub {
  std::mutex mu;
  sigset_t watched;              // the signals that have a signalfd
  std::optional<Chan<int>> fds;  // new signalfds, to the signal thread (made with it)
  std::uint64_t next_id = 1;
  std::vector<Registration> regs;

  Hub() noexcept { sigemptyset(&watched); }
};

Hub& hub() {
  static Hub* h = new Hub;  // never destroyed: the signal thread may use it until exit
  return *h;
}

// dispatch: fans sig out (hub lock held). Returns whether anyone took it.
bool dispatch(Hub& h, int sig) {
  bool taken = false;
  for (std::size_t i = 0; i < h.regs.size();) {
    Registration& r = h.regs[i];
    if (sigismember(&r.signals, sig) != 1) {
      ++i;
      continue;
    }
    if (r.once) {
      try {
        r.once(sig);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "gofer: stop_on_signal: request_stop threw: %s\n", e.what());
      }
      taken = true;
    } else {
      int v = sig;
      if (r.ch->try_send(v) != chan_status::closed) {
        taken = true;
        ++i;
        continue;
      }
    }
    h.regs.erase(h.regs.begin() + static_cast<std::ptrdiff_t>(i));  // fired once, or closed
  }
  return taken;
}

// default_action: delivers sig to this thread with its usual disposition.
void default_action(int sig) {
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  ::pthread_kill(::pthread_self(), sig);  // pending here while blocked
  ::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  ::pthread_sigmask(SIG_BLOCK, &one, nullptr);
}

// watch_fd: the task reading one signal's signalfd, on the signal thread.
void watch_fd(int fd) {
  Hub& h = hub();
  for (;;) {
    (void)detail::wait_fd(fd, detail::Interest::readable, detail::no_deadline,
                          "signal_chan: waiting for a signal");
    signalfd_siginfo info[8];
    const ssize_t n = ::read(fd, info, sizeof info);
    for (std::size_t i = 0; n > 0 && i < static_cast<std::size_t>(n) / sizeof info[0]; ++i) {
      const int sig = static_cast<int>(info[i].ssi_signo);
      bool taken = false;
      {
        std::lock_guard guard(h.mu);
        taken = dispatch(h, sig);
      }
      if (!taken) {
        default_action(sig);
      }
    }
  }
}

// signal_loop: the signal thread: one watch_fd task per signalfd it is sent.
void signal_loop(Chan<int> fds) {
  ::pthread_setname_np(::pthread_self(), "gofer-signal");
  for (int fd : fds) {
    try {
      gofer::TaskOptions opts;
      opts.name = "signal watcher (signalfd " + std::to_string(fd) + ")";
      (void)gofer::go(std::move(opts), watch_fd, fd);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "gofer: signal thread: %s; a signal is no longer delivered\n", e.what());
    }
  }
}

// start_thread: starts the signal thread with every signal blocked (hub lock held).
void start_thread(Hub& h, const char* who) {
  sigset_t every;
  sigfillset(&every);  // the signal thread takes no signal the old way
  sigset_t old;
  ::pthread_sigmask(SIG_SETMASK, &every, &old);
  try {
    std::thread(signal_loop, *h.fds).detach();
  } catch (const std::system_error& e) {
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw std::system_error(e.code(), std::string(who) + ": cannot start the signal thread");
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

// watch: validates `signals`, blocks them here, gives each new one its signalfd (starting the
// thread on first use) and registers r under the hub's lock; returns r's id.
std::uint64_t watch(const std::vector<int>& signals, const char* who, Registration r) {
  if (signals.empty()) {
    throw std::invalid_argument(std::string(who) + ": no signal given");
  }
  sigemptyset(&r.signals);
  for (int sig : signals) {
    if (!detail::is_notifiable(sig)) {
      const char* name = sig > 0 && sig < NSIG ? ::sigabbrev_np(sig) : nullptr;
      throw std::invalid_argument(
          std::string(who) + ": signal " + std::to_string(sig) +
          (name != nullptr ? std::string(" (SIG") + name + ")" : std::string()) +
          " cannot be watched; use SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM "
          "or SIGWINCH");
    }
    sigaddset(&r.signals, sig);
  }
  ::pthread_sigmask(SIG_BLOCK, &r.signals, nullptr);
  Hub& h = hub();
  std::lock_guard guard(h.mu);
  if (!h.fds.has_value()) {
    h.fds = Chan<int>::unbounded();
    start_thread(h, who);
  }
  for (int sig : signals) {
    if (sigismember(&h.watched, sig) == 1) {
      continue;
    }
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    const int fd = ::signalfd(-1, &one, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
      throw std::system_error(errno, std::generic_category(),
                              std::string(who) + ": signalfd for signal " + std::to_string(sig));
    }
    if (!h.fds->send(fd)) {  // unbounded and never closed: never fails, never blocks
      ::close(fd);
      continue;
    }
    sigaddset(&h.watched, sig);
  }
  r.id = h.next_id++;
  h.regs.push_back(std::move(r));  // may throw bad_alloc: nothing registered then
  return h.regs.back().id;
}

}  // namespace

Chan<int> signal_chan(const std::vector<int>& signals) {
  std::size_t distinct = 0;
  for (std::size_t i = 0; i < signals.size(); ++i) {
    bool seen = false;
    for (std::size_t j = 0; j < i; ++j) {
      seen = seen || signals[j] == signals[i];
    }
    distinct += seen ? 0 : 1;
  }
  Chan<int> ch(distinct == 0 ? 1 : distinct);
  (void)watch(signals, "gofer::signal_chan", Registration{0, {}, ch, {}});
  return ch;
}

SignalSubscription& SignalSubscription::operator=(SignalSubscription&& o) noexcept {
  if (this != &o) {
    cancel();
    id_ = std::exchange(o.id_, 0);
  }
  return *this;
}

SignalSubscription::~SignalSubscription() {
  cancel();
}

void SignalSubscription::cancel() noexcept {
  if (id_ == 0) {
    return;
  }
  Hub& h = hub();
  std::lock_guard guard(h.mu);
  for (auto it = h.regs.begin(); it != h.regs.end(); ++it) {
    if (it->id == id_) {
      h.regs.erase(it);
      break;
    }
  }
  id_ = 0;
}

namespace detail {

SignalSubscription on_signal_once(const std::vector<int>& signals, std::function<void(int)> f) {
  Registration r{0, {}, std::nullopt, std::move(f)};
  return SignalSubscription(watch(signals, "gofer::stop_on_signal", std::move(r)));
}

}  // namespace detail

}  // namespace gofer
