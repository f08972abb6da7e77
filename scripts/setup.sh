#!/usr/bin/env bash
# Installs what a fresh machine lacks, then builds: Debian's wine64, mingw-w64 and clang-format,
# npm dependencies, the TypeScript and the native parts. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null 2>&1 || need+=(wine64)
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need+=(mingw-w64)
command -v make >/dev/null 2>&1 || need+=(make)
command -v clang-format >/dev/null 2>&1 || need+=(clang-format)
# the dashboard's browser test (test/ui.test.ts) drives Debian's chromium through playwright-core
[ -x /usr/bin/chromium ] || need+=(chromium)
# the cluster's control store (docs/cluster.md); test/cluster.test.ts starts a 3-member etcd from it
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
# test/journal-unit.test.ts counts a real journal process's fsyncs with strace
command -v strace >/dev/null 2>&1 || need+=(strace)
if [ ${#need[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: missing ${need[*]} and no apt-get here: install them with your package manager" >&2
    exit 1
  fi
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "setup: installing ${need[*]} (Debian packages)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# the third-party server test/pg.test.ts duplicates (PostgreSQL 15 for Windows, from the npm registry)
scripts/fetch-thirdparty.sh

echo "setup: build"
npm run -s build
npm run -s build:tests
