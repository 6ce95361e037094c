#!/bin/sh
# Renders the two configuration files of an evpn-agent pod from environment
# variables: gobgpd's TOML and the agent's YAML. The chart runs this very file
# in its busybox init container (mounted from the "<release>-scripts"
# ConfigMap); tests/chart_test.ts runs it with `busybox sh` and starts real
# gobgpd daemons on its output. Plain POSIX sh: no bash, no jq, no sed tricks.
#
# Every input is checked before anything is written; a refused input names the
# variable, the Helm value it comes from, and the reason, and the script exits
# with status 2. Both files are written atomically (temporary file + mv) and
# echoed to stdout, so `kubectl logs POD -c render-config` shows what the pod
# runs with.
#
# Inputs (environment):
#   POD_IP                      required; the pod's IP address, IPv4 or IPv6 (status.podIP)
#   AGENT_CONFIG_FILE           output path  [/out/agent/config.yaml]
#   GOBGPD_CONFIG_FILE          output path  [/out/gobgpd/gobgpd.toml]
#
#   GOBGP_ENABLED               gobgp.enabled: render gobgpd.toml  [true]
#   GOBGP_ASN                   gobgp.asn, 1..4294967295 (required when enabled)
#   GOBGP_ROUTER_ID             gobgp.routerID, IPv4  [POD_IP; required if that is IPv6]
#   GOBGP_FAMILIES              gobgp.families, space-separated AFI-SAFI names
#                               [ipv4-unicast l2vpn-evpn]
#   GOBGP_MULTIHOP_TTL          gobgp.multihopTtl, 0..255; 0 = no ebgp-multihop  [0]
#   GOBGP_CONNECT_RETRY         gobgp.connectRetry, seconds between attempts
#                               to a static neighbour, 1..65535  [5]
#   GOBGP_GRACEFUL_RESTART      gobgp.gracefulRestart.enabled: BGP graceful
#                               restart on every session (gobgpd runs with -r)  [true]
#   GOBGP_RESTART_TIME          gobgp.gracefulRestart.restartTime, seconds peers
#                               keep this pod's routes while it restarts, 1..4095  [120]
#   GOBGP_ROUTE_SERVER          gobgp.routeServer.enabled: peers are
#                               route-server clients  [false]
#   GOBGP_RR_ENABLED            gobgp.rr.enabled: add route-reflector settings
#                               to the peers  [false]
#   GOBGP_RR_CLIENT             gobgp.rr.client: the peers are RR clients  [false]
#   GOBGP_RR_CLUSTER_ID         gobgp.rr.clusterID, IPv4  [GOBGP_ROUTER_ID]
#   GOBGP_DYNAMIC_ENABLED       gobgp.dynamic.enabled  [false]
#   GOBGP_DYNAMIC_PREFIX        gobgp.dynamic.prefix, IPv4 or IPv6 CIDR (required when enabled)
#   GOBGP_DYNAMIC_PEER_AS       gobgp.dynamic.peerAs  [GOBGP_ASN]
#   GOBGP_NEIGHBORS             gobgp.neighbors, whitespace-separated entries
#                               "ADDRESS[,ASN[,MULTIHOP_TTL]]"; ASN defaults to
#                               GOBGP_ASN, MULTIHOP_TTL to GOBGP_MULTIHOP_TTL.
#                               An entry equal to POD_IP is skipped (a pod
#                               never peers with itself).
#
#   AGENT_LOG_LEVEL             agent.logLevel: debug, info, warning, warn, error  [info]
#   AGENT_ADVERTISE_SELF        agent.advertiseSelf  [true]
#   AGENT_COMMUNITY_ASN         agent.communityAsn, 0..65535; "" = not set  [""]
#   AGENT_GOBGP_ADDRESS         agent.gobgpAddress, HOST:PORT  [127.0.0.1:50051]
#   AGENT_GOBGP_TIMEOUT         agent.gobgpTimeout, a Go duration  [5s]
#   AGENT_LOCAL_INTERFACE       agent.localInterface  [eth0]
#   AGENT_LOCAL_ADDRESS         agent.localAddress, the VTEP, IPv4 or IPv6  [POD_IP]
#   AGENT_ADDRESS_FAMILY        agent.addressFamily: ipv4, ipv6; "" = the VTEP's  [""]
#                               (an IPv6 VTEP needs ipv6-unicast in GOBGP_FAMILIES)
#   AGENT_VXLAN_PORT            agent.vxlanPort  [4789]
#   AGENT_SKIP_LINK_CLEANUP     agent.skipLinkCleanup  [false]
#   AGENT_AUTO_RECREATE_VXLAN   agent.autoRecreateVxlan  [false]
#   AGENT_VNIS                  agent.vnis, whitespace-separated entries
#                               "ID[,COMMUNITY[,DEVICE[,UNDERLAY_INTERFACE]]]";
#                               an empty field is left to the agent's default
#   AGENT_HTTP_ENABLED          agent.http.enabled: write http.listen  [true]
#   AGENT_HTTP_ADDRESS          agent.http.address, IPv4 or IPv6  [POD_IP]
#   AGENT_HTTP_PORT             agent.http.port  [9469]
set -euf # -f: no globbing, so list entries are split on whitespace only

