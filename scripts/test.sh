#!/usr/bin/env bash
# test.sh: sets up, builds and runs gofer's whole test suite (ctest), the integration tests
# against real servers included (scripts/setup.sh --integration installs them).
#
#   scripts/test.sh                              Release build in build/
#   scripts/test.sh --sanitize address,undefined ASan+UBSan build in build-asan/
#   scripts/test.sh --sanitize thread            TSan build in build-tsan/
#
# Sanitizer builds rebuild Boost.Fiber/Context from Debian's sources on the annotated ucontext
# backend (docs/sanitizers.md); scripts/boost_sources.sh fetches and caches them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
sanitize=""
if [[ "${1:-}" == "--sanitize" ]]; then
  sanitize="${2:?--sanitize needs address,undefined or thread}"
fi
"$root/scripts/setup.sh" --integration  # the real servers and C clients of tests/integration/
case "$sanitize" in
  "") build="$root/build"; type=Release ;;
  address,undefined) build="$root/build-asan"; type=RelWithDebInfo ;;
  thread) build="$root/build-tsan"; type=RelWithDebInfo ;;
  *) echo "test.sh: unknown sanitizer '$sanitize'" >&2; exit 2 ;;
esac
if [[ -n "$sanitize" ]]; then
  "$root/scripts/boost_sources.sh"
fi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="$type" -DGOFER_SANITIZE="$sanitize" \
  -DGOFER_WERROR=ON -DGOFER_INTEGRATION_TESTS=ON >/dev/null
cmake --build "$build" -j2
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# tests/tsan.supp: only OpenSSL's own libc calls (uninstrumented code; see the file).
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/tsan.supp"
ctest --test-dir "$build" -j2 --output-on-failure
