// io_support.hpp: helpers for the I/O tests (files, TCP, Unix sockets).
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

// errc_of: the error code a call throws as std::system_error (empty code if it throws none);
// its message in *what when asked.
template <class F>
std::error_code errc_of(F&& f, std::string* what = nullptr) {
  try {
    f();
  } catch (const std::system_error& e) {
    if (what != nullptr) {
      *what = e.what();
    }
    return e.code();
  }
  return {};
}

// timed_out: ec is errc::timed_out.
inline bool timed_out(const std::error_code& ec) {
  return ec == std::errc::timed_out;
}

// TempDir: a fresh directory removed with everything in it.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/gofer_test_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const char* name) const { return (path / name).string(); }
};