nl='
'
status=0

fail() {
  printf 'render-config: %s\n' "$*" >&2
  status=2
}

# matches ERE VALUE: VALUE is one line that matches ^(ERE)$ as a whole.
matches() {
  case $2 in *"$nl"*) return 1 ;; esac
  printf '%s\n' "$2" | grep -Eq "^($1)\$"
}

# uint_in VALUE MIN MAX: a decimal integer without leading zeros in MIN..MAX.
uint_in() {
  matches '0|[1-9][0-9]{0,9}' "$1" && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

is_ipv4() {
  matches '((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])' "$1"
}

# A loose IPv6 check (hex groups and colons, at most one "::"); the agent and
# gobgpd parse it fully.
is_ipv6() {
  matches '([0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}' "$1" &&
    ! matches '.*:::.*|.*::.*::.*' "$1"
}

is_ip() {
  is_ipv4 "$1" || is_ipv6 "$1"
}

is_ip_prefix() {
  _addr=${1%/*}
  _len=${1#*/}
  [ "$_addr" != "$1" ] &&
    { { is_ipv4 "$_addr" && uint_in "$_len" 0 32; } ||
      { is_ipv6 "$_addr" && uint_in "$_len" 0 128; }; }
}

# host_port ADDRESS PORT: "a.b.c.d:port" or "[v6]:port".
host_port() {
  if is_ipv6 "$1"; then printf '[%s]:%s' "$1" "$2"; else printf '%s:%s' "$1" "$2"; fi
}

is_bool() {
  [ "$1" = true ] || [ "$1" = false ]
}

# IFNAMSIZ is 16 with the NUL; "/", ":" and whitespace are refused by the agent.
is_ifname() {
  matches '[A-Za-z0-9_.@+-]{1,15}' "$1" && [ "$1" != . ] && [ "$1" != .. ]
}

# Leading zeros are accepted here as by the agent ("65000:010" = "65000:10").
# Standard ASN:VALUE (both 0..65535) or large A:B:C (each 0..4294967295).
is_community() {
  if matches '[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10}' "$1"; then
    _a=${1%%:*} _c=${1##*:}
    _b=${1#*:}
    _b=${_b%:*}
    [ "$_a" -le 4294967295 ] && [ "$_b" -le 4294967295 ] && [ "$_c" -le 4294967295 ]
    return
  fi
  matches '[0-9]{1,5}:[0-9]{1,5}' "$1" && [ "${1%%:*}" -le 65535 ] && [ "${1#*:}" -le 65535 ]
}

# check VAR VALUE KIND WHAT [MIN MAX]: records a failure naming VAR and WHAT.
check() {
  _var=$1 _value=$2 _kind=$3 _what=$4
  case $_kind in
    uint) uint_in "$_value" "$5" "$6" || fail "$_var ($_what) \"$_value\" is not an integer in $5..$6" ;;
    ipv4) is_ipv4 "$_value" || fail "$_var ($_what) \"$_value\" is not an IPv4 address" ;;
    ip) is_ip "$_value" || fail "$_var ($_what) \"$_value\" is not an IPv4 or IPv6 address" ;;
    prefix) is_ip_prefix "$_value" || fail "$_var ($_what) \"$_value\" is not an IP prefix such as 10.244.0.0/16 or fd00:10:244::/56" ;;
    bool) is_bool "$_value" || fail "$_var ($_what) \"$_value\" is not true or false" ;;
    ifname) is_ifname "$_value" || fail "$_var ($_what) \"$_value\" is not an interface name (1..15 of A-Z a-z 0-9 _ . @ + -)" ;;
    community) is_community "$_value" || fail "$_var ($_what) \"$_value\" is not a community ASN:VALUE (both 0..65535) or A:B:C (each 0..4294967295)" ;;
  esac
}

