#!/usr/bin/python3
"""End-to-end test of the daemon's AWS backend against the fake EC2 endpoint (ctest label
`integration`, root; exit 77 without root).

Topology (built here, prefix ppe2e<pid>): the `mon` namespace runs `pathpilot run` and
`pathpilot-fake-aws` (on mon's loopback); three veth pairs lead from mon to `far`, one per
path (dx, vpn-a, vpn-b), each path's probe pinned by its source address. A path fails by an
iptables DROP in `far`. Four VPC route tables (two per AZ) live in the fake, which verifies
every request's SigV4 signature (credentials come from the environment) and logs every call
(GET /_fake/calls), so the test counts exactly what the daemon sent.

Scenarios, in order (one daemon run, then a restart):
  a. start: tables already pointing at DX (vgw-...) are adopted with zero mutating calls;
  b. DX black-holed: exactly one ReplaceRoute per table, each to the gateway instance of the
     table's own AZ; one route_changed event per table; DX back: one ReplaceRoute each to
     the vgw after the hold-down;
  c. 50% throttling and 10% 5xx injected: a failover still converges for every table, each
     table applied exactly once (failed attempts retried), every route_changed event once;
  d. kill -9 while the failback's ReplaceRoutes are in flight (1.5 s API latency,
     max_concurrency 2 so some tables are not reached), restart: tables the fake already
     changed are adopted; per table exactly one ReplaceRoute over kill and restart.

With VGW route propagation on (a second fake and daemon in the same namespaces), every table
starting with only the 10.10.0.0/16 -> vgw route the VGW propagates (origin
EnableVgwRoutePropagation), never a static one:
  e. start: exactly one CreateRoute per table (a static vgw route, which takes precedence over
     the propagated one); no ReplaceRoute or DeleteRoute;
  f. DX's BGP session drops first (the propagated routes vanish), then DX is black-holed:
     exactly one ReplaceRoute per table, of the static route, to the table's AZ gateway;
  g. BGP comes back, then DX: exactly one ReplaceRoute per table back to the vgw after the
     hold-down; the propagated routes are listed again beside ours;
  h. restart: the static routes are adopted beside the propagated ones, zero mutating calls.
A propagated route is never replaced or deleted (every mutating call names a static route and
succeeds).
"""

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import unittest

import nstest

PREFIX = f"ppe2e{os.getpid()}"
WORK = f"/tmp/{PREFIX}"
DST = "10.10.0.0/16"
VGW = "vgw-0e2e0001"
INSTANCE = {"vpn-a": "i-0e2e00000000000a1", "vpn-b": "i-0e2e00000000000b1"}
# table id → AZ letter
TABLES = {"rtb-e2e000a1": "a", "rtb-e2e000a2": "a", "rtb-e2e000b1": "b", "rtb-e2e000b2": "b"}
ON_DX = {t: "dx" for t in TABLES}
ON_VPN = {t: f"vpn-{az}" for t, az in TABLES.items()}
MUTATING = ("ReplaceRoute", "CreateRoute", "DeleteRoute")
PROPAGATED = "EnableVgwRoutePropagation"
ACCESS_KEY = "AKIDE2ETEST00000001"
SECRET_KEY = secrets.token_urlsafe(30)  # per run; never printed

CONFIG = """\
version: 1
site:
  name: E2E
  region: us-east-1
probe: {{kind: icmp, interval: 100ms, timeout: 80ms, jitter: 10, quorum: 1}}
health:
  window: 10
  rise: 3
  fall: 3
  degraded_loss: 30%
  down_loss: 60%
  damping: {{enabled: false}}
policy:
  preference: [dx, vpn]
  az_affinity: true
  failback_hold_down: 1s
  fail_static: true
paths:
  - name: dx
    kind: dx
    priority: 10
    probe: {{targets: [10.201.1.2], source: 10.201.1.1}}
    next_hop: {{gateway_id: {vgw}}}
  - name: vpn-a
    kind: vpn
    az: us-east-1a
    probe: {{targets: [10.201.2.2], source: 10.201.2.1}}
    next_hop: {{instance_id: {ia}}}
  - name: vpn-b
    kind: vpn
    az: us-east-1b
    probe: {{targets: [10.201.3.2], source: 10.201.3.1}}
    next_hop: {{instance_id: {ib}}}
route_tables:
{tables}
backends:
  aws:
    endpoint_url: {url}
    max_concurrency: 2
journal:
  sqlite: {work}/journal.db
  jsonl: {work}/events.jsonl
control:
  socket: {work}/control.sock
api:
  listen: 127.0.0.1:{api_port}    # mon's own loopback: no clash with anything outside it
"""


