// activity.hpp: work that can wake a task from outside every scheduler, counted for the
// deadlock watchdog (deadlock.hpp).
//
// A task parked with every scheduler asleep may still be woken by: a blocking-pool job (queued
// or running: its end completes the job's Task), a child process (its exit makes its pidfd
// readable, and a task may be about to wait for it), or a thread that runs user code outside
// gofer. The first two are counted here; of the third kind gofer knows only the threads that
// own a Runtime (constructed one and have not destroyed it), which are recorded by their
// kernel thread id. A thread with a scheduler installed is visible to the watchdog through its
// registry; a thread with neither is not visible at all (debug.hpp says so).
//
// Invariants: (1) blocking_jobs() counts jobs from submission until after their Task was
// finished (so the count drops only once the waiter has been woken); (2) live_children()
// counts children from posix_spawn until waitpid reaped them; (3) a Runtime is in the owner
// list from its constructor (before its first thread starts) to its destructor.
//
// Thread-safety: every function may be called from any thread. Blocking: the owner list is
// guarded by a mutex held for a few instructions; the counters are atomics.
#pragma once

#include <cstddef>
#include <vector>

namespace gofer::detail {

// note_blocking_job / blocking_jobs: +1 at submission, -1 after the job's Task finished.
void note_blocking_job(int delta) noexcept;
std::size_t blocking_jobs() noexcept;

// note_child / live_children: +1 once a child is spawned, -1 once it is reaped.
void note_child(int delta) noexcept;
std::size_t live_children() noexcept;

// note_runtime_owner: records the calling thread as the owner of `runtime` (may throw
// std::bad_alloc); forget_runtime_owner: drops that record (from any thread).
void note_runtime_owner(const void* runtime);
void forget_runtime_owner(const void* runtime) noexcept;
// runtime_owner_tids: the kernel thread ids of the threads that own a live Runtime.
std::vector<long> runtime_owner_tids();

}  // namespace gofer::detail
