// tls_test.cpp: TlsContext and TlsStream over loopback, against gofer itself and against the
// `openssl s_server` / `s_client` commands, with certificates made at test time.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>
#include <gofer/tls.hpp>

#include "support/io_support.hpp"
#include "support/scale.hpp"
#include "support/tls_support.hpp"
#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using gofer::TcpListener;
using gofer::TcpStream;
using gofer::TlsConfig;
using gofer::TlsContext;
using gofer::TlsStream;
using gofer::test::certs;
using gofer::test::Watchdog;

namespace {

TlsContext server_ctx(const std::string& cert, const std::string& key,
                      std::vector<std::string> alpn = {}) {
  TlsConfig c;
  c.certificate_file = cert;
  c.private_key_file = key;
  c.alpn = std::move(alpn);
  return TlsContext::server(c);
}

TlsContext localhost_server() {
  return server_ctx(certs().server, certs().server_key);
}

TlsContext trusting_client(std::vector<std::string> alpn = {}) {
  TlsConfig c;
  c.ca_file = certs().ca;
  c.alpn = std::move(alpn);
  return TlsContext::client(c);
}

// pattern: n bytes that differ with their offset and seed, so a lost, repeated or reordered
// chunk shows.
std::string pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::uint32_t x = seed * 2654435761U + 1;
  for (auto& c : s) {
    x = x * 1664525U + 1013904223U;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// accept_tls: a server task accepting one connection on l and running f on its TlsStream.
template <class F>
gofer::Task<void> accept_tls(TcpListener& l, const TlsContext& ctx, F f) {
  return gofer::go([&l, ctx, f]() mutable {
    TlsStream s = TlsStream::server(l.accept(5s), ctx);
    f(s);
  });
}

// handshake_error: the message of the std::system_error a handshake throws, with its code.
std::string handshake_error(TlsStream& s, std::error_code& ec) {
  std::string what;
  ec = errc_of([&] { s.handshake(5s); }, &what);
  return what;
}

// openssl_port: reads `openssl s_server` output until its "ACCEPT host:port" line.
std::uint16_t openssl_port(gofer::Process& p) {
  while (auto line = p.out().read_line(10s)) {
    if (line->rfind("ACCEPT ", 0) == 0) {
      return static_cast<std::uint16_t>(std::stoi(line->substr(line->rfind(':') + 1)));
    }
  }
  throw std::runtime_error("openssl s_server ended before it listened");
}

}  // namespace

TEST(TlsContext, ServerWithoutCertificateIsRejected) {
  EXPECT_THROW(TlsContext::server({}), std::invalid_argument);
  TlsConfig half;
  half.certificate_file = certs().client;
  EXPECT_THROW(TlsContext::client(half), std::invalid_argument);
  TlsConfig bad_alpn;
  bad_alpn.alpn = {""};
  EXPECT_THROW(TlsContext::client(bad_alpn), std::invalid_argument);
}

TEST(TlsContext, UnloadableFilesAreNamed) {
  try {
    TlsConfig c;
    c.ca_file = "/no/such/ca.pem";
    TlsContext::client(c);
    FAIL() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), gofer::tls_errc::bad_configuration);
    EXPECT_NE(std::string(e.what()).find("CA file /no/such/ca.pem"), std::string::npos) << e.what();
  }
  try {  // a copy of the base (a catch by value, a stored error) still names the file
    TlsConfig c;
    c.ca_file = "/no/such/ca.pem";
    TlsContext::client(c);
    FAIL() << "no exception";
  } catch (const std::system_error& e) {
    const std::system_error sliced(e);
    EXPECT_NE(std::string(sliced.what()).find("CA file /no/such/ca.pem"), std::string::npos)
        << sliced.what();
  }
  try {
    server_ctx(certs().server, certs().wrong_key);
    FAIL() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), gofer::tls_errc::bad_configuration);
    EXPECT_NE(std::string(e.what()).find("private key file " + certs().wrong_key),
              std::string::npos)
        << e.what();
  }
}

