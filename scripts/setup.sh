#!/usr/bin/env bash
# setup.sh: installs gofer's build dependencies from Debian packages.
#
# Idempotent and quick when everything is present (one dpkg query). Run as root it calls
# apt-get; otherwise it prints the exact apt-get line to run. Nothing is downloaded at build
# time by CMake; this script is the only place dependencies come from.
#
#   scripts/setup.sh            build, test and demo dependencies
#   scripts/setup.sh --bench    also Google Benchmark and Go (for bench/)
#   scripts/setup.sh --integration
#                               also the servers and C clients of tests/integration/ and the
#                               samples pg_query and redis_fanout (Redis + hiredis, PostgreSQL
#                               + libpq, libcurl); flags combine
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost-context1.81-dev libboost-fiber1.81-dev
  libgtest-dev libgmock-dev
  clang-format
  gdb python3  # tests/gdb: the gdb extension on a live process and a core file
  libssl-dev openssl  # gofer::tls (OpenSSL 3); its tests make certificates with `openssl`
)
for flag in "$@"; do
  case "$flag" in
    --bench) packages+=(libbenchmark-dev golang-go) ;;
    --integration)
      packages+=(redis-server libhiredis-dev postgresql libpq-dev libcurl4-openssl-dev) ;;
    *) echo "setup.sh: unknown flag '$flag' (--bench, --integration)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "gofer setup: missing packages; run as root:" >&2
  echo "  apt-get update && $line" >&2
  exit 1
fi

echo "gofer setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
