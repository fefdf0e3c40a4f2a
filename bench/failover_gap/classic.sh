#!/usr/bin/env bash
# bench/failover_gap/classic.sh — the baseline of the failover-gap benchmark: the classic
# failover script that pathpilot replaces, rewritten here from its description (the original is
# not in this repository). Each round it
#   1. pings one target after another with `ping -c3 -W1`: the DX target, then each VPN
#      target (a path is up if any of the 3 pings answers);
#   2. decides per route table: DX if up, else the table's own AZ's VPN gateway, else the other
#      one, else leaves the route alone;
#   3. rewrites each table's route in turn with `ip route replace` (where the cloud version
#      calls `aws ec2 replace-route`);
#   4. sleeps 1 s.
# A round takes ~7 s when everything answers (3 × 2 s of pings + 1 s) and ~8 s with DX dead,
# which is where its ~10 s failover gap comes from (bench/failover_gap figures).
#
# Runs in the lab's monitor namespace, with the lab's pinned probe sources:
#   ip netns exec pp-mon bench/failover_gap/classic.sh
# Environment: PP_LAB (namespace prefix of the lab, default pp). Ends on SIGTERM/SIGINT.
set -uo pipefail
VPC=${PP_LAB:-pp}-vpc
DEST=10.10.0.0/16
# path: probe source, probe target, next hop, device
declare -A SRC=([dx]=10.1.0.11 [gwa]=10.1.0.12 [gwb]=10.1.0.13)
declare -A TARGET=([dx]=10.10.3.100 [gwa]=169.254.100.1 [gwb]=169.254.200.1)
declare -A VIA=([dx]=10.255.1.2 [gwa]=10.255.2.2 [gwb]=10.255.3.2)
# route table: (table number, own-AZ gateway, other gateway)
TABLES=("101 gwa gwb" "102 gwb gwa")

# Children run in the background and are waited for, so that SIGTERM ends the loop at once and
# takes the ping or sleep in progress with it.
child=""
trap '[[ -n $child ]] && kill "$child" 2> /dev/null; exit 0' TERM INT
run() { "$@" & child=$!; wait "$child"; local rc=$?; child=""; return $rc; }
declare -A UP
while :; do
  for p in dx gwa gwb; do
    if run ping -q -n -c3 -W1 -I "${SRC[$p]}" "${TARGET[$p]}" > /dev/null 2>&1; then UP[$p]=1; else UP[$p]=0; fi
  done
  for t in "${TABLES[@]}"; do
    read -r table own other <<< "$t"
    choice=""
    for p in dx "$own" "$other"; do
      if ((UP[$p])); then choice=$p; break; fi
    done
    if [[ -n $choice ]]; then
      ip -n "$VPC" route replace "$DEST" via "${VIA[$choice]}" dev "$choice" table "$table"
    fi
  done
  echo "$(date +%T.%3N) dx=${UP[dx]} gwa=${UP[gwa]} gwb=${UP[gwb]}"
  run sleep 1
done
