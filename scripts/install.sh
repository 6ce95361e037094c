#!/usr/bin/env bash
# Installs evpn-agent on a bare host: the compiled executable, the systemd
# unit and an example configuration. It never needs the network, never runs
# systemctl, and never overwrites an existing configuration.
#
# Usage: scripts/install.sh [--binary FILE] [--prefix DIR] [--sysconfdir DIR]
#                           [--unitdir DIR] [--destdir DIR]
#   --binary      the executable to install (default bin/evpn-agent of this
#                 checkout, built by `deno task build`); refused unless its
#                 --version says "evpn-agent ..."
#   --prefix      default /usr/local: DIR/bin/evpn-agent, and README.md and
#                 config.example.yaml in DIR/share/doc/evpn-agent
#   --sysconfdir  default /etc: DIR/evpn-agent/config.yaml, written from
#                 config.example.yaml only when it does not exist yet
#   --unitdir     default /etc/systemd/system: DIR/evpn-agent.service, from
#                 packaging/systemd/ with ExecStart, --config and
#                 Documentation set to the paths above
#   --destdir     (or DESTDIR=DIR) a staging root put in front of every path
#                 written to, but not of the paths inside the unit
#
# There is no `deno run` fallback: without a compiled executable it stops
# and says how to get one. Run from a checkout as root (or with a staging
# root); it prints every file it wrote.
set -euo pipefail

say() {
  printf 'install: %s\n' "$*"
}

# die MESSAGE [CODE]: 2 for a usage error (the default), 1 for a missing or wrong executable.
die() {
  printf 'install: %s\n' "$1" >&2
  exit "${2:-2}"
}

usage="usage: scripts/install.sh [--binary FILE] [--prefix DIR] [--sysconfdir DIR] [--unitdir DIR] [--destdir DIR]"
here="$(cd "$(dirname "$0")/.." && pwd)"
binary="$here/bin/evpn-agent"
prefix="/usr/local"
sysconfdir="/etc"
unitdir="/etc/systemd/system"
destdir="${DESTDIR:-}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary | --prefix | --sysconfdir | --unitdir | --destdir)
      [[ $# -ge 2 ]] || die "$1 needs a value ($usage)"
      value="$2"
      case "$1" in
        --binary) binary="$value" ;;
        --prefix) prefix="$value" ;;
        --sysconfdir) sysconfdir="$value" ;;
        --unitdir) unitdir="$value" ;;
        --destdir) destdir="$value" ;;
      esac
      shift 2
      ;;
    -h | --help)
      sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
      exit 0
      ;;
    *) die "unknown argument \"$1\" ($usage)" ;;
  esac
done

# Paths end up in the unit (ExecStart=, a sed replacement): absolute, and
# nothing that systemd or sed would read differently.
for pair in "--prefix:$prefix" "--sysconfdir:$sysconfdir" "--unitdir:$unitdir"; do
  name="${pair%%:*}"
  path="${pair#*:}"
  case "$path" in
    /*) ;;
    *) die "$name \"$path\" is not an absolute path" ;;
  esac
  case "$path" in
    *[[:space:]\|\&\\%\$\"\']*) die "$name \"$path\" contains a character the unit file cannot hold as is" ;;
  esac
done
if [[ -n "$destdir" && "$destdir" != /* ]]; then
  die "--destdir \"$destdir\" is not an absolute path"
fi

unit_src="$here/packaging/systemd/evpn-agent.service"
example_src="$here/config.example.yaml"
readme_src="$here/README.md"
for file in "$unit_src" "$example_src" "$readme_src"; do
  [[ -f "$file" ]] || die "$file is missing: run this script from a complete checkout"
done

if [[ ! -e "$binary" ]]; then
  die "no executable at $binary. Build it with \`deno task build\` (it downloads Deno's runtime, denort, on first use; offline, set DENORT_BIN to a denort of the same Deno version), or name one with --binary FILE. There is no \`deno run\` fallback for the service." 1
fi
[[ -f "$binary" && -x "$binary" ]] || die "$binary is not an executable file" 1
version="$(timeout 20 "$binary" --version 2>/dev/null | head -n 1)" || true
case "$version" in
  "evpn-agent "*) ;;
  *) die "$binary is not an evpn-agent executable: --version printed \"$version\" (a \`deno compile\` with DENORT_BIN pointing at the deno CLI writes the plain Deno CLI)" 1 ;;
esac

bin_dir="$prefix/bin"
doc_dir="$prefix/share/doc/evpn-agent"
conf_dir="$sysconfdir/evpn-agent"
config="$conf_dir/config.yaml"

# Refuse before writing anything when a target cannot be written (not root).
for dir in "$bin_dir" "$doc_dir" "$conf_dir" "$unitdir"; do
  existing="$destdir$dir"
  while [[ ! -e "$existing" ]]; do existing="$(dirname "$existing")"; done
  if [[ ! -d "$existing" || ! -w "$existing" ]]; then
    [[ "$existing" == "$destdir$dir" ]] || existing="$existing (to create $destdir$dir)"
    die "cannot write to $existing: run as root, or give a staging root with --destdir or DESTDIR" 1
  fi
done

install -d -m 0755 "$destdir$bin_dir" "$destdir$doc_dir" "$destdir$conf_dir" "$destdir$unitdir"

install -m 0755 "$binary" "$destdir$bin_dir/evpn-agent"
say "installed $destdir$bin_dir/evpn-agent (mode 0755, $version) from $binary"

install -m 0644 "$example_src" "$destdir$doc_dir/config.example.yaml"
install -m 0644 "$readme_src" "$destdir$doc_dir/README.md"
say "installed $destdir$doc_dir/config.example.yaml and README.md (mode 0644)"

if [[ -e "$destdir$config" ]]; then
  say "kept the existing $destdir$config (compare it with $doc_dir/config.example.yaml)"
else
  install -m 0644 "$example_src" "$destdir$config"
  say "installed $destdir$config (mode 0644) from config.example.yaml: review it"
fi

unit_tmp="$(mktemp)"
trap 'rm -f "$unit_tmp"' EXIT
sed -e "s|/usr/local/bin/evpn-agent|$bin_dir/evpn-agent|g" \
  -e "s|/etc/evpn-agent/config.yaml|$config|g" \
  -e "s|^Documentation=.*|Documentation=file:$doc_dir/README.md|" \
  "$unit_src" >"$unit_tmp"
install -m 0644 "$unit_tmp" "$destdir$unitdir/evpn-agent.service"
say "installed $destdir$unitdir/evpn-agent.service (mode 0644): ExecStart=$bin_dir/evpn-agent --config $config"

say "next: $bin_dir/evpn-agent check-config $config"
say "then: systemctl daemon-reload && systemctl enable --now evpn-agent"
say "it runs as a dynamic unprivileged user with CAP_NET_ADMIN only, after gobgpd.service; no reload: after a config change, systemctl restart evpn-agent"
if [[ -z "$destdir" ]] && command -v ldconfig >/dev/null 2>&1; then
  if ! ldconfig -p 2>/dev/null | grep -q 'libnl-route-3\.so\.200'; then
    say "warning: libnl-route-3.so.200 not found by the loader (Debian/Ubuntu: apt-get install libnl-route-3-200)"
  fi
fi
