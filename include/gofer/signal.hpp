// signal.hpp: Unix signals as channel values (Go's signal.Notify) and graceful shutdown.
//
//   int main() {
//     auto sigs = gofer::signal_chan({SIGINT, SIGTERM});   // first, before other threads
//     gofer::Runtime rt(2);
//     auto stop = gofer::stop_on_signal(rt, {SIGTERM});    // or wait on `sigs` yourself
//     ...
//   }
//
// signal_chan(signals) returns a channel that receives the number of each of those signals
// the process gets. Every channel registered for a signal gets it (fan-out). The channel holds
// one pending value per signal it watches; a signal that finds it full is dropped for that
// channel, as Go's Notify drops when the receiver is not ready. Closing the channel
// unregisters it. stop_on_signal(target, signals) calls target.request_stop() on the first of
// those signals (a Runtime, a Task, a TaskGroup: anything with request_stop()); it returns a
// SignalSubscription that unregisters when destroyed, so declare it after the target.
//
// Which signals: SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM and SIGWINCH;
// anything else (and an empty list) throws std::invalid_argument. A watched signal that no
// channel or subscription wants any more (all closed or destroyed) gets its usual disposition
// again when it arrives: by default SIGINT and SIGTERM then end the process, as in Go after
// signal.Stop, so a second Ctrl-C still works after stop_on_signal has fired.
//
// How it works: the first call starts one process-wide thread, "gofer-signal", with its own
// gofer scheduler; each signal gets one signalfd the first time it is watched, and on that
// thread a task named "signal watcher (signalfd N)" (listed by gofer::tasks()) parks on it
// through the poller (the same fd wait every gofer socket uses) and sends each signal it
// reads to the registered channels. Because those tasks always wait on an fd, the deadlock
// watchdog does not report a program whose tasks all wait (a signal may still wake them), as
// Go does once signal.Notify is used.
//
// Signal masks (read this if you start threads yourself). A signal reaches signalfd only if
// every thread has it blocked: a thread with it unblocked takes it the old way (for SIGTERM:
// the process ends). gofer takes care of its own threads: every thread gofer starts (Runtime
// threads, the blocking pool, gofer's watchdog, dump, stack-depot and signal threads) starts
// with all the signals above blocked, and signal_chan blocks the requested signals in the
// thread that calls it. Threads you start yourself inherit the mask of the thread that starts
// them, so EITHER call signal_chan (or stop_on_signal) from main before you start any thread,
// OR block the signals yourself (pthread_sigmask(SIG_BLOCK, ...)) in every thread you start,
// or before starting it. Only process-directed signals are read: kill(getpid(), sig), kill(1),
// a terminal's Ctrl-C. A thread-directed one (raise(), pthread_kill() on another thread) stays
// pending in its blocked thread. Child processes started by gofer::Process get an empty mask.
// Builds whose Boost.Context switches with ucontext (gofer's sanitizer builds) save and restore
// the mask with every switch, so each scheduler context keeps the mask it was made with:
// there, block the signals before the thread's first gofer call (samples/graceful_server.cpp).
//
// Thread-safety: all functions from any thread or task. Blocking: signal_chan and
// stop_on_signal never park (the first call starts a thread); a SignalSubscription's
// destructor waits for a target.request_stop() that is running at that moment.
#pragma once

#include <csignal>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include <gofer/chan.hpp>

namespace gofer {

// signal_chan: a channel receiving each of `signals` as it arrives (see the header comment).
// Throws std::invalid_argument for an empty list or a signal it cannot watch, and
// std::system_error when the signalfd or the signal thread cannot be made.
Chan<int> signal_chan(const std::vector<int>& signals);

// SignalSubscription: keeps a stop_on_signal registration; unregisters when destroyed.
class SignalSubscription {
 public:
  SignalSubscription() noexcept = default;
  explicit SignalSubscription(std::uint64_t id) noexcept : id_(id) {}
  SignalSubscription(SignalSubscription&& o) noexcept : id_(std::exchange(o.id_, 0)) {}
  SignalSubscription& operator=(SignalSubscription&& o) noexcept;
  ~SignalSubscription();

  // cancel: unregisters now (waits for a call that is running); idempotent.
  void cancel() noexcept;

 private:
  std::uint64_t id_ = 0;
};

namespace detail {
// on_signal_once: registers f, called on the signal thread at the first of `signals`.
SignalSubscription on_signal_once(const std::vector<int>& signals, std::function<void(int)> f);
}  // namespace detail

// stop_on_signal: at the first of `signals`, calls target.request_stop() (on the signal
// thread; it must be thread-safe, as Runtime's, Task's and TaskGroup's are). `target` must
// outlive the returned subscription. Throws as signal_chan.
template <class Target>
requires requires(Target& t) {
  t.request_stop();
}
[[nodiscard]] SignalSubscription stop_on_signal(Target& target, const std::vector<int>& signals = {
                                                                    SIGINT, SIGTERM}) {
  return detail::on_signal_once(signals, [&target](int) { target.request_stop(); });
}

}  // namespace gofer