TEST(TlsStream, MisuseIsRejected) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  gofer::go_and_wait([&] {
    auto server = localhost_server();
    auto client = trusting_client();
    EXPECT_THROW(TlsStream::client(TcpStream(), "localhost", client), std::invalid_argument);
    auto tcp = TcpStream::connect("127.0.0.1", l.local_port(), 5s);
    EXPECT_THROW(TlsStream::client(std::move(tcp), "localhost", server), std::invalid_argument);
    tcp = TcpStream::connect("127.0.0.1", l.local_port(), 5s);
    EXPECT_THROW(TlsStream::client(std::move(tcp), "", client), std::invalid_argument);
    // Bytes already buffered by the TcpStream would be TLS records the TLS layer never sees.
    for (int i = 0; i < 2; ++i) {
      (void)l.accept(5s);  // the two connections above, closed by now
    }
    tcp = TcpStream::connect("127.0.0.1", l.local_port(), 5s);
    auto accepted = l.accept(5s);
    tcp.write("x\nmore");
    EXPECT_EQ(accepted.read_line(5s), "x");
    EXPECT_THROW(TlsStream::server(std::move(accepted), server), std::invalid_argument);
    TlsStream empty;
    EXPECT_EQ(errc_of([&] { empty.handshake(); }), std::errc::bad_file_descriptor);
    EXPECT_FALSE(empty.is_open());
  });
}

TEST(TlsStream, GoferTalksToGofer) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  gofer::go_and_wait([&] {
    auto server = accept_tls(l, server_ctx(certs().server, certs().server_key, {"http/1.1", "h2"}),
                             [](TlsStream& s) {
                               s.handshake(5s);
                               EXPECT_EQ(s.server_name(), "localhost");
                               EXPECT_EQ(s.alpn_protocol(), "http/1.1");  // the server's choice
                               EXPECT_EQ(s.peer_certificate_subject(), "");
                               while (auto line = s.read_line(5s)) {
                                 s.write(*line + "!\n", 5s);
                               }
                               EXPECT_TRUE(s.close_notify_received());
                               s.shutdown(5s);
                             });
    auto s =
        TlsStream::connect("localhost", l.local_port(), trusting_client({"h2", "http/1.1"}), 5s);
    EXPECT_TRUE(s.handshake_complete());
    EXPECT_EQ(s.alpn_protocol(), "http/1.1");
    EXPECT_EQ(s.version(), "TLSv1.3");
    EXPECT_FALSE(s.cipher().empty());
    EXPECT_EQ(s.peer_certificate_subject(), "CN=localhost");
    EXPECT_EQ(s.server_name(), "localhost");
    for (int i = 0; i < 10; ++i) {
      s.write("line " + std::to_string(i) + "\n", 5s);
      EXPECT_EQ(s.read_line(5s), "line " + std::to_string(i) + "!");
    }
    s.shutdown(5s);
    EXPECT_EQ(s.read_line(5s), std::nullopt);  // the server's close_notify
    EXPECT_TRUE(s.close_notify_received());
    server.wait();
  });
}

TEST(TlsStream, TheContextMayGoBeforeTheStream) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  gofer::go_and_wait([&] {
    auto server = gofer::go([&] {
      // A temporary context: the stream keeps what its handshake (the ALPN choice) reads.
      auto s =
          TlsStream::server(l.accept(5s), server_ctx(certs().server, certs().server_key, {"h2"}));
      s.handshake(5s);
      s.write(s.alpn_protocol() + "\n", 5s);
    });
    auto tcp = TcpStream::connect("127.0.0.1", l.local_port(), 5s);
    auto s = TlsStream::client(std::move(tcp), "localhost", trusting_client({"h2"}));
    EXPECT_EQ(s.read_line(5s), "h2");
    server.wait();
  });
}

TEST(TlsStream, AnIpAddressIsVerifiedAgainstTheCertificate) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  gofer::go_and_wait([&] {
    auto server = accept_tls(l, localhost_server(), [](TlsStream& s) {
      s.write("hi\n", 5s);
      s.shutdown(5s);
    });
    auto s = TlsStream::connect("127.0.0.1", l.local_port(), trusting_client(), 5s);
    EXPECT_EQ(s.read_line(5s), "hi");
    EXPECT_EQ(s.server_name(), "127.0.0.1");
    server.wait();
  });
}

