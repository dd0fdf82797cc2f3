// thread_backtrace.hpp: the backtrace of another thread of this process, taken on that thread.
//
// request_backtrace(tid) sends the thread a real-time signal (backtrace_signal(), SIGRTMAX - 3)
// with tgkill. The handler, installed with SA_RESTART | SA_ONSTACK (it runs on the thread's
// alternate signal stack where it has one, as scheduler threads do, so a task's small stack
// is not used, and the SIGSEGV handler's use of that stack is not disturbed), only calls glibc
// backtrace() into a preallocated buffer and publishes the answer with an atomic store:
// backtrace() is primed at installation (libgcc's unwinder is loaded then, not in the handler).
// await_backtrace() waits for the answer with a timeout and copies the frames out; symbolize()
// names them (dladdr + the demangler) outside the handler.
//
// Invariants: (1) the buffer is written only by a handler that won the CAS pending: n -> 0 for
// the request n it answers, on the thread the request names; (2) the client reads the buffer
// only after answered == n (acquire), and withdraws a request it stops waiting for with the
// same CAS, so a late handler finds nothing to answer; (3) if a handler won the CAS but never
// answers (it cannot happen short of a hung thread), capture is switched off for good rather
// than reuse a buffer that may still be written.
//
// Thread-safety: install_backtrace_signal() once; request_backtrace/await_backtrace from one
// client thread at a time (the monitor); symbolize() anywhere. Blocking: await_backtrace sleeps
// in 1 ms steps up to its timeout; nothing else blocks.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace gofer::detail {

// backtrace_signal: the signal used (SIGRTMAX - 3).
int backtrace_signal() noexcept;

// install_backtrace_signal: installs the handler unless another handler already owns the
// signal (then capture stays off); primes backtrace(). Returns whether capture is on.
bool install_backtrace_signal() noexcept;

// request_backtrace: asks thread `tid` (alive: the caller makes sure) for its backtrace.
// Returns false when capture is off or tgkill failed.
bool request_backtrace(long tid) noexcept;

// await_backtrace: the frames of the last request, innermost first, starting at the
// interrupted instruction; empty if no answer came within `timeout` (the request is withdrawn).
std::vector<void*> await_backtrace(std::chrono::milliseconds timeout);

// symbolize: one line per frame, "    #3 0x55d0... in name+0x1c (/path/module+0x1234)", with
// "??" for a frame no symbol covers. Allocates; not for signal handlers.
std::string symbolize(const std::vector<void*>& frames);

}  // namespace gofer::detail
