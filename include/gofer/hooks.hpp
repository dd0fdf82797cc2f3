// hooks.hpp: gofer::hooks, the opt-in library that makes blocking C libraries park the task
// instead of blocking its thread. Linking the CMake target gofer::hooks is the only switch:
//
//   target_link_libraries(app PRIVATE gofer::gofer gofer::hooks)
//
//   rt.go([] {
//     redisContext* c = redisConnect("127.0.0.1", 6379);   // connect() parks this task
//     redisReply* r = (redisReply*)redisCommand(c, "GET k"); // write() and read() park it
//   });
//
// What is hooked (the program's own definitions of these libc symbols, exported dynamically,
// so shared libraries and dlopen'ed modules call them too): read, readv, write, writev, recv,
// recvfrom, recvmsg, send, sendto, sendmsg, connect, accept, accept4, poll, ppoll, select,
// pselect, sleep, usleep, nanosleep, clock_nanosleep, getaddrinfo, gethostbyname_r; for
// bookkeeping socket, socketpair, pipe, pipe2, close, fcntl (and fcntl64), dup, dup2, dup3,
// setsockopt (SO_RCVTIMEO, SO_SNDTIMEO) and ioctl (FIONBIO).
//
// Semantics. Called from a gofer task (a thread with a gofer scheduler; the blocking pool's
// threads count as plain) on a socket, pipe or FIFO the caller believes blocking, a call that
// would block parks the task in the thread's poller: the fd is made O_NONBLOCK underneath,
// while fcntl(F_GETFL) keeps reporting the caller's own choice. Writes complete in full, as
// blocking writes do. SO_RCVTIMEO / SO_SNDTIMEO end a wait with -1 and EAGAIN (connect:
// EINPROGRESS), as the kernel does. poll, ppoll, select and pselect park on all their fds
// with their timeout (a ppoll or pselect signal mask applies to an immediate check only);
// sleeps park; getaddrinfo and gethostbyname_r run on the blocking pool
// (gofer::spawn_blocking) while the task parks.
// A plain thread, and every call on a regular file, tty, eventfd, epoll fd or an fd the caller
// made non-blocking, goes straight to libc, unchanged (a plain thread that meets an fd a task
// made non-blocking still sees blocking semantics: the hook waits in the real poll()).
//
// Stopping. request_stop() on a task parked in a hooked I/O call, poll, select or lookup
// makes that call fail with errno stop_errno (ECANCELED; getaddrinfo: EAI_SYSTEM with errno
// ECANCELED; gethostbyname_r: ECANCELED). Not EINTR: most C clients retry a call that fails
// with EINTR, and every retry of a stopped task would fail again at once, a busy loop; with
// ECANCELED the client gives up and the task can end. Sleeps are the exception, as POSIX
// defines them: a stopped sleep returns early with EINTR and the time left (sleep() returns
// the seconds left).
//
// Not hooked: file I/O (read() on a regular file goes to libc; use gofer::File or
// spawn_blocking), epoll_wait, io_uring, the stdio buffers of FILE* (fread/fgets on
// a socket call libc's internal read, which no interposer sees), and system calls made
// through syscall(2). The hooks keep a record per fd; one closed behind their back
// (close_range, fclose of an fdopen'ed socket, a raw system call) is recognized by its
// identity (st_dev, st_ino) before the hooks set O_NONBLOCK or park on its number again. A
// socket the hooks made non-blocking and that is then closed that way and its number reused
// by an fd the hooks never saw may still get one call that blocks the thread.
//
// Link the hooks into the executable (they are its definitions of the libc symbols; a
// shared library cannot interpose libc for the program that loads it). Close an fd on the
// thread whose tasks wait on it: close() wakes the tasks parked on that fd on the calling
// thread (their call then fails with EBADF), not those parked on other threads.
//
// Thread-safety: every hooked call is as thread-safe as libc's. Blocking: a hooked call parks
// the calling task where libc would block the thread; on a plain thread it blocks as libc does.
#pragma once

#include <cerrno>

namespace gofer::hooks {

// stop_errno: the errno a hooked I/O call, poll or select fails with when its task is
// stopped (request_stop) while it waits: ECANCELED (see "Stopping" above).
inline constexpr int stop_errno = ECANCELED;

// active: true when the hooks are linked into the program, every real libc function was
// found, and the process's global definition of each hooked symbol is the hooks' own (so
// shared libraries and dlopen'ed modules reach them too). False means gofer::hooks is linked
// but some symbol resolves elsewhere first (e.g. a library preloaded with LD_PRELOAD, or an
// executable linked without the exported symbols).
bool active() noexcept;

}  // namespace gofer::hooks
