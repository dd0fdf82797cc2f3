// home.cpp: the thread's Home pointer (see home.hpp).
#include "home.hpp"

#include <gofer/detail/waiter.hpp>

namespace gofer::detail {

namespace {
thread_local Home* this_thread_home = nullptr;
}  // namespace

Home* Home::current() noexcept {
  return this_thread_home;
}

void Home::set_current(Home* h) noexcept {
  this_thread_home = h;
}

bool can_park() noexcept {
  return this_thread_home != nullptr;
}

}  // namespace gofer::detail
