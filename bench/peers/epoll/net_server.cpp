// net_server.cpp: the raw epoll echo server of bench/compare_net (the floor).
//
// Usage: net_epoll SIZE
//
// Listens on 127.0.0.1 (a free port, printed as "port=N" on stdout) and echoes SIZE-byte
// messages on every connection, as the other net_server peers do. One thread, one
// edge-triggered epoll registration per connection (EPOLLIN | EPOLLOUT | EPOLLET, added once
// and never modified, as Go's netpoller does). On a read edge it reads into a 64 KiB buffer
// until a read returns less than that (epoll(7): for a stream socket a short read means the
// buffer was drained, and new data raises a new edge; this saves the read that would return
// EAGAIN) and writes each whole message back with one write(2) of SIZE bytes: batched reads,
// one write per message, the least a per-message server can do. When a
// write is short (the socket buffer is full) the rest of it and the rest of that read wait in
// a per-connection queue and the connection stops reading (backpressure, as a server whose
// write parks) until the next write edge has flushed them; no byte is lost or reordered. A
// connection reads at most max_reads times per turn and then goes to the back of a ready
// list, so one streaming connection cannot starve the others.
// TCP_NODELAY is set on every connection, as in Go and gofer.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void fail_errno(const char* what) {
  std::fprintf(stderr, "net_epoll: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

struct Conn {
  int fd = -1;
  std::vector<char> in;       // a partial message
  std::vector<char> pending;  // bytes waiting for a write edge
  std::size_t pending_off = 0;
  bool ready = false;    // in the ready list: readable, stopped before draining it
  bool blocked = false;  // stopped reading until pending is flushed
};

class Server {
 public:
  explicit Server(std::size_t size) : size_(size), buf_(64 * 1024) {
    lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(lfd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(lfd_, SOMAXCONN) != 0) {
      fail_errno("bind/listen");
    }
    socklen_t len = sizeof addr;
    ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = nullptr;  // the listener
    if (ep_ < 0 || ::epoll_ctl(ep_, EPOLL_CTL_ADD, lfd_, &ev) != 0) {
      fail_errno("epoll");
    }
  }

  int port() const { return port_; }

  [[noreturn]] void run() {
    std::vector<epoll_event> evs(1024);
    std::vector<Conn*> turn;
    for (;;) {
      const int n =
          ::epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), ready_.empty() ? -1 : 0);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        fail_errno("epoll_wait");
      }
      turn.swap(ready_);
      for (int i = 0; i < n; ++i) {
        const auto& ev = evs[static_cast<std::size_t>(i)];
        if (ev.data.ptr == nullptr) {
          accept_all();
          continue;
        }
        auto* c = static_cast<Conn*>(ev.data.ptr);
        if (c->ready) {
          continue;  // read in its turn below; a pending write is flushed there too
        }
        if ((ev.events & EPOLLOUT) != 0 && !flush(*c)) {
          continue;
        }
        if ((ev.events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 ||
            ((ev.events & EPOLLOUT) != 0 && c->blocked)) {
          c->blocked = false;
          on_readable(c);
        }
      }
      for (Conn* c : turn) {
        c->ready = false;
        if (flush(*c)) {
          on_readable(c);
        }
      }
      turn.clear();
    }
  }

 private:
  void accept_all() {
    for (;;) {
      const int fd = ::accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN) {
          return;
        }
        if (errno == EINTR || errno == ECONNABORTED) {
          continue;
        }
        fail_errno("accept4");
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto* c = new Conn{fd, {}, {}, 0, false, false};
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
      ev.data.ptr = c;
      if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        fail_errno("epoll_ctl");
      }
    }
  }

  static void drop(Conn* c) {
    ::close(c->fd);  // also removes it from the epoll set
    delete c;
  }

  // flush: writes pending bytes; false when the connection was dropped.
  bool flush(Conn& c) {
    while (c.pending_off < c.pending.size()) {
      const ssize_t n =
          ::write(c.fd, c.pending.data() + c.pending_off, c.pending.size() - c.pending_off);
      if (n < 0) {
        if (errno == EAGAIN) {
          return true;
        }
        if (errno == EINTR) {
          continue;
        }
        drop(&c);
        return false;
      }
      c.pending_off += static_cast<std::size_t>(n);
    }
    c.pending.clear();
    c.pending_off = 0;
    return true;
  }

  // send: one message, written once (or queued behind pending bytes); false when dropped.
  bool send(Conn& c, const char* msg) {
    if (c.pending.empty()) {
      for (;;) {
        const ssize_t n = ::write(c.fd, msg, size_);
        if (n == static_cast<ssize_t>(size_)) {
          return true;
        }
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if (n < 0 && errno != EAGAIN) {
          drop(&c);
          return false;
        }
        const std::size_t done = n < 0 ? 0 : static_cast<std::size_t>(n);
        c.pending.assign(msg + done, msg + size_);
        return true;
      }
    }
    c.pending.insert(c.pending.end(), msg, msg + size_);
    return true;
  }

  // on_readable: reads until a short read or EAGAIN, at most max_reads times (then c joins the
  // ready list), or until a write is short (then c is blocked until its next write edge).
  void on_readable(Conn* c) {
    for (int reads = 0;; ++reads) {
      if (!c->pending.empty()) {
        c->blocked = true;
        return;
      }
      if (reads == max_reads) {
        c->ready = true;
        ready_.push_back(c);
        return;
      }
      const ssize_t n = ::read(c->fd, buf_.data(), buf_.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0 && errno == EAGAIN) {
        return;
      }
      if (n <= 0) {  // EOF or an error: the client went away
        drop(c);
        return;
      }
      const char* p = buf_.data();
      auto left = static_cast<std::size_t>(n);
      const bool drained = left < buf_.size();
      if (!c->in.empty()) {
        const std::size_t take = std::min(left, size_ - c->in.size());
        c->in.insert(c->in.end(), p, p + take);
        p += take;
        left -= take;
        if (c->in.size() < size_) {
          if (drained) {
            return;
          }
          continue;
        }
        if (!send(*c, c->in.data())) {
          return;
        }
        c->in.clear();
      }
      for (; left >= size_; p += size_, left -= size_) {
        if (!send(*c, p)) {
          return;
        }
      }
      c->in.assign(p, p + left);
      if (drained) {
        return;
      }
    }
  }

  static constexpr int max_reads = 16;

  std::size_t size_;
  std::vector<char> buf_;
  std::vector<Conn*> ready_;
  int lfd_ = -1;
  int ep_ = -1;
  int port_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const long size = argc == 2 ? std::strtol(argv[1], nullptr, 10) : 0;
  if (size <= 0) {
    std::fprintf(stderr, "usage: net_epoll SIZE\n");
    return 2;
  }
  Server s(static_cast<std::size_t>(size));
  std::printf("port=%d\n", s.port());
  std::fflush(stdout);
  s.run();
}
