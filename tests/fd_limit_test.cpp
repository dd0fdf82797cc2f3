// fd_limit_test.cpp: gofer at the process's fd limit (RLIMIT_NOFILE lowered inside the test).
//
// Waking a task never installs a scheduler; a thread that blocks needs no fd until one of its
// tasks waits for an fd; a server at its limit keeps serving its connections while new work
// gets a clear std::system_error (EMFILE); everything works again once fds are freed; no lock
// is left held by a call that failed. Each TEST runs in its own process (ctest), and the limit
// is restored at the end of each. They run in the Release and TSan builds; the ASan+UBSan build
// skips them (see SetUp).
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "scheduler.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::test::Watchdog;

namespace {

// FdExhaustion: lowers the soft fd limit to a little above the fds open now and fills every
// free slot below it with /dev/null, so the next fd the process asks for fails with EMFILE.
// free_some(n) closes n of its fds; the destructor closes them all and restores the limit.
class FdExhaustion {
 public:
  explicit FdExhaustion(int headroom = 16) {
    getrlimit(RLIMIT_NOFILE, &saved_);
    int highest = 0;
    for (int fd = 0; fd < 4096; ++fd) {
      struct stat st;
      if (fstat(fd, &st) == 0) {
        highest = fd;
      }
    }
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(highest + 1 + headroom);
    if (setrlimit(RLIMIT_NOFILE, &lowered) != 0) {
      ADD_FAILURE() << "setrlimit: " << std::strerror(errno);
    }
    for (;;) {
      const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        EXPECT_EQ(errno, EMFILE);
        break;
      }
      fillers_.push_back(fd);
    }
  }
  ~FdExhaustion() {
    free_some(fillers_.size());
    setrlimit(RLIMIT_NOFILE, &saved_);
  }
  FdExhaustion(const FdExhaustion&) = delete;
  FdExhaustion& operator=(const FdExhaustion&) = delete;

  void free_some(std::size_t n) {
    for (; n > 0 && !fillers_.empty(); --n) {
      close(fillers_.back());
      fillers_.pop_back();
    }
  }

 private:
  rlimit saved_{};
  std::vector<int> fillers_;
};

void expect_emfile(const std::system_error& e, const char* what) {
  EXPECT_EQ(e.code(), std::errc::too_many_files_open) << what << ": " << e.what();
  EXPECT_NE(std::string(e.what()).find("Too many open files"), std::string::npos) << e.what();
}

// FdLimit: UBSan's vptr check probes an object's memory by writing it to a pipe it opens; with
// every fd taken that fails and it reports a false "invalid vptr" from library code (its
// suppressions cannot help: they match the dynamic type it could not read). So the
// ASan+UBSan build, which always has that check, skips these tests.
class FdLimit : public testing::Test {
 protected:
  void SetUp() override {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "UBSan's vptr check needs a free fd for its memory probe";
#endif
  }
};

}  // namespace

TEST_F(FdLimit, PlainThreadsBlockAndWakeWithNoFdFree) {
  Watchdog dog;
  gofer::Runtime rt(2);
  gofer::Chan<int> ch;
  FdExhaustion full;
  // The test thread's first blocking call: it needs no fd, so it cannot fail here.
  rt.go([ch]() mutable {
    gofer::sleep_for(5ms);
    (void)ch.send(1);
  });
  EXPECT_EQ(ch.recv(), std::optional<int>(1));
  // A fresh plain thread receives from a task, and one sends to a parked task.
  std::thread receiver([ch]() mutable { EXPECT_EQ(ch.recv(), std::optional<int>(2)); });
  rt.go([ch]() mutable { (void)ch.send(2); }).wait();
  receiver.join();
  auto parked = rt.go([ch]() mutable { return ch.recv(); });
  bool sender_installed = true;
  std::thread sender([ch, &sender_installed]() mutable {
    std::this_thread::sleep_for(5ms);
    (void)ch.send(3);
    sender_installed = gofer::detail::Scheduler::installed() != nullptr;
  });
  EXPECT_EQ(parked.wait(), std::optional<int>(3));
  sender.join();
  EXPECT_FALSE(sender_installed) << "waking a task installed a scheduler on the waking thread";
  int v = 0;
  EXPECT_EQ(ch.try_recv(v), gofer::chan_status::empty);  // the channel's lock is free
}

TEST_F(FdLimit, BlockingPoolWakesTasksWithNoFdFree) {
  Watchdog dog;
  gofer::Runtime rt(1);
  FdExhaustion full;
  std::vector<gofer::Task<int>> tasks;
  for (int i = 0; i < 8; ++i) {
    tasks.push_back(rt.go([i] {
      return gofer::spawn_blocking([i] {
               std::this_thread::sleep_for(1ms);
               return i;
             })
          .wait();
    }));
  }
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(tasks[static_cast<std::size_t>(i)].wait(), i);
  }
}

TEST_F(FdLimit, SyncPrimitivesFromAFreshThreadWithNoFdFree) {
  Watchdog dog;
  gofer::Runtime rt(1);
  gofer::WaitGroup wg(1);
  gofer::Mutex m;
  gofer::Semaphore sem(0);
  FdExhaustion full;
  std::thread plain([&] {
    wg.wait();
    sem.acquire();
    std::lock_guard lk(m);
  });
  rt.go([&] {
      gofer::sleep_for(2ms);
      wg.done();
      sem.release();
    }).wait();
  plain.join();
  EXPECT_TRUE(m.try_lock());
  m.unlock();
}

