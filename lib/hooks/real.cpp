// real.cpp: the real-function table (real.hpp) and its resolution before main.
#include "real.hpp"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace gofer::hooks::detail {

void* resolve_symbol(const char* name) noexcept {
  void* const f = ::dlsym(RTLD_NEXT, name);
  if (f == nullptr) {
    std::fprintf(stderr, "gofer::hooks: cannot find the real %s (dlsym: %s)\n", name, ::dlerror());
    std::abort();
  }
  return f;
}

const Real<ssize_t(int, void*, size_t)> real_read("read");
const Real<ssize_t(int, const iovec*, int)> real_readv("readv");
const Real<ssize_t(int, const void*, size_t)> real_write("write");
const Real<ssize_t(int, const iovec*, int)> real_writev("writev");
const Real<ssize_t(int, void*, size_t, int)> real_recv("recv");
const Real<ssize_t(int, void*, size_t, int, sockaddr*, socklen_t*)> real_recvfrom("recvfrom");
const Real<ssize_t(int, msghdr*, int)> real_recvmsg("recvmsg");
const Real<ssize_t(int, const void*, size_t, int)> real_send("send");
const Real<ssize_t(int, const void*, size_t, int, const sockaddr*, socklen_t)> real_sendto(
    "sendto");
const Real<ssize_t(int, const msghdr*, int)> real_sendmsg("sendmsg");
const Real<int(int, const sockaddr*, socklen_t)> real_connect("connect");
const Real<int(int, sockaddr*, socklen_t*)> real_accept("accept");
const Real<int(int, sockaddr*, socklen_t*, int)> real_accept4("accept4");
const Real<int(pollfd*, nfds_t, int)> real_poll("poll");
const Real<int(pollfd*, nfds_t, const timespec*, const sigset_t*)> real_ppoll("ppoll");
const Real<int(int, fd_set*, fd_set*, fd_set*, timeval*)> real_select("select");
const Real<int(int, fd_set*, fd_set*, fd_set*, const timespec*, const sigset_t*)> real_pselect(
    "pselect");
const Real<unsigned int(unsigned int)> real_sleep("sleep");
const Real<int(useconds_t)> real_usleep("usleep");
const Real<int(const timespec*, timespec*)> real_nanosleep("nanosleep");
const Real<int(clockid_t, int, const timespec*, timespec*)> real_clock_nanosleep("clock_nanosleep");
const Real<int(const char*, const char*, const addrinfo*, addrinfo**)> real_getaddrinfo(
    "getaddrinfo");
const Real<int(const char*, hostent*, char*, size_t, hostent**, int*)> real_gethostbyname_r(
    "gethostbyname_r");
const Real<int(int, int, int)> real_socket("socket");
const Real<int(int, int, int, int*)> real_socketpair("socketpair");
const Real<int(int*)> real_pipe("pipe");
const Real<int(int*, int)> real_pipe2("pipe2");
const Real<int(int)> real_close("close");
const Real<int(int, int, ...)> real_fcntl("fcntl");
const Real<int(int, int, ...)> real_fcntl64("fcntl64");
const Real<int(int)> real_dup("dup");
const Real<int(int, int)> real_dup2("dup2");
const Real<int(int, int, int)> real_dup3("dup3");
const Real<int(int, int, int, const void*, socklen_t)> real_setsockopt("setsockopt");
const Real<int(int, unsigned long, ...)> real_ioctl("ioctl");
namespace {

// resolve_all: before main (and before ordinary constructors: priority 101), so no thread
// of the program resolves anything on a hot path.
[[gnu::constructor(101)]] void resolve_all() noexcept {
  real_read.resolve();
  real_readv.resolve();
  real_write.resolve();
  real_writev.resolve();
  real_recv.resolve();
  real_recvfrom.resolve();
  real_recvmsg.resolve();
  real_send.resolve();
  real_sendto.resolve();
  real_sendmsg.resolve();
  real_connect.resolve();
  real_accept.resolve();
  real_accept4.resolve();
  real_poll.resolve();
  real_ppoll.resolve();
  real_select.resolve();
  real_pselect.resolve();
  real_sleep.resolve();
  real_usleep.resolve();
  real_nanosleep.resolve();
  real_clock_nanosleep.resolve();
  real_getaddrinfo.resolve();
  real_gethostbyname_r.resolve();
  real_socket.resolve();
  real_socketpair.resolve();
  real_pipe.resolve();
  real_pipe2.resolve();
  real_close.resolve();
  real_fcntl.resolve();
  real_fcntl64.resolve();
  real_dup.resolve();
  real_dup2.resolve();
  real_dup3.resolve();
  real_setsockopt.resolve();
  real_ioctl.resolve();
}

}  // namespace

}  // namespace gofer::hooks::detail
