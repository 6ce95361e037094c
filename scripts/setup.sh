#!/usr/bin/env bash
# Installs what the lab, the integration tests and CI need, and nothing that
# is already there: Deno 2.9.6 (through npm, which ships the binary), gobgpd
# and the gobgp CLI, iproute2 (ip, bridge), ping, and libnl-route-3.
#
# Usage: scripts/setup.sh [--for-tests|--with-frr]   (as root on Debian/Ubuntu; a no-op when all is present)
#   --for-tests  also the tools the test suite uses: busybox (the chart's init
#                script), shellcheck, yamllint, promtool (Debian's prometheus
#                package; its server is stopped and disabled, never left
#                running), and GoBGP's full protos (golang-github-osrg-gobgp-dev)
#                for the API subset check, FRR and openssl
#   --with-frr   also FRR (zebra, bgpd, vtysh) for scripts/lab.sh evpn
set -euo pipefail

DENO_VERSION="2.9.6"

log() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    log "need root to run: $*"
    exit 1
  fi
}

apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    log "missing packages ($*) and no apt-get here: install them by hand"
    exit 1
  fi
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install $*"
  # No package's daemon may start (gobgpd, prometheus): the tests and the lab
  # run their own, in namespaces. policy-rc.d is Debian's switch for that.
  local policy=/usr/sbin/policy-rc.d added=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 0755 "$policy"
    added=1
  fi
  local rc=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" ||
    rc=$?
  [ "$added" -eq 0 ] || as_root rm -f "$policy"
  return "$rc"
}

missing=()
command -v gobgpd >/dev/null 2>&1 && command -v gobgp >/dev/null 2>&1 || missing+=(gobgpd)
command -v ip >/dev/null 2>&1 && command -v bridge >/dev/null 2>&1 || missing+=(iproute2)
command -v ping >/dev/null 2>&1 || missing+=(iputils-ping)
if ! ldconfig -p 2>/dev/null | grep -q 'libnl-route-3\.so\.200'; then
  missing+=(libnl-route-3-200)
fi
if [ "${1:-}" = "--for-tests" ]; then
  command -v busybox >/dev/null 2>&1 || missing+=(busybox)
  command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
  command -v yamllint >/dev/null 2>&1 || missing+=(yamllint)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  # EVPN interop tests run FRR's zebra and bgpd in namespaces; TLS tests make
  # their certificates with openssl.
  [ -x /usr/lib/frr/bgpd ] && command -v vtysh >/dev/null 2>&1 || missing+=(frr)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  [ -f /usr/share/gocode/src/github.com/osrg/gobgp/api/gobgp.proto ] ||
    missing+=(golang-github-osrg-gobgp-dev)
fi
if [ "${1:-}" = "--with-frr" ]; then
  # scripts/lab.sh evpn: FRR 8.4 as the third VTEP.
  [ -x /usr/lib/frr/bgpd ] && command -v vtysh >/dev/null 2>&1 || missing+=(frr)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}"
fi

# Only promtool is wanted from the prometheus package: its postinst enables
# and starts the server (listening on every address, port 9090) where an
# init system lets it.
if [[ " ${missing[*]} " == *" prometheus "* ]]; then
  if [ -d /run/systemd/system ]; then
    as_root systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/prometheus ]; then
    as_root /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    as_root update-rc.d prometheus disable >/dev/null 2>&1 || true
  fi
  log "prometheus installed for promtool; its server is stopped and disabled"
fi

if ! command -v deno >/dev/null 2>&1; then
  if ! command -v npm >/dev/null 2>&1; then
    apt_install npm
  fi
  log "npm install -g deno@${DENO_VERSION}"
  as_root npm install -g "deno@${DENO_VERSION}"
fi
have="$(deno --version | awk 'NR == 1 { print $2 }')"
if [ "$have" != "$DENO_VERSION" ]; then
  log "warning: deno ${have} found, the project pins ${DENO_VERSION}"
fi
log "ok: deno ${have}, $(gobgp --version), $(ip -V)"
