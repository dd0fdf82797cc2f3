// server_process.hpp: what the real-server fixtures (redis_server.hpp, postgres_server.hpp)
// share: a scratch directory, a free loopback port, running a program (as an unprivileged user
// when the test runs as root), waiting until a port accepts, the tail of a log for error
// messages, and a Guardian process that stops the server and removes its directory when the
// test process ends, however it ends (a failed assertion, the watchdog's abort, a signal).
//
// Invariants: (1) every fixture starts its Guardian before or right after its server, so no
// server outlives the test process by more than the Guardian's grace period; (2) a server that
// cannot start throws std::runtime_error naming the command and ending with its log's tail:
// the test fails with the reason, it never skips.
// Thread-safety: none; fixtures are built and destroyed in plain test code.
// Blocking: everything here blocks the calling thread (process start-up, waitpid, polling a
// port); call it outside tasks.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

extern char** environ;

namespace gofer::test {

// find_program: the absolute path of `name`, searched in PATH and then in `extra` (directories
// Debian installs outside PATH, such as /usr/lib/postgresql/15/bin). Throws with the setup hint
// when it is nowhere.
inline std::string find_program(const std::string& name, const std::vector<std::string>& extra) {
  std::vector<std::string> dirs;
  const char* path = std::getenv("PATH");
  std::string p = path != nullptr ? path : "/usr/bin:/bin";
  for (std::size_t start = 0; start <= p.size();) {
    const std::size_t end = p.find(':', start);
    dirs.push_back(p.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  dirs.insert(dirs.end(), extra.begin(), extra.end());
  for (const auto& d : dirs) {
    const std::string candidate = d + "/" + name;
    if (!d.empty() && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  throw std::runtime_error(name +
                           " not found in PATH or the usual directories: install it with "
                           "scripts/setup.sh --integration");
}

// log_tail: the last `lines` lines of the file at `path` (a note when it cannot be read).
inline std::string log_tail(const std::string& path, std::size_t lines = 15) {
  std::ifstream in(path);
  if (!in) {
    return "(no log at " + path + ")";
  }
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(line);
    if (last.size() > lines) {
      last.pop_front();
    }
  }
  std::string out = "last lines of " + path + ":";
  for (const auto& l : last) {
    out += "\n  " + l;
  }
  return out;
}

// free_port: a loopback TCP port that was free a moment ago (the kernel's pick for port 0).
inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw std::system_error(errno, std::system_category(), "free_port: socket");
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const int e = errno;
    ::close(fd);
    throw std::system_error(e, std::system_category(), "free_port: bind 127.0.0.1:0");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

// accepts: a TCP connection to 127.0.0.1:port succeeds now.
inline bool accepts(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// Unprivileged: the user servers run as. PostgreSQL's initdb and postgres refuse to run as
// root, and CI runs as root: then programs run as `nobody` through util-linux's setpriv
// (runuser and su need a login shell and PAM; setpriv only switches ids). Otherwise as the
// current user, unchanged.
struct Unprivileged {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string setpriv;

  Unprivileged() {
    if (::geteuid() != 0) {
      return;
    }
    const passwd* pw = ::getpwnam("nobody");
    if (pw == nullptr) {
      throw std::runtime_error("running as root but there is no user 'nobody' to run servers as");
    }
    switch_user = true;
    uid = pw->pw_uid;
    gid = pw->pw_gid;
    setpriv = find_program("setpriv", {"/usr/bin", "/bin"});
  }
  // wrap: argv, run as this user.
  std::vector<std::string> wrap(std::vector<std::string> argv) const {
    if (!switch_user) {
      return argv;
    }
    std::vector<std::string> out{setpriv, "--reuid=" + std::to_string(uid),
                                 "--regid=" + std::to_string(gid), "--clear-groups", "--"};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
  }
  // give: makes `path` the user's (a scratch directory the server writes in).
  void give(const std::string& path) const {
    if (switch_user && ::chown(path.c_str(), uid, gid) != 0) {
      throw std::system_error(errno, std::system_category(), "chown " + path);
    }
  }
};

// command_line: argv joined with spaces, for messages.
inline std::string command_line(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    s += (s.empty() ? "" : " ") + a;
  }
  return s;
}

// spawn: starts argv[0] (an absolute path) with stdin from `stdin_fd` (or /dev/null when -1)
// and stdout and stderr appended to `log`; returns its pid.
inline pid_t spawn(const std::vector<std::string>& argv, const std::string& log,
                   int stdin_fd = -1) {
  posix_spawn_file_actions_t fa;
  ::posix_spawn_file_actions_init(&fa);
  if (stdin_fd >= 0) {
    ::posix_spawn_file_actions_adddup2(&fa, stdin_fd, 0);
  } else {
    ::posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  }
  ::posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ::posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  ::posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    throw std::system_error(rc, std::system_category(), "posix_spawn " + command_line(argv));
  }
  return pid;
}

// run: runs argv to its end (output appended to `log`) and returns its exit status (128+n
// when killed by signal n).
inline int run(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = spawn(argv, log);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// ScratchDir: a fresh directory under /tmp for one server (removed by that server's Guardian).
inline std::string make_scratch_dir(const std::string& what) {
  std::string tmpl = "/tmp/gofer_" + what + "_XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::system_error(errno, std::system_category(), "mkdtemp " + tmpl);
  }
  return tmpl;
}

// Guardian: a shell that waits for EOF on its stdin (a pipe whose only write end this process
// holds) and then runs `cleanup`. The destructor closes the pipe and waits for the cleanup to
// finish; if this process dies first, the kernel closes the pipe and the cleanup runs anyway.
class Guardian {
 public:
  Guardian(const std::string& cleanup, const std::string& log) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      throw std::system_error(errno, std::system_category(), "pipe2");
    }
    try {
      pid_ = spawn({"/bin/sh", "-c", "cat >/dev/null; " + cleanup}, log, fds[0]);
    } catch (...) {
      ::close(fds[0]);
      ::close(fds[1]);
      throw;
    }
    ::close(fds[0]);
    pipe_ = fds[1];
  }
  ~Guardian() {
    ::close(pipe_);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  Guardian(const Guardian&) = delete;
  Guardian& operator=(const Guardian&) = delete;

 private:
  pid_t pid_ = -1;
  int pipe_ = -1;
};

// wait_accepting: returns once 127.0.0.1:port accepts. Throws `what` plus the log's tail when
// the process `pid` (when >0, a child of ours; left unreaped) exits first or `limit` passes.
inline void wait_accepting(std::uint16_t port, pid_t pid, const std::string& what,
                           const std::string& log,
                           std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!accepts(port)) {
    siginfo_t info{};
    // WNOWAIT: the caller still reaps the child (and so never signals a recycled pid).
    if (pid > 0 &&
        ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == pid) {
      throw std::runtime_error(what + " exited (status " + std::to_string(info.si_status) +
                               ") before accepting on port " + std::to_string(port) + "; " +
                               log_tail(log));
    }
    if (std::chrono::steady_clock::now() > end) {
      throw std::runtime_error(what + " did not accept on port " + std::to_string(port) +
                               " within " + std::to_string(limit.count()) + " ms; " +
                               log_tail(log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace gofer::test
