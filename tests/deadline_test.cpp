// deadline_test: gofer::Deadline's construction rules (durations of any representation,
// steady_clock time points, never, saturation) and its small API.
#include <chrono>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include <gtest/gtest.h>

#include <gofer/deadline.hpp>

namespace {

using namespace std::chrono_literals;
using gofer::Deadline;
using Clock = std::chrono::steady_clock;

TEST(Deadline, DefaultIsNever) {
  EXPECT_TRUE(Deadline().is_never());
  EXPECT_TRUE(Deadline::never().is_never());
  EXPECT_EQ(Deadline::never().time_point(), Clock::time_point::max());
  EXPECT_FALSE(Deadline::never().expired());
  EXPECT_EQ(Deadline::never().remaining(), Clock::duration::max());
}

TEST(Deadline, DurationsOfEveryRepresentationCountFromNow) {
  const auto before = Clock::now();
  const Deadline a = 1500ms;
  const Deadline b = 1.5s;
  const Deadline c = std::chrono::duration<float, std::milli>(1500.0F);
  const auto after = Clock::now();
  for (const Deadline& d : {a, b, c}) {
    EXPECT_GE(d.time_point(), before + 1500ms);
    EXPECT_LE(d.time_point(), after + 1500ms + 1us);
    EXPECT_FALSE(d.expired());
    EXPECT_GT(d.remaining(), 1s);
  }
}

TEST(Deadline, ZeroAndNegativeDurationsMeanNow) {
  const Deadline zero = 0s;
  const Deadline negative = -5s;
  EXPECT_TRUE(zero.expired());
  EXPECT_TRUE(negative.expired());
  EXPECT_EQ(negative.remaining(), Clock::duration::zero());
  EXPECT_GE(negative.time_point(), Clock::now() - 1s);  // "now", not five seconds ago
}

TEST(Deadline, HugeDurationsSaturateToNever) {
  EXPECT_TRUE(Deadline(std::chrono::hours::max()).is_never());
  EXPECT_TRUE(Deadline(std::chrono::duration<double>(1e300)).is_never());
  EXPECT_TRUE(Deadline(Clock::duration::max()).is_never());
}

TEST(Deadline, NanIsRejectedAndTimePointsBeyondTheClockSaturate) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::chrono::duration<double> nan_seconds(nan);
  EXPECT_THROW((void)Deadline(nan_seconds), std::invalid_argument);
  using FloatTimePoint = std::chrono::time_point<Clock, std::chrono::duration<double>>;
  EXPECT_THROW((void)Deadline(FloatTimePoint(nan_seconds)), std::invalid_argument);
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(Deadline(std::chrono::duration<double>(inf)).is_never());
  EXPECT_TRUE(Deadline(std::chrono::duration<double>(-inf)).expired());
  EXPECT_TRUE(Deadline(FloatTimePoint(std::chrono::duration<double>(1e300))).is_never());
  EXPECT_TRUE(Deadline(std::chrono::time_point<Clock, std::chrono::hours>::max()).is_never());
  const Deadline long_ago(std::chrono::time_point<Clock, std::chrono::hours>::min());
  EXPECT_EQ(long_ago.time_point(), Clock::time_point::min());
  EXPECT_TRUE(long_ago.expired());
}

TEST(Deadline, SteadyTimePointsAreKeptAndRoundedUp) {
  const auto tp = Clock::now() + 2s;
  EXPECT_EQ(Deadline(tp).time_point(), tp);
  const auto coarse = std::chrono::time_point_cast<std::chrono::seconds>(Clock::now()) + 3s;
  EXPECT_EQ(Deadline(coarse).time_point(), coarse);
  const std::chrono::time_point<Clock, std::chrono::duration<double>> fractional(
      std::chrono::duration<double>(1.0000000004));
  EXPECT_EQ(Deadline(fractional).time_point().time_since_epoch(), 1000000001ns);
  EXPECT_TRUE(Deadline(Clock::now() - 1s).expired());
}

TEST(Deadline, OtherClocksAreRejectedAtCompileTime) {
  static_assert(std::is_convertible_v<Clock::time_point, Deadline>);
  static_assert(std::is_convertible_v<std::chrono::milliseconds, Deadline>);
  static_assert(std::is_convertible_v<std::chrono::duration<double>, Deadline>);
  static_assert(!std::is_convertible_v<std::chrono::system_clock::time_point, Deadline>);
  static_assert(!std::is_convertible_v<int, Deadline>);
  static_assert(sizeof(Deadline) == sizeof(Clock::time_point));
  static_assert(std::is_trivially_copyable_v<Deadline>);
}

TEST(Deadline, EarliestAndOrdering) {
  const Deadline soon = 1s;
  const Deadline late = 1h;
  EXPECT_EQ(earliest(soon, late), soon);
  EXPECT_EQ(earliest(late, soon), soon);
  EXPECT_EQ(earliest(Deadline::never(), late), late);
  EXPECT_LT(soon, late);
  EXPECT_LT(late, Deadline::never());
}

}  // namespace
