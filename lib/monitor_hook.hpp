// monitor_hook.hpp: the two calls schedulers make into the watchdog thread (monitor.hpp).
//
// start_monitor() starts the monitor thread once per process, from the first scheduler's
// installation (never again: later installations only wake it). When no scheduler is busy and
// nothing is being timed, the monitor sleeps long with monitor_parked set; a scheduler leaving
// idle() sees the flag (a relaxed load of a line nobody writes meanwhile) and calls
// wake_monitor(), so a stall that starts then is still caught within the threshold.
//
// Thread-safety: both from any thread. Neither blocks (wake_monitor is one futex wake, and only
// for the first scheduler to leave idle after the monitor parked).
#pragma once

#include <atomic>

#include <gofer/detail/spin_lock.hpp>

namespace gofer::detail {

// monitor_parked: set by the monitor before a long sleep; cleared by wake_monitor().
alignas(cache_line) inline constinit std::atomic<bool> monitor_parked{false};

// wake_monitor: ends the monitor's long sleep (if monitor_parked is still set).
void wake_monitor() noexcept;

// start_monitor: starts the monitor thread unless it runs (or could not be started: then the
// watchdog is off and this stays a no-op). Never throws.
void start_monitor() noexcept;

}  // namespace gofer::detail
