#!/usr/bin/env bash
# consumer_test.sh: installs gofer to a temporary prefix and builds and runs a tiny consumer
# with find_package(gofer CONFIG REQUIRED); then the same consumer through add_subdirectory.
# Each also builds and runs hooks_app, which links gofer::hooks.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cmake -S "$root" -B "$tmp/gofer" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGOFER_BUILD_TESTS=OFF \
  -DGOFER_BUILD_SAMPLES=OFF -DCMAKE_INSTALL_PREFIX="$tmp/prefix" >/dev/null
cmake --build "$tmp/gofer" -j2 >/dev/null
cmake --install "$tmp/gofer" >/dev/null
test -f "$tmp/prefix/lib/libgofer.a" || test -f "$tmp/prefix/lib/x86_64-linux-gnu/libgofer.a"
test -f "$tmp/prefix/lib/libgofer_hooks.a" ||
  test -f "$tmp/prefix/lib/x86_64-linux-gnu/libgofer_hooks.a"
test -f "$tmp/prefix/share/gofer/gdb/gofer.py"
cmake -S "$root/tests/consumers/find_package" -B "$tmp/fp" -G Ninja \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/fp" >/dev/null
"$tmp/fp/app"
"$tmp/fp/hooks_app"
cmake -S "$root/tests/consumers/add_subdirectory" -B "$tmp/as" -G Ninja >/dev/null
cmake --build "$tmp/as" -j2 >/dev/null
"$tmp/as/app"
"$tmp/as/hooks_app"
echo "consumer tests: find_package and add_subdirectory OK"
