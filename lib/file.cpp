// file.cpp: File (see file.hpp) on top of FdStream, and the standard-stream singletons.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <gofer/blocking.hpp>
#include <gofer/file.hpp>

#include "errno_error.hpp"
#include "fd_stream.hpp"

namespace gofer {

namespace {

int open_flags(open_mode mode) {
  switch (mode) {
    case open_mode::read:
      return O_RDONLY;
    case open_mode::write:
      return O_WRONLY | O_CREAT | O_TRUNC;
    case open_mode::append:
      return O_WRONLY | O_CREAT | O_APPEND;
    case open_mode::read_write:
      return O_RDWR;
    case open_mode::create_new:
      return O_WRONLY | O_CREAT | O_EXCL;
  }
  throw std::invalid_argument("gofer::File::open: unknown open_mode " +
                              std::to_string(static_cast<int>(mode)));
}

File& standard_file(int fd, const char* name) {
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) {
    detail::throw_errno("dup", name);
  }
  return *new File(std::make_unique<detail::FdStream>(detail::UniqueFd(copy), name, false));
}

}  // namespace

File::File() noexcept = default;
File::File(std::unique_ptr<detail::FdStream> s) noexcept : s_(std::move(s)) {}
File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

File File::open(const std::string& path, open_mode mode, Deadline d) {
  const int flags = open_flags(mode) | O_CLOEXEC | O_NOCTTY;
  // open(2) of a FIFO blocks until the other end opens, and of a file on a slow disk may
  // block too: both go to the pool. The job owns copies of what it uses and returns an owned
  // fd and an errno, never throws: when the deadline passes or the caller is stopped, the job
  // is left to finish alone, and the fd it may still open is closed with its result.
  struct Opened {
    detail::UniqueFd fd;
    int err = 0;
  };
  auto job = spawn_blocking([path, flags] {
    int r = 0;
    do {
      r = ::open(path.c_str(), flags, 0644);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? Opened{detail::UniqueFd(), errno} : Opened{detail::UniqueFd(r), 0};
  });
  std::optional<Opened> opened = job.wait(d);
  if (!opened) {
    detail::throw_timed_out("open", path);
  }
  if (opened->err != 0) {
    detail::throw_errno_value(opened->err, "open", path);
  }
  return File(std::make_unique<detail::FdStream>(std::move(opened->fd), path, true));
}

File File::from_fd(int fd, std::string name) {
  if (fd < 0) {
    throw std::invalid_argument("gofer::File::from_fd: invalid fd " + std::to_string(fd));
  }
  if (name.empty()) {
    name = "fd " + std::to_string(fd);
  }
  return File(std::make_unique<detail::FdStream>(detail::UniqueFd(fd), std::move(name), true));
}

const std::string& File::name() const noexcept {
  static const std::string none;
  return s_ != nullptr ? s_->name() : none;
}

// The standard Files live until exit and are never destroyed: other code may still print
// from static destructors, and a File's destructor may need the blocking pool.
File& stdin_file() {
  static File& f = standard_file(0, "stdin");
  return f;
}
File& stdout_file() {
  static File& f = standard_file(1, "stdout");
  return f;
}
File& stderr_file() {
  static File& f = standard_file(2, "stderr");
  return f;
}

}  // namespace gofer
