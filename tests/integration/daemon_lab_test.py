#!/usr/bin/python3
"""Integration test of the daemon with the Linux backend (ctest label `integration`, root).

Uses the network lab (lab/up) under its own namespace prefix, runs `pathpilot run` in the
monitor namespace with examples/lab.yaml (rewritten for that prefix), and checks, through
`pathpilot status --json`, the routing tables of the vpc namespace and the journal:
  * a path black-holed with iptables → the routes move at once;
  * restored → they move back only after the failback hold-down;
  * kill -9 of the daemon mid-failover and a restart → the programmed state is adopted, with
    no route change;
  * a route changed by hand → put back, with a route_drift event.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lab"))
import labctl  # noqa: E402
import nstest  # noqa: E402  (helpers shared with aws_e2e_test.py)

PREFIX = os.environ.get("PP_TEST_LAB", "ppi")
WORK = f"/tmp/{PREFIX}-lab"


def lab_config():
    with open(os.path.join(labctl.ROOT, "examples", "lab.yaml")) as f:
        text = f.read()
    text = text.replace("pp-vpc", f"{PREFIX}-vpc").replace("/tmp/pp-lab", WORK)
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, "lab.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def table_route(lab, table):
    out = lab.sh("vpc", "ip", "-j", "route", "show", "table", str(table))
    routes = json.loads(out or "[]")
    return {r["dst"]: (r.get("gateway"), r.get("dev")) for r in routes}


class DaemonLabTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        labctl.require_root()
        cls.lab = labctl.Lab(prefix=PREFIX, workdir=WORK)
        cls.lab.up()
        cls.config = lab_config()
        cls.socket = os.path.join(WORK, "pathpilot", "control.sock")
        cls.events = os.path.join(WORK, "pathpilot", "events.jsonl")
        cls.daemon = None

    @classmethod
    def tearDownClass(cls):
        cls.lab.down()

    def start_daemon(self):
        type(self).daemon = self.lab.start_pathpilot(self.config)
        return self.lab.wait_status(
            self.socket, lambda s: all(p["state"] != "unknown" for p in s["paths"]),
            timeout=20, what="all paths known")

    def wait_tables(self, want, timeout=20):
        return self.lab.wait_status(self.socket, lambda s: nstest.tables_at(s, want),
                                    timeout=timeout, what=str(want))

    def events_of(self, kind, since=0.0):
        return nstest.events_of(self.events, kind, since)

    def test_failover_failback_restart_drift(self):
        lab = self.lab
        self.start_daemon()
        self.wait_tables({"rtb-a": "dx", "rtb-b": "dx"})
        self.assertEqual(table_route(lab, 101)["10.10.0.0/16"], ("10.255.1.2", "dx"))

        # 1. DX black-holed: both tables leave it, each for the gateway in its own AZ.
        t0 = time.time()
        lab.fault("blackhole", "dx")
        status = self.wait_tables({"rtb-a": "vpn-a", "rtb-b": "vpn-b"}, timeout=10)
        moved_after = time.time() - t0
        self.assertLess(moved_after, 5.0)
        self.assertEqual(table_route(lab, 101)["10.10.0.0/16"], ("10.255.2.2", "gwa"))
        self.assertEqual(table_route(lab, 102)["10.10.0.0/16"], ("10.255.3.2", "gwb"))
        self.assertEqual(labctl.path_of(status, "dx")["state"], "down")

        # 2. kill -9 mid-failover (DX still down), restart: the VPN routes are adopted.
        os.kill(self.daemon.pid, signal.SIGKILL)
        self.daemon.wait()
        lab.forget(self.daemon)
        restart = time.time()
        self.start_daemon()
        status = self.wait_tables({"rtb-a": "vpn-a", "rtb-b": "vpn-b"}, timeout=10)
        time.sleep(1.0)
        changed = self.events_of("route_changed", restart)
        self.assertEqual(changed, [], "a restart must not reprogram adopted routes")

        # 3. DX restored: the routes come back only after the 5 s hold-down.
        lab.fault("unblackhole", "dx")
        up = lab.wait_status(self.socket, lambda s: labctl.path_of(s, "dx")["state"] == "up",
                             timeout=10, what="dx up")
        t_up = time.time()
        self.assertEqual(labctl.route_of(up, "rtb-a")["current"], "vpn-a")
        self.assertGreater(labctl.route_of(up, "rtb-a")["hold_down_remaining_ms"], 3000)
        self.wait_tables({"rtb-a": "dx", "rtb-b": "dx"}, timeout=15)
        self.assertGreater(time.time() - t_up, 3.5, "failback came before the hold-down")

        # 4. A route changed by hand is put back and reported.
        t_drift = time.time()
        lab.sh("vpc", "ip", "route", "replace", "10.10.0.0/16", "via", "10.255.3.2", "dev",
               "gwb", "table", "101")
        deadline = time.time() + 10
        while time.time() < deadline:
            if table_route(lab, 101)["10.10.0.0/16"] == ("10.255.1.2", "dx") and \
                    self.events_of("route_drift", t_drift - 1):
                break
            time.sleep(0.05)
        self.assertEqual(table_route(lab, 101)["10.10.0.0/16"], ("10.255.1.2", "dx"))
        drift = self.events_of("route_drift", t_drift - 1)
        self.assertTrue(drift, "no route_drift event")
        self.assertEqual(drift[0]["route_table"], "rtb-a")

        # 5. SIGTERM: a clean stop with daemon_stopped in the journal.
        self.daemon.send_signal(signal.SIGTERM)
        self.assertEqual(self.daemon.wait(timeout=15), 0)
        lab.forget(self.daemon)
        self.assertTrue(self.events_of("daemon_stopped"))



if __name__ == "__main__":
    unittest.main(verbosity=2)
