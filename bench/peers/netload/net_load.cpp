// net_load.cpp: the one load generator of bench/compare_net, the same binary for every server.
//
// Usage: net_load --port P --mode pingpong|stream --conns N --size S
//                 [--warmup SEC] [--duration SEC] [--server-pid PID]
//                 [--perf-ctl FIFO --perf-ack FIFO]
//
// A single-threaded, edge-triggered epoll client on 127.0.0.1 (bench/compare_net pins it to
// one core and the server to the other). It opens N connections (TCP_NODELAY, as Go and gofer
// set on theirs), then drives them for warmup + duration seconds and measures the last
// `duration` seconds only (the window):
//   pingpong  each connection sends one S-byte request, waits for the whole S-byte reply,
//             checks it and sends the next: round trips/s, and the latency of every round trip
//             in the window in a log-linear histogram (1/32 octave: 3% resolution) giving
//             p50/p99/p99.9.
//   stream    each connection has a sender that writes S-byte messages back to back while the
//             socket takes them and a receiver that reads whatever arrived (64 KiB per read)
//             and checks each echoed message in order: messages/s echoed.
// Every message carries its connection and sequence number and a per-connection fill
// pattern; every reply is checked byte for byte, and a wrong, missing or reordered byte, an
// EOF, or (ping-pong) a connection that got no reply in the whole run fails the run (exit 1, a
// message on stderr); ping-pong goes on after the window (unmeasured, up to 10 s) until every
// connection has had a reply. Streaming connections that got nothing back in the window are counted
// (starved=K): a server may keep serving one stream while its data keeps coming.
// With --server-pid, the server's CPU time (utime + stime of /proc/PID/stat, every thread)
// over the window is reported per request.
// With --perf-ctl CTL --perf-ack ACK (the FIFOs of `perf stat -D -1 --control
// fifo:CTL,ACK`), perf counts exactly the window: "enable" at its start, "disable" at its end,
// each acknowledged before the clock is read.
// Prints one line: "mode=M conns=N size=S count=K rate=R p50_us=.. p99_us=.. p999_us=..
// server_cpu_us=C total=T starved=K" (rate: requests/s in the window; total: requests of the
// whole run; percentiles 0 in stream mode, server_cpu_us -1 without --server-pid).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "net_load: FAILED: %s\n", what.c_str());
  std::exit(1);
}

[[noreturn]] void fail_errno(const std::string& what) {
  fail(what + ": " + std::strerror(errno));
}

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// server_cpu_ticks: utime + stime of a whole process, in clock ticks; -1 without a pid.
long long server_cpu_ticks(int pid) {
  if (pid <= 0) {
    return -1;
  }
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  std::array<char, 1024> buf{};
  const ssize_t n = fd < 0 ? -1 : ::read(fd, buf.data(), buf.size() - 1);
  if (fd >= 0) {
    ::close(fd);
  }
  const std::string_view s(buf.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
  const auto close_paren = s.rfind(')');  // the command name may hold spaces
  if (close_paren == std::string_view::npos) {
    fail("cannot read " + path);
  }
  // Fields after the name: 3 state, 4 ppid, ... 14 utime, 15 stime.
  long long utime = 0;
  long long stime = 0;
  int field = 2;
  const char* p = s.data() + close_paren + 1;
  const char* const end = s.data() + s.size();
  while (p < end && field < 15) {
    while (p < end && *p == ' ') {
      ++p;
    }
    ++field;
    char* next = nullptr;
    const long long v = std::strtoll(p, &next, 10);
    if (field == 14) {
      utime = v;
    } else if (field == 15) {
      stime = v;
    }
    while (p < end && *p != ' ') {
      ++p;
    }
  }
  if (field != 15) {
    fail("cannot parse " + path);
  }
  return utime + stime;
}

// Histogram: log-linear buckets of nanoseconds, 32 per octave (HdrHistogram's layout).
class Histogram {
 public:
  void add(std::int64_t ns) {
    const auto v = static_cast<std::uint64_t>(ns < 0 ? 0 : ns);
    ++counts_[index(v)];
    ++total_;
  }
  // percentile: the midpoint of the bucket holding the q-quantile, in microseconds.
  double percentile(double q) const {
    if (total_ == 0) {
      return 0;
    }
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        return midpoint(i) / 1e3;
      }
    }
    return midpoint(counts_.size() - 1) / 1e3;
  }

 private:
  static constexpr int sub_bits = 5;  // 32 buckets per power of two
  static std::size_t index(std::uint64_t v) {
    const int msb = 63 - std::countl_zero(v | 1);
    if (msb < sub_bits) {
      return v;
    }
    const int shift = msb - sub_bits;
    return static_cast<std::size_t>(shift) * 32 + static_cast<std::size_t>(v >> shift);
  }
  static double midpoint(std::size_t i) {
    if (i < 64) {
      return static_cast<double>(i);
    }
    const std::size_t shift = i / 32 - 1;
    const std::uint64_t low = (i - shift * 32) << shift;
    return static_cast<double>(low) + static_cast<double>((std::uint64_t{1} << shift)) / 2;
  }

  std::array<std::uint64_t, 64 * 32> counts_{};
  std::uint64_t total_ = 0;
};