TEST(TlsStream, WrongHostnameIsRejected) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  gofer::go_and_wait([&] {
    std::error_code server_ec;
    auto server = accept_tls(l, server_ctx(certs().wrong, certs().wrong_key),
                             [&](TlsStream& s) { handshake_error(s, server_ec); });
    auto tcp = TcpStream::connect("127.0.0.1", l.local_port(), 5s);
    auto s = TlsStream::client(std::move(tcp), "localhost", trusting_client());
    std::error_code ec;
    const std::string what = handshake_error(s, ec);
    EXPECT_EQ(ec, gofer::tls_errc::certificate_verify_failed);
    EXPECT_EQ(what, "gofer: TLS handshake with 127.0.0.1:" + std::to_string(l.local_port()) +
                        " (localhost): certificate verify failed: hostname mismatch");
    s.close();
    server.wait();
    EXPECT_EQ(server_ec.category(), gofer::tls_category());  // the client's alert
  });
}

TEST(TlsStream, UntrustedCaIsRejected) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  gofer::go_and_wait([&] {
    std::error_code server_ec;
    std::string server_what;
    auto server = accept_tls(l, server_ctx(certs().self, certs().self_key),
                             [&](TlsStream& s) { server_what = handshake_error(s, server_ec); });
    auto tcp = TcpStream::connect("127.0.0.1", l.local_port(), 5s);
    auto s = TlsStream::client(std::move(tcp), "localhost", trusting_client());
    std::error_code ec;
    const std::string what = handshake_error(s, ec);
    EXPECT_EQ(ec, gofer::tls_errc::certificate_verify_failed);
    EXPECT_NE(what.find("(localhost): certificate verify failed: self-signed certificate"),
              std::string::npos)
        << what;
    s.close();
    server.wait();
    EXPECT_EQ(server_ec, gofer::tls_errc::handshake_failed);
    EXPECT_NE(server_what.find("alert"), std::string::npos) << server_what;
  });
}

TEST(TlsStream, SkippingVerificationAcceptsAnyCertificate) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  gofer::go_and_wait([&] {
    auto server = accept_tls(l, server_ctx(certs().wrong, certs().wrong_key), [](TlsStream& s) {
      s.write("ok\n", 5s);
      s.shutdown(5s);
    });
    TlsConfig c;
    c.dangerous_skip_verification = true;
    auto s = TlsStream::connect("127.0.0.1", l.local_port(), TlsContext::client(c), 5s);
    EXPECT_EQ(s.read_line(5s), "ok");
    EXPECT_EQ(s.peer_certificate_subject(), "CN=wrong.example");
    server.wait();
  });
}

TEST(TlsStream, MutualTlsChecksTheClientCertificate) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  gofer::go_and_wait([&] {
    TlsConfig mutual;
    mutual.ca_file = certs().ca;
    mutual.certificate_file = certs().server;
    mutual.private_key_file = certs().server_key;
    mutual.require_client_certificate = true;
    auto ctx = TlsContext::server(mutual);
    std::string subject;
    auto server = accept_tls(l, ctx, [&](TlsStream& s) {
      s.handshake(5s);
      subject = s.peer_certificate_subject();
      s.write("ok\n", 5s);
    });
    TlsConfig client_cert;
    client_cert.ca_file = certs().ca;
    client_cert.certificate_file = certs().client;
    client_cert.private_key_file = certs().client_key;
    auto with_cert = TlsContext::client(client_cert);
    auto s = TlsStream::connect("localhost", l.local_port(), with_cert, 5s);
    EXPECT_EQ(s.read_line(5s), "ok");
    server.wait();
    EXPECT_EQ(subject, "CN=gofer client");

    std::error_code server_ec;
    auto refused = accept_tls(l, ctx, [&](TlsStream& t) { handshake_error(t, server_ec); });
    auto anonymous = TlsStream::connect("localhost", l.local_port(), trusting_client(), 5s);
    // TLS 1.3: the client finishes first; the server's refusal arrives as an alert.
    EXPECT_EQ(errc_of([&] { (void)anonymous.read_line(5s); }).category(), gofer::tls_category());
    refused.wait();
    EXPECT_EQ(server_ec, gofer::tls_errc::handshake_failed);
  });
}

TEST(TlsStream, AlpnWithoutOverlapIsRefused) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  gofer::go_and_wait([&] {
    std::error_code server_ec;
    auto server = accept_tls(l, server_ctx(certs().server, certs().server_key, {"h2"}),
                             [&](TlsStream& s) { handshake_error(s, server_ec); });
    auto tcp = TcpStream::connect("127.0.0.1", l.local_port(), 5s);
    auto s = TlsStream::client(std::move(tcp), "localhost", trusting_client({"spdy/1"}));
    std::error_code ec;
    const std::string what = handshake_error(s, ec);
    EXPECT_EQ(ec, gofer::tls_errc::handshake_failed);
    EXPECT_NE(what.find("no application protocol"), std::string::npos) << what;
    s.close();
    server.wait();
    EXPECT_EQ(server_ec, gofer::tls_errc::handshake_failed);
  });
}

