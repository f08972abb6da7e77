#!/usr/bin/env bash
# The main job on a fresh machine: set up, then show svcdup at work on its own Wine prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
svcdup() { node dist/cli.js "$@"; }

echo; echo '$ svcdup doctor'
svcdup doctor
echo; echo '$ svcdup services'
svcdup services
echo; echo '$ svcdup host exec -- sc query RpcSs'
svcdup host exec -- sc query RpcSs