// PerfControl: enables and disables a `perf stat --control` session; does nothing without one.
class PerfControl {
 public:
  PerfControl(const std::string& ctl, const std::string& ack) {
    if (ctl.empty()) {
      return;
    }
    ctl_ = ::open(ctl.c_str(), O_WRONLY | O_CLOEXEC);
    ack_ = ::open(ack.c_str(), O_RDONLY | O_CLOEXEC);
    if (ctl_ < 0 || ack_ < 0) {
      fail_errno("open the perf control FIFOs " + ctl + ", " + ack);
    }
  }
  PerfControl(const PerfControl&) = delete;
  PerfControl& operator=(const PerfControl&) = delete;
  ~PerfControl() {
    if (ctl_ >= 0) {
      ::close(ctl_);
      ::close(ack_);
    }
  }

  void command(std::string_view cmd) {
    if (ctl_ < 0) {
      return;
    }
    if (::write(ctl_, cmd.data(), cmd.size()) != static_cast<ssize_t>(cmd.size())) {
      fail_errno("write to the perf control FIFO");
    }
    std::array<char, 16> ack{};
    if (::read(ack_, ack.data(), ack.size()) <= 0) {
      fail_errno("read perf's acknowledgement");
    }
  }

 private:
  int ctl_ = -1;
  int ack_ = -1;
};

struct Options {
  int port = 0;
  std::string mode;
  int conns = 0;
  std::size_t size = 0;
  double warmup = 0.5;
  double duration = 2.0;
  int server_pid = 0;
  std::string perf_ctl;
  std::string perf_ack;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 >= argc) {
      fail("option " + std::string(a) + " needs a value");
    }
    const std::string v = argv[++i];
    try {
      if (a == "--port") {
        o.port = std::stoi(v);
      } else if (a == "--mode") {
        o.mode = v;
      } else if (a == "--conns") {
        o.conns = std::stoi(v);
      } else if (a == "--size") {
        o.size = static_cast<std::size_t>(std::stoul(v));
      } else if (a == "--warmup") {
        o.warmup = std::stod(v);
      } else if (a == "--duration") {
        o.duration = std::stod(v);
      } else if (a == "--perf-ctl") {
        o.perf_ctl = v;
      } else if (a == "--perf-ack") {
        o.perf_ack = v;
      } else if (a == "--server-pid") {
        o.server_pid = std::stoi(v);
      } else {
        fail("unknown option " + std::string(a));
      }
    } catch (const std::logic_error&) {
      fail("bad value for " + std::string(a) + ": " + v);
    }
  }
  if (o.port <= 0 || o.port > 65535 || (o.mode != "pingpong" && o.mode != "stream") ||
      o.conns <= 0 || o.size < 16 || o.warmup < 0 || o.duration <= 0 ||
      o.perf_ctl.empty() != o.perf_ack.empty()) {
    fail(
        "usage: net_load --port P --mode pingpong|stream --conns N --size S(>=16) "
        "[--warmup SEC] [--duration SEC] [--server-pid PID] [--perf-ctl FIFO --perf-ack FIFO]");
  }
  return o;
}

