// http_server.hpp: a small HTTP/1.1 server made of gofer tasks, for the libcurl test: it
// serves GET /<anything> with body_for(path) after a fixed delay, one request per connection
// (Connection: close), and counts the connections it holds at once.
//
//   gofer::test::HttpServer srv(50ms);                  // listening on 127.0.0.1, a free port
//   ... curl "http://127.0.0.1:" + std::to_string(srv.port()) + "/item/7" from tasks ...
//   srv.stop();                                          // closes the listener, joins its tasks
//   EXPECT_GE(srv.max_in_flight(), 50);
//
// Invariants: (1) every connection task is joined by stop() (also called by the destructor);
// (2) in_flight counts accepted connections whose response is not yet written.
// Thread-safety: construct, query and stop it on one thread: its tasks run on that thread's
// scheduler, so the counters need no lock. Blocking: the accept and connection tasks park
// only themselves; stop() parks the caller until every connection task ends.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <gofer/gofer.hpp>

namespace gofer::test {

class HttpServer {
 public:
  explicit HttpServer(std::chrono::milliseconds delay)
      : listener_(gofer::TcpListener::bind("127.0.0.1", 0)), delay_(delay) {
    acceptor_ = gofer::go([this] { accept_loop(); });
  }
  ~HttpServer() {
    try {
      stop();
    } catch (...) {
      // A connection task's error was already counted in errors(); nothing to add here.
    }
  }
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // body_for: the body served for `path`: the path repeated to about 16 KiB, then its length.
  static std::string body_for(std::string_view path) {
    std::string body;
    while (body.size() < 16 * 1024) {
      body.append(path).append("\n");
    }
    return body + std::to_string(body.size()) + "\n";
  }

  std::uint16_t port() const { return listener_.local_port(); }
  int max_in_flight() const { return max_in_flight_; }
  int served() const { return served_; }
  // errors: connections that ended with an exception (a bad request, a reset), with the last
  // message in last_error().
  int errors() const { return errors_; }
  const std::string& last_error() const { return last_error_; }

  // stop: closes the listener and waits for the accept task and every connection task.
  void stop() {
    if (!listener_.is_open()) {
      return;
    }
    listener_.close();
    acceptor_.wait();
    for (auto& t : conns_) {
      t.wait();
    }
    conns_.clear();
  }

 private:
  void accept_loop() {
    for (;;) {
      gofer::TcpStream s;
      try {
        s = listener_.accept();
      } catch (const std::system_error& e) {
        if (e.code() == gofer::errc::closed) {
          return;
        }
        throw;
      }
      conns_.push_back(gofer::go([this, c = std::move(s)]() mutable { serve(c); }));
    }
  }

  void serve(gofer::TcpStream& c) {
    ++in_flight_;
    max_in_flight_ = std::max(max_in_flight_, in_flight_);
    try {
      auto request = c.read_line(std::chrono::seconds(10));
      while (auto header = c.read_line(std::chrono::seconds(10))) {
        if (header->empty()) {
          break;
        }
      }
      // "GET /path HTTP/1.1"
      const std::string_view line = request ? std::string_view(*request) : std::string_view();
      const auto sp1 = line.find(' ');
      const auto sp2 = line.find(' ', sp1 + 1);
      if (line.substr(0, 4) != "GET " || sp2 == std::string_view::npos) {
        throw std::runtime_error("bad request line: " + std::string(line));
      }
      const std::string body = body_for(line.substr(sp1 + 1, sp2 - sp1 - 1));
      gofer::sleep_for(delay_);
      c.write(
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
          "Content-Length: " +
              std::to_string(body.size()) + "\r\n\r\n" + body,
          std::chrono::seconds(10));
      ++served_;
    } catch (const std::exception& e) {
      ++errors_;
      last_error_ = e.what();
    }
    --in_flight_;
  }

  gofer::TcpListener listener_;
  std::chrono::milliseconds delay_;
  gofer::Task<void> acceptor_;
  std::vector<gofer::Task<void>> conns_;
  int in_flight_ = 0;
  int max_in_flight_ = 0;
  int served_ = 0;
  int errors_ = 0;
  std::string last_error_;
};

}  // namespace gofer::test
