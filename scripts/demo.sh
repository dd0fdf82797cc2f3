#!/usr/bin/env bash
# demo.sh: sets up, builds and runs gofer's main demo (samples/demo.cpp).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j2 --target demo
"$root/build/samples/demo"
