#!/usr/bin/env bash
# boost_sources.sh: unpacks Boost.Fiber's and Boost.Context's 1.81 sources from Debian's
# boost1.81 source package into a cache (default /var/cache/gofer/boost) for the sanitizer
# builds (docs/sanitizers.md). Idempotent: does nothing when the cache is already there.
#
# The deb-src entry is derived from the machine's own apt sources (Types: deb -> deb-src), so
# no host is named here.
set -euo pipefail
cache="${GOFER_BOOST_CACHE:-/var/cache/gofer}"
if [[ -f "$cache/boost/libs/fiber/src/context.cpp" && -f "$cache/boost/libs/context/src/fiber.cpp" ]]; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "gofer: boost_sources.sh needs root to add a deb-src entry and run apt-get" >&2
  exit 1
fi
mkdir -p "$cache"
src_list=/etc/apt/sources.list.d/gofer-deb-src.sources
if [[ ! -f "$src_list" ]]; then
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$src_list"
  else
    grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' > "${src_list%.sources}.list"
  fi
  apt-get update -qq
fi
cd "$cache"
if ! ls boost1.81_*.orig.tar.xz >/dev/null 2>&1; then
  apt-get source --download-only -qq boost1.81 2>/dev/null
fi
tar -xJf boost1.81_*.orig.tar.xz --wildcards 'boost/libs/fiber/src/*' 'boost/libs/context/src/*'
