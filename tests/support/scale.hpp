// scale.hpp: how much smaller stress tests run under sanitizers.
//
// ASan and TSan make fiber switches 5-10x slower, and TSan also maps a trace buffer per fiber
// (about 1.2 MiB each), so 100,000 live fibers cannot exist under it at all.
#pragma once

namespace gofer::test {

#if defined(__SANITIZE_THREAD__)
inline constexpr bool under_thread_sanitizer = true;
inline constexpr int sanitizer_scale = 10;
#elif defined(__SANITIZE_ADDRESS__)
inline constexpr bool under_thread_sanitizer = false;
inline constexpr int sanitizer_scale = 10;
#else
inline constexpr bool under_thread_sanitizer = false;
inline constexpr int sanitizer_scale = 1;
#endif

}  // namespace gofer::test
