#!/usr/bin/env bash
# Builds the single executable bin/evpn-agent with `deno compile`: the agent
# (main.ts and its module graph, npm packages included) plus the GoBGP API
# subset in proto/ (--include proto), with only the permissions it uses:
#   --allow-ffi   libnl-route-3 / libnl-3 / libc through Deno.dlopen
#   --allow-net   gobgpd's gRPC API and the agent's HTTP endpoint
#   --allow-read  the config file, the embedded proto/, /sys/class/net
#   --allow-env   EVPN_AGENT_LIBNL*, and grpc-js's own settings
#   --allow-sys   Deno.networkInterfaces() (the VTEP address of localInterface)
#
# Usage: scripts/build.sh [--target TRIPLE] [--output FILE]
#   --target   x86_64-unknown-linux-gnu (default: this machine) or
#              aarch64-unknown-linux-gnu (arm64). Linux glibc only: the
#              executable loads glibc builds of libnl-route-3 at run time.
#   --output   default bin/evpn-agent
#
# `deno compile` downloads the Deno runtime for the target (denort) from
# Deno's release host the first time; where that host is unreachable, point
# DENORT_BIN at a denort binary of the same Deno version and target.
#
# The executable finds libnl-route-3.so.200 and libnl-3.so.200 through the
# dynamic loader's search path; EVPN_AGENT_LIBNL_ROUTE / EVPN_AGENT_LIBNL
# name other paths.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  printf 'build: %s\n' "$*" >&2
  exit 2
}

target=""
output="bin/evpn-agent"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --target)
      [[ $# -ge 2 ]] || die "--target needs a value"
      target="$2"
      shift 2
      ;;
    --target=*)
      target="${1#*=}"
      shift
      ;;
    --output | -o)
      [[ $# -ge 2 ]] || die "$1 needs a value"
      output="$2"
      shift 2
      ;;
    --output=*)
      output="${1#*=}"
      shift
      ;;
    -h | --help)
      sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
      exit 0
      ;;
    *) die "unknown argument \"$1\" (usage: scripts/build.sh [--target TRIPLE] [--output FILE])" ;;
  esac
done

case "$target" in
  "" | x86_64-unknown-linux-gnu | aarch64-unknown-linux-gnu) ;;
  *) die "unsupported target \"$target\": use x86_64-unknown-linux-gnu or aarch64-unknown-linux-gnu (the agent needs Linux and glibc)" ;;
esac

command -v deno >/dev/null 2>&1 || die "deno not found (scripts/setup.sh installs it)"
mkdir -p "$(dirname "$output")"

args=(
  compile
  --allow-ffi --allow-net --allow-read --allow-env --allow-sys
  --include proto
  --output "$output"
)
if [[ -n "$target" ]]; then
  args+=(--target "$target")
fi
printf 'build: deno %s main.ts\n' "${args[*]}" >&2
exec deno "${args[@]}" main.ts
