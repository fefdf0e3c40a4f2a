#!/usr/bin/python3
"""The ec2-restart recovery end to end (ctest label `integration`, root; exit 77 without root).

Topology (built here, prefix ppe2r<pid>): `mon` runs `pathpilot run` and `pathpilot-fake-aws`
(on mon's loopback, stop/start steps of 1 s); three veth pairs lead from mon to `far`, one per
path (dx, vpn-a, vpn-b), each probe pinned by its source address; a path fails by an iptables
DROP in `far`. One VPC route table per AZ lives in the fake.

Scenario:
  1. vpn-a's tunnel dies: after `after` (1 s) the daemon starts ec2-restart on vpn-a's
     instance: StopInstances, DescribeInstances until stopped, StartInstances, until running;
  2. while that runs (it takes ~10 s: 5 s polls), DX fails too: both tables move to vpn-b at
     once — probing, deciding and programming go on during the restart;
  3. EC2 reports running: no event yet (the daemon logs it; the status shows the recovery
     settling, "waiting for the probes"); the tunnel comes back: the probes confirm it and the
     attempt's one recovery_succeeded ("the gateway came back") is journalled; the instance
     was stopped and started exactly once.
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

PREFIX = f"ppe2r{os.getpid() % 100000}"
WORK = f"/tmp/{PREFIX}"
DST = "10.10.0.0/16"
VGW = "vgw-0e2e0001"
INSTANCE_A = "i-0e2e00000000000a1"
INSTANCE_B = "i-0e2e00000000000b1"
TABLES = {"rtb-e2e000a1": "a", "rtb-e2e000b1": "b"}
ACCESS_KEY = "AKIDE2RTEST00000001"
SECRET_KEY = secrets.token_urlsafe(30)  # per run; never printed

CONFIG = """\
version: 1
site: {{name: E2R, region: us-east-1}}
probe: {{kind: icmp, interval: 100ms, timeout: 80ms, jitter: 10}}
health: {{window: 10, rise: 3, fall: 3, degraded_loss: 30%, down_loss: 60%,
          damping: {{enabled: false}}}}
policy: {{preference: [dx, vpn], az_affinity: true, failback_hold_down: 1s}}
paths:
  - name: dx
    kind: dx
    probe: {{targets: [10.202.1.2], source: 10.202.1.1}}
    next_hop: {{gateway_id: {vgw}}}
  - name: vpn-a
    kind: vpn
    az: us-east-1a
    probe: {{targets: [10.202.2.2], source: 10.202.2.1}}
    next_hop: {{instance_id: {ia}}}
    recovery: {{action: ec2-restart, after: 1s, timeout: 1m, backoff: {{initial: 30s, max: 1m}}}}
  - name: vpn-b
    kind: vpn
    az: us-east-1b
    probe: {{targets: [10.202.3.2], source: 10.202.3.1}}
    next_hop: {{instance_id: {ib}}}
route_tables:
  - {{id: rtb-e2e000a1, az: us-east-1a, destinations: [{dst}]}}
  - {{id: rtb-e2e000b1, az: us-east-1b, destinations: [{dst}]}}
backends:
  aws: {{endpoint_url: "{url}"}}
