# lab/lib.sh — shared helpers for the pathpilot network lab (sourced, not run).
#
# The lab builds the reference topology (docs/architecture.md) in network namespaces named
# "$PP_LAB-<box>" (default prefix "pp"), with real strongSwan charons on the VPN gateways
# (kernel-libipsec, one charon per namespace; lab/README.md). Every namespace, process and
# rule it makes lives inside those namespaces; every process it starts is recorded in
# $PP_LAB_DIR/pids ("PID NAME STARTTIME"), so `lab/down` ends exactly those PIDs and deletes
# the namespaces. Traffic never leaves the namespaces or loopback.
#
# Environment: PP_LAB (namespace prefix, default "pp"), PP_LAB_DIR (state directory, default
# /tmp/$PP_LAB-lab), PP_BUILD_DIR (where lab/nfq-delay was built, default build).
set -euo pipefail
shopt -s inherit_errexit

PP_LAB=${PP_LAB:-pp}
PP_LAB_DIR=${PP_LAB_DIR:-/tmp/$PP_LAB-lab}
LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Every box of the topology, in creation order. `inet` is the bridge between the gateways.
LAB_BOXES=(vpc mon cla clb dx gwa gwb inet onpa onpb onprem onhost)
# The VPN gateways and, for each, the on-prem VPN gateway terminating its tunnel.
LAB_GATEWAYS=(gwa gwb)
declare -A LAB_PEER=([gwa]=onpa [gwb]=onpb)
# Tunnel inside address of the on-prem end (the VPN probe target) and pinned probe source.
declare -A LAB_TUNNEL_TARGET=([gwa]=169.254.100.1 [gwb]=169.254.200.1)
declare -A LAB_PROBE_SOURCE=([dx]=10.1.0.11 [gwa]=10.1.0.12 [gwb]=10.1.0.13)
LAB_DX_TARGET=10.10.3.100
CHARON=/usr/lib/ipsec/charon
# The lab's data plane (charons: userspace ESP; the delay helper) runs at this nice level, so
# that a machine busy compiling does not look like a lossy, slow network (measured with load 25
# on 2 cores: tunnel RTT max 458 ms at nice 0, 8 ms at -15). labctl.py uses it for pathpilot
# and the traffic stream too. 0 turns it off.
LAB_NICE=${LAB_NICE:--15}

# autogroup_nice PID — gives PID's scheduling autogroup the lab's nice level too. With
# kernel.sched_autogroup_enabled=1 (the default, and on these machines) every session (setsid)
# is its own scheduling group: a process's nice value only ranks it inside its group, and CPU
# time is shared between groups by the group's nice (/proc/PID/autogroup, sched(7)). Every lab
# process starts in its own session, so `nice -n -15` alone bought nothing against a build in
# another session; the group's nice does. Best effort: no autogroup support, no change.
autogroup_nice() {
  [[ $LAB_NICE != 0 && -w /proc/$1/autogroup ]] || return 0
  echo "$LAB_NICE" 2> /dev/null > "/proc/$1/autogroup" || true
}

ns() { echo "$PP_LAB-$1"; }
nsx() { local box=$1; shift; ip netns exec "$(ns "$box")" "$@"; }

die() { echo "lab: $*" >&2; exit 1; }
log() { [[ -n ${LAB_QUIET:-} ]] || echo "lab: $*" >&2; }

