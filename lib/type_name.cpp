// type_name.cpp: demangled type names for error reports (errors.hpp).
#include <cxxabi.h>

#include <cstdlib>
#include <string>
#include <typeinfo>

#include <gofer/errors.hpp>

namespace gofer::detail {

std::string type_name(const std::type_info& t) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(t.name(), nullptr, nullptr, &status);
  if (status != 0 || demangled == nullptr) {
    return t.name();
  }
  std::string out(demangled);
  std::free(demangled);
  return out;
}

}  // namespace gofer::detail