TEST_F(FdLimit, ServerKeepsServingAndRecoversOnceFdsAreFreed) {
  Watchdog dog;
  auto listener = gofer::TcpListener::bind("127.0.0.1", 0);
  const std::uint16_t port = listener.local_port();
  gofer::Chan<std::string> errors = gofer::Chan<std::string>::unbounded();
  // The server: one task per connection, echoing lines; accept errors are reported, not fatal.
  std::vector<gofer::Task<void>> handlers;
  auto server = gofer::go([&listener, &handlers, errors]() mutable {
    for (;;) {
      gofer::TcpStream conn;
      try {
        conn = listener.accept();
      } catch (const std::system_error& e) {
        if (e.code() != std::errc::too_many_files_open) {
          throw;
        }
        (void)errors.send(e.what());
        gofer::sleep_for(2ms);
        continue;
      }
      handlers.push_back(gofer::go([c = std::move(conn)]() mutable {
        while (auto line = c.read_line()) {
          c.write(*line + "\n");
        }
      }));
    }
  });
  std::vector<gofer::TcpStream> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(gofer::TcpStream::connect("127.0.0.1", port));
    clients.back().write("hello\n");
    ASSERT_EQ(clients.back().read_line(), std::optional<std::string>("hello"));
  }
  {
    FdExhaustion full;
    full.free_some(1);
    // One more client gets the last fd: its connection waits in the backlog, unaccepted.
    auto late = gofer::TcpStream::connect("127.0.0.1", port);
    std::string err;
    ASSERT_EQ(errors.recv(err, 5s), gofer::chan_status::ok)
        << "accept at the limit did not report EMFILE";
    EXPECT_NE(err.find("Too many open files"), std::string::npos) << err;
    // Existing connections are still served.
    for (auto& c : clients) {
      c.write("still here\n");
      EXPECT_EQ(c.read_line(1s), std::optional<std::string>("still here"));
    }
    // New work gets a clear error.
    try {
      gofer::File::open("/dev/null");
      ADD_FAILURE() << "File::open at the fd limit succeeded";
    } catch (const std::system_error& e) {
      expect_emfile(e, "File::open");
    }
    try {
      gofer::TcpStream::connect("127.0.0.1", port);
      ADD_FAILURE() << "connect at the fd limit succeeded";
    } catch (const std::system_error& e) {
      expect_emfile(e, "connect");
    }
    // Fds freed: the queued connection is accepted and served.
    full.free_some(64);
    late.write("late\n");
    EXPECT_EQ(late.read_line(5s), std::optional<std::string>("late"));
  }
  server.request_stop();
  EXPECT_THROW(server.wait(), gofer::cancelled);
  listener.close();
  clients.clear();  // each handler sees EOF and ends
  for (auto& h : handlers) {
    h.wait();
  }
}

TEST_F(FdLimit, FirstFdWaitOfAThreadAtTheLimitThrowsAClearError) {
  Watchdog dog;
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  gofer::File reader = gofer::File::from_fd(fds[0], "test pipe");
  gofer::Runtime rt(1);
  {
    FdExhaustion full;
    // The Runtime thread's poller is made on its first fd wait: at the limit that fails with
    // EMFILE, thrown to the task that waited, and nothing else breaks.
    auto t = rt.go([&reader] { return reader.read_line(1s); });
    try {
      t.wait();
      ADD_FAILURE() << "an fd wait with no fd free for the poller succeeded";
    } catch (const std::system_error& e) {
      expect_emfile(e, "first fd wait");
    }
  }
  auto t = rt.go([&reader] { return reader.read_line(5s); });
  ASSERT_EQ(write(fds[1], "ok\n", 3), 3);
  EXPECT_EQ(t.wait(), std::optional<std::string>("ok"));
  close(fds[1]);
}

TEST_F(FdLimit, RuntimeThatCannotStartAThreadSaysSo) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "sanitizers reserve more address space than the lowered RLIMIT_AS allows";
#else
  Watchdog dog;
  rlimit saved{};
  getrlimit(RLIMIT_AS, &saved);
  // Room for what the process maps now, not for 64 more 8 MiB thread stacks.
  long pages = 0;
  {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fscanf(f, "%ld", &pages), 1);
    std::fclose(f);
  }
  rlimit lowered = saved;
  lowered.rlim_cur =
      static_cast<rlim_t>(pages) * static_cast<rlim_t>(sysconf(_SC_PAGESIZE)) + (64u << 20);
  ASSERT_EQ(setrlimit(RLIMIT_AS, &lowered), 0);
  std::string what;
  try {
    gofer::Runtime rt(64);
  } catch (const std::system_error& e) {
    what = e.what();
  }
  setrlimit(RLIMIT_AS, &saved);
  EXPECT_NE(what.find("gofer: Runtime could not start thread"), std::string::npos) << what;
  EXPECT_NE(what.find(" of 64: "), std::string::npos) << what;
  gofer::Runtime rt(2);  // and a Runtime starts again once the limit is back
  EXPECT_EQ(rt.go([] { return 7; }).wait(), 7);
#endif
}
