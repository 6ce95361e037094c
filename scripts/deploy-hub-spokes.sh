#!/usr/bin/env bash
# Deploys the hub-spoke demo with the evpn-agent Helm chart: first the hub (a
# gobgpd route reflector that accepts any peer from DYNAMIC_PREFIX as a
# dynamic neighbour), then waits for the hub pods' IPs, then the spokes, whose
# gobgpd peers statically with the hub. Pods use their pod IPs
# (hostNetwork=false), so no address needs to be known beforehand.
#
# Usage: scripts/deploy-hub-spokes.sh [namespace]     (default namespace: evpnlab)
#
# Environment (defaults in brackets):
#   HUB_RELEASE     [evpn-hub]       Helm release of the hub
#   SPOKE_RELEASE   [evpn-spokes]    Helm release of the spokes
#   HUB_ASN         [65000]          the hub's AS
#   SPOKE_ASN       [65000]          the spokes' AS (differ from HUB_ASN for eBGP)
#   HUB_REPLICAS    [1]              hub pods; every spoke peers with each of them
#   SPOKE_REPLICAS  [4]              spoke pods
#   IMAGE_TAG       [dev]            evpn-agent image tag
#   IMAGE_REPOSITORY [evpn-agent]    evpn-agent image repository
#   DYNAMIC_PREFIX  [10.244.0.0/16]  the pod network: spokes connect from it
#   HUB_NODE        [unset]          pin the hub to this node (kubernetes.io/hostname)
#   MULTIHOP_TTL    [8]              eBGP multihop TTL (iBGP sessions ignore it)
#   RESTART_TIME    [120]            BGP graceful restart: seconds peers keep a
#                                    restarting pod's routes; 0 = graceful restart off
#   HUB_IP_TIMEOUT  [120]            seconds to wait for the hub pods' IPs
#   HELM_TIMEOUT    [5m]             helm --wait timeout per release
#   KUBECTL, HELM   [kubectl, helm]  the commands to run
#
# Needs kubectl and helm configured for the target cluster.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

die() {
  printf 'deploy-hub-spokes: %s\n' "$*" >&2
  exit 1
}

case "${1:-}" in
  -h | --help)
    usage
    exit 0
    ;;
  -*) die "unknown option \"$1\" (usage: $0 [namespace])" ;;
