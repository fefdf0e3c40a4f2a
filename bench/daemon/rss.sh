#!/usr/bin/env bash
# Daemon memory with many paths: starts `pathpilot run` with N paths (one ICMP target each, 1 s
# interval) and M route tables on the exec backend, lets it probe for a while and prints its
# RSS. The targets are N addresses of a peer namespace this script creates (pp-rss-mon ↔
# pp-rss-peer over a veth pair); both namespaces are removed at exit (traffic stays in namespaces the script made).
#
#   bench/daemon/rss.sh [BUILD_DIR] [PATHS=1000] [TABLES=100] [SECONDS=15]
set -euo pipefail
BUILD=${1:-build}
PATHS=${2:-1000}
TABLES=${3:-100}
SECS=${4:-15}
BIN=$BUILD/src/cli/pathpilot
WORK=$(mktemp -d /tmp/pp-rss-XXXXXX)
PID=""
cleanup() {
  if [[ -n "$PID" ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  ip netns del pp-rss-mon 2>/dev/null || true
  ip netns del pp-rss-peer 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cleanup_ns() { ip netns del pp-rss-mon 2>/dev/null || true; ip netns del pp-rss-peer 2>/dev/null || true; }
cleanup_ns
ip netns add pp-rss-mon
ip netns add pp-rss-peer
ip link add v0 netns pp-rss-mon type veth peer name v1 netns pp-rss-peer
ip -n pp-rss-mon addr add 10.200.0.1/16 dev v0
ip -n pp-rss-peer addr add 10.200.0.2/16 dev v1
for ns in pp-rss-mon pp-rss-peer; do ip -n $ns link set lo up; done
ip -n pp-rss-mon link set v0 up
ip -n pp-rss-peer link set v1 up
{
  for ((i = 0; i < PATHS; i++)); do
    echo "address add 10.200.$((i / 250 + 1)).$((i % 250 + 1))/16 dev v1"
  done
} | ip -n pp-rss-peer -batch -

{
  echo "version: 1"
  echo "site: {name: Bench}"
  echo "probe: {interval: 1s, timeout: 500ms, jitter: 10}"
  echo "policy: {az_affinity: false, failback_hold_down: 10s}"
  echo "paths:"
  for ((i = 0; i < PATHS; i++)); do
    a=$((i / 250 + 1)); b=$((i % 250 + 1))
    kind=vpn; [[ $i -eq 0 ]] && kind=dx
    echo "  - {name: p$i, kind: $kind, probe: {targets: [10.200.$a.$b], source: 10.200.0.1, fwmark: $((i + 1))}, next_hop: {via: 10.200.$a.$b}}"
  done
  echo "route_tables:"
  for ((t = 0; t < TABLES; t++)); do
    # Ten candidate paths per table, as in a real site (every table may not use every path).
    list=""
    for ((k = 0; k < 10; k++)); do list+="${list:+, }p$(((t * 10 + k) % PATHS))"; done
    echo "  - {id: t$t, backend: exec, destinations: [10.$((t / 250 + 100)).$((t % 250)).0/24], paths: [$list]}"
  done
  echo "backends: {exec: {command: [/bin/true], timeout: 5s}}"
  echo "journal: {sqlite: $WORK/journal.db, jsonl: $WORK/events.jsonl}"
  echo "control: {socket: $WORK/control.sock}"
} > "$WORK/rss.yaml"

"$BIN" check "$WORK/rss.yaml" > /dev/null || { "$BIN" check "$WORK/rss.yaml" | tail -5; exit 1; }
ip netns exec pp-rss-mon "$BIN" run -c "$WORK/rss.yaml" > "$WORK/daemon.log" 2>&1 &
PID=$!
sleep "$SECS"
[[ -n "${PP_RSS_DEBUG:-}" ]] && { top -b -n1 -p "$PID" | tail -2; gdb -p "$PID" -batch -ex "thread 1" -ex "bt 25" 2>/dev/null | grep -E "^#|^Thread" | head -60; }
kill -0 "$PID" 2>/dev/null || { echo "daemon exited:"; tail -5 "$WORK/daemon.log"; exit 1; }
# `ip netns exec` execs the daemon, so $PID is the daemon itself.
rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
hwm_kb=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
anon_kb=$(awk '/^Anonymous/ {print $2}' /proc/$PID/smaps_rollup)
threads=$(awk '/^Threads/ {print $2}' /proc/$PID/status)
cpu=$(ps -o times= -p "$PID")
echo "paths=$PATHS tables=$TABLES after ${SECS}s: RSS $((rss_kb / 1024)) MiB (peak $((hwm_kb / 1024)) MiB, anonymous $((anon_kb / 1024)) MiB, $threads threads), CPU ${cpu}s"
[[ -n "${PP_RSS_DEBUG:-}" ]] && cat /proc/$PID/smaps_rollup
# The control socket answers on the engine thread: its latency under load is part of the figure.
t0=$(date +%s.%N)
status_json=$("$BIN" status --json --socket "$WORK/control.sock") || { echo "status failed:"; tail -5 "$WORK/daemon.log"; exit 1; }
t1=$(date +%s.%N)
sent=$(echo "$status_json" | /usr/bin/python3 -c \
  'import collections,json,sys; s=json.load(sys.stdin); print(s["engine"]["probe_results"], dict(collections.Counter(p["state"] for p in s["paths"])), len(s["routes"]))')
[[ -n "${PP_RSS_DEBUG:-}" ]] && echo "$status_json" | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); print(json.dumps(s["paths"][:2], indent=1)[:3000])'
echo "status --json: $(echo "($t1 - $t0) * 1000" | bc -l | cut -c1-6) ms, $(echo -n "$status_json" | wc -c) bytes; probe results / path states / routes: $sent"
