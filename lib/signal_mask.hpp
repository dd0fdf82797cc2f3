// signal_mask.hpp: which signals gofer::signal_chan can watch, and keeping them off the
// threads gofer starts.
//
// signalfd only reads a signal that is blocked in every thread that could take it: a thread
// with the signal unblocked would get it delivered (its default action usually ends the
// process) instead. So every thread gofer starts (Runtime threads, the blocking pool, the
// watchdog, dump, stack-depot and signal threads) starts with the notifiable signals blocked,
// whether or not signal_chan is ever called: such a signal then goes to one of the user's
// threads (main, by default) or to signal_chan. Threads inherit the creator's mask, so the
// creator blocks the set around the creation (InheritBlockedSignals), and no signal can slip
// in before the new thread's first instruction.
//
// Thread-safety: all of it on any thread. Nothing blocks.
#pragma once

#include <signal.h>

namespace gofer::detail {

// notifiable_signals: SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH.
const sigset_t& notifiable_signals() noexcept;
// is_notifiable: sig is one of them.
bool is_notifiable(int sig) noexcept;

// InheritBlockedSignals: blocks the notifiable signals in this thread until destroyed, so a
// thread created meanwhile starts with them blocked.
class InheritBlockedSignals {
 public:
  InheritBlockedSignals() noexcept;
  ~InheritBlockedSignals();
  InheritBlockedSignals(const InheritBlockedSignals&) = delete;
  InheritBlockedSignals& operator=(const InheritBlockedSignals&) = delete;

 private:
  sigset_t old_;
};

}  // namespace gofer::detail
