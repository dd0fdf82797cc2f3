// stack.hpp: task stack settings.
//
// Every task runs on its own mmap'd stack with a PROT_NONE guard page below it, taken from a
// per-thread pool (released stacks are reused without munmap or mprotect). A stack overflow
// ends the program with "gofer: stack overflow in task <id> (<name>)" on stderr, never silent
// corruption. The kernel's vm.max_map_count (65530 by default) limits how many guard pages a
// process can hold; past a budget derived from it, gofer carves stacks from shared slabs and
// protects each with a canary at its limit instead, checked at every task switch and reported
// the same way. Untouched stack pages cost no memory.
//
// Thread-safety: both functions may be called from any thread.
#pragma once

#include <cstddef>

namespace gofer {

// default_stack_size: 256 KiB of usable stack per task unless configured otherwise.
inline constexpr std::size_t default_stack_size = 256 * 1024;

// set_stack_size: the process-wide default for tasks spawned from now on (rounded up to whole
// pages; 16 KiB to 1 GiB, else std::invalid_argument). Per task: TaskOptions::stack_size.
void set_stack_size(std::size_t bytes);
std::size_t stack_size() noexcept;

}  // namespace gofer
