#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up, typecheck, lint, then the unit tests and
# every test against real Wine (vitest projects unit and wine, vitest.config.ts). A lint
# failure fails the run but does not stop the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run -s typecheck
lint=0
npm run -s lint || lint=$?
[ $lint -eq 0 ] || echo "lint: failed (see above; npm run format fixes formatting)"
report=$(mktemp)
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
# One plain closing line, whatever the runner printed above it.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$report" || true
rm -f "$report"
[ $status -ne 0 ] || status=$lint
exit $status