esac
[[ $# -le 1 ]] || die "too many arguments (usage: $0 [namespace])"

NS="${1:-evpnlab}"
HUB_RELEASE="${HUB_RELEASE:-evpn-hub}"
SPOKE_RELEASE="${SPOKE_RELEASE:-evpn-spokes}"
HUB_ASN="${HUB_ASN:-65000}"
SPOKE_ASN="${SPOKE_ASN:-65000}"
HUB_REPLICAS="${HUB_REPLICAS:-1}"
SPOKE_REPLICAS="${SPOKE_REPLICAS:-4}"
IMAGE_TAG="${IMAGE_TAG:-dev}"
IMAGE_REPOSITORY="${IMAGE_REPOSITORY:-evpn-agent}"
DYNAMIC_PREFIX="${DYNAMIC_PREFIX:-10.244.0.0/16}"
MULTIHOP_TTL="${MULTIHOP_TTL:-8}"
RESTART_TIME="${RESTART_TIME:-120}"
HUB_IP_TIMEOUT="${HUB_IP_TIMEOUT:-120}"
HELM_TIMEOUT="${HELM_TIMEOUT:-5m}"
KUBECTL="${KUBECTL:-kubectl}"
HELM="${HELM:-helm}"

CHART_DIR="$(cd "$(dirname "$0")/.." && pwd)/charts/evpn-agent"

command -v "$KUBECTL" >/dev/null 2>&1 ||
  die "\"$KUBECTL\" not found: install kubectl and point it at the cluster (or set KUBECTL)"
command -v "$HELM" >/dev/null 2>&1 ||
  die "\"$HELM\" not found: install Helm 3 (or set HELM)"
[[ -f "$CHART_DIR/Chart.yaml" ]] || die "no chart at $CHART_DIR"

for pair in HUB_ASN:"$HUB_ASN" SPOKE_ASN:"$SPOKE_ASN"; do
  [[ "${pair#*:}" =~ ^[1-9][0-9]{0,9}$ ]] || die "${pair%%:*} \"${pair#*:}\" is not an AS number"
done
for pair in HUB_REPLICAS:"$HUB_REPLICAS" SPOKE_REPLICAS:"$SPOKE_REPLICAS" \
  MULTIHOP_TTL:"$MULTIHOP_TTL" HUB_IP_TIMEOUT:"$HUB_IP_TIMEOUT" RESTART_TIME:"$RESTART_TIME"; do
  [[ "${pair#*:}" =~ ^[0-9]+$ ]] || die "${pair%%:*} \"${pair#*:}\" is not a whole number"
done
[[ "$HUB_REPLICAS" -ge 1 ]] || die "HUB_REPLICAS must be at least 1"
[[ "$RESTART_TIME" -le 4095 ]] || die "RESTART_TIME \"$RESTART_TIME\" is above 4095 (seconds)"
if [[ "$RESTART_TIME" -eq 0 ]]; then
  graceful=(--set gobgp.gracefulRestart.enabled=false)
else
  graceful=(--set gobgp.gracefulRestart.enabled=true --set gobgp.gracefulRestart.restartTime="$RESTART_TIME")
fi
[[ "$DYNAMIC_PREFIX" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$ ]] ||
  die "DYNAMIC_PREFIX \"$DYNAMIC_PREFIX\" is not an IPv4 prefix such as 10.244.0.0/16"

"$KUBECTL" get namespace "$NS" >/dev/null 2>&1 || "$KUBECTL" create namespace "$NS"

hub_extra=()
if [[ -n "${HUB_NODE:-}" ]]; then
  echo "Pinning the hub to node $HUB_NODE"
  hub_extra+=(--set-string "nodeSelector.kubernetes\.io/hostname=$HUB_NODE")
fi

echo "Deploying the hub ($HUB_RELEASE, AS $HUB_ASN, dynamic neighbours from $DYNAMIC_PREFIX)..."
"$HELM" upgrade --install "$HUB_RELEASE" "$CHART_DIR" --namespace "$NS" \
  --set hostNetwork=false \
  --set replicas="$HUB_REPLICAS" \
  --set image.repository="$IMAGE_REPOSITORY" \
  --set-string image.tag="$IMAGE_TAG" \
  --set gobgp.enabled=true \
  --set gobgp.asn="$HUB_ASN" \
  --set gobgp.multihopTtl="$MULTIHOP_TTL" \
  "${graceful[@]}" \
  --set gobgp.dynamic.enabled=true \
  --set gobgp.dynamic.prefix="$DYNAMIC_PREFIX" \
  --set gobgp.dynamic.peerAs="$SPOKE_ASN" \
  --set gobgp.rr.enabled=true \
  --set gobgp.rr.client=true \
  --set agent.localInterface=eth0 \
  --set agent.advertiseSelf=true \
  "${hub_extra[@]}" \
  --wait --timeout "$HELM_TIMEOUT"

echo "Waiting up to ${HUB_IP_TIMEOUT}s for $HUB_REPLICAS hub pod IP(s)..."
hub_ips=()
deadline=$((SECONDS + HUB_IP_TIMEOUT))
while :; do
  out="$("$KUBECTL" -n "$NS" get pods -l "app.kubernetes.io/instance=$HUB_RELEASE" \
    --field-selector=status.phase=Running \
    -o jsonpath='{range .items[*]}{.status.podIP}{"\n"}{end}' 2>/dev/null || true)"
  hub_ips=()
  while read -r ip; do
    [[ -n "$ip" ]] && hub_ips+=("$ip")
  done <<<"$out"
  [[ "${#hub_ips[@]}" -ge "$HUB_REPLICAS" ]] && break
  if [[ "$SECONDS" -ge "$deadline" ]]; then
    printf 'deploy-hub-spokes: the hub never got its pod IP(s) within %ss (have %s of %s)\n' \
      "$HUB_IP_TIMEOUT" "${#hub_ips[@]}" "$HUB_REPLICAS" >&2
    "$KUBECTL" -n "$NS" get pods -l "app.kubernetes.io/instance=$HUB_RELEASE" -o wide >&2 || true
    die "see: $KUBECTL -n $NS describe pods -l app.kubernetes.io/instance=$HUB_RELEASE"
  fi
  sleep 2
done
for ip in "${hub_ips[@]}"; do
  [[ "$ip" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] ||
    die "hub pod IP \"$ip\" is not IPv4: the demo peers over IPv4"
done
echo "Hub pod IP(s): ${hub_ips[*]}"

neighbors=()
i=0
for ip in "${hub_ips[@]}"; do
  neighbors+=(--set "gobgp.neighbors[$i].address=$ip" --set "gobgp.neighbors[$i].asn=$HUB_ASN")
  i=$((i + 1))
done

echo "Deploying the spokes ($SPOKE_RELEASE, AS $SPOKE_ASN) peering with ${hub_ips[*]}..."
"$HELM" upgrade --install "$SPOKE_RELEASE" "$CHART_DIR" --namespace "$NS" \
  --set hostNetwork=false \
  --set replicas="$SPOKE_REPLICAS" \
  --set image.repository="$IMAGE_REPOSITORY" \
  --set-string image.tag="$IMAGE_TAG" \
  --set gobgp.enabled=true \
  --set gobgp.asn="$SPOKE_ASN" \
  --set gobgp.multihopTtl="$MULTIHOP_TTL" \
  "${graceful[@]}" \
  --set gobgp.dynamic.enabled=false \
  --set gobgp.rr.enabled=false \
  --set gobgp.rr.client=false \
  "${neighbors[@]}" \
  --set agent.localInterface=eth0 \
  --set agent.advertiseSelf=true \
  --wait --timeout "$HELM_TIMEOUT"

# The chart's Deployment name: <release>-evpn-agent, or the release name
# alone when it already contains "evpn-agent".
deployment() {
  if [[ "$1" == *evpn-agent* ]]; then echo "deploy/$1"; else echo "deploy/$1-evpn-agent"; fi
}
hub="$(deployment "$HUB_RELEASE")"
spokes="$(deployment "$SPOKE_RELEASE")"

echo "Done. Pods:"
"$KUBECTL" -n "$NS" get pods -l app.kubernetes.io/name=evpn-agent -o wide
cat <<EOF

Verify:
  $KUBECTL -n $NS exec $hub -c gobgpd -- gobgp neighbor
  $KUBECTL -n $NS exec $spokes -c gobgpd -- gobgp neighbor
  $KUBECTL -n $NS exec $hub -c gobgpd -- gobgp global rib -a ipv4 -j
  $KUBECTL -n $NS exec $hub -c evpn-agent -- bridge fdb show
EOF