# AFI-SAFI names gobgpd 3.x accepts (gobgpd --dry-run does not check them).
FAMILIES='ipv4-unicast|ipv6-unicast|ipv4-labelled-unicast|ipv6-labelled-unicast|l3vpn-ipv4-unicast|l3vpn-ipv6-unicast|ipv4-multicast|ipv6-multicast|l3vpn-ipv4-multicast|l3vpn-ipv6-multicast|l2vpn-vpls|l2vpn-evpn|ipv4-flowspec|ipv6-flowspec|l3vpn-ipv4-flowspec|l3vpn-ipv6-flowspec|l2vpn-flowspec|rtc|ipv4-encap|ipv6-encap'

# --- inputs -----------------------------------------------------------------

POD_IP=${POD_IP:-}
AGENT_CONFIG_FILE=${AGENT_CONFIG_FILE:-/out/agent/config.yaml}
GOBGPD_CONFIG_FILE=${GOBGPD_CONFIG_FILE:-/out/gobgpd/gobgpd.toml}

GOBGP_ENABLED=${GOBGP_ENABLED:-true}
GOBGP_ASN=${GOBGP_ASN:-}
GOBGP_ROUTER_ID=${GOBGP_ROUTER_ID:-$POD_IP}
GOBGP_FAMILIES=${GOBGP_FAMILIES:-ipv4-unicast l2vpn-evpn}
GOBGP_MULTIHOP_TTL=${GOBGP_MULTIHOP_TTL:-0}
GOBGP_CONNECT_RETRY=${GOBGP_CONNECT_RETRY:-5}
GOBGP_GRACEFUL_RESTART=${GOBGP_GRACEFUL_RESTART:-true}
GOBGP_RESTART_TIME=${GOBGP_RESTART_TIME:-120}
GOBGP_ROUTE_SERVER=${GOBGP_ROUTE_SERVER:-false}
GOBGP_RR_ENABLED=${GOBGP_RR_ENABLED:-false}
GOBGP_RR_CLIENT=${GOBGP_RR_CLIENT:-false}
GOBGP_RR_CLUSTER_ID=${GOBGP_RR_CLUSTER_ID:-$GOBGP_ROUTER_ID}
GOBGP_DYNAMIC_ENABLED=${GOBGP_DYNAMIC_ENABLED:-false}
GOBGP_DYNAMIC_PREFIX=${GOBGP_DYNAMIC_PREFIX:-}
GOBGP_DYNAMIC_PEER_AS=${GOBGP_DYNAMIC_PEER_AS:-$GOBGP_ASN}
GOBGP_NEIGHBORS=${GOBGP_NEIGHBORS:-}

AGENT_LOG_LEVEL=${AGENT_LOG_LEVEL:-info}
AGENT_ADVERTISE_SELF=${AGENT_ADVERTISE_SELF:-true}
AGENT_COMMUNITY_ASN=${AGENT_COMMUNITY_ASN:-}
AGENT_GOBGP_ADDRESS=${AGENT_GOBGP_ADDRESS:-127.0.0.1:50051}
AGENT_GOBGP_TIMEOUT=${AGENT_GOBGP_TIMEOUT:-5s}
AGENT_LOCAL_INTERFACE=${AGENT_LOCAL_INTERFACE:-eth0}
AGENT_LOCAL_ADDRESS=${AGENT_LOCAL_ADDRESS:-$POD_IP}
AGENT_ADDRESS_FAMILY=${AGENT_ADDRESS_FAMILY:-}
AGENT_VXLAN_PORT=${AGENT_VXLAN_PORT:-4789}
AGENT_SKIP_LINK_CLEANUP=${AGENT_SKIP_LINK_CLEANUP:-false}
AGENT_AUTO_RECREATE_VXLAN=${AGENT_AUTO_RECREATE_VXLAN:-false}
AGENT_VNIS=${AGENT_VNIS:-}
AGENT_HTTP_ENABLED=${AGENT_HTTP_ENABLED:-true}
AGENT_HTTP_ADDRESS=${AGENT_HTTP_ADDRESS:-$POD_IP}
AGENT_HTTP_PORT=${AGENT_HTTP_PORT:-9469}

# --- checks -----------------------------------------------------------------

