// spin_lock.hpp: the short lock that guards channel, task and cancellation state.
//
// Invariants: held only for a handful of instructions (queue links, a value move); never held
// across a context switch (parking releases every SpinLock before it suspends; see waiter.hpp).
// Thread-safe. Blocks by spinning with a pause instruction, then yielding the OS thread, so a
// holder that was descheduled by the kernel does not cost a full time slice of spinning.
#pragma once

#include <atomic>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace gofer::detail {

// spin_pause: a spin-wait hint to the CPU.
inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// SpinLock: test-and-test-and-set lock; satisfies Lockable.
class SpinLock {
 public:
  void lock() noexcept {
    for (;;) {
      if (!locked_.exchange(true, std::memory_order_acquire)) {
        return;
      }
      int spins = 0;
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins < 128) {
          spin_pause();
        } else {
          std::this_thread::yield();
        }
      }
    }
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace gofer::detail