// Conn: one connection. Message k of connection c: bytes 0-7 k, 8-11 c, 12-15 zero, then fill_.
class Conn {
 public:
  Conn(int fd, std::uint32_t id, std::size_t size) : fd_(fd), id_(id), size_(size), fill_(size) {
    for (std::size_t i = 16; i < size; ++i) {
      fill_[i] = static_cast<char>((i * 7 + id) & 0xff);
    }
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() { ::close(fd_); }

  int fd() const { return fd_; }
  std::uint64_t completed() const { return next_recv_; }
  // window_completed: replies checked since mark_window().
  std::uint64_t window_completed() const { return at_end_ - at_window_; }
  void mark_window() { at_window_ = next_recv_; }
  void mark_end() { at_end_ = next_recv_; }

  // make: message k into dst (size_ bytes).
  void make(std::uint64_t k, char* dst) const {
    std::memcpy(dst, fill_.data(), size_);
    std::memcpy(dst, &k, sizeof k);
    std::memcpy(dst + 8, &id_, sizeof id_);
  }

  // check: the next expected message against `msg`; fails the run on a mismatch.
  void check(const char* msg) {
    const std::uint64_t k = next_recv_;
    std::uint64_t got_k = 0;
    std::uint32_t got_id = 0;
    std::memcpy(&got_k, msg, sizeof got_k);
    std::memcpy(&got_id, msg + 8, sizeof got_id);
    if (got_k != k || got_id != id_ || std::memcmp(msg + 12, fill_.data() + 12, size_ - 12) != 0) {
      const bool header_ok = got_k == k && got_id == id_;
      fail("connection " + std::to_string(id_) + ": message " + std::to_string(k) +
           " came back wrong: " +
           (header_ok ? std::string("its payload differs")
                      : "it carries sequence " + std::to_string(got_k) + " of connection " +
                            std::to_string(got_id)));
    }
    ++next_recv_;
  }

  // Sending side: out holds bytes not yet written.
  std::vector<char> out;
  std::size_t out_off = 0;
  std::uint64_t next_send = 0;
  // Receiving side: in holds a partial message.
  std::vector<char> in;
  std::int64_t sent_at = 0;  // pingpong: when the request in flight was written
  bool read_again = false;   // in the next turn's read list (stopped before EAGAIN)
  bool write_again = false;  // in the next turn's write list

 private:
  int fd_;
  std::uint32_t id_;
  std::size_t size_;
  std::vector<char> fill_;
  std::uint64_t next_recv_ = 0;
  std::uint64_t at_window_ = 0;
  std::uint64_t at_end_ = 0;
};

int connect_one(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fail_errno("socket");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    fail_errno("connect 127.0.0.1:" + std::to_string(port));
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

class Load {
 public:
  explicit Load(const Options& o)
      : o_(o), stream_(o.mode == "stream"), perf_(o.perf_ctl, o.perf_ack) {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) {
      fail_errno("epoll_create1");
    }
    conns_.reserve(static_cast<std::size_t>(o.conns));
    for (int i = 0; i < o.conns; ++i) {
      conns_.push_back(
          std::make_unique<Conn>(connect_one(o.port), static_cast<std::uint32_t>(i), o.size));
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
      ev.data.ptr = conns_.back().get();
      if (::epoll_ctl(ep_, EPOLL_CTL_ADD, conns_.back()->fd(), &ev) != 0) {
        fail_errno("epoll_ctl");
      }
    }
    buf_.resize(64 * 1024);
  }
  ~Load() { ::close(ep_); }

  void run() {
    const std::int64_t start = now_ns();
    window_start_ = start + static_cast<std::int64_t>(o_.warmup * 1e9);
    const std::int64_t end = window_start_ + static_cast<std::int64_t>(o_.duration * 1e9);
    for (auto& c : conns_) {
      if (!stream_) {
        queue_request(*c);
      }
      send(*c);
    }
    std::vector<epoll_event> evs(1024);
    bool in_window = false;
    bool ended = false;
    for (;;) {
      const std::int64_t t = now_ns();
      if (!in_window && t >= window_start_) {
        in_window = true;
        perf_.command("enable\n");
        window_start_ = now_ns();
        cpu_start_ = server_cpu_ticks(o_.server_pid);
        total_at_window_ = total_;
        for (auto& c : conns_) {
          c->mark_window();
        }
      }
      if (t >= end && !ended) {
        ended = true;
        window_ns_ = t - window_start_;
        cpu_end_ = server_cpu_ticks(o_.server_pid);
        total_at_end_ = total_;
        for (auto& c : conns_) {
          c->mark_end();
        }
        perf_.command("disable\n");
      }
      if (ended && (stream_ || all_answered() || t >= end + grace_ns)) {
        break;
      }
      const bool more = !read_again_.empty() || !write_again_.empty();
      const int n = ::epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), more ? 0 : 100);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        fail_errno("epoll_wait");
      }
      std::vector<Conn*> reads;
      std::vector<Conn*> writes;
      reads.swap(read_again_);
      writes.swap(write_again_);
      for (Conn* c : reads) {
        c->read_again = false;
      }
      for (Conn* c : writes) {
        c->write_again = false;
      }
      for (int i = 0; i < n; ++i) {
        auto& c = *static_cast<Conn*>(evs[static_cast<std::size_t>(i)].data.ptr);
        const auto e = evs[static_cast<std::size_t>(i)].events;
        if ((e & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0) {
          receive(c);
        }
        if ((e & (EPOLLOUT | EPOLLERR)) != 0) {
          send(c);
        }
      }
      for (Conn* c : reads) {
        receive(*c);
      }
      for (Conn* c : writes) {
        send(*c);
      }
    }
  }

  // all_answered: every connection has had at least one reply.
  bool all_answered() const {
    for (; first_unanswered_ < conns_.size(); ++first_unanswered_) {
      if (conns_[first_unanswered_]->completed() == 0) {
        return false;
      }
    }
    return true;
  }

  void report() const {
    // A connection that got no reply at all over the whole run: in ping-pong every connection
    // waits for its reply, so a fair server answers each; fail. In streaming a server may
    // serve one connection for as long as its data keeps coming: report how many starved.
    int starved = 0;
    for (const auto& c : conns_) {
      if (c->window_completed() == 0) {
        ++starved;
      }
      if (c->completed() == 0 && !stream_) {
        fail("a connection completed no round trip (of " + std::to_string(total_) + " in all)");
      }
    }
    const auto count = total_at_end_ - total_at_window_;
    const double rate = static_cast<double>(count) / (static_cast<double>(window_ns_) / 1e9);
    double cpu_us = -1;
    if (cpu_start_ >= 0 && cpu_end_ >= 0 && count > 0) {
      const double ticks = static_cast<double>(cpu_end_ - cpu_start_);
      cpu_us = ticks / static_cast<double>(sysconf(_SC_CLK_TCK)) * 1e6 / static_cast<double>(count);
    }
    std::printf(
        "mode=%s conns=%d size=%zu count=%llu rate=%.6g p50_us=%.6g p99_us=%.6g p999_us=%.6g "
        "server_cpu_us=%.6g total=%llu starved=%d\n",
        o_.mode.c_str(), o_.conns, o_.size, static_cast<unsigned long long>(count), rate,
        hist_.percentile(0.50), hist_.percentile(0.99), hist_.percentile(0.999), cpu_us,
        static_cast<unsigned long long>(total_), starved);
  }

 private:
  // queue_request: pingpong's next request into c's (empty) send buffer.
  void queue_request(Conn& c) {
    c.out.resize(o_.size);
    c.out_off = 0;
    c.make(c.next_send++, c.out.data());
    c.sent_at = now_ns();
  }

  // send: writes what c has to send; in stream mode keeps making messages until the socket is
  // full (messages made 16 at a time, one write each). At most max_ops writes per turn, so one
  // busy connection cannot starve the others; the rest waits in write_again_.
  void send(Conn& c) {
    for (int ops = 0;; ++ops) {
      if (ops == max_ops) {
        if (!c.write_again) {
          c.write_again = true;
          write_again_.push_back(&c);
        }
        return;
      }
      if (c.out_off == c.out.size()) {
        if (!stream_) {
          return;
        }
        constexpr std::size_t batch = 16;
        c.out.resize(batch * o_.size);
        for (std::size_t i = 0; i < batch; ++i) {
          c.make(c.next_send++, c.out.data() + i * o_.size);
        }
        c.out_off = 0;
      }
      const ssize_t n = ::write(c.fd(), c.out.data() + c.out_off, c.out.size() - c.out_off);
      if (n < 0) {
        if (errno == EAGAIN) {
          return;
        }
        if (errno == EINTR) {
          continue;
        }
        fail_errno("write");
      }
      c.out_off += static_cast<std::size_t>(n);
    }
  }

  // receive: reads until EAGAIN (at most max_ops reads per turn, the rest waits in
  // read_again_), checking every whole message; pingpong answers each reply with the next
  // request.
  void receive(Conn& c) {
    for (int ops = 0;; ++ops) {
      if (ops == max_ops) {
        if (!c.read_again) {
          c.read_again = true;
          read_again_.push_back(&c);
        }
        return;
      }
      const ssize_t n = ::read(c.fd(), buf_.data(), buf_.size());
      if (n < 0) {
        if (errno == EAGAIN) {
          return;
        }
        if (errno == EINTR) {
          continue;
        }
        fail_errno("read");
      }
      if (n == 0) {
        fail("the server closed a connection after " + std::to_string(c.completed()) + " replies");
      }
      const char* p = buf_.data();
      std::size_t left = static_cast<std::size_t>(n);
      while (left > 0) {
        const char* msg = nullptr;
        if (c.in.empty() && left >= o_.size) {
          msg = p;
          p += o_.size;
          left -= o_.size;
        } else {
          const std::size_t take = std::min(left, o_.size - c.in.size());
          c.in.insert(c.in.end(), p, p + take);
          p += take;
          left -= take;
          if (c.in.size() < o_.size) {
            break;
          }
          msg = c.in.data();
        }
        if (!stream_ && c.completed() + 1 != c.next_send) {
          fail("a reply arrived before its request was sent");
        }
        c.check(msg);
        c.in.clear();
        on_reply(c);
      }
    }
  }

  void on_reply(Conn& c) {
    ++total_;
    if (stream_) {
      return;
    }
    const std::int64_t t = now_ns();
    if (t >= window_start_) {
      hist_.add(t - c.sent_at);
    }
    queue_request(c);
    send(c);
  }

  static constexpr int max_ops = 8;
  // grace_ns: how long ping-pong goes on after the window until every connection has had a
  // reply (so that a slow server in a short window does not fail the check).
  static constexpr std::int64_t grace_ns = 10'000'000'000;

  Options o_;
  bool stream_;
  PerfControl perf_;
  std::vector<Conn*> read_again_;
  std::vector<Conn*> write_again_;
  mutable std::size_t first_unanswered_ = 0;
  int ep_ = -1;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<char> buf_;
  Histogram hist_;
  std::uint64_t total_ = 0;
  std::uint64_t total_at_window_ = 0;
  std::uint64_t total_at_end_ = 0;
  std::int64_t window_start_ = 0;
  std::int64_t window_ns_ = 1;
  long long cpu_start_ = -1;
  long long cpu_end_ = -1;
};

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  Load load(o);
  load.run();
  load.report();
  return 0;
}
