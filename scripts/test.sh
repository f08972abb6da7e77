#!/usr/bin/env bash
# The whole test suite on a fresh machine, fastest lane first: set up, then lint, typecheck
# and the unit tests (vitest project unit: pure, files in parallel, well under a minute),
# and only when all of those pass, every test against real Wine (projects wine-pairs, two
# files at a time, then wine-alone, one at a time: minutes; vitest.config.ts says which file
# goes where). A failure in the first lane stops the run there. Arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run -s lint || { echo "lint: failed (see above; npm run format fixes formatting); Wine tests not run"; exit 1; }
npm run -s typecheck || { echo "typecheck: failed; Wine tests not run"; exit 1; }
unit=$(mktemp)
wine=$(mktemp)
trap 'rm -f "$unit" "$wine"' EXIT
# One plain closing line over the lanes that ran, whatever the runner printed above it.
summary() {
  node -e '
    const fs = require("fs");
    let p = 0, f = 0, s = 0;
    for (const file of process.argv.slice(1)) {
      if (!fs.statSync(file).size) continue;
      const r = JSON.parse(fs.readFileSync(file, "utf8"));
      p += r.numPassedTests; f += r.numFailedTests; s += r.numPendingTests + r.numTodoTests;
    }
    console.log(`tests: ${p} passed, ${f} failed` + (s ? `, ${s} skipped` : ""));
  ' "$@" || true
}
status=0
npx vitest run --project unit --passWithNoTests --reporter=default --reporter=json --outputFile.json="$unit" "$@" || status=$?
if [ $status -ne 0 ]; then
  echo "unit tests: failed; Wine tests not run"
  summary "$unit"
  exit $status
fi
npx vitest run --project 'wine-*' --passWithNoTests --reporter=default --reporter=json --outputFile.json="$wine" "$@" || status=$?
summary "$unit" "$wine"
exit $status
