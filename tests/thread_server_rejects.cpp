// thread_server_rejects.cpp: code that must not compile. tests/CMakeLists.txt builds it once per
// GOFER_TEST_REJECT case and expects the build to fail with ThreadServer's static_assert.
#include <string>

#include <gofer/thread_server.hpp>

namespace {
struct Served {};
struct Foreign {};
}  // namespace

void misuse(gofer::ThreadServer<Served>& srv) {
#if GOFER_TEST_REJECT == 1
  srv.on<Foreign>([](Foreign) {});
#elif GOFER_TEST_REJECT == 2
  srv.send(Foreign{});
#elif GOFER_TEST_REJECT == 3
  srv.request(std::string("not served"));
#endif
}
