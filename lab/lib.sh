# lab/lib.sh — shared helpers for the pathpilot network lab (sourced, not run).
#
# The lab builds the reference topology of ARCHITECTURE.md in network namespaces named
# "$PP_LAB-<box>" (default prefix "pp"). Every namespace, process and rule it makes lives inside
# those namespaces, so `lab/down` removes everything by deleting them and killing the PIDs it
# recorded in $PP_LAB_DIR. Traffic never leaves the namespaces (LAB.md, rule zero).
set -euo pipefail

PP_LAB=${PP_LAB:-pp}
PP_LAB_DIR=${PP_LAB_DIR:-/tmp/$PP_LAB-lab}
LAB_BOXES=(vpc mon dx gwa gwb onprem cla clb onhost)

ns() { echo "$PP_LAB-$1"; }
nsx() { local box=$1; shift; ip netns exec "$(ns "$box")" "$@"; }

die() { echo "lab: $*" >&2; exit 1; }

require_root() { [[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces)"; }

# veth BOX1 IF1 ADDR1 BOX2 IF2 ADDR2 — a point-to-point link between two boxes.
veth() {
  ip link add "$2" netns "$(ns "$1")" type veth peer name "$5" netns "$(ns "$4")"
  ip -n "$(ns "$1")" addr add "$3" dev "$2"
  ip -n "$(ns "$4")" addr add "$6" dev "$5"
  ip -n "$(ns "$1")" link set "$2" up
  ip -n "$(ns "$4")" link set "$5" up
}

# Records a PID that `lab/down` must end.
record_pid() { echo "$1 $2" >> "$PP_LAB_DIR/pids"; }

# Ends every recorded process by PID (TERM, then KILL after 3 s), never by name.
kill_recorded() {
  [[ -f "$PP_LAB_DIR/pids" ]] || return 0
  local pid name
  while read -r pid name; do
    kill -TERM "$pid" 2>/dev/null || true
  done < "$PP_LAB_DIR/pids"
  for _ in $(seq 30); do
    local alive=0
    while read -r pid name; do
      kill -0 "$pid" 2>/dev/null && alive=1
    done < "$PP_LAB_DIR/pids"
    ((alive)) || break
    sleep 0.1
  done
  while read -r pid name; do
    kill -KILL "$pid" 2>/dev/null || true
  done < "$PP_LAB_DIR/pids"
  rm -f "$PP_LAB_DIR/pids"
}

lab_exists() { ip netns list | grep -q "^$(ns vpc)\b"; }