require_root() { [[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces)"; }
check_gateway() {
  [[ ${1:-} == gwa || ${1:-} == gwb ]] || die "unknown gateway '${1:-}' (gwa|gwb)"
}

lab_exists() { [[ -e /run/netns/$(ns vpc) ]]; }

# pin_neigh BOX DEV ADDR PEER_BOX PEER_DEV — a permanent ARP entry in BOX: ADDR is PEER_BOX's
# PEER_DEV. Why: the kernel's ARP table is one table for all namespaces, with one limit
# (net.ipv4.neigh.default.gc_thresh3, 1024, settable only in the host namespace). Other tests on
# the same machine (1,000-target probe benches) fill it, and then every new or re-resolved
# entry fails: sends return ENOBUFS ("No buffer space available") and forwarded packets are
# dropped until the forced GC (at most every 5 s) frees entries, a multi-second outage of
# whichever lab link needed ARP at the time. Permanent entries do not count towards that limit
# and are never collected, so the lab's links do not depend on what else runs. Measured here:
# 1,003 of 1,024 entries in use while a lab test saw ENOBUFS on its DX probes.
pin_neigh() {
  local mac
  mac=$(ip -n "$(ns "$4")" -br link show dev "$5" | awk '{print $3}')
  [[ $mac =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]] || die "no MAC address for $5 in $(ns "$4")"
  ip -n "$(ns "$1")" neigh replace "$3" lladdr "$mac" dev "$2" nud permanent
}

# veth BOX1 IF1 ADDR1 BOX2 IF2 ADDR2 — a point-to-point link between two boxes, with permanent
# ARP entries both ways (see pin_neigh).
veth() {
  ip link add "$2" netns "$(ns "$1")" type veth peer name "$5" netns "$(ns "$4")"
  ip -n "$(ns "$1")" addr add "$3" dev "$2"
  ip -n "$(ns "$4")" addr add "$6" dev "$5"
  ip -n "$(ns "$1")" link set "$2" up
  ip -n "$(ns "$4")" link set "$5" up
  pin_neigh "$1" "$2" "${6%/*}" "$4" "$5"
  pin_neigh "$4" "$5" "${3%/*}" "$1" "$2"
}

# inet_port BOX ADDR — plugs BOX into the "internet" bridge (interface `out` in BOX).
inet_port() {
  ip link add out netns "$(ns "$1")" type veth peer name "$1" netns "$(ns inet)"
  ip -n "$(ns inet)" link set "$1" master br0 up
  ip -n "$(ns "$1")" addr add "$2" dev out
  ip -n "$(ns "$1")" link set out up
}

# ---------------------------------------------------------------------------------------------
# Process records. A PID is only signalled if /proc still shows the start time recorded with it,
# so a recycled PID never hits an unrelated process.
# ---------------------------------------------------------------------------------------------

pid_starttime() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }            # drop "pid (comm) ", comm may contain spaces
  set -- $stat
  echo "${20}"                 # field 22 of stat = field 20 after pid and comm
}