if [ -z "$POD_IP" ]; then
  fail "POD_IP is empty: set it from the pod's status.podIP (fieldRef)"
elif ! is_ip "$POD_IP"; then
  fail "POD_IP \"$POD_IP\" is not an IPv4 or IPv6 address"
elif [ "$GOBGP_ENABLED" = true ] && is_ipv6 "$GOBGP_ROUTER_ID"; then
  fail "GOBGP_ROUTER_ID (gobgp.routerID) \"$GOBGP_ROUTER_ID\" is IPv6 (the pod IP when gobgp.routerID is \"\"): a BGP router id is a 32-bit id written as IPv4; set gobgp.routerID"
fi

check GOBGP_ENABLED "$GOBGP_ENABLED" bool gobgp.enabled
if [ "$GOBGP_ENABLED" = true ]; then
  check GOBGP_ASN "$GOBGP_ASN" uint gobgp.asn 1 4294967295
  check GOBGP_ROUTER_ID "$GOBGP_ROUTER_ID" ipv4 gobgp.routerID
  check GOBGP_MULTIHOP_TTL "$GOBGP_MULTIHOP_TTL" uint gobgp.multihopTtl 0 255
  check GOBGP_CONNECT_RETRY "$GOBGP_CONNECT_RETRY" uint gobgp.connectRetry 1 65535
  check GOBGP_GRACEFUL_RESTART "$GOBGP_GRACEFUL_RESTART" bool gobgp.gracefulRestart.enabled
  # The capability carries the restart time in 12 bits.
  check GOBGP_RESTART_TIME "$GOBGP_RESTART_TIME" uint gobgp.gracefulRestart.restartTime 1 4095
  check GOBGP_ROUTE_SERVER "$GOBGP_ROUTE_SERVER" bool gobgp.routeServer.enabled
  check GOBGP_RR_ENABLED "$GOBGP_RR_ENABLED" bool gobgp.rr.enabled
  check GOBGP_RR_CLIENT "$GOBGP_RR_CLIENT" bool gobgp.rr.client
  if [ "$GOBGP_RR_ENABLED" = true ]; then
    check GOBGP_RR_CLUSTER_ID "$GOBGP_RR_CLUSTER_ID" ipv4 gobgp.rr.clusterID
  fi
  if [ -z "$GOBGP_FAMILIES" ]; then
    fail "GOBGP_FAMILIES (gobgp.families) is empty: name at least one, e.g. ipv4-unicast"
  fi
  for family in $GOBGP_FAMILIES; do
    matches "$FAMILIES" "$family" ||
      fail "GOBGP_FAMILIES (gobgp.families) \"$family\" is not one of: $(echo "$FAMILIES" | tr '|' ' ')"
  done
  check GOBGP_DYNAMIC_ENABLED "$GOBGP_DYNAMIC_ENABLED" bool gobgp.dynamic.enabled
  if [ "$GOBGP_DYNAMIC_ENABLED" = true ]; then
    if [ -z "$GOBGP_DYNAMIC_PREFIX" ]; then
      fail "GOBGP_DYNAMIC_PREFIX (gobgp.dynamic.prefix) is empty but gobgp.dynamic.enabled is true: set the prefix peers connect from, e.g. 10.244.0.0/16"
    else
      check GOBGP_DYNAMIC_PREFIX "$GOBGP_DYNAMIC_PREFIX" prefix gobgp.dynamic.prefix
    fi
    check GOBGP_DYNAMIC_PEER_AS "$GOBGP_DYNAMIC_PEER_AS" uint gobgp.dynamic.peerAs 1 4294967295
  fi
  for entry in $GOBGP_NEIGHBORS; do
    IFS=, read -r n_addr n_asn n_ttl n_rest <<EOF
$entry
EOF
    if [ -n "$n_rest" ]; then
      fail "GOBGP_NEIGHBORS (gobgp.neighbors) entry \"$entry\" has more than ADDRESS,ASN,MULTIHOP_TTL"
    fi
    check GOBGP_NEIGHBORS "$n_addr" ip "gobgp.neighbors[].address in \"$entry\""
    [ -z "$n_asn" ] ||
      check GOBGP_NEIGHBORS "$n_asn" uint "gobgp.neighbors[].asn in \"$entry\"" 1 4294967295
    [ -z "$n_ttl" ] ||
      check GOBGP_NEIGHBORS "$n_ttl" uint "gobgp.neighbors[].multihopTtl in \"$entry\"" 0 255
  done
