// fd_stream.cpp: FdStream (see fd_stream.hpp for the modes and invariants).
#include "fd_stream.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include <gofer/blocking.hpp>
#include <gofer/time.hpp>

#include "errno_error.hpp"

namespace gofer::detail {

namespace {

constexpr std::size_t chunk_size = 64 * 1024;
constexpr std::size_t readiness_write_max = 4096;
// batch_below: a read of fewer bytes into an empty buffer asks the kernel for a whole scratch
// block (Go's bufio.Reader: a read at least as large as the buffer goes direct).
constexpr std::size_t batch_below = ReadBuffer::initial_capacity;
constexpr std::size_t scratch_size = 64 * 1024;

// fair_syscalls: a thread whose I/O calls made this many read/write syscalls in a row without
// one of them finding the fd not ready (EAGAIN) yields once before the next one, so a task fed
// by a fast peer (a stream whose reads and writes never wait) cannot keep the thread's other
// tasks from running (Go preempts such a goroutine after 10 ms instead).
constexpr int fair_syscalls = 16;
thread_local int unwaited_syscalls = 0;

// take_turn: before a syscall of a polled read or write; yields the thread every
// fair_syscalls calls that did not wait. A yield is a cancellation point: it may throw
// gofer::cancelled, before the syscall, so nothing is lost.
void take_turn() {
  if (++unwaited_syscalls >= fair_syscalls) {
    unwaited_syscalls = 0;
    yield();
  }
}

// scratch: this thread's block for batched reads, made on first use. Valid only between one
// read(2) and the copy out of it: the task must not park in between (another task of the
// thread may use it then).
char* scratch() {
  thread_local std::unique_ptr<char[]> block;
  if (block == nullptr) {
    block = std::make_unique_for_overwrite<char[]>(scratch_size);
  }
  return block.get();
}

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
  using R = decltype(job->wait(Deadline(deadline)));
  if (!detail_state(*job).await(deadline)) {
    return R{};
  }
  Task<T> done = std::move(*job);
  job.reset();
  return done.wait(Deadline(deadline));
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

FdStream::FdStream(UniqueFd fd, std::string name, bool may_set_nonblocking, bool is_socket)
    : name_(std::move(name)), pfd_(std::move(fd)), socket_(is_socket) {
  if (is_disk(pfd_.fd())) {
    mode_ = io_mode::offload;
  } else if (may_set_nonblocking && set_nonblocking(pfd_.fd())) {
    mode_ = io_mode::nonblocking;
  } else {
    mode_ = io_mode::readiness;
    pfd_.set_level_triggered();  // one syscall per wait, not until EAGAIN: edges would not do
  }
}

FdStream::~FdStream() {
  close();
}

void FdStream::check_open(std::string_view op) const {
  if (!pfd_.is_open()) {
    throw_closed(op, name_);
  }
}

void FdStream::close() noexcept {
  pfd_.close([this]() noexcept {
    // A job a deadline left running still uses the fd: let it finish first (invariant 2).
    discard(pending_read_);
    discard(pending_write_);
    buf_.clear();
  });
}

bool FdStream::await_fd(Interest interest, clock::time_point deadline, const char* op) {
  unwaited_syscalls = 0;  // the thread's other tasks may run while this one waits
  try {
    pfd_.wait(interest, deadline, op, name_);
    return true;
  } catch (const std::system_error& e) {
    if (e.code().value() != EPERM || e.code().category() != std::system_category()) {
      throw;
    }
    mode_ = io_mode::offload;  // epoll refuses this fd: it is served like a disk file
    return false;
  }
}

std::optional<std::size_t> FdStream::read_polled(char* out, std::size_t n,
                                                 clock::time_point deadline, bool batch) {
  const int fd = pfd_.fd();
  for (;;) {
    if (mode_ == io_mode::offload) {
      return std::nullopt;
    }
    pfd_.check_open("read", name_);
    if (mode_ == io_mode::readiness && !await_fd(Interest::readable, deadline, "read")) {
      continue;
    }
    take_turn();
    if (transport_ != nullptr) {  // TLS: its records are read whole, no batching here
      const IoStep step = transport_->read(out, n);
      if (!step.wait) {
        return step.n;
      }
      await_fd(*step.wait, deadline, "read");
      continue;
    }
    if (std::exchange(drained_, false)) {
      // The last read came up short on a TCP socket: it is empty until its next edge, so wait
      // for that instead of a recv that would say EAGAIN.
      await_fd(Interest::readable, deadline, "read");
    }
    // The scratch block is fetched after any wait or yield, and used up before the next one.
    char* into = batch ? scratch() : out;
    const std::size_t ask = batch ? scratch_size : n;
    const ssize_t r = socket_ ? ::recv(fd, into, ask, 0) : ::read(fd, into, ask);
    drained_ = tcp_ && r > 0 && static_cast<std::size_t>(r) < ask && pfd_.short_read_drains();
    if (r >= 0 && batch) {
      const auto got = static_cast<std::size_t>(r);
      const std::size_t k = std::min(n, got);
      buf_.append(into + k, got - k);
      std::memcpy(out, into, k);
      return k;
    }
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

std::size_t FdStream::read_offloaded(std::size_t n, clock::time_point deadline) {
  if (!pending_read_) {
    pending_read_.emplace(spawn_blocking([fd = pfd_.fd(), n, name = name_] {
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
    yield();  // a job the page cache serves at once must not let a large read hog the thread
  }
  // An earlier job may have read more than n (it was sized for another call): all of it goes
  // to the buffer.
  auto got = settle(pending_read_, effective(deadline, Interest::readable));
  if (!got) {
    throw_timed_out("read", name_);
  }
  buf_.append(got->data(), got->size());
  return got->size();
}

bool FdStream::fill(clock::time_point deadline, std::size_t most) {
  // As much again as the buffer holds: a line that needs room grows it geometrically.
  const std::size_t want = std::min(most, std::max(ReadBuffer::initial_capacity, buf_.size()));
  char* room = buf_.prepare(want);
  std::optional<std::size_t> got;
  try {
    got = read_polled(room, std::min(most, buf_.room()), deadline, false);
  } catch (...) {
    buf_.commit(0);  // gives back a block allocated for this read (or emptied by close())
    throw;
  }
  if (got) {
    buf_.commit(*got);
    return *got > 0;
  }
  buf_.commit(0);
  return read_offloaded(want, deadline) > 0;
}

std::size_t FdStream::read_some(char* out, std::size_t n, clock::time_point deadline) {
  PollFd::Use use(pfd_, Interest::readable, "read", name_);
  return take_some(out, n, deadline);
}

std::size_t FdStream::take_some(char* out, std::size_t n, clock::time_point deadline) {
  if (n == 0) {
    return 0;
  }
  if (buf_.empty()) {
    const bool batch = n < batch_below && mode_ == io_mode::nonblocking;
    if (auto got = read_polled(out, n, deadline, batch)) {
      return *got;
    }
    read_offloaded(n, deadline);
  }
  const std::size_t k = std::min(n, buf_.size());
  if (k > 0) {
    std::memcpy(out, buf_.data(), k);
    buf_.consume(k);
  }
  return k;
}

std::size_t FdStream::read_exact(char* out, std::size_t n, clock::time_point deadline) {
  PollFd::Use use(pfd_, Interest::readable, "read", name_);
  std::size_t done = 0;
  try {
    while (done < n) {
      const std::size_t k = take_some(out + done, n - done, deadline);
      if (k == 0) {
        break;
      }
      done += k;
    }
  } catch (...) {
    // Invariant 1: the bytes already copied out go back in front of the buffer.
    buf_.prepend(out, done);
    throw;
  }
  return done;
}

std::string FdStream::read_chunk(std::size_t n, clock::time_point deadline) {
  std::string out(n, '\0');
  out.resize(read_some(out.data(), n, deadline));
  return out;
}

void FdStream::set_max_line_length(std::size_t n, std::string_view who) {
  if (n == 0) {
    throw std::invalid_argument(std::string(who) +
                                ": max line length 0 is invalid (it must be at least 1 byte)");
  }
  max_line_ = n;
}

bool FdStream::line_too_long(std::size_t n, char last) const noexcept {
  // n bytes without "\n": too long unless they are max_line_ bytes and a "\r" that may turn
  // out to be the start of "\r\n".
  return n > max_line_ && (n - 1 != max_line_ || last != '\r');
}

void FdStream::throw_line_too_long() const {
  throw_errno_value(EMSGSIZE, "read_line",
                    name_ + ": line longer than max_line_length " + std::to_string(max_line_) +
                        " bytes (its bytes stay buffered for read)");
}

std::optional<std::string> FdStream::read_line(clock::time_point deadline) {
  PollFd::Use use(pfd_, Interest::readable, "read_line", name_);
  std::size_t scanned = 0;
  for (;;) {
    const std::size_t held = buf_.size();
    const char* p = buf_.data();
    const void* nl = held > scanned ? std::memchr(p + scanned, '\n', held - scanned) : nullptr;
    if (nl != nullptr) {
      const std::size_t next = static_cast<std::size_t>(static_cast<const char*>(nl) - p) + 1;
      std::size_t end = next - 1;
      if (end > 0 && p[end - 1] == '\r') {
        --end;
      }
      if (end > max_line_) {
        throw_line_too_long();  // bytes an unbounded read (a disk chunk) buffered at once
      }
      std::string line(p, end);
      buf_.consume(next);
      return line;
    }
    scanned = held;
    if (held > 0 && line_too_long(held, p[held - 1])) {
      throw_line_too_long();
    }
    // Read no further than it takes to decide: max_line_ bytes and "\r\n".
    const std::size_t most =
        held > max_line_ ? 1 : (max_line_ - held > SIZE_MAX - 2 ? SIZE_MAX : max_line_ - held + 2);
    if (!fill(deadline, most)) {
      if (buf_.empty()) {
        return std::nullopt;
      }
      if (buf_.size() > max_line_) {
        throw_line_too_long();
      }
      return buf_.take(buf_.size());
    }
  }
}

std::string FdStream::read_all(clock::time_point deadline) {
  PollFd::Use use(pfd_, Interest::readable, "read_all", name_);
  while (fill(deadline, SIZE_MAX)) {
  }
  return buf_.take(buf_.size());
}

void FdStream::write_all(std::string_view bytes, clock::time_point deadline) {
  PollFd::Use use(pfd_, Interest::writable, "write", name_);
  if (pending_write_ && !settle(pending_write_, effective(deadline, Interest::writable))) {
    throw_timed_out("write", name_);
  }
  const int fd = pfd_.fd();
  std::size_t done = 0;
  while (done < bytes.size()) {
    if (mode_ == io_mode::offload) {
      write_offloaded(bytes.substr(done), deadline);
      return;
    }
    pfd_.check_open("write", name_);
    std::size_t n = bytes.size() - done;
    if (mode_ == io_mode::readiness) {
      if (!await_fd(Interest::writable, deadline, "write")) {
        continue;
      }
      n = std::min(n, readiness_write_max);
    }
    take_turn();
    const char* p = bytes.data() + done;
    if (transport_ != nullptr) {
      const IoStep step = transport_->write(p, n);
      if (step.wait) {
        await_fd(*step.wait, deadline, "write");
      }
      done += step.n;
      continue;
    }
    const ssize_t r = socket_ ? ::send(fd, p, n, MSG_NOSIGNAL) : write_no_sigpipe(fd, p, n);
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
  // A transport may hold bytes it accepted (TLS records): they leave before write returns.
  while (transport_ != nullptr) {
    pfd_.check_open("write", name_);
    const std::optional<Interest> w = transport_->flush();
    if (!w) {
      break;
    }
    await_fd(*w, deadline, "write");
  }
}

void FdStream::write_offloaded(std::string_view bytes, clock::time_point deadline) {
  pending_write_.emplace(spawn_blocking([fd = pfd_.fd(), data = std::string(bytes), name = name_] {
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
  if (!settle(pending_write_, effective(deadline, Interest::writable))) {
    throw_timed_out("write", name_);  // the write goes on; the next call or close() settles it
  }
}

}  // namespace gofer::detail
