// hook_list.hpp: each hook file's list of the symbols it defines, for gofer::hooks::active()
// (active.cpp). Referring to every list from active.cpp also makes a link that pulls
// active.cpp (the target's -u symbol, CMakeLists.txt) pull every hook file from the archive.
//
// Thread-safety: constant after static initialization.
#pragma once

#include <cstddef>

namespace gofer::hooks::detail {

// HookSymbol: a hooked symbol's name and the hooks' own definition of it.
struct HookSymbol {
  const char* name;
  void* address;
};

// HookList: one file's symbols.
struct HookList {
  const HookSymbol* symbols;
  std::size_t count;
};

template <std::size_t N>
constexpr HookList list_of(const HookSymbol (&s)[N]) noexcept {
  return {s, N};
}

// as_address: a hook's address as dlsym returns it.
template <class F>
void* as_address(F* f) noexcept {
  return reinterpret_cast<void*>(f);
}

extern const HookList rw_hooks;      // rw.cpp
extern const HookList socket_hooks;  // sockets.cpp
extern const HookList fd_hooks;      // fd_ops.cpp
extern const HookList poll_hooks;    // poll.cpp
extern const HookList sleep_hooks;   // sleep.cpp
extern const HookList lookup_hooks;  // lookup.cpp

}  // namespace gofer::hooks::detail
