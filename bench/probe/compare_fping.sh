#!/usr/bin/env bash
# compare_fping.sh — ICMP probes/s and CPU per probe: pathpilot's ProbeEngine vs fping.
#
# Builds a private two-namespace lab (the only traffic goes between them):
#   pp-probe-bench-mon (prober, 198.18.0.1)  ==veth==  pp-probe-bench-tgt (198.18.0.2,
#   COUNT target addresses 198.19.0.1... on its lo, routed from mon via 198.18.0.2 so the
#   prober needs one ARP entry, not COUNT)
# then, for each total rate in RATES (probes/s over all targets), runs
#   - probe_load (one engine, one thread) in each ICMP mode of MODES, and
#   - fping on the same targets at the same per-target period, split over enough fping
#     processes to stay under fping's ~6,500 probes/s per process (65,535 sequence numbers,
#     each held for 10 s), with the same inter-packet spacing per process.
# CPU is user+system time of the prober processes (getrusage / bash `times`), which includes
# the kernel work done in their system calls (veth delivery of the replies included).
#
# Usage (root):  bench/probe/compare_fping.sh [BUILD_DIR]
#   env: COUNT=1000 DURATION=10 RATES="10000 50000 100000" MODES="ping raw" TIMEOUT_MS=1000
#        FPING=0 skips the fping runs
#        NICE=-10 runs both probers at that nice level (same for both: fair on a busy machine)
# Cleans up both namespaces (by name) on exit, also on error or Ctrl-C.
set -euo pipefail

BUILD=${1:-build}
COUNT=${COUNT:-1000}
DURATION=${DURATION:-10}
RATES=${RATES:-"10000 50000 100000"}
MODES=${MODES:-"ping raw"}
TIMEOUT_MS=${TIMEOUT_MS:-1000}
MON=pp-probe-bench-mon
TGT=pp-probe-bench-tgt
LOAD="$BUILD/bench/probe/probe_load"
WORK=$(mktemp -d /tmp/pp-probe-bench.XXXXXX)

[[ $(id -u) -eq 0 ]] || { echo "compare_fping.sh: needs root (network namespaces)" >&2; exit 1; }
[[ -x $LOAD ]] || { echo "compare_fping.sh: $LOAD not built (cmake --build $BUILD --target probe_load)" >&2; exit 1; }
command -v fping >/dev/null || { echo "compare_fping.sh: fping not installed (tools/deps.sh)" >&2; exit 1; }