def preflight():
    """Exits 77 (ctest: skipped) without root, the binaries or the tools the test drives."""
    nstest.require_root()
    missing = [b for b in (nstest.pathpilot_bin(), nstest.fake_aws_bin()) if not os.path.exists(b)]
    missing += [t for t in ("iptables", "curl") if shutil.which(t) is None]
    if missing:
        print(f"aws e2e: skipped, missing {', '.join(missing)}", file=sys.stderr)
        sys.exit(77)


class AwsEndToEndTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        preflight()
        shutil.rmtree(WORK, ignore_errors=True)  # a failed run's logs under a recycled PID
        cls.net = nstest.Netns(PREFIX, WORK)
        # ctest ends a test that runs over its TIMEOUT with SIGTERM: clean up even then (the
        # daemon and the fake run in sessions of their own and would outlive us).
        def on_term(signum, frame):
            cls.net.cleanup()
            os._exit(128 + signum)
        signal.signal(signal.SIGTERM, on_term)
        try:
            cls.build()
        except BaseException:
            cls.net.cleanup()
            raise

    @classmethod
    def build(cls):
        nstest.add_mon_far_paths(cls.net, "10.201")
        cls.daemon = None
        cls.passed = set()

    @classmethod
    def tearDownClass(cls):
        cls.net.cleanup()
        # Logs (daemon, fake, journal) stay for a failed run.
        if cls.passed == {"aws", "propagation"}:
            shutil.rmtree(WORK, ignore_errors=True)
        else:
            print(f"aws e2e: logs kept in {WORK}")

    def setup_site(self, name, api_port, **fake_routes):
        """Starts a fake AWS endpoint (log NAME.log) on mon's loopback with the four tables
        (holding `fake_routes`: route=, propagated=, as nstest.start_fake_aws takes them) and
        the two gateway instances, and writes a daemon config for it with its journal, socket
        and config under WORK/NAME."""
        self.log_name = f"pathpilot-{name}"
        self.fake, self.url = nstest.start_fake_aws(
            self.net, "mon", (ACCESS_KEY, SECRET_KEY), tables=TABLES,
            instances=((INSTANCE["vpn-a"], "running", "us-east-1a"),
                       (INSTANCE["vpn-b"], "running", "us-east-1b")),
            extra=("--seed", "7"), name=f"fake-aws-{name}", **fake_routes)
        work = os.path.join(WORK, name)
        os.makedirs(work, exist_ok=True)
        tables = "\n".join(f"  - {{id: {t}, name: T-{t[-2:]}, az: us-east-1{az}, backend: aws, "
                           f"destinations: [{DST}]}}" for t, az in TABLES.items())
        self.config = os.path.join(work, "aws-e2e.yaml")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(vgw=VGW, ia=INSTANCE["vpn-a"], ib=INSTANCE["vpn-b"],
                                  tables=tables, url=self.url, work=work, api_port=api_port))
        self.work = work
        self.socket = os.path.join(work, "control.sock")
        self.events = os.path.join(work, "events.jsonl")
        # A path black-holed by a scenario that failed half-way stays in the shared namespace.
        self.net.sh("far", "iptables", "-F", "INPUT")

    # -- helpers --------------------------------------------------------------------------------
    def fake_get(self, path):
        out = self.net.sh("mon", "curl", "-sf", "--max-time", "10", f"{self.url}{path}")
        return json.loads(out)

    def set_faults(self, **faults):
        self.net.sh("mon", "curl", "-sf", "--max-time", "10", "-X", "POST",
                    "-d", json.dumps(faults), f"{self.url}/_fake/faults")

    def calls(self, since=0):
        return self.fake_get(f"/_fake/calls?since={since}")

    def last_seq(self):
        return self.calls(since=1 << 62)["last_seq"]

    def fake_targets(self, propagated=False):
        """{table: target} of the table's static route for DST (of the propagated one with
        `propagated`), None when it has none."""
        state = self.fake_get("/_fake/state")
        return {t["id"]: next((r["target"] for r in t["routes"] if r["destination"] == DST and
                               (r["origin"] == PROPAGATED) == propagated), None)
                for t in state["route_tables"]}

    def start_daemon(self):
        type(self).daemon = self.net.spawn(self.log_name, "mon",
                                           [nstest.pathpilot_bin(), "run", "-c", self.config],
                                           env=nstest.aws_env((ACCESS_KEY, SECRET_KEY)))

    def stop_daemon(self):
        self.daemon.send_signal(signal.SIGTERM)
        self.assertEqual(self.daemon.wait(timeout=15), 0)
        self.net.forget(self.daemon)

    def wait_status(self, predicate, timeout, what):
        return nstest.wait_daemon_status(self.net, self.daemon, self.socket, predicate, timeout,
                                         what, log=self.log_name)

    def wait_tables(self, want, timeout=20):
        return self.wait_status(lambda s: nstest.tables_at(s, want), timeout, str(want))

    def wait_path(self, name, state, timeout=10):
        return self.wait_status(lambda s: (nstest.path_of(s, name) or {}).get("state") == state,
                                timeout, f"{name} {state}")

    def blackhole_dx(self, on):
        self.net.sh("far", "iptables", "-A" if on else "-D", "INPUT", "-i", "dx", "-j", "DROP")

    def set_bgp(self, up):
        """DX's BGP session: down withdraws the routes the VGW propagates from every table."""
        self.net.sh("mon", "curl", "-sf", "--max-time", "10", "-X", "POST",
                    "-d", json.dumps({"gateway_id": VGW, "up": up}), f"{self.url}/_fake/bgp")

    def replace_calls(self, since, outcome=None, action="ReplaceRoute"):
        """{table: [calls]} of `action` since seq `since` (optionally one outcome)."""
        out = {}
        for c in self.calls(since)["calls"]:
            if c["action"] == action and (outcome is None or c["outcome"] == outcome):
                out.setdefault(c["route_table_id"], []).append(c)
        return out

    def assert_one_create_each(self, since, want):
        calls = self.replace_calls(since, action="CreateRoute")
        self.assertEqual(sorted(calls), sorted(TABLES), f"CreateRoute calls: {calls}")
        for table, cs in calls.items():
            self.assertEqual([(c["destination"], c["target"], c["outcome"]) for c in cs],
                             [(DST, want[table], "ok")], table)
        others = [c for c in self.calls(since)["calls"] if c["action"] in ("ReplaceRoute",
                                                                          "DeleteRoute")]
        self.assertEqual(others, [])
        self.assertEqual(self.fake_targets(), want)

    def assert_one_replace_each(self, since, want, outcome="ok"):
        calls = self.replace_calls(since, outcome)
        self.assertEqual(sorted(calls), sorted(TABLES), f"ReplaceRoute calls: {calls}")
        for table, cs in calls.items():
            self.assertEqual(len(cs), 1, f"{table}: {cs}")
            self.assertEqual(cs[0]["destination"], DST)
            self.assertEqual(cs[0]["target"], want[table], table)
        others = [c for c in self.calls(since)["calls"] if c["action"] in ("CreateRoute",
                                                                          "DeleteRoute")]
        self.assertEqual(others, [])
        self.assertEqual(self.fake_targets(), want)

    def route_changes(self, since):
        return nstest.events_of(self.events, "route_changed", since)

    def assert_one_event_each(self, since, to):
        changed = self.route_changes(since)
        by_table = {}
        for e in changed:
            by_table.setdefault(e["route_table"], []).append(e)
        self.assertEqual(sorted(by_table), sorted(TABLES), f"route_changed: {changed}")
        for table, es in by_table.items():
            self.assertEqual(len(es), 1, f"{table}: {es}")
            self.assertEqual(es[0]["to"], to[table], es[0])

    # -- the scenario ---------------------------------------------------------------------------
    def test_aws_failover_throttling_restart(self):
        self.setup_site("aws", 9180, route=(DST, VGW))
        t_start = time.time()
        to_vpn = {t: INSTANCE[p] for t, p in ON_VPN.items()}
        to_dx = {t: VGW for t in TABLES}

        # a. Start: the tables already use DX and are adopted without a single mutating call.
        self.start_daemon()
        self.wait_status(lambda s: all((nstest.path_of(s, p) or {}).get("state") == "up"
                                       for p in ("dx", "vpn-a", "vpn-b")), 20, "paths up")
        self.wait_tables(ON_DX)
        calls = self.calls()["calls"]
        self.assertEqual([c for c in calls if c["action"] in MUTATING], [])
        self.assertTrue(any(c["action"] == "DescribeRouteTables" and c["outcome"] == "ok"
                            for c in calls), "tables were never read")
        self.assertTrue(all(c["outcome"] != "auth_error" for c in calls), calls)
        self.assertEqual(self.route_changes(t_start - 1), [])

        # b. DX black-holed: one ReplaceRoute per table, to the gateway of the table's AZ.
        seq, t0 = self.last_seq(), time.time()
        self.blackhole_dx(True)
        self.wait_tables(ON_VPN, timeout=15)
        self.assertLess(time.time() - t0, 10.0)
        self.assert_one_replace_each(seq, to_vpn, outcome=None)
        self.assert_one_event_each(t0, ON_VPN)
        # ... and back once DX has been healthy for the hold-down.
        seq, t0 = self.last_seq(), time.time()
        self.blackhole_dx(False)
        self.wait_tables(ON_DX, timeout=20)
        self.assert_one_replace_each(seq, to_dx, outcome=None)
        self.assert_one_event_each(t0, ON_DX)

        # c. Half the calls throttled, one in ten 5xx: still converges, each table applied once
        # (rejected attempts are not applied by the fake), every route_changed once.
        self.set_faults(throttle_rate=0.5, error_rate=0.1)
        seq, t0 = self.last_seq(), time.time()
        self.blackhole_dx(True)
        self.wait_tables(ON_VPN, timeout=40)
        self.set_faults()
        self.assert_one_replace_each(seq, to_vpn, outcome="ok")
        counts = self.calls(seq)["counts"]
        self.assertGreater(counts.get("ReplaceRoute", {}).get("throttled", 0) +
                           counts.get("DescribeRouteTables", {}).get("throttled", 0), 0,
                           f"no throttling was injected: {counts}")
        self.assert_one_event_each(t0, ON_VPN)

        # d. kill -9 mid-failback: every call takes 1.5 s, so ReplaceRoutes are in flight (two
        # at a time, max_concurrency 2) when the daemon dies. The fake completes them anyway;
        # the restarted daemon must adopt those and change only the tables not yet reached.
        self.set_faults(latency_rate=1.0, latency_ms=1500)
        seq = self.last_seq()
        self.blackhole_dx(False)
        in_flight = nstest.wait_for(
            lambda: [c for c in self.calls(seq)["calls"]
                     if c["action"] == "ReplaceRoute" and c["status"] == 0],
            20, "a ReplaceRoute in flight")
        self.net.kill(self.daemon, signal.SIGKILL)
        self.set_faults()
        # Restart only once the fake has answered what was in flight: a daemon that reads a
        # table while the dead daemon's change is still being applied would rightly change it
        # again (that race exists on AWS too; it is not what this test is about).
        nstest.wait_for(lambda: all(c["status"] != 0 for c in self.calls(seq)["calls"]), 10,
                        "in-flight calls answered")
        changed_before = {t for t, v in self.fake_targets().items() if v == VGW}
        self.assertTrue(changed_before, f"nothing was in flight: {in_flight}")
        self.assertLess(len(changed_before), len(TABLES), "the kill came after the failback")
        seq_restart, t_restart = self.last_seq(), time.time()
        self.start_daemon()
        self.wait_tables(ON_DX, timeout=20)
        self.assert_one_replace_each(seq, to_dx, outcome=None)
        after = self.replace_calls(seq_restart)
        self.assertEqual(set(after) & changed_before, set(),
                         f"adopted tables reprogrammed: {after}")
        self.assertEqual(set(after), set(TABLES) - changed_before)
        changed = self.route_changes(t_restart)
        self.assertEqual(sorted(e["route_table"] for e in changed),
                         sorted(set(TABLES) - changed_before), changed)

        # /metrics counts the daemon's EC2 requests by operation and outcome (the restarted
        # daemon's: its adoption reads and the two failback changes), with their durations.
        moved = len(TABLES) - len(changed_before)
        want = (f'pathpilot_aws_api_calls_total{{operation="ReplaceRoute",outcome="ok"}} '
                f'{moved}\n')

        def scrape():
            text = self.net.sh("mon", "curl", "-sf", "--max-time", "10",
                               "http://127.0.0.1:9180/metrics", check=False)
            return text if want in text else None
        metrics = nstest.wait_for(scrape, 10, want.strip())  # snapshots lag by up to 250 ms
        self.assertRegex(metrics, r'(?m)^pathpilot_aws_api_calls_total\{operation='
                                  r'"DescribeRouteTables",outcome="ok"\} [1-9]')
        self.assertIn(f'pathpilot_aws_api_request_duration_seconds_count{{operation='
                      f'"ReplaceRoute"}} {moved}\n', metrics)

        # Clean stop.
        self.stop_daemon()
        # No event lost between the two sinks either: the searchable SQLite journal holds
        # exactly the route changes the JSONL file does (the one per table per change checked
        # above), across the kill -9.
        out = subprocess.run([nstest.pathpilot_bin(), "events", "--journal",
                              os.path.join(self.work, "journal.db"), "--kind", "route_changed",
                              "--limit", "0", "--json"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
        key = lambda e: (e["time"], e["route_table"], e["to"])  # noqa: E731
        in_sqlite = sorted(key(json.loads(line)) for line in out.splitlines() if line.strip())
        in_jsonl = sorted(key(e) for e in self.route_changes(0))
        self.assertEqual(in_sqlite, in_jsonl)
        self.assertEqual(len(in_jsonl), 3 * len(TABLES) + len(TABLES) - len(changed_before))
        print(f"\naws e2e: {time.time() - t_start:.1f} s; kill -9 with "
              f"{len(changed_before)}/{len(TABLES)} tables already changed by in-flight calls; "
              f"fake counts: {json.dumps(self.calls(1 << 62)['counts'])}")
        self.passed.add("aws")

    def test_aws_vgw_propagation(self):
        """VGW route propagation on: the propagated route is a fact, never ours (e-h above)."""
        self.setup_site("propagation", 9181, propagated=(DST, VGW))
        t_start = time.time()
        to_vpn = {t: INSTANCE[p] for t, p in ON_VPN.items()}
        to_dx = {t: VGW for t in TABLES}
        self.assertEqual(self.fake_targets(), {t: None for t in TABLES})
        self.assertEqual(self.fake_targets(propagated=True), to_dx)

        # e. Start on DX: one static vgw route per table over the propagated one.
        self.start_daemon()
        self.wait_status(lambda s: all((nstest.path_of(s, p) or {}).get("state") == "up"
                                       for p in ("dx", "vpn-a", "vpn-b")), 20, "paths up")
        self.wait_tables(ON_DX)
        self.assert_one_create_each(0, to_dx)
        self.assertEqual(self.fake_targets(propagated=True), to_dx)
        self.assert_one_event_each(t_start - 1, ON_DX)

        # f. DX's BGP session drops before the probes see DX down: the propagated routes go,
        # ours stay (nothing to do: the static route is still what we programmed). Then DX
        # is black-holed: one ReplaceRoute of the static route per table.
        seq, t0 = self.last_seq(), time.time()
        self.set_bgp(False)
        self.assertEqual(self.fake_targets(propagated=True), {t: None for t in TABLES})
        self.assertEqual(self.fake_targets(), to_dx)
        self.blackhole_dx(True)
        self.wait_tables(ON_VPN, timeout=15)
        self.assert_one_replace_each(seq, to_vpn, outcome="ok")
        self.assert_one_event_each(t0, ON_VPN)

        # g. BGP first, then DX: back to the vgw once DX has been healthy for the hold-down.
        seq, t0 = self.last_seq(), time.time()
        self.set_bgp(True)
        self.blackhole_dx(False)
        self.wait_tables(ON_DX, timeout=20)
        self.assert_one_replace_each(seq, to_dx, outcome="ok")
        self.assert_one_event_each(t0, ON_DX)
        self.assertEqual(self.fake_targets(propagated=True), to_dx)

        # h. Restart: our static routes are adopted beside the propagated ones, no call.
        self.stop_daemon()
        seq, t0 = self.last_seq(), time.time()
        self.start_daemon()
        self.wait_status(lambda s: (nstest.path_of(s, "dx") or {}).get("state") == "up", 20,
                         "dx up")
        self.wait_tables(ON_DX)
        calls = self.calls(seq)["calls"]
        self.assertTrue(any(c["action"] == "DescribeRouteTables" for c in calls), calls)
        self.assertEqual([c for c in calls if c["action"] in MUTATING], [])
        self.assertEqual(self.route_changes(t0), [])

        # Never a call on a propagated route: every mutating call of the run succeeded.
        mutating = [c for c in self.calls()["calls"] if c["action"] in MUTATING]
        self.assertEqual(len(mutating), 3 * len(TABLES))
        self.assertEqual([c for c in mutating if c["outcome"] != "ok"], [])
        self.stop_daemon()
        print(f"\naws e2e (vgw propagation): {time.time() - t_start:.1f} s; fake counts: "
              f"{json.dumps(self.calls(1 << 62)['counts'])}")
        self.passed.add("propagation")


if __name__ == "__main__":
    preflight()
    unittest.main(verbosity=2)
