// stack.hpp: task stack settings.
//
// Every task runs on its own stack, carved from large pre-reserved slabs and recycled through
// per-thread caches and shared free lists (no mmap, mprotect or munmap per task); the pages of
// stacks left unused are given back to the kernel in the background. Below every stack lies a
// guard region of 64 KiB plus a page of address space (no memory), so a frame of up to 64 KiB
// can never reach the stack below. A stack overflow ends the program with
// "gofer: stack overflow in task <id> (<name>)" on stderr, never silent corruption of another
// task. The guard region is PROT_NONE (the overflow faults at once) while the process holds
// fewer guarded stacks than the kernel's vm.max_map_count allows (each costs two mappings);
// past that budget it is untouched memory, and the overflow is caught by a stack-pointer check
// at every task switch and by a check that no page of the region was touched when the task
// ends.
// Frames larger than 64 KiB are caught on guarded stacks when built with
// -fstack-clash-protection (CMake option GOFER_STACK_CLASH_PROTECTION, on by default). The
// README's "Stacks" item says exactly what is and is not caught. Untouched stack pages cost no
// memory.
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
