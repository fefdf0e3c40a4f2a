#!/usr/bin/env bash
# tools/bench.sh — runs the benchmarks of a build (`make bench`). Prints the machine load first,
# since every figure depends on it (the figures in release notes quote it).
#
#   tools/bench.sh [BUILD_DIR]          default: build
#   BENCH_FILTER=aws tools/bench.sh     only benches whose name contains "aws"
#
# Google Benchmark programs (bench/*_bench) run with their defaults; the scenario benches
# that print their own min/median/max (aws_switch_bench) run with the parameters.
# Benches that need root or a network lab (route_latency, bench/failover_gap, bench/probe's
# load scripts) are not run here: see their own headers.
set -euo pipefail
build=${1:-build}
filter=${BENCH_FILTER:-}
[[ -d $build/bench ]] || { echo "bench: $build/bench missing; run make build first" >&2; exit 1; }

echo "== $(uptime)"
status=0
for bin in "$build"/bench/*_bench "$build"/bench/*/*_bench; do
  [[ -x $bin ]] || continue
  name=$(basename "$bin")
  [[ -z $filter || $name == *"$filter"* ]] || continue
  echo "== $name"
  case $name in
    aws_switch_bench) args=(--tables 50 --latency-ms 50 --rounds 7) ;;
    *) args=() ;;
  esac
  "$bin" "${args[@]}" || { echo "bench: $name failed" >&2; status=1; }
done
exit $status
