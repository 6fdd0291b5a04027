#!/usr/bin/env bash
# Installs the Debian 12 packages batchd builds and tests with, if any is missing.
# Safe to run again: it does nothing (and touches no network) when everything is there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libsqlite3-dev libsqlitecpp-dev libboost-dev nlohmann-json3-dev libspdlog-dev
  libssl-dev openssl  # https:// chunk stores; the TLS tests make their certificates with openssl
  liblz4-dev libzstd-dev libblosc-dev libxxhash-dev zlib1g-dev libbz2-dev libgtest-dev googletest
  python3 python3-numpy python3-zarr python3-numcodecs python3-xxhash
  python3-botocore python3-boto3  # s3:// tests: botocore signs as an oracle, boto3 uploads and downloads
  python3-fsspec python3-aiohttp  # bench/remote_store_bench.py: zarr-python reading over http(s)
  time curl
  wrk python3-prometheus-client  # the load benchmark (bench/load_bench.py) and its format check
  nginx  # the HTTP chunk store tests and benchmark (its WebDAV module takes PUT)
  # The PostgreSQL store and its tests (tests/support/postgres_server.h): postgresql-15 brings
  # initdb, postgres, psql and pg_isready under /usr/lib/postgresql/15/bin; libpq-dev the client.
  postgresql-15 libpq-dev
  chromium
  # Sanitizer and fuzzing builds (scripts/build-sanitized.sh): clang with its sanitizer and
  # libFuzzer runtimes, and llvm-symbolizer for readable reports.
  clang-14 libclang-rt-14-dev llvm-14
  clang-format  # tests/repo/clang_format_test.sh: every C++ file formatted by .clang-format
)
# Node.js and npm run the dashboard's browser test (tests/browser, playwright-core from npm).
# Debian's nodejs/npm are installed only when no `node`/`npm` is on PATH: a Node.js from
# elsewhere (nodesource bundles npm) conflicts with Debian's npm package.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo for: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
