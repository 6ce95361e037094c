#!/usr/bin/env bash
# Builds the single executable bin/evpn-agent with `deno compile`: the agent
# (main.ts and its module graph, npm packages and the GoBGP API descriptor
# src/bgp/gobgp_proto.json included), with only the permissions it uses:
#   --allow-ffi   libnl-route-3 / libnl-3 / libc through Deno.dlopen
#   --allow-net   gobgpd's gRPC API and the agent's HTTP endpoint
#   --allow-read  the config file, /sys/class/net
#   --allow-env   EVPN_AGENT_LIBNL*, and grpc-js's own settings
#   --allow-sys   Deno.networkInterfaces() (the VTEP address of localInterface)
# and the agent's V8 flags (AGENT_V8_FLAGS in scripts/lab/topology.ts: a
# 2 MiB young generation, about 25 MiB less RSS after a burst of writes).
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
# The build checks what it wrote: run on this machine's architecture, the
# file must answer --version with "evpn-agent <version of src/version.ts>".
# (DENORT_BIN pointing at the deno CLI itself, the only Deno binary npm
# ships, makes deno compile exit 0 and write a plain Deno CLI: refused and
# removed.) Only npm packages the agent imports are embedded
# (--exclude-unused-npm): the test-only fast-check and ajv must not appear.
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
  --exclude-unused-npm
  --v8-flags=--max-semi-space-size=2
  --output "$output"
)
if [[ -n "$target" ]]; then
  args+=(--target "$target")
fi
printf 'build: deno %s main.ts\n' "${args[*]}" >&2
listing=$(mktemp)
trap 'rm -f "$listing"' EXIT
# deno compile prints the embedded files; keep a plain copy to check them.
deno "${args[@]}" main.ts 2>&1 | tee /dev/stderr | sed 's/\x1b\[[0-9;]*m//g' >"$listing" ||
  die "deno compile failed"

refuse() {
  rm -f "$output"
  die "$* ($output removed)"
}

for dev in fast-check ajv; do
  if grep -qE "[ /]${dev}(/| )" "$listing"; then
    refuse "the executable embeds the test-only npm package $dev"
  fi
done

version=$(sed -nE 's/^export const VERSION = "([^"]+)";$/\1/p' src/version.ts)
[[ -n "$version" ]] || die "cannot read VERSION from src/version.ts"
host=$(uname -m)
case "$target" in
  "" | "$host"-unknown-linux-gnu) ;;
  *)
    printf 'build: %s is for %s, this machine is %s: --version not checked\n' \
      "$output" "$target" "$host" >&2
    exit 0
    ;;
esac
said=$("$output" --version 2>&1 | head -n 1) || true
if [[ "$said" == "evpn-agent $version" ]]; then
  printf 'build: %s answers "%s"\n' "$output" "$said" >&2
elif [[ "$said" == deno\ * ]]; then
  refuse "$output is a plain Deno CLI, not the agent (it answers \"$said\"): DENORT_BIN=${DENORT_BIN:-} points at the deno CLI, not at a denort runtime of Deno $(deno --version | head -n 1 | cut -d' ' -f2)"
else
  refuse "$output answers --version with \"$said\", not \"evpn-agent $version\""
fi