TEST(TlsStream, OneMebibyteEachWayAtOnce) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  static constexpr std::size_t size = 1 << 20;
  gofer::go_and_wait([&] {
    auto server = accept_tls(l, localhost_server(), [](TlsStream& s) {
      s.handshake(5s);
      // A reader and a writer task on one stream, as on a TcpStream.
      auto writer = gofer::go([&s] {
        s.write(pattern(size, 2), 10s);
        s.shutdown(5s);
      });
      std::string got(size, '\0');
      EXPECT_EQ(s.read_exact(got, 10s), size);
      EXPECT_TRUE(got == pattern(size, 1));
      writer.wait();
    });
    auto s = TlsStream::connect("localhost", l.local_port(), trusting_client(), 5s);
    auto writer = gofer::go([&s] { s.write(pattern(size, 1), 10s); });
    const std::string got = s.read_all(10s);
    EXPECT_EQ(got.size(), size);
    EXPECT_TRUE(got == pattern(size, 2));
    writer.wait();
    server.wait();
  });
}

TEST(TlsStream, ReaderAndWriterOnTwoThreads) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  gofer::Runtime rt(2);
  static constexpr std::size_t size = 256 * 1024;
  auto server = rt.go_on(0, [&] {
    TlsStream s = TlsStream::server(l.accept(5s), localhost_server());
    s.handshake(5s);
    std::string got(size, '\0');
    EXPECT_EQ(s.read_exact(got, 10s), size);
    s.write(got, 10s);
  });
  auto s = rt.go_on(0, [&] {
               return TlsStream::connect("localhost", l.local_port(), trusting_client(), 5s);
             }).wait();
  auto writer = rt.go_on(1, [&] {
    for (std::size_t off = 0; off < size; off += 4096) {
      s.write(pattern(size, 3).substr(off, 4096), 10s);
    }
  });
  auto reader = rt.go_on(0, [&] {
    std::string got(size, '\0');
    EXPECT_EQ(s.read_exact(got, 10s), size);
    EXPECT_TRUE(got == pattern(size, 3));
  });
  writer.wait();
  reader.wait();
  server.wait();
}

TEST(TlsStream, TwoHundredConnectionsOnOneThread) {
  Watchdog dog(60s);
  // Under TSan every OpenSSL call goes through its interceptors and takes far longer: 20 there.
  constexpr int n = gofer::test::under_thread_sanitizer ? 20 : 200;
  auto l = TcpListener::bind("127.0.0.1", 0);
  const auto start = std::chrono::steady_clock::now();
  gofer::go_and_wait([&] {
    const auto server = localhost_server();
    const auto client = trusting_client();
    std::vector<gofer::Task<void>> tasks;
    tasks.push_back(gofer::go([&] {
      std::vector<gofer::Task<void>> conns;
      for (int i = 0; i < n; ++i) {
        conns.push_back(gofer::go(
            [&server](TcpStream tcp) {
              TlsStream s = TlsStream::server(std::move(tcp), server);
              while (auto line = s.read_line(20s)) {
                s.write(*line + "\n", 20s);
              }
            },
            l.accept(20s)));
      }
      for (auto& c : conns) {
        c.wait();
      }
    }));
    int ok = 0;
    for (int i = 0; i < n; ++i) {
      tasks.push_back(gofer::go([&, i] {
        auto s = TlsStream::connect("localhost", l.local_port(), client, 20s);
        const std::string line = "conn " + std::to_string(i);
        s.write(line + "\n", 20s);
        if (s.read_line(20s) == line) {
          ++ok;
        }
        s.shutdown(20s);
      }));
    }
    for (auto& t : tasks) {
      t.wait();
    }
    EXPECT_EQ(ok, n);
  });
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
}

TEST(TlsStream, HandshakeGivesUpAtItsDeadline) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  gofer::go_and_wait([&] {
    auto tcp = TcpStream::connect("127.0.0.1", l.local_port(), 5s);
    auto silent = l.accept(5s);  // accepted, never speaks
    auto s = TlsStream::client(std::move(tcp), "localhost", trusting_client());
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(timed_out(errc_of([&] { s.handshake(200ms); })));
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, 200ms);
    EXPECT_LT(took, 3s);
    // The object's deadline bounds an implicit handshake too.
    s.set_read_deadline(100ms);
    EXPECT_TRUE(timed_out(errc_of([&] { (void)s.read_line(); })));
  });
}

