// fd_table.cpp: the per-fd table (fd_table.hpp): pages allocated on first use, and classify().
#include "fd_table.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <cstdlib>
#include <new>

#include "real.hpp"

namespace gofer::hooks::detail {

namespace {

constexpr int page_bits = 10;
constexpr int page_size = 1 << page_bits;
constexpr int page_count = max_fds / page_size;

struct Page {
  FdEntry entries[page_size];
};

// pages: zero-initialized (constinit), so a hook that runs before any constructor finds them.
constinit std::atomic<Page*> pages[page_count] = {};

Page* page(int fd, bool allocate) noexcept {
  std::atomic<Page*>& slot = pages[fd >> page_bits];
  Page* p = slot.load(std::memory_order_acquire);
  if (p != nullptr || !allocate) {
    return p;
  }
  // calloc: zeroed atomics are valid empty entries (flags 0: unknown); no constructor runs,
  // so a hook may allocate a page before main.
  auto* fresh = static_cast<Page*>(std::calloc(1, sizeof(Page)));
  if (fresh == nullptr) {
    return nullptr;
  }
  if (!slot.compare_exchange_strong(p, fresh, std::memory_order_acq_rel)) {
    std::free(fresh);  // another thread's page won
    return p;
  }
  return fresh;
}

std::int64_t timeout_us(int fd, int opt) noexcept {
  timeval tv{};
  socklen_t len = sizeof tv;
  if (::getsockopt(fd, SOL_SOCKET, opt, &tv, &len) != 0) {
    return 0;
  }
  return static_cast<std::int64_t>(tv.tv_sec) * 1'000'000 + tv.tv_usec;
}

// identify: fd's (st_dev, st_ino) and kind; false when fd is not open.
bool identify(int fd, std::uint64_t& dev, std::uint64_t& ino, fd_kind& k) noexcept {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return false;
  }
  dev = st.st_dev;
  ino = st.st_ino;
  k = S_ISSOCK(st.st_mode)   ? fd_kind::socket
      : S_ISFIFO(st.st_mode) ? fd_kind::fifo
                             : fd_kind::other;
  return true;
}

}  // namespace

void FdEntry::record(int fd, fd_kind k, bool nonblock) noexcept {
  std::uint64_t d = 0;
  std::uint64_t i = 0;
  fd_kind actual = fd_kind::unknown;
  if (!identify(fd, d, i, actual) || actual != k) {
    reset();  // closed meanwhile by another thread, or not what the caller made
    return;
  }
  recv_timeout.store(0, std::memory_order_relaxed);
  send_timeout.store(0, std::memory_order_relaxed);
  dev.store(d, std::memory_order_relaxed);
  ino.store(i, std::memory_order_relaxed);
  flags.store(static_cast<std::uint32_t>(k) | (nonblock ? user_nonblock : 0),
              std::memory_order_relaxed);
}

FdEntry* entry(int fd) noexcept {
  if (fd < 0 || fd >= max_fds) {
    return nullptr;
  }
  Page* const p = page(fd, true);
  return p == nullptr ? nullptr : &p->entries[fd & (page_size - 1)];
}

FdEntry* find(int fd) noexcept {
  if (fd < 0 || fd >= max_fds) {
    return nullptr;
  }
  Page* const p = page(fd, false);
  return p == nullptr ? nullptr : &p->entries[fd & (page_size - 1)];
}

FdEntry* classified(int fd) noexcept {
  FdEntry* const e = entry(fd);
  if (e == nullptr || e->kind() != fd_kind::unknown) {
    return e;
  }
  std::uint64_t d = 0;
  std::uint64_t i = 0;
  fd_kind k = fd_kind::unknown;
  if (!identify(fd, d, i, k)) {
    return e;  // not open: stays unknown, the call itself reports EBADF
  }
  const int fl = k == fd_kind::other ? 0 : real_fcntl(fd, F_GETFL);
  e->recv_timeout.store(k == fd_kind::socket ? timeout_us(fd, SO_RCVTIMEO) : 0,
                        std::memory_order_relaxed);
  e->send_timeout.store(k == fd_kind::socket ? timeout_us(fd, SO_SNDTIMEO) : 0,
                        std::memory_order_relaxed);
  e->dev.store(d, std::memory_order_relaxed);
  e->ino.store(i, std::memory_order_relaxed);
  e->flags.store(static_cast<std::uint32_t>(k) |
                     (fl >= 0 && (fl & O_NONBLOCK) != 0 ? FdEntry::user_nonblock : 0),
                 std::memory_order_relaxed);
  return e;
}

bool same_object(int fd, FdEntry& e) noexcept {
  std::uint64_t d = 0;
  std::uint64_t i = 0;
  fd_kind k = fd_kind::unknown;
  if (identify(fd, d, i, k) && k == e.kind() && d == e.dev.load(std::memory_order_relaxed) &&
      i == e.ino.load(std::memory_order_relaxed)) {
    return true;
  }
  e.reset();
  return false;
}

bool make_nonblocking(int fd, FdEntry& e) noexcept {
  if (e.has(FdEntry::made_nonblock)) {
    return true;
  }
  const int fl = real_fcntl(fd, F_GETFL);
  if (fl < 0 || real_fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
    return false;
  }
  e.set(FdEntry::made_nonblock, true);
  return true;
}

}  // namespace gofer::hooks::detail