journal: {{sqlite: "", jsonl: {work}/events.jsonl}}
control: {{socket: {work}/control.sock}}
"""


def fake_bin():
    return os.path.join(nstest.build_dir(), "src", "aws", "pathpilot-fake-aws")


def preflight():
    nstest.require_root()
    missing = [b for b in (nstest.pathpilot_bin(), fake_bin()) if not os.path.exists(b)]
    missing += [t for t in ("iptables", "curl") if shutil.which(t) is None]
    if missing:
        print(f"ec2-restart e2e: skipped, missing {', '.join(missing)}", file=sys.stderr)
        sys.exit(77)


class Ec2RestartEndToEndTest(unittest.TestCase):
    def setUp(self):
        preflight()
        self.net = nstest.Netns(PREFIX, WORK)
        # ctest ends an overrunning test with SIGTERM: clean up even then.
        def on_term(signum, frame):
            self.net.cleanup()
            os._exit(128 + signum)
        signal.signal(signal.SIGTERM, on_term)
        self.passed = False
        try:
            self.build()
        except BaseException:
            self.net.cleanup()
            raise

    def build(self):
        net = self.net
        net.add("mon")
        net.add("far")
        for i, path in enumerate(("dx", "gwa", "gwb"), start=1):
            net.veth("mon", path, f"10.202.{i}.1/30", "far", path, f"10.202.{i}.2/30")
        for i in (1, 2, 3):
            nstest.wait_for(lambda i=i: net.ping("mon", f"10.202.{i}.2", f"10.202.{i}.1"), 10,
                            f"10.202.{i}.2 answering")
        cmd = [fake_bin(), "--listen", "127.0.0.1:0", "--transition", "1s"]
        for t in TABLES:
            cmd += ["--route-table", t, "--route", f"{t},{DST},{VGW}"]
        cmd += ["--instance", f"{INSTANCE_A},running,us-east-1a",
                "--instance", f"{INSTANCE_B},running,us-east-1b"]
        env = {"PP_FAKE_AWS_ACCESS_KEY": ACCESS_KEY, "PP_FAKE_AWS_SECRET_KEY": SECRET_KEY}
        net.spawn("fake-aws", "mon", cmd, env=env)
        line = nstest.wait_for(
            lambda: [l for l in net.log("fake-aws").splitlines() if l.startswith("listening")],
            10, "the fake AWS endpoint to listen")
        self.url = line[0].split()[-1]
        self.config = os.path.join(WORK, "ec2-restart.yaml")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(vgw=VGW, ia=INSTANCE_A, ib=INSTANCE_B, dst=DST, url=self.url,
                                  work=WORK))
        self.socket = os.path.join(WORK, "control.sock")
        self.events = os.path.join(WORK, "events.jsonl")
        env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
               "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
               "AWS_EC2_METADATA_DISABLED": "true"}
        self.daemon = net.spawn("pathpilot", "mon",
                                [nstest.pathpilot_bin(), "run", "-c", self.config], env=env)

    def tearDown(self):
        self.net.cleanup()
        if self.passed:
            shutil.rmtree(WORK, ignore_errors=True)
        else:
            print(f"ec2-restart e2e: logs kept in {WORK}")

    def fake_state(self):
        return json.loads(self.net.sh("mon", "curl", "-sf", "--max-time", "10",
                                      f"{self.url}/_fake/state"))

    def instance_state(self, instance):
        return next(i["state"] for i in self.fake_state()["instances"] if i["id"] == instance)

    def wait_status(self, predicate, timeout, what):
        def check():
            if self.daemon.poll() is not None:
                raise AssertionError(f"pathpilot exited ({self.daemon.returncode}):\n"
                                     f"{self.net.log('pathpilot')[-3000:]}")
            s = nstest.daemon_status(self.socket)
            return s if s is not None and predicate(s) else None
        return nstest.wait_for(check, timeout, what)

    def wait_event(self, kind, since, timeout, path=None, text=None):
        def find():
            return [e for e in nstest.events_of(self.events, kind, since)
                    if (path is None or e.get("path") == path)
                    and (text is None or text in e.get("message", ""))]
        return nstest.wait_for(find, timeout, f"{kind} {path or ''} {text or ''}")[0]

    def drop(self, ifname, on):
        self.net.sh("far", "iptables", "-A" if on else "-D", "INPUT", "-i", ifname, "-j", "DROP")

    def test_gateway_restarted_while_routing_goes_on(self):
        self.wait_status(lambda s: nstest.tables_at(s, {t: "dx" for t in TABLES}) and all(
            (nstest.path_of(s, p) or {}).get("state") == "up" for p in ("dx", "vpn-a", "vpn-b")),
            20, "all paths up, tables on dx")

        # 1. vpn-a's tunnel dies; the restart begins after `after`.
        t0 = time.time()
        self.drop("gwa", True)
        started = self.wait_event("recovery_started", t0, 10, path="vpn-a")
        self.assertIn("ec2-restart", started["message"])

        # 2. DX fails during the restart: both tables move to vpn-b, before the restart ends.
        t1 = time.time()
        self.drop("dx", True)
        self.wait_status(lambda s: nstest.tables_at(s, {t: "vpn-b" for t in TABLES}), 10,
                         "both tables on vpn-b")
        moved = [e for e in nstest.events_of(self.events, "route_changed", t1)]
        self.assertEqual(sorted(e["route_table"] for e in moved), sorted(TABLES), moved)
        self.assertEqual(nstest.events_of(self.events, "recovery_succeeded", t0), [],
                         "the restart (two 1 s EC2 steps, 5 s polls) cannot be over yet")

        # 3. EC2 says running: the action is over, but that alone is no recovery — the daemon
        #    waits for the probes (settling) and journals nothing yet.
        def settling(s):
            return ((nstest.path_of(s, "vpn-a") or {}).get("recovery") or {}).get(
                "phase") == "settling"
        s = self.wait_status(settling, 30, "vpn-a's recovery settling (EC2 reports running)")
        recovery = nstest.path_of(s, "vpn-a")["recovery"]
        self.assertIn("waiting for the probes", recovery.get("detail", ""), recovery)
        # The operator's view (plain `pathpilot status`) shows it too.
        text = subprocess.run([nstest.pathpilot_bin(), "status", "--socket", self.socket],
                              capture_output=True, text=True, timeout=10).stdout
        self.assertIn("recovery of vpn-a (ec2-restart): settling — the ec2-restart action "
                      "finished (attempt 1", text)
        self.assertEqual(self.instance_state(INSTANCE_A), "running")
        self.assertEqual(self.instance_state(INSTANCE_B), "running")
        actions = self.fake_state()["stats"]["actions"]
        self.assertEqual(actions.get("StopInstances"), 1, actions)
        self.assertEqual(actions.get("StartInstances"), 1, actions)
        self.assertEqual(nstest.events_of(self.events, "recovery_succeeded", t0), [],
                         "EC2 reporting running is not yet a recovery")
        # The tunnel comes back (well within the 30 s settle): the probes confirm it.
        self.drop("gwa", False)
        done = self.wait_event("recovery_succeeded", t0, 10, path="vpn-a",
                               text="the gateway came back")
        self.assertGreater(nstest.event_time(done), max(nstest.event_time(e) for e in moved))
        self.assertIn("ec2-restart, attempt 1", done["message"])
        self.wait_status(lambda s: ((nstest.path_of(s, "vpn-a") or {}).get("recovery") or {})
                         .get("phase") == "idle", 10, "vpn-a's recovery idle")
        succeeded = nstest.events_of(self.events, "recovery_succeeded", t0)
        self.assertEqual(len(succeeded), 1, succeeded)  # one terminal event per attempt
        self.assertEqual(len(nstest.events_of(self.events, "recovery_started", t0)), 1)
        self.assertEqual(nstest.events_of(self.events, "recovery_failed", t0), [])
        self.passed = True


if __name__ == "__main__":
    unittest.main()
