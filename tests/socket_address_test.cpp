// socket_address_test.cpp: gofer::resolve (numeric hosts in place, names on the blocking
// pool, errors, deadline and cancellation of a lookup) and SocketAddress's text forms.
#include <netdb.h>

#include <chrono>
#include <future>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

#include "support/io_support.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::SocketAddress;
using gofer::test::Watchdog;

namespace {

// BusyPool: the blocking pool shrunk to one thread, and that thread held by a job until the
// BusyPool goes away, so a lookup queued meanwhile waits as for a DNS server that does not
// answer.
class BusyPool {
 public:
  BusyPool() : limit_(gofer::blocking_pool_limit()) {
    gofer::set_blocking_pool_limit(1);
    auto started = std::make_shared<std::promise<void>>();
    auto started_f = started->get_future();
    holder_ = gofer::spawn_blocking([started, f = release_.get_future()] {
      started->set_value();
      f.wait();
    });
    started_f.wait();
  }
  ~BusyPool() {
    release_.set_value();
    holder_.wait();
    gofer::set_blocking_pool_limit(limit_);
  }
  BusyPool(const BusyPool&) = delete;
  BusyPool& operator=(const BusyPool&) = delete;

 private:
  std::size_t limit_;
  std::promise<void> release_;
  gofer::Task<void> holder_;
};

bool is_loopback(const SocketAddress& a) {
  return a.host() == "127.0.0.1" || a.host() == "::1";
}

}  // namespace

TEST(Resolve, NumericHostsAreParsedInPlaceWithoutThePool) {
  Watchdog dog;
  BusyPool busy;  // a lookup on the pool could not finish: numeric hosts must not need one
  const gofer::Deadline passed = 0ms;
  EXPECT_EQ(gofer::resolve("127.0.0.1", 80, passed),
            std::vector{SocketAddress::parse("127.0.0.1", 80)});
  EXPECT_EQ(gofer::resolve("[::1]", 443, passed), std::vector{SocketAddress::parse("::1", 443)});
  EXPECT_EQ(gofer::resolve("::1", 443, passed), std::vector{SocketAddress::parse("::1", 443)});
}

TEST(Resolve, LocalhostResolvesToLoopbackAddressesEachOnce) {
  Watchdog dog;
  const auto addresses = gofer::resolve("localhost", 8080, 20s);
  ASSERT_FALSE(addresses.empty());
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    EXPECT_TRUE(is_loopback(addresses[i])) << addresses[i];
    EXPECT_EQ(addresses[i].port(), 8080);
    for (std::size_t j = 0; j < i; ++j) {
      EXPECT_NE(addresses[i], addresses[j]) << "listed twice: " << addresses[i];
    }
  }
}

TEST(Resolve, BadHostsAreResolveCategoryErrorsNamingTheHost) {
  Watchdog dog;
  std::string what;
  auto ec = errc_of([] { gofer::resolve("no.such.host.invalid", 80, 20s); }, &what);
  EXPECT_EQ(ec.category(), gofer::resolve_category()) << what;
  EXPECT_NE(what.find("resolve no.such.host.invalid:80"), std::string::npos) << what;
  ec = errc_of([] { gofer::resolve("300.1.1.1", 80); }, &what);
  EXPECT_EQ(ec, std::error_code(EAI_NONAME, gofer::resolve_category())) << what;
  ec = errc_of([] { gofer::resolve("", 80); }, &what);
  EXPECT_EQ(ec, std::error_code(EAI_NONAME, gofer::resolve_category())) << what;
}

TEST(Resolve, DeadlinePassingWhileTheLookupWaitsIsTimedOut) {
  Watchdog dog;
  BusyPool busy;
  std::string what;
  EXPECT_EQ(errc_of([] { gofer::resolve("localhost", 80, 20ms); }, &what), std::errc::timed_out);
  EXPECT_NE(what.find("resolve localhost:80"), std::string::npos) << what;
  // The lookup left queued runs once the pool frees up; its result is dropped.
}

TEST(Resolve, RequestStopCancelsAWaitingLookup) {
  Watchdog dog;
  BusyPool busy;
  auto t = gofer::go([] { return gofer::resolve("localhost", 80); });
  gofer::sleep_for(5ms);
  EXPECT_FALSE(t.done());
  t.request_stop();
  EXPECT_THROW(t.wait(), gofer::cancelled);
}

TEST(Resolve, WorksFromTasksOnSeveralThreadsAtOnce) {
  Watchdog dog;
  gofer::Runtime rt(2);
  std::vector<gofer::Task<std::size_t>> tasks;
  for (int i = 0; i < 8; ++i) {
    tasks.push_back(rt.go([] { return gofer::resolve("localhost", 1, 20s).size(); }));
  }
  for (auto& t : tasks) {
    EXPECT_GE(t.wait(), 1u);
  }
}

TEST(SocketAddress, PrintsAsHostColonPort) {
  std::ostringstream os;
  os << SocketAddress::parse("10.0.0.1", 80) << " " << SocketAddress::parse("::1", 8080) << " "
     << SocketAddress() << ".";
  EXPECT_EQ(os.str(), "10.0.0.1:80 [::1]:8080 .");
  EXPECT_EQ(SocketAddress::parse("[::1]", 8080).port(), 8080);
}