TEST(TlsStream, CloseAndStopWakeAParkedRead) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  gofer::go_and_wait([&] {
    auto server = accept_tls(l, localhost_server(), [](TlsStream& s) {
      s.handshake(5s);
      (void)s.read_line(5s);  // EOF or a reset when the client goes
    });
    auto s = TlsStream::connect("localhost", l.local_port(), trusting_client(), 5s);
    auto reader = gofer::go([&] { return errc_of([&] { (void)s.read_line(10s); }); });
    gofer::sleep_for(50ms);
    auto stopped = gofer::go([&] { (void)s.read_chunk(10, 10s); });
    gofer::sleep_for(50ms);
    stopped.request_stop();
    EXPECT_THROW(stopped.wait(), gofer::cancelled);
    s.close();
    EXPECT_EQ(reader.wait(), gofer::errc::closed);
    server.wait();
  });
}

TEST(TlsStream, ReadTimeoutLosesNoByte) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  gofer::go_and_wait([&] {
    gofer::Chan<int> go_on;
    auto server = accept_tls(l, localhost_server(), [&](TlsStream& s) {
      s.write("first half ", 5s);
      (void)go_on.recv();
      s.write("second half\n", 5s);
      s.shutdown(5s);
    });
    auto s = TlsStream::connect("localhost", l.local_port(), trusting_client(), 5s);
    EXPECT_TRUE(timed_out(errc_of([&] { (void)s.read_line(100ms); })));
    EXPECT_TRUE(go_on.send(1));
    EXPECT_EQ(s.read_line(5s), "first half second half");
    EXPECT_EQ(s.read_line(5s), std::nullopt);
    server.wait();
  });
}

TEST(TlsStream, TcpEofWithoutCloseNotifyIsTold) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  gofer::go_and_wait([&] {
    auto server = accept_tls(l, localhost_server(), [](TlsStream& s) {
      s.write("bye\n", 5s);
      s.close();  // no close_notify
    });
    auto s = TlsStream::connect("localhost", l.local_port(), trusting_client(), 5s);
    EXPECT_EQ(s.read_line(5s), "bye");
    EXPECT_EQ(s.read_line(5s), std::nullopt);
    EXPECT_FALSE(s.close_notify_received());
    server.wait();
  });
}

TEST(TlsStream, GoferClientTalksToOpensslServer) {
  Watchdog dog;
  gofer::go_and_wait([&] {
    gofer::ProcessOptions opts;
    opts.stdout_mode = gofer::stdio::pipe;
    opts.stderr_mode = gofer::stdio::null;
    auto p = gofer::Process::spawn(
        {"openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", certs().server, "-key",
         certs().server_key, "-naccept", "1", "-rev", "-alpn", "foo,h2"},
        opts);
    const std::uint16_t port = openssl_port(p);
    auto s = TlsStream::connect("localhost", port, trusting_client({"h2"}), 5s);
    EXPECT_EQ(s.alpn_protocol(), "h2");
    s.write("hello gofer\n", 5s);
    EXPECT_EQ(s.read_line(5s), "refog olleh");
    s.shutdown(5s);
    EXPECT_EQ(p.wait(10s), 0);
  });
}

TEST(TlsStream, OpensslClientTalksToGoferServer) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  gofer::go_and_wait([&] {
    bool clean_eof = false;
    auto server =
        accept_tls(l, server_ctx(certs().server, certs().server_key, {"h2"}), [&](TlsStream& s) {
          s.handshake(5s);
          EXPECT_EQ(s.server_name(), "localhost");
          EXPECT_EQ(s.alpn_protocol(), "h2");
          while (auto line = s.read_line(5s)) {
            s.write("echo: " + *line + "\n", 5s);
          }
          clean_eof = s.close_notify_received();
        });
    gofer::ProcessOptions opts;
    opts.stdin_mode = opts.stdout_mode = gofer::stdio::pipe;
    opts.stderr_mode = gofer::stdio::pipe;
    auto p = gofer::Process::spawn(
        {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(l.local_port()),
         "-CAfile", certs().ca, "-verify_return_error", "-servername", "localhost",
         "-verify_hostname", "localhost", "-alpn", "h2", "-brief", "-no_ign_eof"},
        opts);
    auto err = gofer::go([&p] { return p.err().read_all(10s); });
    p.in().write("ping\n", 5s);
    EXPECT_EQ(p.out().read_line(5s), "echo: ping");
    p.in().close();  // s_client sends close_notify and exits
    server.wait();
    EXPECT_TRUE(clean_eof);
    EXPECT_EQ(p.wait(10s), 0);
    const std::string log = err.wait();
    EXPECT_NE(log.find("Verification: OK"), std::string::npos) << log;
  });
}

