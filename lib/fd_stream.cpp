// fd_stream.cpp: FdStream (see fd_stream.hpp for the modes and invariants).
#include "fd_stream.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>
#include <system_error>

#include <gofer/blocking.hpp>

#include "errno_error.hpp"
#include "fd_wait.hpp"

namespace gofer::detail {

namespace {

constexpr std::size_t chunk_size = 64 * 1024;
constexpr std::size_t readiness_write_max = 4096;

// write_no_sigpipe: write(2) with SIGPIPE blocked in this thread; a SIGPIPE this write raised
// is consumed (unless one was already pending), so EPIPE is reported as an error instead.
ssize_t write_no_sigpipe(int fd, const char* p, std::size_t n) noexcept {
  sigset_t pipe_set;
  sigset_t old_set;
  sigset_t pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigemptyset(&pending);
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  const ssize_t r = ::write(fd, p, n);
  const int err = errno;
  if (r < 0 && err == EPIPE && !was_pending) {
    const timespec zero{};
    while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  errno = err;
  return r;
}

// settle: waits for an offloaded job until the deadline; empty on timeout (the job stays
// pending, as it does when the wait is cancelled); otherwise the job is consumed, its
// exception rethrown.
template <class T>
auto settle(std::optional<Task<T>>& job, clock::time_point deadline) {
  using R = decltype(job->wait_until(deadline));
  if (!detail_state(*job).await(deadline)) {
    return R{};
  }
  Task<T> done = std::move(*job);
  job.reset();
  return done.wait_until(deadline);
}

// discard: waits for an offloaded job without cancellation and drops its outcome.
template <class T>
void discard(std::optional<Task<T>>& job) noexcept {
  if (!job) {
    return;
  }
  detail_state(*job).await(no_deadline, false);
  try {
    job->wait();
  } catch (...) {  // nobody asked for this outcome any more: the stream is closing
  }
  job.reset();
}

bool is_disk(int fd) noexcept {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

}  // namespace

void throw_timed_out(std::string_view op, std::string_view name) {
  std::string what(name);
  what += ": deadline passed";
  throw_errno_value(ETIMEDOUT, op, what);
}

FdStream::FdStream(UniqueFd fd, std::string name, bool may_set_nonblocking, bool is_socket)
    : fd_(std::move(fd)), name_(std::move(name)), socket_(is_socket) {
  if (is_disk(fd_.get())) {
    mode_ = io_mode::offload;
  } else if (may_set_nonblocking && set_nonblocking(fd_.get())) {
    mode_ = io_mode::nonblocking;
  } else {
    mode_ = io_mode::readiness;
  }
}

FdStream::~FdStream() {
  close();
}

void FdStream::check_open(std::string_view op) const {
  if (!fd_) {
    throw_errno_value(EBADF, op, name_ + " (the stream is closed)");
  }
}

void FdStream::close() noexcept {
  // A job a deadline left running still uses the fd: let it finish first (invariant 2).
  discard(pending_read_);
  discard(pending_write_);
  if (fd_ && mode_ != io_mode::offload) {
    forget_fd(fd_.get());
  }
  fd_.reset();
  buf_.clear();
  pos_ = 0;
}

bool FdStream::await_fd(Interest interest, clock::time_point deadline, std::string_view op) {
  try {
    if (!wait_fd(fd_.get(), interest, deadline)) {
      throw_timed_out(op, name_);
    }
    return true;
  } catch (const std::system_error& e) {
    if (e.code().value() != EPERM || e.code().category() != std::system_category()) {
      throw;
    }
    mode_ = io_mode::offload;  // epoll refuses this fd: it is served like a disk file
    return false;
  }
}

std::size_t FdStream::read_raw(char* out, std::size_t n, clock::time_point deadline) {
  check_open("read");
  for (;;) {
    if (mode_ == io_mode::offload) {
      return read_offloaded(out, n, deadline);
    }
    if (mode_ == io_mode::readiness && !await_fd(Interest::readable, deadline, "read")) {
      continue;
    }
    const ssize_t r = socket_ ? ::recv(fd_.get(), out, n, 0) : ::read(fd_.get(), out, n);
    if (r >= 0) {
      return static_cast<std::size_t>(r);
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      await_fd(Interest::readable, deadline, "read");
      continue;
    }
    throw_errno("read", name_);
  }
}

std::size_t FdStream::read_offloaded(char* out, std::size_t n, clock::time_point deadline) {
  if (!pending_read_) {
    pending_read_.emplace(spawn_blocking([fd = fd_.get(), n, name = name_] {
      std::string data(std::min(n, chunk_size), '\0');
      ssize_t r = 0;
      do {
        r = ::read(fd, data.data(), data.size());
      } while (r < 0 && errno == EINTR);
      if (r < 0) {
        throw_errno("read", name);
      }
      data.resize(static_cast<std::size_t>(r));
      return data;
    }));
  }
  // An earlier job may have read more than n (it was sized for another call): the surplus
  // goes to the buffer.
  auto got = settle(pending_read_, deadline);
  if (!got) {
    throw_timed_out("read", name_);
  }
  const std::size_t k = std::min(n, got->size());
  std::memcpy(out, got->data(), k);
  if (k < got->size()) {
    compact();
    buf_.insert(pos_, got->data() + k, got->size() - k);
  }
  return k;
}

void FdStream::compact() noexcept {
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
}

bool FdStream::fill(clock::time_point deadline) {
  compact();
  if (pos_ > 0 && pos_ >= buf_.size() / 2) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  const std::size_t old = buf_.size();
  buf_.resize(old + chunk_size);
  std::size_t got = 0;
  try {
    got = read_raw(buf_.data() + old, chunk_size, deadline);
  } catch (...) {
    buf_.resize(std::min(old, buf_.size()));  // close() may have emptied it meanwhile
    throw;
  }
  buf_.resize(old + got);
  return got > 0;
}

std::size_t FdStream::read_some(char* out, std::size_t n, clock::time_point deadline) {
  check_open("read");
  if (n == 0) {
    return 0;
  }
  if (buffered() > 0) {
    const std::size_t k = std::min(n, buffered());
    std::memcpy(out, buf_.data() + pos_, k);
    pos_ += k;
    compact();
    return k;
  }
  return read_raw(out, n, deadline);
}

std::size_t FdStream::read_exact(char* out, std::size_t n, clock::time_point deadline) {
  std::size_t done = 0;
  try {
    while (done < n) {
      const std::size_t k = read_some(out + done, n - done, deadline);
      if (k == 0) {
        break;
      }
      done += k;
    }
  } catch (...) {
    // Invariant 1: the bytes already copied out go back in front of the buffer.
    buf_.insert(pos_, out, done);
    throw;
  }
  return done;
}

std::string FdStream::read_chunk(std::size_t n, clock::time_point deadline) {
  std::string out(n, '\0');
  out.resize(read_some(out.data(), n, deadline));
  return out;
}

std::optional<std::string> FdStream::read_line(clock::time_point deadline) {
  check_open("read_line");
  std::size_t scanned = pos_;
  for (;;) {
    const auto nl = buf_.find('\n', scanned);
    if (nl != std::string::npos) {
      std::size_t end = nl;
      if (end > pos_ && buf_[end - 1] == '\r') {
        --end;
      }
      std::string line = buf_.substr(pos_, end - pos_);
      pos_ = nl + 1;
      compact();
      return line;
    }
    const std::size_t seen = buf_.size() - pos_;
    if (!fill(deadline)) {
      if (buffered() == 0) {
        return std::nullopt;
      }
      std::string line = buf_.substr(pos_);
      pos_ = buf_.size();
      compact();
      return line;
    }
    scanned = pos_ + seen;  // fill() may have moved the unread bytes to the front
  }
}

std::string FdStream::read_all(clock::time_point deadline) {
  check_open("read_all");
  while (fill(deadline)) {
  }
  std::string out = buf_.substr(pos_);
  buf_.clear();
  pos_ = 0;
  return out;
}

void FdStream::write_all(std::string_view bytes, clock::time_point deadline) {
  check_open("write");
  if (pending_write_ && !settle(pending_write_, deadline)) {
    throw_timed_out("write", name_);
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    if (mode_ == io_mode::offload) {
      write_offloaded(bytes.substr(done), deadline);
      return;
    }
    std::size_t n = bytes.size() - done;
    if (mode_ == io_mode::readiness) {
      if (!await_fd(Interest::writable, deadline, "write")) {
        continue;
      }
      n = std::min(n, readiness_write_max);
    }
    const char* p = bytes.data() + done;
    const ssize_t r =
        socket_ ? ::send(fd_.get(), p, n, MSG_NOSIGNAL) : write_no_sigpipe(fd_.get(), p, n);
    if (r >= 0) {
      done += static_cast<std::size_t>(r);
      continue;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      await_fd(Interest::writable, deadline, "write");
      continue;
    }
    throw_errno("write", name_);
  }
}

void FdStream::write_offloaded(std::string_view bytes, clock::time_point deadline) {
  pending_write_.emplace(spawn_blocking([fd = fd_.get(), data = std::string(bytes), name = name_] {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t r = write_no_sigpipe(fd, data.data() + done, data.size() - done);
      if (r < 0 && errno == EINTR) {
        continue;
      }
      if (r < 0) {
        throw_errno("write", name);
      }
      done += static_cast<std::size_t>(r);
    }
  }));
  if (!settle(pending_write_, deadline)) {
    throw_timed_out("write", name_);  // the write goes on; the next call or close() settles it
  }
}

}  // namespace gofer::detail
