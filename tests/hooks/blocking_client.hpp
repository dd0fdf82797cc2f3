// blocking_client.hpp: a tiny blocking TCP client written as a C library would be, with no
// knowledge of gofer: socket, connect, write, poll and read on a blocking socket. The hooks
// tests build it three ways (tests/CMakeLists.txt): linked statically, as a shared library
// and as a module loaded with dlopen, each under its own function name.
//
// client_exchange: connects to ip:port, sends `request`, waits up to timeout_ms (poll) for
// the reply and reads it up to and including '\n' into `reply` (NUL-terminated, at most cap-1
// bytes). Returns the reply's length, or -errno naming the failing step's error.
// Blocking: blocks its thread (under gofer::hooks, in a task: parks the task).
#pragma once

#include <cstddef>

extern "C" {
using client_exchange_fn = int(const char* ip, int port, const char* request, char* reply,
                               std::size_t cap, int timeout_ms);
client_exchange_fn client_exchange_static;
client_exchange_fn client_exchange_shared;
}
