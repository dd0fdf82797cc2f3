// describe.cpp: shared pieces of the wait descriptions (see describe.hpp).
#include "describe.hpp"

#include <cstdio>

namespace gofer::detail {

void append_duration(std::string& out, std::chrono::nanoseconds d) {
  char buf[32];
  const double ns = static_cast<double>(d.count());
  if (ns < 1e6) {
    std::snprintf(buf, sizeof buf, "%.0f us", ns / 1e3);
  } else if (ns < 1e9) {
    std::snprintf(buf, sizeof buf, "%.1f ms", ns / 1e6);
  } else if (ns < 120e9) {
    std::snprintf(buf, sizeof buf, "%.1f s", ns / 1e9);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f min", ns / 60e9);
  }
  out += buf;
}

void describe_object(const WaitInfo& info, std::string& out) {
  char buf[32];
  std::snprintf(buf, sizeof buf, " %p", info.subject);
  out += info.what;
  out += buf;
}

void describe_sleep(const WaitInfo& info, std::string& out) {
  const auto deadline = clock::time_point(clock::duration(static_cast<clock::rep>(info.b)));
  out += "sleep (";
  if (deadline == no_deadline) {
    out += "forever";
  } else {
    append_duration(out, std::max(clock::duration::zero(), deadline - clock::now()));
    out += " left";
  }
  out += ")";
}

}  // namespace gofer::detail
