#!/usr/bin/env bash
# `make demo`: the reference scenario in the network lab (see tools/demo.py). Needs root.
# `tools/demo.sh --keep` keeps the lab and the dashboard running after the summary (Ctrl-C ends).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
  echo "make demo needs root (it builds network namespaces); run it with sudo" >&2
  exit 1
fi
exec /usr/bin/python3 tools/demo.py "$@"
