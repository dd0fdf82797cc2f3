// chan_support.hpp: helpers shared by the channel and select tests.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <gofer/gofer.hpp>

namespace gofer::test {

// Kind: the three kinds of channel the tests run over.
enum class Kind { rendezvous, bounded, unbounded };

inline const char* kind_name(Kind k) {
  switch (k) {
    case Kind::rendezvous:
      return "rendezvous";
    case Kind::bounded:
      return "bounded";
    case Kind::unbounded:
      return "unbounded";
  }
  return "?";
}

template <class T>
gofer::Chan<T> make_chan(Kind k, std::size_t bounded_capacity) {
  switch (k) {
    case Kind::rendezvous:
      return gofer::Chan<T>();
    case Kind::bounded:
      return gofer::Chan<T>(bounded_capacity);
    case Kind::unbounded:
      return gofer::Chan<T>::unbounded();
  }
  return gofer::Chan<T>();
}

// yield_until: runs this thread's loop (a few passes) until pred holds; a bounded number of
// passes so a broken library fails the test instead of spinning forever.
template <class Pred>
bool yield_until(Pred pred) {
  for (int i = 0; i < 100'000; ++i) {
    if (pred()) {
      return true;
    }
    gofer::yield();
  }
  return pred();
}

// Budget: a time bound for the tests whose speed is that of cross-thread wake-ups, which on a
// loaded machine can cost milliseconds each: they stop early rather than run for minutes. It
// bounds the work only; nothing asserts on time.
class Budget {
 public:
  explicit Budget(std::chrono::milliseconds d) : end_(std::chrono::steady_clock::now() + d) {}
  bool left() const { return std::chrono::steady_clock::now() < end_; }

 private:
  std::chrono::steady_clock::time_point end_;
};

// Seen: a per-value receive counter, to check "every value exactly once".
class Seen {
 public:
  explicit Seen(std::size_t n) : counts_(n) {}
  void mark(std::size_t v) { counts_.at(v).fetch_add(1, std::memory_order_relaxed); }
  std::uint8_t count(std::size_t v) const { return counts_[v].load(); }
  std::size_t size() const { return counts_.size(); }
  // expect_exactly_once: every value in [0, n) was seen exactly once.
  void expect_exactly_once(const std::string& what) const {
    std::size_t missing = 0;
    std::size_t duplicated = 0;
    std::size_t first_bad = counts_.size();
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      const auto c = counts_[i].load();
      if (c != 1) {
        (c == 0 ? missing : duplicated) += 1;
        first_bad = std::min(first_bad, i);
      }
    }
    EXPECT_EQ(missing, 0u) << what << ": first bad value " << first_bad;
    EXPECT_EQ(duplicated, 0u) << what << ": first bad value " << first_bad;
  }

 private:
  std::vector<std::atomic<std::uint8_t>> counts_;
};

}  // namespace gofer::test