elif [ -n "$GOBGP_NEIGHBORS" ] || [ "${GOBGP_DYNAMIC_ENABLED}" = true ]; then
  printf 'render-config: note: gobgp.enabled is false; gobgp.neighbors and gobgp.dynamic are not used\n' >&2
fi

matches 'debug|info|warning|warn|error' "$AGENT_LOG_LEVEL" ||
  fail "AGENT_LOG_LEVEL (agent.logLevel) \"$AGENT_LOG_LEVEL\" is not one of debug, info, warning, error"
check AGENT_ADVERTISE_SELF "$AGENT_ADVERTISE_SELF" bool agent.advertiseSelf
[ -z "$AGENT_COMMUNITY_ASN" ] ||
  check AGENT_COMMUNITY_ASN "$AGENT_COMMUNITY_ASN" uint agent.communityAsn 0 65535
if ! matches '([A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}' "$AGENT_GOBGP_ADDRESS" ||
  ! uint_in "${AGENT_GOBGP_ADDRESS##*:}" 1 65535; then
  fail "AGENT_GOBGP_ADDRESS (agent.gobgpAddress) \"$AGENT_GOBGP_ADDRESS\" is not HOST:PORT, e.g. 127.0.0.1:50051"
fi
if [ "$GOBGP_ENABLED" = false ]; then
  case $AGENT_GOBGP_ADDRESS in
    127.* | localhost:* | \[::1\]:*)
      printf 'render-config: note: gobgp.enabled is false and agent.gobgpAddress is %s: an external gobgpd must listen there (hostNetwork, or another container of this pod)\n' \
        "$AGENT_GOBGP_ADDRESS" >&2
      ;;
  esac
fi
matches '([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|ms|s|m|h)(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|ms|s|m|h))*' "$AGENT_GOBGP_TIMEOUT" ||
  fail "AGENT_GOBGP_TIMEOUT (agent.gobgpTimeout) \"$AGENT_GOBGP_TIMEOUT\" is not a duration such as 5s or 1m30s"
check AGENT_LOCAL_INTERFACE "$AGENT_LOCAL_INTERFACE" ifname agent.localInterface
check AGENT_LOCAL_ADDRESS "$AGENT_LOCAL_ADDRESS" ip agent.localAddress
matches '|ipv4|ipv6' "$AGENT_ADDRESS_FAMILY" ||
  fail "AGENT_ADDRESS_FAMILY (agent.addressFamily) \"$AGENT_ADDRESS_FAMILY\" is not one of ipv4, ipv6 or \"\""
vtep_family=$AGENT_ADDRESS_FAMILY
if [ -z "$vtep_family" ]; then
  if is_ipv6 "$AGENT_LOCAL_ADDRESS"; then vtep_family=ipv6; else vtep_family=ipv4; fi
fi
# The membership route of an IPv6 VTEP is an ipv6-unicast /128: without the
# family on gobgpd's sessions it never leaves the pod.
if [ "$GOBGP_ENABLED" = true ] && [ "$vtep_family" = ipv6 ]; then
  case " $GOBGP_FAMILIES " in
    *" ipv6-unicast "*) ;;
    *) fail "GOBGP_FAMILIES (gobgp.families) \"$GOBGP_FAMILIES\" lacks ipv6-unicast, which the IPv6 VTEP $AGENT_LOCAL_ADDRESS needs for its /128 membership route: add it (on the hub too)" ;;
  esac
fi
check AGENT_VXLAN_PORT "$AGENT_VXLAN_PORT" uint agent.vxlanPort 1 65535
check AGENT_SKIP_LINK_CLEANUP "$AGENT_SKIP_LINK_CLEANUP" bool agent.skipLinkCleanup
check AGENT_AUTO_RECREATE_VXLAN "$AGENT_AUTO_RECREATE_VXLAN" bool agent.autoRecreateVxlan
for entry in $AGENT_VNIS; do
  IFS=, read -r v_id v_comm v_dev v_under v_rest <<EOF
