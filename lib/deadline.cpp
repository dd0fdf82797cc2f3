// deadline.cpp: the out-of-line error path of gofer::Deadline (deadline.hpp).
#include <stdexcept>

#include <gofer/deadline.hpp>

namespace gofer::detail {

void throw_nan_deadline() {
  throw std::invalid_argument("gofer: a Deadline cannot be built from a NaN duration");
}

}  // namespace gofer::detail
