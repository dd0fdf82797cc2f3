// curl_hooks_test.cpp: libcurl's blocking easy API (curl_easy_perform) from 100 gofer tasks on
// ONE thread, fetching from a small gofer HTTP server on the same thread
// (support/http_server.hpp). Linked with gofer::hooks: curl's connect, poll, send and recv park
// the task, so the transfers overlap and the server, on the same thread, keeps serving.
//
// What libcurl needs (checked here on Debian's libcurl 7.88, OpenSSL flavour): CURLOPT_NOSIGNAL
// set to 1, so that no SIGALRM-based timeout is armed (curl only uses it with its synchronous
// resolver, and a signal would land on whatever task runs). The resolver: an IP literal and
// "localhost" are resolved inside libcurl without a thread; any other name goes to libcurl's
// threaded resolver, whose getaddrinfo runs on a thread of its own (a plain thread: the hooks
// pass it through) while the task parks in the hooked poll() on the resolver's socketpair.
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>
#include <gofer/hooks.hpp>

#include "support/http_server.hpp"
#include "support/scale.hpp"
#include "support/ticker_probe.hpp"
#include "support/watchdog.hpp"

#include <curl/curl.h>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using gofer::test::HttpServer;

namespace {

// CurlGlobal: curl_global_init before the first test, curl_global_cleanup after the last.
struct CurlGlobal : testing::Environment {
  void SetUp() override { ASSERT_EQ(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK); }
  void TearDown() override { curl_global_cleanup(); }
};
[[maybe_unused]] testing::Environment* const curl_global =
    testing::AddGlobalTestEnvironment(new CurlGlobal);

struct EasyCleanup {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};

std::size_t append(char* data, std::size_t size, std::size_t n, void* body) {
  static_cast<std::string*>(body)->append(data, size * n);
  return size * n;
}

// fetch: the body of `url` through curl_easy_perform; throws with curl's message on an error
// or a status other than 200.
std::string fetch(const std::string& url) {
  std::unique_ptr<CURL, EasyCleanup> h(curl_easy_init());
  if (!h) {
    throw std::runtime_error("curl_easy_init failed");
  }
  std::string body;
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(h.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h.get(), CURLOPT_TIMEOUT_MS, 20000L);
  curl_easy_setopt(h.get(), CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &body);
  if (const CURLcode rc = curl_easy_perform(h.get()); rc != CURLE_OK) {
    throw std::runtime_error(url + ": " + (error[0] != 0 ? error : curl_easy_strerror(rc)));
  }
  long status = 0;
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    throw std::runtime_error(url + ": HTTP status " + std::to_string(status));
  }
  return body;
}

// FetchStats: what fetch_all measured (max_gap: support/ticker_probe.hpp's own gap).
struct FetchStats {
  Clock::duration elapsed{};
  Clock::duration max_gap{};
  Clock::duration max_wall_gap{};
};

// fetch_all: fetches `n` URLs http://<host>:<port>/item/<i> from n tasks on this thread while a
// 1 ms ticker runs on it too; checks every body (throws on the first wrong one).
FetchStats fetch_all(const std::string& host, std::uint16_t port, int n) {
  FetchStats st;
  gofer::test::TickerProbe probe;
  const auto start = Clock::now();
  std::vector<gofer::Task<void>> transfers;
  for (int i = 0; i < n; ++i) {
    transfers.push_back(gofer::go([&, i] {
      const std::string path = "/item/" + std::to_string(i);
      const std::string body = fetch("http://" + host + ":" + std::to_string(port) + path);
      if (body != HttpServer::body_for(path)) {
        throw std::runtime_error(path + ": wrong body of " + std::to_string(body.size()) +
                                 " bytes");
      }
    }));
  }
  std::exception_ptr error;
  for (auto& t : transfers) {
    try {
      t.wait();
    } catch (...) {
      error = error ? error : std::current_exception();
    }
  }
  st.elapsed = Clock::now() - start;
  probe.stop();
  st.max_gap = probe.max_own_gap();
  st.max_wall_gap = probe.max_wall_gap();
  if (error) {
    std::rethrow_exception(error);
  }
  return st;
}

