// fd_table.hpp: what the hooks know about each fd: its kind, the caller's O_NONBLOCK choice,
// whether the hooks made it non-blocking underneath, and its SO_RCVTIMEO / SO_SNDTIMEO.
//
// An entry is filled when a hooked call creates the fd (socket, socketpair, accept, pipe,
// dup) or, for an fd made elsewhere, the first time a task uses it (classify(): fstat, F_GETFL,
// and for a socket its timeouts). close() and dup2() over an fd clear its entry.
//
// Invariants: (1) `user_nonblock` is the O_NONBLOCK the program last set or created the fd
// with, which F_GETFL reports whatever the real flag is; (2) `made_nonblock` is set only on a
// socket or FIFO whose real flag the hooks set, and only while the entry lives, so an fd
// with made_nonblock && !user_nonblock is one the program believes blocking but is not: a
// plain thread's call on it that sees EAGAIN waits with the real poll() and retries (the
// program keeps its blocking semantics); (3) fds at or above max_fds have no entry and are
// passed through unchanged.
//
// What the table cannot see: an fd closed behind the hooks' back (close_range, fclose of an
// fdopen'ed socket, a raw syscall) keeps its entry until its number is reused by a hooked
// call that creates an fd; an fd number reused by open() of a FIFO meanwhile would be
// misclassified. Close sockets with close().
//
// Thread-safety: every field is an atomic read and written relaxed; entries are never freed
// (pages of 1024 are allocated on first use and live until exit), so a lookup needs no lock.
// Blocking: classify() makes up to four non-blocking system calls; nothing here parks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace gofer::hooks::detail {

// FdKind: what classify() found.
enum class fd_kind : std::uint8_t { unknown, socket, fifo, other };

// FdEntry: one fd's record.
struct FdEntry {
  static constexpr std::uint32_t kind_mask = 0x3;
  static constexpr std::uint32_t user_nonblock = 0x4;
  static constexpr std::uint32_t made_nonblock = 0x8;

  std::atomic<std::uint32_t> flags{0};        // fd_kind in the low bits, then the bits above
  std::atomic<std::int64_t> recv_timeout{0};  // SO_RCVTIMEO in microseconds, 0: none
  std::atomic<std::int64_t> send_timeout{0};  // SO_SNDTIMEO in microseconds, 0: none

  fd_kind kind() const noexcept {
    return static_cast<fd_kind>(flags.load(std::memory_order_relaxed) & kind_mask);
  }
  bool has(std::uint32_t bit) const noexcept {
    return (flags.load(std::memory_order_relaxed) & bit) != 0;
  }
  void set(std::uint32_t bit, bool on) noexcept {
    if (on) {
      flags.fetch_or(bit, std::memory_order_relaxed);
    } else {
      flags.fetch_and(~bit, std::memory_order_relaxed);
    }
  }
  // parkable: a socket or FIFO the caller believes blocking.
  bool parkable() const noexcept {
    const std::uint32_t f = flags.load(std::memory_order_relaxed);
    const auto k = static_cast<fd_kind>(f & kind_mask);
    return (k == fd_kind::socket || k == fd_kind::fifo) && (f & user_nonblock) == 0;
  }
  // reset: forgets everything (close, dup2 over the fd).
  void reset() noexcept {
    flags.store(0, std::memory_order_relaxed);
    recv_timeout.store(0, std::memory_order_relaxed);
    send_timeout.store(0, std::memory_order_relaxed);
  }
  // record: a fresh fd of a known kind, made with or without O_NONBLOCK.
  void record(fd_kind k, bool nonblock) noexcept {
    recv_timeout.store(0, std::memory_order_relaxed);
    send_timeout.store(0, std::memory_order_relaxed);
    flags.store(static_cast<std::uint32_t>(k) | (nonblock ? user_nonblock : 0),
                std::memory_order_relaxed);
  }
  // copy_from: a dup of `from` (same open file description, hence same flags and timeouts).
  void copy_from(const FdEntry& from) noexcept {
    recv_timeout.store(from.recv_timeout.load(std::memory_order_relaxed),
                       std::memory_order_relaxed);
    send_timeout.store(from.send_timeout.load(std::memory_order_relaxed),
                       std::memory_order_relaxed);
    flags.store(from.flags.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
};

// max_fds: fds from 0 to max_fds - 1 have entries.
inline constexpr int max_fds = 1 << 20;

// entry: fd's record, allocated on first use; nullptr for fds outside [0, max_fds) or when
// memory runs out (the fd is then passed through).
FdEntry* entry(int fd) noexcept;
// find: fd's record if its page exists, else nullptr (allocates nothing).
FdEntry* find(int fd) noexcept;
// classified: entry(fd), classified first if unknown (see the header comment).
FdEntry* classified(int fd) noexcept;
// make_nonblocking: sets the real O_NONBLOCK of a parkable fd if the hooks have not yet;
// false if fcntl failed (the fd is then used as it is).
bool make_nonblocking(int fd, FdEntry& e) noexcept;

}  // namespace gofer::hooks::detail
