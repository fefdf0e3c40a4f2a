#!/usr/bin/python3
"""Takeover time of an HA group after kill -9 of its leader (needs root and etcd-server).

Two monitors (bench/../tests/integration/hagroup.py: a 3-member etcd on loopback in a namespace
of this script's, lease TTL 2 s, exec-backend table shared by the monitors). Each run kills the
leader with SIGKILL and measures until the other monitor's status says it leads and writes
(polled every 20 ms), then restarts the killed one as follower. Also checks that no write
happened at takeover and that every write was made by etcd's leader of the moment.

    sudo bench/ha/takeover.py [RUNS [TTL]]  default 20 runs, lease TTL 2 s; prints min / median /
                                            max. TTL 1 runs etcd with --election-timeout 500
                                            (etcd raises a TTL below 1.5 × its election timeout)

For comparison, keepalived's VRRP backup takes over after its master-down interval,
3 × advert_int + skew (skew = (256 − priority) / 256 × advert_int; RFC 5798 §6.1): 3.61 s with
advert_int 1 s and the backup's default priority 100.
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

PREFIX = f"pphb{os.getpid() % 10000}"
WORK = f"/tmp/{PREFIX}"


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    ttl = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    election_ms = 1000 if ttl >= 2 else 500
    if os.geteuid() != 0 or not hagroup.have_etcd():
        print("takeover: needs root and etcd-server/etcd-client", file=sys.stderr)
        return 77
    subprocess.run(["rm", "-rf", WORK], check=False)
    net = nstest.Netns(PREFIX, WORK)
    group = None
    try:
        net.add("mon")
        nstest.add_probe_veth(net.ns("mon"))
        group = hagroup.HaGroup(net, "mon", WORK, PREFIX, lease_ttl=ttl,
                                election_ms=election_ms)
        group.start_etcd()
        procs = dict(zip(("mon-a", "mon-b"), group.start_pair()))
        leader = "mon-a"
        times = []
        for run in range(runs):
            follower = "mon-b" if leader == "mon-a" else "mon-a"
            writes_before = len(group.writes())
            killed = time.monotonic()
            net.kill(procs[leader])
            group.wait_ha(follower, procs[follower],
                          lambda s: s["ha"]["role"] == "leader" and s["ha"]["writing"], 15,
                          f"{follower} leading")
            took = time.monotonic() - killed
            times.append(took)
            time.sleep(0.5)
            moved = group.writes()[writes_before:]
            print(f"run {run + 1:2d}: {follower} leads after {took:.3f} s"
                  f"{'' if not moved else f'; WRITES AT TAKEOVER: {moved}'}", flush=True)
            procs[leader] = group.start(leader)
            group.wait_follower(leader, procs[leader], follower, timeout=15)
            leader = follower
        bad = group.foreign_writes()
        print(f"\ntakeover after kill -9, {runs} runs (lease TTL {ttl} s, etcd election timeout "
              f"{election_ms} ms, follower poll {ttl * 1000 // 8} ms): "
              f"min {min(times):.2f} s, median {statistics.median(times):.2f} s, "
              f"max {max(times):.2f} s; writes by a non-leader: {len(bad)}")
        print("keepalived VRRP (advert_int 1 s, backup priority 100), documented: 3.61 s")
        return 1 if bad else 0
    finally:
        if group:
            group.resume_all()
        net.cleanup()
        subprocess.run(["rm", "-rf", WORK], check=False)


if __name__ == "__main__":
    sys.exit(main())
