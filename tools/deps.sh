#!/usr/bin/env bash
# Installs every Debian package pathpilot needs to build, test and run its demo.
# Idempotent: asks apt only for what is missing, and runs `apt-get update` at most once.
set -euo pipefail

PACKAGES=(
  # toolchain and build
  build-essential cmake ninja-build pkg-config git
  # libraries (see docs/architecture.md, docs/development.md)
  libexpected-dev libyaml-cpp-dev libasio-dev nlohmann-json3-dev libcli11-dev
  libsqlite3-dev libspdlog-dev libfmt-dev libmnl-dev libsystemd-dev
  libcurl4-openssl-dev libssl-dev libpugixml-dev
  libcpp-httplib-dev  # fake AWS endpoint (tests, lab) and HTTP client tests
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # network lab and comparison probers
  iproute2 iptables iputils-ping fping procps psmisc curl
  # real strongSwan gateways in the lab (lab/README.md, strongSwan note 2) and its NFQUEUE delay helper
  strongswan-charon strongswan-swanctl libstrongswan-standard-plugins libcharon-extra-plugins
  libstrongswan-extra-plugins
  libnetfilter-queue-dev python3
  # a real FRR zebra/staticd beside the Linux route backend (route_frr_test)
  frr
  # a real etcd cluster for the HA tests (ha: leader election among monitors)
  etcd-server etcd-client
  # wall-clock steps of one monitor in the HA test (its monotonic clock left alone)
  libfaketime
  # real alert receivers in the alert integration tests
  python3-aiosmtpd prometheus-alertmanager
  # observability: real Prometheus/promtool, headless Chromium for the dashboard, wrk load
  prometheus chromium chromium-driver wrk
)

# make check: clang and its sanitizer/libFuzzer runtimes. Installed with the rest (also by
# `make test`), so that CI, which runs both, needs one `apt-get update` and one install.
PACKAGES+=(clang-14 libclang-rt-14-dev)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Packages that are only test tools here (etcd-server, prometheus, alertmanager, frr) would
# start system services on install, listening on their well-known ports: the tests start and
# stop their own instances. Unless the machine already has a policy (containers usually do),
# services are not started during this install (invoke-rc.d honours policy-rc.d exit 101).
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# written by pathpilot tools/deps.sh during apt-get install\nexit 101\n' |
    $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
