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
// Stale entries. An fd closed behind the hooks' back (glibc's internal close in fclose, a
// raw syscall as the sanitizer runtimes make, close_range) keeps its entry, and its number
// may be reused by an fd the hooks never saw (an eventfd, an epoll fd, a pipe made by
// glibc's own pipe2). So an entry also holds the identity (st_dev, st_ino) of the object it
// describes, and same_object() checks it, one fstat, before the hooks act on the entry in a
// way that matters: before they set O_NONBLOCK, before each park, and before a plain thread
// waits in poll(). A mismatch resets the entry (the fd is classified afresh).
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
  std::atomic<std::uint64_t> dev{0};          // the object's st_dev and st_ino
  std::atomic<std::uint64_t> ino{0};

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
  // record: fd is a fresh object of a known kind, made with or without O_NONBLOCK.
  void record(int fd, fd_kind k, bool nonblock) noexcept;
  // copy_from: a dup of `from` (same open file description, hence same flags and timeouts).
  void copy_from(const FdEntry& from) noexcept {
    recv_timeout.store(from.recv_timeout.load(std::memory_order_relaxed),
                       std::memory_order_relaxed);
    send_timeout.store(from.send_timeout.load(std::memory_order_relaxed),
                       std::memory_order_relaxed);
    dev.store(from.dev.load(std::memory_order_relaxed), std::memory_order_relaxed);
    ino.store(from.ino.load(std::memory_order_relaxed), std::memory_order_relaxed);
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
// make_nonblocking: sets the real O_NONBLOCK of a parkable fd if the hooks have not yet
// (the caller checked same_object first); false if fcntl failed (the fd is then used as it
// is).
bool make_nonblocking(int fd, FdEntry& e) noexcept;
// same_object: whether e still describes the object fd refers to (one fstat); if not, e is
// reset.
bool same_object(int fd, FdEntry& e) noexcept;

}  // namespace gofer::hooks::detail
