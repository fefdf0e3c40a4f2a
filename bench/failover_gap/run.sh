#!/usr/bin/env bash
# bench/failover_gap/run.sh [VARIANT...] — the failover-gap benchmark (see failover_gap.py):
# the traffic gap on a DX black-hole for the classic script and for pathpilot at probe intervals
# 1 s, 300 ms and 100 ms; prints min/median/max per variant and the ratio to the classic one.
#
#   sudo PP_BUILD_DIR=build bench/failover_gap/run.sh              # 10 runs per variant
#   sudo RUNS=3 bench/failover_gap/run.sh classic pp-100ms         # quick check
#
# Builds its own lab (namespaces ppgap-*, PP_LAB) and removes it again, also on Ctrl-C.
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/failover_gap.py" "$@"
