// test_main.cpp: the main() of every test executable: GoogleTest's, with gofer's deadlock
// watchdog set to abort. A test that deadlocks (every task asleep, nothing left to wake one)
// then fails after the grace period with the task dump on stderr, instead of hanging until
// CTest's timeout; and a false report of the watchdog fails the suite.
#include <gtest/gtest.h>

#include <gofer/debug.hpp>

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  gofer::set_deadlock_action(gofer::deadlock_action::abort);
  return RUN_ALL_TESTS();
}