TEST(TlsStream, AKeyUpdateFromThePeerIsAnswered) {
  Watchdog dog;
  gofer::go_and_wait([&] {
    gofer::ProcessOptions opts;
    opts.stdin_mode = opts.stdout_mode = gofer::stdio::pipe;
    opts.stderr_mode = gofer::stdio::null;
    auto p = gofer::Process::spawn({"openssl", "s_server", "-accept", "127.0.0.1:0", "-cert",
                                    certs().server, "-key", certs().server_key, "-naccept", "1"},
                                   opts);
    const std::uint16_t port = openssl_port(p);
    auto s = TlsStream::connect("localhost", port, trusting_client(), 5s);
    // "K": s_server sends a KeyUpdate asking for ours; our reply goes out from inside a read.
    p.in().write("K\n", 5s);
    gofer::sleep_for(200ms);  // s_server drops the rest of a read that held a command
    p.in().write("after update\n", 5s);
    EXPECT_EQ(s.read_line(5s), "after update");
    s.write("from gofer\n", 5s);
    bool seen = false;
    while (auto line = p.out().read_line(5s)) {
      if (*line == "from gofer") {
        seen = true;
        break;
      }
    }
    EXPECT_TRUE(seen);
    s.shutdown(5s);
    p.in().close();
    EXPECT_TRUE(p.wait(10s).has_value());
  });
}

TEST(TlsStream, APlainTextPeerFailsTheHandshake) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  gofer::go_and_wait([&] {
    auto server = gofer::go([&] {
      auto plain = l.accept(5s);
      plain.write("HTTP/1.0 400 Bad Request\r\n\r\n", 5s);
      (void)plain.read_chunk(1024, 5s);
    });
    auto tcp = TcpStream::connect("127.0.0.1", l.local_port(), 5s);
    auto s = TlsStream::client(std::move(tcp), "localhost", trusting_client());
    std::error_code ec;
    const std::string what = handshake_error(s, ec);
    EXPECT_EQ(ec, gofer::tls_errc::handshake_failed) << what;
    EXPECT_EQ(what.rfind("gofer: TLS handshake with 127.0.0.1:", 0), 0U) << what;
    s.close();
    server.wait();
  });
}

TEST(TlsStream, WritingToAGonePeerThrowsWithoutSigpipe) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  gofer::go_and_wait([&] {
    auto server = accept_tls(l, localhost_server(), [](TlsStream& s) {
      s.handshake(5s);
      s.close();
    });
    auto s = TlsStream::connect("localhost", l.local_port(), trusting_client(), 5s);
    server.wait();
    const std::string chunk(64 * 1024, 'x');
    const std::error_code ec = errc_of([&] {
      for (int i = 0; i < 1000; ++i) {
        s.write(chunk, 5s);
      }
    });
    EXPECT_TRUE(ec == std::errc::broken_pipe || ec == std::errc::connection_reset) << ec.message();
  });
}

TEST(TlsStream, TheSystemTrustStoreDoesNotKnowTheTestCa) {
  Watchdog dog;
  auto l = TcpListener::bind("127.0.0.1", 0);
  const auto system = TlsContext::client();  // loads the system store (once per process)
  const auto again = TlsContext::client();   // shares it
  gofer::go_and_wait([&] {
    auto server = accept_tls(l, localhost_server(), [](TlsStream& s) {
      std::error_code ec;
      handshake_error(s, ec);
    });
    auto s =
        TlsStream::client(TcpStream::connect("127.0.0.1", l.local_port(), 5s), "localhost", again);
    std::error_code ec;
    const std::string what = handshake_error(s, ec);
    EXPECT_EQ(ec, gofer::tls_errc::certificate_verify_failed);
    EXPECT_NE(what.find("unable to get local issuer certificate"), std::string::npos) << what;
    s.close();
    server.wait();
  });
}