$entry
EOF
  if [ -n "$v_rest" ]; then
    fail "AGENT_VNIS (agent.vnis) entry \"$entry\" has more than ID,COMMUNITY,DEVICE,UNDERLAY_INTERFACE"
  fi
  check AGENT_VNIS "$v_id" uint "agent.vnis[].id in \"$entry\"" 1 16777215
  [ -z "$v_comm" ] || check AGENT_VNIS "$v_comm" community "agent.vnis[].community in \"$entry\""
  [ -z "$v_dev" ] || check AGENT_VNIS "$v_dev" ifname "agent.vnis[].device in \"$entry\""
  [ -z "$v_under" ] ||
    check AGENT_VNIS "$v_under" ifname "agent.vnis[].underlayInterface in \"$entry\""
done
check AGENT_HTTP_ENABLED "$AGENT_HTTP_ENABLED" bool agent.http.enabled
if [ "$AGENT_HTTP_ENABLED" = true ]; then
  check AGENT_HTTP_ADDRESS "$AGENT_HTTP_ADDRESS" ip agent.http.address
  check AGENT_HTTP_PORT "$AGENT_HTTP_PORT" uint agent.http.port 1 65535
fi

if [ "$status" -ne 0 ]; then
  printf 'render-config: nothing written\n' >&2
  exit "$status"
fi

# --- gobgpd.toml ------------------------------------------------------------

# afi_safis TABLE: the address families of one [[TABLE]] entry, each with
# graceful restart when it is on.
afi_safis() {
  for family in $GOBGP_FAMILIES; do
    printf '  [[%s.afi-safis]]\n' "$1"
    printf '    [%s.afi-safis.config]\n' "$1"
    printf '      afi-safi-name = "%s"\n' "$family"
    if [ "$GOBGP_GRACEFUL_RESTART" = true ]; then
      printf '    [%s.afi-safis.mp-graceful-restart.config]\n' "$1"
      printf '      enabled = true\n'
    fi
  done
}

# graceful_restart TABLE: peers keep this pod's routes as stale while its
# gobgpd restarts (it runs with -r). notification-enabled (RFC 8538): gobgpd
# stops with a Cease NOTIFICATION, which peers would otherwise take as the
# end of the session and withdraw at once.
graceful_restart() {
  [ "$GOBGP_GRACEFUL_RESTART" = true ] || return 0
  printf '  [%s.graceful-restart.config]\n' "$1"
  printf '    enabled = true\n'
  printf '    restart-time = %s\n' "$GOBGP_RESTART_TIME"
  printf '    notification-enabled = true\n'
}

# peer_options TABLE TTL PEER_AS LABEL: route-reflector, route-server and multihop
# settings. Route reflection is iBGP only (RFC 4456): eBGP peers get no
# route-reflector block (an eBGP speaker passes routes on anyway).
peer_options() {
  if [ "$GOBGP_RR_ENABLED" = true ] && [ "$3" != "$GOBGP_ASN" ]; then
    printf 'render-config: note: peer AS %s is not gobgp.asn %s (eBGP): no route-reflector settings for %s\n' \
      "$3" "$GOBGP_ASN" "$4" >&2
  elif [ "$GOBGP_RR_ENABLED" = true ]; then
    printf '  [%s.route-reflector.config]\n' "$1"
    printf '    route-reflector-client = %s\n' "$GOBGP_RR_CLIENT"
    printf '    route-reflector-cluster-id = "%s"\n' "$GOBGP_RR_CLUSTER_ID"
  fi
  if [ "$GOBGP_ROUTE_SERVER" = true ]; then
    printf '  [%s.route-server.config]\n' "$1"
    printf '    route-server-client = true\n'
  fi
  if [ "$2" -gt 0 ]; then
    printf '  [%s.ebgp-multihop.config]\n' "$1"
    printf '    enabled = true\n'
    printf '    multihop-ttl = %s\n' "$2"
  fi
}

