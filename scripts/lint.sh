#!/usr/bin/env bash
# Lint and format check: Biome over the TypeScript (biome.json), clang-format over the C
# (.clang-format). `scripts/lint.sh --fix` applies both formatters and Biome's safe fixes.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t c_files < <(git ls-files 'native/*.c' 'native/*.h')
if [ "${1:-}" = "--fix" ]; then
  # formats even where lint problems remain (those it names need a hand)
  npx biome check --write || true
  clang-format -i "${c_files[@]}"
  exit 0
fi
status=0
npx biome check || status=$?
clang-format --dry-run --Werror "${c_files[@]}" || status=$?
exit $status
