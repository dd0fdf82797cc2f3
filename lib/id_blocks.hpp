// id_blocks.hpp: process-unique ids handed out in per-thread blocks.
//
// block_id<Counter>() returns the next id of the sequence kept by `Counter` (a process-wide
// atomic starting at 1): each thread takes 256 ids at a time with one fetch_add, so taking an id
// is no shared read-modify-write on the hot path (task spawn, channel creation). Ids increase
// on each thread; across threads they are unique, not ordered.
//
// Thread-safety: any thread. Never blocks.
#pragma once

#include <atomic>
#include <cstdint>

namespace gofer::detail {

template <std::atomic<std::uint64_t>& Counter>
std::uint64_t block_id() noexcept {
  constexpr std::uint64_t block = 256;
  thread_local std::uint64_t next = 0;
  thread_local std::uint64_t end = 0;
  if (next == end) [[unlikely]] {
    next = Counter.fetch_add(block, std::memory_order_relaxed);
    end = next + block;
  }
  return next++;
}

}  // namespace gofer::detail
