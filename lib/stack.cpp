#include <gofer/stack.hpp>

#include "stack_pool.hpp"

namespace gofer {

void set_stack_size(std::size_t bytes) {
  detail::set_default_stack_size(bytes);
}

std::size_t stack_size() noexcept {
  return detail::get_default_stack_size();
}

}  // namespace gofer
