// signal_mask.cpp: the notifiable signals and the thread-creation guard (signal_mask.hpp).
#include "signal_mask.hpp"

#include <pthread.h>

namespace gofer::detail {

namespace {

constexpr int notifiable_list[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGTERM,
                                   SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH};

sigset_t make_set() noexcept {
  sigset_t s;
  sigemptyset(&s);
  for (int sig : notifiable_list) {
    sigaddset(&s, sig);
  }
  return s;
}

}  // namespace

const sigset_t& notifiable_signals() noexcept {
  static const sigset_t set = make_set();
  return set;
}

bool is_notifiable(int sig) noexcept {
  for (int s : notifiable_list) {
    if (s == sig) {
      return true;
    }
  }
  return false;
}

InheritBlockedSignals::InheritBlockedSignals() noexcept {
  ::pthread_sigmask(SIG_BLOCK, &notifiable_signals(), &old_);
}

InheritBlockedSignals::~InheritBlockedSignals() {
  ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

}  // namespace gofer::detail
