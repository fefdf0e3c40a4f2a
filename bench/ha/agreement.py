#!/usr/bin/python3
"""What requiring the group's agreement costs in detection time (needs root and etcd-server).

Two monitors (tests/integration/hagroup.py: probes every 100 ms, fall 2, lease TTL 2 s), once
with `ha.agreement: majority` and once with `none`. Each run fails DX (its probe target goes
away, so both monitors see it) and measures until the shared route table points at vpn-a
(polled every 5 ms), then heals DX and waits for the failback.

    sudo bench/ha/agreement.py [RUNS]       default 10 per mode; prints min / median / max
"""

import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
import hagroup  # noqa: E402
import nstest  # noqa: E402


def measure(agreement, runs):
    prefix = f"ppag{os.getpid() % 10000}"
    work = f"/tmp/{prefix}"
    subprocess.run(["rm", "-rf", work], check=False)
    net = nstest.Netns(prefix, work)
    group = None
    try:
        net.add("mon")
        nstest.add_probe_veth(net.ns("mon"))
        group = hagroup.HaGroup(net, "mon", work, prefix, agreement=agreement)
        group.start_etcd()
        group.start_pair()
        times = []
        for _ in range(runs):
            failed = time.monotonic()
            group.fail_dx()
            nstest.wait_for(lambda: group.table_on("vpn-a"), 10, "failover", interval=0.005)
            times.append(time.monotonic() - failed)
            group.heal_dx()
            nstest.wait_for(lambda: group.table_on("dx"), 20, "failback", interval=0.05)
            time.sleep(0.5)
        bad = group.foreign_writes()
        return times, bad
    finally:
        if group:
            group.resume_all()
        net.cleanup()
        subprocess.run(["rm", "-rf", work], check=False)


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    if os.geteuid() != 0 or not hagroup.have_etcd():
        print("agreement: needs root and etcd-server/etcd-client", file=sys.stderr)
        return 77
    status = 0
    for agreement in ("none", "majority"):
        times, bad = measure(agreement, runs)
        ms = [t * 1000 for t in times]
        print(f"agreement {agreement:8s}: DX fail → route on vpn-a, {runs} runs: "
              f"min {min(ms):.0f} ms, median {statistics.median(ms):.0f} ms, "
              f"max {max(ms):.0f} ms; writes by a non-leader: {len(bad)}", flush=True)
        status |= 1 if bad else 0
    return status


if __name__ == "__main__":
    sys.exit(main())
