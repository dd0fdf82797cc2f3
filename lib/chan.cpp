// chan.cpp: the untyped pieces of channels: ids and their wait descriptions (chan_state.hpp).
#include <atomic>
#include <string>

#include <gofer/detail/chan_state.hpp>

#include "id_blocks.hpp"

namespace gofer::detail {

namespace {
std::atomic<std::uint64_t> next_chan_id{1};
}  // namespace

std::uint64_t new_chan_id() noexcept {
  return block_id<next_chan_id>();
}

void describe_chan(const WaitInfo& info, std::string& out) {
  out += "chan " + std::to_string(info.id) + " " + info.what + " (";
  if (info.a == unbounded_capacity) {
    out += "unbounded, ";
  } else {
    out += "capacity " + std::to_string(info.a) + ", ";
  }
  out += std::to_string(info.b) + " buffered)";
}

}  // namespace gofer::detail