cleanup() {
  ip netns del "$MON" 2>/dev/null || true
  ip netns del "$TGT" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
cleanup
WORK=$(mktemp -d /tmp/pp-probe-bench.XXXXXX)

ip netns add "$MON"
ip netns add "$TGT"
ip link add ppb-mon netns "$MON" type veth peer name ppb-tgt netns "$TGT"
ip -n "$MON" link set lo up
ip -n "$TGT" link set lo up
ip -n "$MON" addr add 198.18.0.1/24 dev ppb-mon
ip -n "$TGT" addr add 198.18.0.2/24 dev ppb-tgt
ip -n "$MON" link set ppb-mon up
ip -n "$TGT" link set ppb-tgt up
ip -n "$MON" route add 198.19.0.0/16 via 198.18.0.2
ip netns exec "$MON" sysctl -qw net.ipv4.ping_group_range="0 2147483647"

# Target addresses: COUNT consecutive addresses from 198.19.0.1 (what probe_load generates).
base=$(( (198 << 24) | (19 << 16) | 1 ))
: > "$WORK/targets"
: > "$WORK/batch"
for ((i = 0; i < COUNT; i++)); do
  n=$((base + i))
  a="$(( (n >> 24) & 255 )).$(( (n >> 16) & 255 )).$(( (n >> 8) & 255 )).$(( n & 255 ))"
  echo "$a" >> "$WORK/targets"
  echo "addr add $a/32 dev lo" >> "$WORK/batch"
done
ip -n "$TGT" -batch "$WORK/batch"
ip netns exec "$MON" fping -q -c 1 -t 500 198.19.0.1 2>/dev/null || { echo "lab: target not answering" >&2; exit 1; }

export LC_ALL=C
# lost = probes that timed out (fping: sent - received). pathpilot's sent - received also
# counts the few probes still in flight when the run stops.
row() { awk -v p="$1" -v m="$2" -v g="$3" -v s="$4" -v r="$5" -v l="$6" -v ps="$7" -v c="$8" -v u="$9" -v n="${10}" \
  'BEGIN { printf "%-10s %-5s %9d %9d %9d %7d %10.0f %13.2f %7.1f  %s\n", p, m, g, s, r, l, ps, c, u, n }'; }
printf '%-10s %-5s %9s %9s %9s %7s %10s %13s %7s  %s\n' prober mode rate_goal sent received lost probes/s cpu_us/probe cpu_% notes
for rate in $RATES; do
  period_us=$(( COUNT * 1000000 / rate ))
  timeout_ms=$TIMEOUT_MS
  (( timeout_ms * 1000 > period_us )) && timeout_ms=$(( period_us / 1000 ))
  (( timeout_ms < 1 )) && timeout_ms=1
  for mode in $MODES; do
    out=$(nice -n "${NICE:-0}" ip netns exec "$MON" "$LOAD" --first 198.19.0.1 --count "$COUNT" \
          --interval "${period_us}us" --timeout "${timeout_ms}ms" --duration "${DURATION}s" \
          --mode "$mode" --jitter 0)
    echo "$out" > "$WORK/ours.$rate.$mode"
    get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$out" | head -1; }
    row pathpilot "$mode" "$rate" "$(get sent)" "$(get received)" "$(get timed_out)" "$(get probes_per_s)" \
      "$(get cpu_us_per_probe)" "$(get cpu_util_pct)" \
      "user $(get cpu_user_s)s sys $(get cpu_sys_s)s rtt_avg $(get rtt_avg_us)us wakeups $(get wakeups) lag_avg $(get timer_lag_avg_us)us"
  done

  [[ ${FPING:-1} == 0 ]] && continue
  # fping: P processes, each with COUNT/P targets at the same per-target period.
  procs=$(( (rate + 4999) / 5000 ))
  (( procs > COUNT )) && procs=$COUNT
  split -n "r/$procs" -d -a 3 "$WORK/targets" "$WORK/fp."
  per_proc=$(( COUNT / procs ))
  period_ms=$(( period_us / 1000 ))
  interval_ms=$(awk -v p="$period_us" -v n="$per_proc" 'BEGIN { printf "%.3f", p / 1000 / n }')
  probes=$(( DURATION * 1000000 / period_us ))
  start=$(date +%s.%N)
  times_out=$(nice -n "${NICE:-0}" ip netns exec "$MON" bash -c '
    for f in "$0".*; do
      fping -q -c "$1" -p "$2" -i "$3" -t "$4" -f "$f" 2> "$f.summary" &
    done
    wait
    times' "$WORK/fp" "$probes" "$period_ms" "$interval_ms" "$timeout_ms")
  end=$(date +%s.%N)
  # `times` prints "shell-user shell-sys\nchildren-user children-sys" as XmY.YYYs
  child=$(sed -n 2p <<< "$times_out")
  cpu=$(awk '{ n = split($0, f, " "); s = 0; for (i = 1; i <= n; i++) { split(f[i], t, "m"); sub("s", "", t[2]); s += t[1] * 60 + t[2] } print s }' <<< "$child")
  read -r xmt rcv < <(cat "$WORK"/fp.*.summary | sed -n 's/.*xmt\/rcv\/%loss = \([0-9]*\)\/\([0-9]*\)\/.*/\1 \2/p' |
                      awk '{ x += $1; r += $2 } END { print x + 0, r + 0 }')
  wall=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')
  row fping - "$rate" "$xmt" "$rcv" "$((xmt - rcv))" "$(awk -v x="$xmt" -v w="$wall" 'BEGIN { print x / w }')" \
    "$(awk -v c="$cpu" -v x="$xmt" 'BEGIN { print x ? c * 1e6 / x : 0 }')" \
    "$(awk -v c="$cpu" -v w="$wall" 'BEGIN { print c * 100 / w }')" \
    "$procs procs, -p $period_ms -i $interval_ms, cpu ${cpu}s over ${wall}s"
  rm -f "$WORK"/fp.*
done
