// real.hpp: the libc functions the hooks stand in for, found with dlsym(RTLD_NEXT).
//
// Each Real<F> holds the next definition of one symbol after the program's own (libc's, or a
// sanitizer's interceptor, which then calls libc). All of them are resolved by a constructor
// that runs before main (real.cpp); a hook called even earlier (from another library's
// constructor, or a sanitizer's start-up) resolves its own entry on first use.
//
// Invariants: (1) once get() returns, the entry holds a non-null pointer that never changes;
// (2) a symbol dlsym cannot find ends the program with a message naming it (a hooked call
// without the real function could do nothing right).
//
// Thread-safety: get() from any thread; two threads resolving one entry at once store the
// same pointer. Blocking: never (dlsym takes the loader's lock briefly on a miss).
#pragma once

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

namespace gofer::hooks::detail {

// resolve_symbol: dlsym(RTLD_NEXT, name), or the end of the program with a message.
void* resolve_symbol(const char* name) noexcept;

// Real: the real function of one hooked symbol.
template <class F>
class Real {
 public:
  explicit constexpr Real(const char* name) noexcept : name_(name) {}

  // get: the function pointer; one relaxed load and a branch once resolved.
  F* get() const noexcept {
    F* f = fn_.load(std::memory_order_relaxed);
    if (f == nullptr) [[unlikely]] {
      f = resolve();
    }
    return f;
  }
  template <class... A>
  auto operator()(A... args) const noexcept {
    return get()(args...);
  }
  // resolve: looks the symbol up and stores it.
  F* resolve() const noexcept {
    F* const f = reinterpret_cast<F*>(resolve_symbol(name_));
    fn_.store(f, std::memory_order_relaxed);
    return f;
  }

 private:
  const char* name_;
  mutable std::atomic<F*> fn_{nullptr};
};

extern const Real<ssize_t(int, void*, size_t)> real_read;
extern const Real<ssize_t(int, const iovec*, int)> real_readv;
extern const Real<ssize_t(int, const void*, size_t)> real_write;
extern const Real<ssize_t(int, const iovec*, int)> real_writev;
extern const Real<ssize_t(int, void*, size_t, int)> real_recv;
extern const Real<ssize_t(int, void*, size_t, int, sockaddr*, socklen_t*)> real_recvfrom;
extern const Real<ssize_t(int, msghdr*, int)> real_recvmsg;
extern const Real<ssize_t(int, const void*, size_t, int)> real_send;
extern const Real<ssize_t(int, const void*, size_t, int, const sockaddr*, socklen_t)> real_sendto;
extern const Real<ssize_t(int, const msghdr*, int)> real_sendmsg;
extern const Real<int(int, const sockaddr*, socklen_t)> real_connect;
extern const Real<int(int, sockaddr*, socklen_t*)> real_accept;
extern const Real<int(int, sockaddr*, socklen_t*, int)> real_accept4;
extern const Real<int(pollfd*, nfds_t, int)> real_poll;
extern const Real<int(pollfd*, nfds_t, const timespec*, const sigset_t*)> real_ppoll;
extern const Real<int(int, fd_set*, fd_set*, fd_set*, timeval*)> real_select;
extern const Real<int(int, fd_set*, fd_set*, fd_set*, const timespec*, const sigset_t*)>
    real_pselect;
extern const Real<unsigned int(unsigned int)> real_sleep;
extern const Real<int(useconds_t)> real_usleep;
extern const Real<int(const timespec*, timespec*)> real_nanosleep;
extern const Real<int(clockid_t, int, const timespec*, timespec*)> real_clock_nanosleep;
extern const Real<int(const char*, const char*, const addrinfo*, addrinfo**)> real_getaddrinfo;
extern const Real<int(const char*, hostent*, char*, size_t, hostent**, int*)> real_gethostbyname_r;
extern const Real<int(int, int, int)> real_socket;
extern const Real<int(int, int, int, int*)> real_socketpair;
extern const Real<int(int*)> real_pipe;
extern const Real<int(int*, int)> real_pipe2;
extern const Real<int(int)> real_close;
extern const Real<int(int, int, ...)> real_fcntl;
extern const Real<int(int, int, ...)> real_fcntl64;
extern const Real<int(int)> real_dup;
extern const Real<int(int, int)> real_dup2;
extern const Real<int(int, int, int)> real_dup3;
extern const Real<int(int, int, int, const void*, socklen_t)> real_setsockopt;
extern const Real<int(int, unsigned long, ...)> real_ioctl;

}  // namespace gofer::hooks::detail
