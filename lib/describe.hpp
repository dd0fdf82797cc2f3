// describe.hpp: formatting helpers for WaitInfo::describe functions (task dumps, debug.hpp).
//
// Each blocking module formats its own waits (a describe function next to the call that
// parks); these are the shared pieces. They run on the dumping thread, never in a signal
// handler, and may allocate. Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <string>

#include <gofer/detail/waiter.hpp>

namespace gofer::detail {

// append_duration: "850 us", "12.3 ms", "4.0 s", "3 min".
void append_duration(std::string& out, std::chrono::nanoseconds d);

// describe_object: "<what> 0x<subject>", for waits on a sync object (Mutex::lock 0x7f...).
void describe_object(const WaitInfo& info, std::string& out);

// describe_sleep: "sleep (1.5 s left)"; info.b holds the deadline (clock ticks).
void describe_sleep(const WaitInfo& info, std::string& out);

}  // namespace gofer::detail