# pid_alive PID [STARTTIME] — the recorded process is still the same one and not a zombie.
pid_alive() {
  local st
  st=$(pid_starttime "$1") || return 1
  [[ -z ${2:-} || $st == "$2" ]] || return 1
  [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}

_record_pid() {
  local st
  st=$(pid_starttime "$1") || st=""
  echo "$1 $2 $st" >> "$PP_LAB_DIR/pids"
}
# record_pid PID NAME — `lab/down` will end this process. The pid file is updated under a lock:
# lab/gw-restart (run by pathpilot) and lab/fault may run at the same time.
record_pid() { mkdir -p "$PP_LAB_DIR"; ( flock 9; _record_pid "$1" "$2" ) 9> "$PP_LAB_DIR/.lock"; }

# recorded NAME — prints "PID STARTTIME" of the newest record called NAME.
recorded() {
  [[ -f "$PP_LAB_DIR/pids" ]] || return 1
  awk -v n="$1" '$2 == n {p = $1 " " $3} END {if (p == "") exit 1; print p}' "$PP_LAB_DIR/pids"
}

_unrecord() {
  [[ -f "$PP_LAB_DIR/pids" ]] || return 0
  awk -v n="$1" '$2 != n' "$PP_LAB_DIR/pids" > "$PP_LAB_DIR/pids.tmp"
  mv "$PP_LAB_DIR/pids.tmp" "$PP_LAB_DIR/pids"
}
# unrecord NAME — forgets every record called NAME.
unrecord() { ( flock 9; _unrecord "$1" ) 9> "$PP_LAB_DIR/.lock"; }

# wait_gone TIMEOUT_S PID [STARTTIME] — waits until the process has exited.
wait_gone() {
  local deadline=$((SECONDS + $1))
  while pid_alive "$2" "${3:-}"; do
    ((SECONDS <= deadline)) || return 1
    sleep 0.02
  done
}

# stop_named NAME SIGNAL — signals the recorded process NAME, waits for it, forgets it.
stop_named() {
  local rec pid st
  rec=$(recorded "$1") || return 0
  read -r pid st <<< "$rec"
  if pid_alive "$pid" "$st"; then
    kill "-$2" "$pid" 2>/dev/null || true
    wait_gone 6 "$pid" "$st" || { kill -KILL "$pid" 2>/dev/null || true; wait_gone 5 "$pid" "$st" || true; }
  fi
  unrecord "$1"
}

# Ends every recorded process: charons get SIGKILL (nothing to save in a lab, and a clean
# shutdown takes 3-5 s), the rest SIGTERM and, after 3 s, SIGKILL. Waits until all are gone.
kill_recorded() {
  [[ -f "$PP_LAB_DIR/pids" ]] || return 0
  local pid name st
  while read -r pid name st; do
    pid_alive "$pid" "$st" || continue
    if [[ $name == charon-* ]]; then kill -KILL "$pid" 2>/dev/null || true
    else kill -TERM "$pid" 2>/dev/null || true; fi
  done < "$PP_LAB_DIR/pids"
  local deadline=$((SECONDS + 3)) alive
  while :; do
    alive=0
    while read -r pid name st; do pid_alive "$pid" "$st" && alive=1; done < "$PP_LAB_DIR/pids"
    ((alive && SECONDS <= deadline)) || break
    sleep 0.05
  done
  while read -r pid name st; do
    pid_alive "$pid" "$st" && kill -KILL "$pid" 2>/dev/null || true
  done < "$PP_LAB_DIR/pids"
  while read -r pid name st; do wait_gone 5 "$pid" "$st" || echo "lab: $name ($pid) did not exit" >&2; done \
    < "$PP_LAB_DIR/pids"
  rm -f "$PP_LAB_DIR/pids"
}

# ---------------------------------------------------------------------------------------------
# strongSwan: one charon per box with its own strongswan.conf, VICI socket and private /run
# (lab/README.md, strongSwan note 1). Files live in $PP_LAB_DIR/<box>/.
# ---------------------------------------------------------------------------------------------

vici_uri() { echo "unix://$PP_LAB_DIR/$1/charon.vici"; }
swan() { local box=$1; shift; nsx "$box" swanctl "$@" --uri "$(vici_uri "$box")"; }

# start_charon BOX — starts BOX's charon (detached, own session), records its real PID (from
# inside: `ip netns exec` forks), waits until VICI answers and loads the configuration.
start_charon() {
  local box=$1 dir=$PP_LAB_DIR/$1
  rm -f "$dir/pid" "$dir/run/charon.pid" "$dir/charon.vici"
  mkdir -p "$dir/run"
  setsid ip netns exec "$(ns "$box")" sh -c \
    'mount --bind "$1/run" /run && echo $$ > "$1/pid" && STRONGSWAN_CONF="$1/strongswan.conf" exec nice -n "$3" "$2"' \
    sh "$dir" "$CHARON" "$LAB_NICE" < /dev/null >> "$dir/charon.out" 2>&1 8>&- 9>&- &
  disown
  local i pid=""
  for i in $(seq 200); do
    [[ -s "$dir/pid" ]] && pid=$(cat "$dir/pid") && pid_alive "$pid" && break
    sleep 0.01
  done
  [[ -n $pid ]] || die "charon in $box did not start (see $dir/charon.out)"
  record_pid "$pid" "charon-$box"
  autogroup_nice "$pid"
  for i in $(seq 300); do
    swan "$box" --stats > /dev/null 2>&1 && break
    pid_alive "$pid" || die "charon in $box exited (see $dir/charon.out, $dir/charon.log)"
    sleep 0.01
  done
  swan "$box" --stats > /dev/null 2>&1 || die "charon in $box: VICI does not answer"
  swan "$box" --load-all --file "$dir/swanctl/swanctl.conf" > "$dir/load.out" 2>&1 ||
    die "charon in $box: swanctl --load-all failed: $(tail -3 "$dir/load.out")"
}

# initiate GW — brings up GW's tunnel (IKE + CHILD SA); returns non-zero on failure.
initiate() {
  swan "$1" --initiate --child "$1" --timeout 5 > "$PP_LAB_DIR/$1/initiate.out" 2>&1
}

# charon_pid BOX — prints "PID STARTTIME" of BOX's charon if it runs.
charon_pid() {
  local rec pid st
  rec=$(recorded "charon-$1") || return 1
  read -r pid st <<< "$rec"
  pid_alive "$pid" "$st" || return 1
  echo "$pid $st"
}

# tunnel_pings GW [TRIES] — one pinned ping from the monitor over GW's tunnel answers.
tunnel_pings() {
  local gw=$1 tries=${2:-1} i
  for ((i = 0; i < tries; i++)); do
    nsx mon ping -q -n -c1 -W1 -I "${LAB_PROBE_SOURCE[$gw]}" "${LAB_TUNNEL_TARGET[$gw]}" \
      > /dev/null 2>&1 && return 0
  done
  return 1
}

# wait_tunnel GW TIMEOUT_S — until a pinned ping from the monitor crosses GW's tunnel.
wait_tunnel() {
  local deadline=$((SECONDS + $2))
  until nsx mon ping -q -n -c1 -W0.2 -I "${LAB_PROBE_SOURCE[$1]}" "${LAB_TUNNEL_TARGET[$1]}" \
      > /dev/null 2>&1; do
    ((SECONDS <= deadline)) || return 1
  done
}

# ---------------------------------------------------------------------------------------------
# Config files
# ---------------------------------------------------------------------------------------------

# write_strongswan_conf BOX — per-instance strongswan.conf (lab/README.md, strongSwan note 1). Fast
# retransmits everywhere: a dead peer is declared in ~8 s instead of ~160 s.
write_strongswan_conf() {
  local dir=$PP_LAB_DIR/$1
  mkdir -p "$dir/swanctl"
  for d in x509 x509ca x509ocsp x509aa x509ac x509crl pubkey private rsa ecdsa bliss pkcs8 pkcs12; do
    mkdir -p "$dir/swanctl/$d"
  done
  cat > "$dir/strongswan.conf" <<EOF
# generated by lab/up for $(ns "$1")
charon {
  load_modular = no
  load = random nonce openssl pem pkcs1 x509 pubkey curve25519 aes gcm sha1 sha2 hmac kdf kernel-libipsec kernel-netlink socket-default vici updown counters
  plugins {
    vici {
      socket = $(vici_uri "$1")
    }
  }
  filelog {
    lab {
      path = $dir/charon.log
      time_format = %H:%M:%S
      default = 1
      ike = 1
      knl = 1
      flush_line = yes
    }
  }
  syslog {
    daemon {
      default = -1
    }
  }
  retransmit_timeout = 1.0
  retransmit_base = 1.4
  retransmit_tries = 3
  retransmit_jitter = 0
}
EOF
}

# write_swanctl_conf BOX LOCAL_ADDR REMOTE_ADDR LOCAL_ID REMOTE_ID LOCAL_TS REMOTE_TS PSK NAME DPD_ACTION
write_swanctl_conf() {
  cat > "$PP_LAB_DIR/$1/swanctl/swanctl.conf" <<EOF
# generated by lab/up for $(ns "$1")
connections {
  $9 {
    version = 2
    local_addrs = $2
    remote_addrs = $3
    encap = yes
    dpd_delay = 2s
    local {
      auth = psk
      id = $4
    }
    remote {
      auth = psk
      id = $5
    }
    children {
      $9 {
        local_ts = $6
        remote_ts = $7
        esp_proposals = aes128gcm16
        dpd_action = ${10}
        start_action = none
      }
    }
  }
}
secrets {
  ike-$9 {
    id-1 = $4
    id-2 = $5
    secret = "$8"
  }
}
EOF
}