render_gobgpd() {
  printf '# Rendered by render-config.sh for pod %s\n' "$POD_IP"
  printf '[global.config]\n'
  printf '  as = %s\n' "$GOBGP_ASN"
  printf '  router-id = "%s"\n' "$GOBGP_ROUTER_ID"
  if [ "$GOBGP_DYNAMIC_ENABLED" = true ]; then
    printf '\n[[peer-groups]]\n'
    printf '  [peer-groups.config]\n'
    printf '    peer-group-name = "dyn-peers"\n'
    printf '    peer-as = %s\n' "$GOBGP_DYNAMIC_PEER_AS"
    peer_options peer-groups "$GOBGP_MULTIHOP_TTL" "$GOBGP_DYNAMIC_PEER_AS" \
      "dynamic neighbours in $GOBGP_DYNAMIC_PREFIX"
    graceful_restart peer-groups
    afi_safis peer-groups
    printf '\n[[dynamic-neighbors]]\n'
    printf '  [dynamic-neighbors.config]\n'
    printf '    prefix = "%s"\n' "$GOBGP_DYNAMIC_PREFIX"
    printf '    peer-group = "dyn-peers"\n'
  fi
  for entry in $GOBGP_NEIGHBORS; do
    IFS=, read -r n_addr n_asn n_ttl _ <<EOF
$entry
EOF
    if [ "$n_addr" = "$POD_IP" ]; then
      printf 'render-config: note: neighbour %s is this pod; skipped\n' "$n_addr" >&2
      continue
    fi
    printf '\n[[neighbors]]\n'
    printf '  [neighbors.config]\n'
    printf '    neighbor-address = "%s"\n' "$n_addr"
    printf '    peer-as = %s\n' "${n_asn:-$GOBGP_ASN}"
    # The pod IP is the session's source only towards a neighbour of its family.
    if { is_ipv6 "$n_addr" && is_ipv6 "$POD_IP"; } || { is_ipv4 "$n_addr" && is_ipv4 "$POD_IP"; }; then
      printf '  [neighbors.transport.config]\n'
      printf '    local-address = "%s"\n' "$POD_IP"
    fi
    printf '  [neighbors.timers.config]\n'
    printf '    connect-retry = %s\n' "$GOBGP_CONNECT_RETRY"
    peer_options neighbors "${n_ttl:-$GOBGP_MULTIHOP_TTL}" "${n_asn:-$GOBGP_ASN}" \
      "neighbour $n_addr"
    graceful_restart neighbors
    afi_safis neighbors
  done
}

# --- config.yaml ------------------------------------------------------------

render_agent() {
  printf '# Rendered by render-config.sh for pod %s\n' "$POD_IP"
  printf 'logLevel: "%s"\n' "$AGENT_LOG_LEVEL"
  printf 'advertiseSelf: %s\n' "$AGENT_ADVERTISE_SELF"
  if [ -n "$AGENT_COMMUNITY_ASN" ]; then
    printf 'communityAsn: %s\n' "$AGENT_COMMUNITY_ASN"
  fi
  printf 'gobgp:\n'
  printf '  address: "%s"\n' "$AGENT_GOBGP_ADDRESS"
  printf '  timeout: "%s"\n' "$AGENT_GOBGP_TIMEOUT"
  printf 'node:\n'
  printf '  localInterface: "%s"\n' "$AGENT_LOCAL_INTERFACE"
  printf '  localAddress: "%s"\n' "$AGENT_LOCAL_ADDRESS"
  [ -z "$AGENT_ADDRESS_FAMILY" ] || printf '  addressFamily: "%s"\n' "$AGENT_ADDRESS_FAMILY"
  printf '  vxlanPort: %s\n' "$AGENT_VXLAN_PORT"
  printf '  skipLinkCleanup: %s\n' "$AGENT_SKIP_LINK_CLEANUP"
  printf '  autoRecreateVxlan: %s\n' "$AGENT_AUTO_RECREATE_VXLAN"
  if [ -n "$AGENT_VNIS" ]; then
    printf 'vnis:\n'
    for entry in $AGENT_VNIS; do
      IFS=, read -r v_id v_comm v_dev v_under _ <<EOF
$entry
EOF
      printf '  - id: %s\n' "$v_id"
      [ -z "$v_comm" ] || printf '    community: "%s"\n' "$v_comm"
      [ -z "$v_dev" ] || printf '    device: "%s"\n' "$v_dev"
      [ -z "$v_under" ] || printf '    underlayInterface: "%s"\n' "$v_under"
    done
  fi
  if [ "$AGENT_HTTP_ENABLED" = true ]; then
    printf 'http:\n'
    printf '  listen: "%s"\n' "$(host_port "$AGENT_HTTP_ADDRESS" "$AGENT_HTTP_PORT")"
  fi
}

# write FILE FUNCTION: renders into FILE.tmp, then renames it over FILE.
write() {
  mkdir -p "$(dirname "$1")"
  "$2" >"$1.tmp"
  mv -f "$1.tmp" "$1"
  printf -- '--- %s\n' "$1"
  cat "$1"
}

if [ "$GOBGP_ENABLED" = true ]; then
  write "$GOBGPD_CONFIG_FILE" render_gobgpd
fi
write "$AGENT_CONFIG_FILE" render_agent
