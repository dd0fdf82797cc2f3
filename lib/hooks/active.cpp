// active.cpp: gofer::hooks::active(), and the symbol whose reference links every hook file.
//
// The gofer::hooks CMake target tells the linker that gofer_hooks_link is undefined, which
// pulls this file out of the archive; its references to every file's HookList pull the
// files that define the hooks (hook_list.hpp). A program therefore gets all the hooks or
// none, without --whole-archive.
//
// Thread-safety: active() from any thread. Blocking: never (dlsym takes the loader's lock).
#include <dlfcn.h>

#include <gofer/hooks.hpp>

#include "hook_list.hpp"
#include "real.hpp"

// gofer_hooks_link: the link anchor (see above); its value is never read.
extern "C" {
extern const int gofer_hooks_link;
const int gofer_hooks_link = 1;
}

namespace gofer::hooks {

bool active() noexcept {
  const detail::HookList* const lists[] = {&detail::rw_hooks,    &detail::socket_hooks,
                                           &detail::fd_hooks,    &detail::poll_hooks,
                                           &detail::sleep_hooks, &detail::lookup_hooks};
  for (const detail::HookList* l : lists) {
    for (std::size_t i = 0; i < l->count; ++i) {
      const detail::HookSymbol& s = l->symbols[i];
      // The process's global definition must be ours (else shared libraries miss the hook),
      // and the next one must exist (else the hook has nothing to call; resolve_symbol
      // ends the program in that case, before this check could fail).
      if (::dlsym(RTLD_DEFAULT, s.name) != s.address) {
        return false;
      }
      detail::resolve_symbol(s.name);
    }
  }
  return true;
}

}  // namespace gofer::hooks
