// fd_ready.hpp: park the task until a file descriptor that gofer does not own is ready, for C
// libraries with non-blocking APIs (libpq's PQconnectPoll/PQconsumeInput, hiredis async,
// c-ares, OpenSSL on a non-blocking socket): the library says which fd and which direction it
// needs, the task parks in its thread's poller, and the library is called again once the fd is
// ready. A non-blocking connect(2) on a raw socket:
//
//   int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
//   if (::connect(fd, addr, len) != 0 && errno == EINPROGRESS) {
//     gofer::wait_writable(fd, 2s);   // throws errc::timed_out after 2 s
//     // getsockopt(fd, SOL_SOCKET, SO_ERROR, ...) says whether the connect succeeded
//   }
//
// and with libpq:
//
//   for (auto st = PQconnectPoll(conn); st != PGRES_POLLING_OK; st = PQconnectPoll(conn)) {
//     if (st == PGRES_POLLING_FAILED) throw ...;
//     if (st == PGRES_POLLING_READING) gofer::wait_readable(PQsocket(conn), d);
//     else gofer::wait_writable(PQsocket(conn), d);
//   }
//
// Readiness is level-triggered: a wait returns at once when the fd is already ready, and a
// wait returning means only that the next read or write will not block (it may still give
// EAGAIN once, e.g. after a spurious wake-up: wait again then). The fd stays the caller's and
// keeps its flags (make it O_NONBLOCK yourself, as those libraries do); gofer keeps only a
// disarmed poller registration, which the kernel drops when the fd is closed. Do not close the
// fd while a task waits on it: that wait would last until its deadline.
//
// Errors: std::invalid_argument for a negative fd; std::system_error EBADF for a number that is
// not an open fd; EPERM for an fd the poller cannot watch (a regular file or a directory,
// which are always "ready": read them directly, or on the blocking pool); errc::timed_out
// when the deadline passes first; gofer::cancelled on request_stop().
// Thread-safety: any number of tasks, on any threads, may wait on one fd, in either direction.
// Blocking: parks the calling task (on a plain thread, runs the thread's loop), never the OS
// thread.
#pragma once

#include <gofer/deadline.hpp>

namespace gofer {

// wait_readable: returns once fd is readable (data, EOF, a peer's hang-up or an error pending).
void wait_readable(int fd, Deadline d = {});
// wait_writable: returns once fd is writable (buffer room, or an error pending).
void wait_writable(int fd, Deadline d = {});

}  // namespace gofer
