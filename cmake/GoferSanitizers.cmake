# Sanitizer builds and the Boost libraries gofer links.
#
# GOFER_SANITIZE="" (default): link Debian's Boost.Fiber/Context 1.81 (fcontext, fast), the
# static archives unless GOFER_BOOST_STATIC is OFF.
# GOFER_SANITIZE="address,undefined" or "thread": Debian's libraries switch stacks on fcontext,
# which ASan and TSan cannot see, so gofer builds Boost.Fiber's and Boost.Context's own sources
# (unpacked by scripts/boost_sources.sh into GOFER_BOOST_SOURCES) on the annotated ucontext
# backend with BOOST_USE_ASAN or BOOST_USE_TSAN, and links that instead. Every in-tree target
# (and that Boost build) gets the same sanitizer flags. See docs/sanitizers.md.

set(GOFER_BOOST_SOURCES "/var/cache/gofer/boost" CACHE PATH
  "Unpacked Boost 1.81 source tree (boost/libs/{fiber,context}/src) for sanitizer builds")

option(GOFER_BOOST_STATIC "Link Boost.Fiber/Context statically (measured: 20-30% fewer \
instructions per context switch, since a shared libboost_fiber reaches its thread-locals through \
the TLS descriptor path)" ON)

macro(gofer_find_boost)
  set(Boost_USE_STATIC_LIBS ${GOFER_BOOST_STATIC})
  find_package(Boost 1.81...<1.82 CONFIG REQUIRED COMPONENTS fiber context)
  if(GOFER_SANITIZE STREQUAL "")
    set(GOFER_BOOST_LIBRARIES Boost::fiber Boost::context)
  else()
    gofer_sanitizer_flags()
    add_compile_options(${GOFER_SANITIZER_FLAGS})
    add_link_options(${GOFER_SANITIZER_FLAGS})
    set(fiber_src ${GOFER_BOOST_SOURCES}/libs/fiber/src)
    set(context_src ${GOFER_BOOST_SOURCES}/libs/context/src)
    if(NOT EXISTS ${fiber_src}/context.cpp OR NOT EXISTS ${context_src}/fiber.cpp)
      message(FATAL_ERROR "GOFER_SANITIZE needs Boost 1.81 sources in ${GOFER_BOOST_SOURCES}: "
        "run scripts/boost_sources.sh first")
    endif()
    add_library(gofer_boost_sanitized STATIC
      ${fiber_src}/algo/algorithm.cpp ${fiber_src}/algo/round_robin.cpp
      ${fiber_src}/algo/shared_work.cpp ${fiber_src}/algo/work_stealing.cpp
      ${fiber_src}/barrier.cpp ${fiber_src}/condition_variable.cpp ${fiber_src}/context.cpp
      ${fiber_src}/fiber.cpp ${fiber_src}/future.cpp ${fiber_src}/mutex.cpp
      ${fiber_src}/properties.cpp ${fiber_src}/recursive_mutex.cpp
      ${fiber_src}/recursive_timed_mutex.cpp ${fiber_src}/scheduler.cpp
      ${fiber_src}/timed_mutex.cpp ${fiber_src}/waker.cpp
      ${context_src}/fiber.cpp ${context_src}/posix/stack_traits.cpp)
    target_compile_features(gofer_boost_sanitized PUBLIC cxx_std_20)
    # NDEBUG: Boost's own asserts stay off, as in Debian's release build of the library.
    target_compile_definitions(gofer_boost_sanitized
      PRIVATE BOOST_FIBERS_SOURCE BOOST_CONTEXT_SOURCE NDEBUG
      PUBLIC ${GOFER_BOOST_DEFINES})
    target_compile_options(gofer_boost_sanitized PRIVATE -w)
    target_link_libraries(gofer_boost_sanitized PUBLIC Boost::headers Threads::Threads)
    set(GOFER_BOOST_LIBRARIES gofer_boost_sanitized)
  endif()
endmacro()

macro(gofer_sanitizer_flags)
  if(GOFER_SANITIZE STREQUAL "address,undefined")
    set(GOFER_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
      -fno-omit-frame-pointer)
    set(GOFER_BOOST_DEFINES BOOST_USE_UCONTEXT BOOST_USE_ASAN)
  elseif(GOFER_SANITIZE STREQUAL "thread")
    set(GOFER_SANITIZER_FLAGS -fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
    set(GOFER_BOOST_DEFINES BOOST_USE_UCONTEXT BOOST_USE_TSAN)
  else()
    message(FATAL_ERROR "GOFER_SANITIZE must be empty, \"address,undefined\" or \"thread\", "
      "not \"${GOFER_SANITIZE}\"")
  endif()
endmacro()

