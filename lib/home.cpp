// home.cpp: the thread's Home pointer (see home.hpp).
#include "home.hpp"

#include <gofer/detail/waiter.hpp>

namespace gofer::detail {

constinit thread_local Home* this_thread_home = nullptr;
constinit thread_local bool this_thread_service = false;

bool can_park() noexcept {
  return this_thread_home != nullptr;
}

}  // namespace gofer::detail
