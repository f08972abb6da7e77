#!/usr/bin/env bash
# The main job on a fresh machine: set up, then show svcdup at work on its own Wine prefix
# (~/.svcdup, or $SVCDUP_HOME): VMs, duplicates of Wine's RpcSs and Schedule beside the
# host's own (relayed: direct does not apply to Wine builtins and svchost services), each VM's
# clients reaching their own RpcSs; the project's test service duplicated with no mode asked
# for, so direct (the SCM starts a hooked copy of its image); then everything removed again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
svcdup() { echo; echo "\$ svcdup $*"; node dist/cli.js "$@"; }
pipecall="$(pwd)/native/build/svcdup-pipecall.exe"

svcdup doctor
svcdup services
svcdup analyze RpcSs | head -20

# Leftovers of an interrupted demo: remove them first (vm rm also removes duplicates).
for vm in web1 web2; do node dist/cli.js vm rm "$vm" >/dev/null 2>&1 || true; done
node dist/cli.js host exec -- sc delete svcdup-testsvc >/dev/null 2>&1 || true

svcdup vm create web1
svcdup vm create web2
for vm in web1 web2; do
  svcdup dup RpcSs --vm "$vm" --start
  svcdup dup Schedule --vm "$vm" --share RpcSs --start
done
svcdup status
svcdup ps
svcdup host exec -- sc query RpcSs@web1

echo; echo "# which RpcSs serves the endpoint mapper pipe, seen from the host and from each VM:"
svcdup host exec -- "$pipecall" --server-pid epmapper
svcdup run --vm web1 -- "$pipecall" --server-pid epmapper
svcdup run --vm web2 -- "$pipecall" --server-pid epmapper

svcdup stop Schedule --vm web1
svcdup start Schedule --vm web1

echo; echo "# direct where it applies: no svcdup-host, the SCM starts svcdup-testsvc@web1.exe (a hooked copy) itself"
svcdup host exec -- sc create svcdup-testsvc binPath= "Z:$(pwd | tr / '\\')\\native\\build\\svcdup-testsvc.exe"
svcdup dup svcdup-testsvc --vm web1 --start
svcdup status --vm web1
svcdup ps --vm web1
svcdup run --vm web1 -- "$pipecall" svcdup-testsvc

svcdup vm rm web1
svcdup vm rm web2
svcdup host exec -- sc delete svcdup-testsvc
svcdup status
svcdup vm ls
