#!/usr/bin/env bash
# The hub-spoke lab: gobgpd + evpn-agent on a hub and three spokes in
# network namespaces, with the seed README's multi-VNI validation.
#
# Usage: scripts/lab.sh [up|verify|down|run] [--spokes N] | evpn [up|run]
#   up      build the lab, start gobgpd and an agent on every node, create
#           vxlan10010 on spokes 1,2 and vxlan10011 on spokes 1,3
#   verify  print neighbours, hub RIB, flood FDBs and pings; PASS/FAIL exit code
#   down    stop the lab's processes (by PID) and remove its namespaces
#   run     up, verify, down (exit code of verify)
#   (none)  up, then verify; the lab stays up until "down"
#   evpn    the EVPN variant: our agents (mode: evpn) on spokes 1-2, FRR 8.4
#           with a bridge and a host behind it on spoke 3, then verify; the
#           lab stays up ("evpn run": up, verify, down)
# Needs root. State lives in .lab/ in the repository.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"

if [ "${1:-}" = "evpn" ]; then "$here/setup.sh" --with-frr; else "$here/setup.sh"; fi
cd "$repo"
# Namespaces have no route out: npm packages must be cached beforehand.
deno install --quiet
exec deno run -A scripts/lab.ts "$@"