// server_delay: how long the test server holds each request: long enough that a transfer
// blocking the thread would show as a ticker gap of the whole delay, far above the CPU bursts
// of starting transfers, which sanitizer builds make several times longer.
constexpr std::chrono::milliseconds server_delay(std::chrono::milliseconds release) {
  return gofer::test::sanitizer_scale == 1 ? release : 5 * release;
}

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

TEST(CurlHooks, HundredConcurrentTransfersOnOneThread) {
  gofer::test::Watchdog dog(60s);
  ASSERT_TRUE(gofer::hooks::active());
  const auto delay = server_delay(100ms);
  HttpServer server(delay);
  const FetchStats st = fetch_all("127.0.0.1", server.port(), 100);
  server.stop();
  std::printf(
      "hooks: 100 curl transfers, %lld ms each at the server: %.0f ms; %d at once at "
      "most; largest ticker gap %.1f ms (%.1f ms on the wall clock)\n",
      static_cast<long long>(delay.count()), ms(st.elapsed), server.max_in_flight(), ms(st.max_gap),
      ms(st.max_wall_gap));
  EXPECT_EQ(server.served(), 100);
  EXPECT_EQ(server.errors(), 0) << server.last_error();
  // One after another they would take 10 s, and the server would hold one at a time.
  EXPECT_GE(server.max_in_flight(), 50);
  EXPECT_LT(st.elapsed, 50 * delay);
  // A transfer that blocked the thread would hold the ticker for the server's whole delay;
  // the gaps left are the CPU bursts of starting 100 transfers in a row.
  EXPECT_LT(st.max_gap, delay / 2);
}

TEST(CurlHooks, LocalhostIsResolvedWithoutTheResolverThread) {
  gofer::test::Watchdog dog(30s);
  const auto delay = server_delay(50ms);
  HttpServer server(delay);
  // curl tries ::1 first, is refused (the server listens on 127.0.0.1 only), then 127.0.0.1.
  const FetchStats st = fetch_all("localhost", server.port(), 20);
  server.stop();
  EXPECT_EQ(server.served(), 20);
  EXPECT_GE(server.max_in_flight(), 10);
  EXPECT_LT(st.max_gap, delay / 2);
}

// loopback_name: a host name (not "localhost") that resolves to 127.0.0.0/8 here, such as the
// machine's own name in /etc/hosts; empty when there is none.
std::string loopback_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) {
    return {};
  }
  for (const char* name : {static_cast<const char*>(host), "localhost.localdomain"}) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    addrinfo* res = nullptr;
    if (::getaddrinfo(name, nullptr, &hints, &res) != 0) {
      continue;
    }
    const auto* a = reinterpret_cast<const sockaddr_in*>(res->ai_addr);
    const bool loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    ::freeaddrinfo(res);
    if (loopback && std::string_view(name) != "localhost") {
      return name;
    }
  }
  return {};
}

TEST(CurlHooks, ANameGoesThroughCurlsResolverThread) {
  gofer::test::Watchdog dog(30s);
  const std::string name = loopback_name();
  if (name.empty()) {
    GTEST_SKIP() << "no host name other than localhost resolves to 127.0.0.0/8 on this machine "
                    "(this test needs one, e.g. the machine's name in /etc/hosts)";
  }
  const auto delay = server_delay(50ms);
  HttpServer server(delay);
  const FetchStats st = fetch_all(name, server.port(), 20);
  server.stop();
  std::printf("hooks: 20 curl transfers to %s (threaded resolver): %.0f ms\n", name.c_str(),
              ms(st.elapsed));
  EXPECT_EQ(server.served(), 20);
  EXPECT_GE(server.max_in_flight(), 10);
  EXPECT_LT(st.max_gap, delay / 2);
}

}  // namespace
