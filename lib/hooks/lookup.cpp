// lookup.cpp: getaddrinfo and gethostbyname_r. In a task (park_io.hpp's rule) the real lookup
// runs on the blocking pool (gofer::spawn_blocking) while the task parks, since a lookup may
// wait seconds for a DNS server and no fd of it is visible to the hooks (libc's resolver calls
// its own internal socket functions).
//
// Invariants: (1) the job owns copies of its inputs and its results, never the caller's
// memory: a task stopped while the lookup runs returns at once (getaddrinfo: EAI_SYSTEM with
// errno stop_errno; gethostbyname_r: stop_errno, *result = nullptr, NETDB_INTERNAL), and the
// abandoned job frees its result when it ends; (2) gethostbyname_r fills the caller's buffer
// only on the caller's thread, after the job ended: the job resolves into a private buffer
// of the same size, which is copied and its pointers moved onto the caller's buffer.
// Blocking: parks the task. Thread-safety: as libc's.
#include <netdb.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <gofer/blocking.hpp>
#include <gofer/errors.hpp>
#include <gofer/hooks.hpp>

#include "hook_list.hpp"
#include "park_io.hpp"
#include "real.hpp"

namespace gofer::hooks::detail {

namespace {

struct FreeAddrinfo {
  void operator()(addrinfo* a) const noexcept { ::freeaddrinfo(a); }
};

// Resolved: a getaddrinfo job's outcome.
struct Resolved {
  int rc = 0;
  int err = 0;  // errno, for EAI_SYSTEM
  std::unique_ptr<addrinfo, FreeAddrinfo> list;
};

std::optional<std::string> copy_of(const char* s) {
  return s == nullptr ? std::nullopt : std::optional<std::string>(s);
}

const char* c_str(const std::optional<std::string>& s) noexcept {
  return s ? s->c_str() : nullptr;
}

// errno_of: the errno standing for an exception the lookup's task ended with.
int errno_of(std::exception_ptr e) noexcept {
  try {
    std::rethrow_exception(std::move(e));
  } catch (const gofer::cancelled&) {
    return stop_errno;
  } catch (const std::system_error& s) {
    return s.code().category() == std::system_category() ? s.code().value() : EIO;
  } catch (...) {
    return ENOMEM;
  }
}

int parked_getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                       addrinfo** res) noexcept {
  try {
    std::optional<addrinfo> h;
    if (hints != nullptr) {
      h = *hints;
    }
    auto job = gofer::spawn_blocking([n = copy_of(node), s = copy_of(service), h] {
      Resolved r;
      addrinfo* out = nullptr;
      r.rc = real_getaddrinfo(c_str(n), c_str(s), h ? &*h : nullptr, &out);
      r.err = errno;
      r.list.reset(out);
      return r;
    });
    Resolved r = job.wait();
    *res = r.list.release();
    errno = r.err;
    return r.rc;
  } catch (...) {
    errno = errno_of(std::current_exception());
    return errno == ENOMEM ? EAI_MEMORY : EAI_SYSTEM;
  }
}

// Host: a gethostbyname_r job's outcome, in its private buffer.
struct Host {
  int rc = 0;
  int h_err = 0;
  bool found = false;
  hostent entry{};
  std::vector<char> buffer;
};

// Rebase: moves pointers into `from` (the job's buffer) onto `to` (the caller's, a copy).
struct Rebase {
  const char* from;
  char* to;
  std::size_t size;

  template <class T>
  T* operator()(T* p) const noexcept {
    const auto* c = reinterpret_cast<const char*>(p);
    if (p == nullptr || c < from || c >= from + size) {
      return p;
    }
    return reinterpret_cast<T*>(to + (c - from));
  }
  // list: a NULL-terminated array (already in `to`) whose elements point into `from`.
  char** list(char** array) const noexcept {
    char** moved = (*this)(array);
    for (char** p = moved; p != nullptr && *p != nullptr; ++p) {
      *p = (*this)(*p);
    }
    return moved;
  }
};

int parked_gethostbyname_r(const char* name, hostent* ret, char* buf, size_t buflen,
                           hostent** result, int* h_errnop) noexcept {
  *result = nullptr;
  try {
    auto job = gofer::spawn_blocking([n = std::string(name), buflen] {
      Host h;
      h.buffer.resize(buflen);
      hostent* found = nullptr;
      h.rc = real_gethostbyname_r(n.c_str(), &h.entry, h.buffer.data(), buflen, &found, &h.h_err);
      h.found = found != nullptr;
      return h;
    });
    Host h = job.wait();
    *h_errnop = h.h_err;
    if (h.rc == 0 && h.found) {
      std::memcpy(buf, h.buffer.data(), buflen);
      const Rebase move{h.buffer.data(), buf, buflen};
      *ret = h.entry;
      ret->h_name = move(h.entry.h_name);
      ret->h_aliases = move.list(h.entry.h_aliases);
      ret->h_addr_list = move.list(h.entry.h_addr_list);
      *result = ret;
    }
    return h.rc;
  } catch (...) {
    *h_errnop = NETDB_INTERNAL;
    errno = errno_of(std::current_exception());
    return errno;
  }
}

}  // namespace

}  // namespace gofer::hooks::detail

namespace hd = gofer::hooks::detail;

extern "C" {

int getaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** res) {
  if (!hd::in_task()) [[likely]] {
    return hd::real_getaddrinfo(node, service, hints, res);
  }
  return hd::parked_getaddrinfo(node, service, hints, res);
}

int gethostbyname_r(const char* name, hostent* ret, char* buf, size_t buflen, hostent** result,
                    int* h_errnop) {
  if (!hd::in_task() || name == nullptr) [[likely]] {
    return hd::real_gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
  }
  return hd::parked_gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
}

}  // extern "C"

namespace gofer::hooks::detail {

namespace {

const HookSymbol symbols[] = {
    {"getaddrinfo", as_address(&::getaddrinfo)},
    {"gethostbyname_r", as_address(&::gethostbyname_r)},
};

}  // namespace

const HookList lookup_hooks = list_of(symbols);

}  // namespace gofer::hooks::detail
