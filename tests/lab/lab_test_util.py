"""Shared fixture of the lab tests (tests/lab/, ctest label `lab`).

Each test class builds its own lab (lab/up) under the namespace prefix PP_LAB_TEST (default
"plt<pid>"), so it never touches a lab someone else is running, and tears it down in
tearDownClass, also when a test fails. Daemon tests run `pathpilot run` in the monitor
namespace with examples/lab.yaml (rewritten for the prefix), keep two 500 pkt/s numbered
streams running (cla → onhost for rtb-a, clb → onhost for rtb-b), and check three things
against each other:
  * what pathpilot says (`pathpilot status --json`, the journal's JSON lines file);
  * what the vpc router's tables 101/102 contain;
  * where the packets really go: the forwarded-packet counters of the DX link and of each
    gateway's ipsec0 (lab/tunnel-state), and what the receiver on onhost gets.
"""

import contextlib
import json
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "lab"))
import labctl  # noqa: E402
from ppkit.timefmt import event_time  # noqa: E402,F401 (used here and by the tests)

# Unique per test process, so that two checkouts (a developer's and CI's) running the lab tests
# at the same time never share namespaces: lab/up starts by tearing down its prefix.
PREFIX = os.environ.get("PP_LAB_TEST", f"plt{os.getpid()}")
WORK = f"/tmp/{PREFIX}-lab"
RATE = 500  # packets/s of each stream
STREAMS = {"rtb-a": "cla", "rtb-b": "clb"}
PORT = 9000


def lab_config(lab, edits=()):
    """examples/lab.yaml for this lab's prefix and work dir, with extra (old, new) edits."""
    with open(os.path.join(ROOT, "examples", "lab.yaml")) as f:
        text = f.read()
    edits = (("netns: pp-vpc", f"netns: {lab.ns('vpc')}"), ("/tmp/pp-lab/", lab.dir + "/"),
             *edits)
    for old, new in edits:
        if old not in text:
            raise AssertionError(f"examples/lab.yaml no longer contains {old!r}")
        text = text.replace(old, new)
    path = os.path.join(lab.dir, "pathpilot", "lab.yaml")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


class LabCase(unittest.TestCase):
    """A lab per class. Subclasses set `daemon = True` to run pathpilot and the streams."""

    daemon = False
    pathpilot_env = {}
    config_edits = ()

    @classmethod
    def setUpClass(cls):
        cls.lab = labctl.Lab(prefix=PREFIX, workdir=WORK)
        cls.pathpilot = None
        cls.lab.up()
        try:
            if cls.daemon:
                cls.start_daemon()
        except BaseException:
            cls.lab.down()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.lab.down()

    # -- daemon and streams -----------------------------------------------------------------
    @classmethod
    def start_daemon(cls):
        cls.config = lab_config(cls.lab, cls.config_edits)
        cls.socket = os.path.join(cls.lab.dir, "pathpilot", "control.sock")
        cls.events_file = os.path.join(cls.lab.dir, "pathpilot", "events.jsonl")
        cls.report = os.path.join(cls.lab.dir, "traffic.json")
        proc = cls.lab.spawn("recv", "onhost", [labctl.traffic_bin(), "recv", "--port", PORT,
                                                "--report", cls.report, "--flush", "100ms"])
        time.sleep(0.2)
        for stream, box in STREAMS.items():
            cls.lab.spawn(f"send-{stream}", box,
                          [labctl.traffic_bin(), "send", "--to", f"{labctl.DX_TARGET}:{PORT}",
                           "--rate", RATE, "--stream", stream])
        cls.pathpilot = cls.lab.spawn("pathpilot", "mon",
                                      [labctl.pathpilot_bin(), "run", "-c", cls.config],
                                      env=cls.pathpilot_env, cwd=ROOT)
        del proc
        cls.lab.wait_status(cls.socket, cls.settled_on_dx, timeout=30, what="pathpilot ready")

    @staticmethod
    def settled_on_dx(s):
        return (all(p.get("state") == "up" and p.get("usable") for p in s["paths"])
                and all(r.get("current") == "dx" and r.get("desired") == "dx"
                        and r.get("sync") == "synced"
                        and not r.get("hold_down_remaining_ms") and not r.get("fail_static")
                        for r in s["routes"]))

    def status(self):
        s = self.lab.status(self.socket)
        self.assertIsNotNone(s, "pathpilot status --json failed (daemon dead?)")
        return s

    def baseline(self, timeout=40):
        """Every fault cleared, every path up, both tables on DX with nothing pending."""
        self.lab.fault("clear")
        return self.lab.wait_status(self.socket, self.settled_on_dx, timeout=timeout,
                                    what="all paths up and both tables on dx")

    def wait_routes(self, expect, timeout=10, fail_static=False):
        """Waits until status shows each table of `expect` ({"rtb-a": "vpn-a", ...}) current
        and desired on that path, synced, and the vpc router's table really routes there."""
        def ok(s):
            for table, path in expect.items():
                r = labctl.route_of(s, table) or {}
                if not (r.get("current") == path and r.get("desired") == path
                        and r.get("sync") == "synced"
                        and bool(r.get("fail_static")) == fail_static):
                    return False
                if self.lab.route(labctl.TABLES[table]) != labctl.PATH_BOX[path]:
                    return False
            return True
        return self.lab.wait_status(self.socket, ok, timeout=timeout, what=f"routes {expect}")

    def events(self, kind=None, since=0.0, **fields):
        out = []
        for e in labctl.read_jsonl(self.events_file):
            if kind and e.get("kind") != kind:
                continue
            if event_time(e) < since:
                continue
            if any(e.get(k) != v for k, v in fields.items()):
                continue
            out.append(e)
        return out

    def wait_event(self, kind, since, timeout=10, **fields):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(kind, since, **fields)
            if found:
                return found[0]
            time.sleep(0.05)
        self.fail(f"no {kind} event {fields} within {timeout}s; journal tail: "
                  f"{json.dumps(labctl.read_jsonl(self.events_file)[-8:], indent=1)[:3000]}")

    # -- traffic ----------------------------------------------------------------------------
    def received(self):
        with contextlib.suppress(OSError, json.JSONDecodeError):
            with open(self.report) as f:
                streams = json.load(f)["streams"]
            return {s: streams.get(s, {}).get("received", 0) for s in STREAMS}
        return {s: 0 for s in STREAMS}

    def measure(self, window=1.0):
        """Packets forwarded over each path (dx, gwa, gwb) towards on-prem, and packets of
        each stream delivered to onhost, during `window` seconds."""
        def snap():
            return {b: self.lab.path_counters(b) for b in ("dx", "gwa", "gwb")}
        p0, r0 = snap(), self.received()
        time.sleep(window)
        time.sleep(0.15)  # let the receiver's report (flushed every 100 ms) catch up
        p1, r1 = snap(), self.received()
        return ({b: p1[b] - p0[b] for b in p0}, {s: r1[s] - r0[s] for s in r0})

    def assert_traffic_over(self, expect, window=1.0, delivered=True):
        """`expect` maps each table to the lab box its stream must cross ({"rtb-a": "gwa"}).
        The expected boxes must forward (nearly) the whole stream; the others only their own
        probes (~20 packets/s)."""
        paths, got = self.measure(window)
        want = {b: 0 for b in ("dx", "gwa", "gwb")}
        for table, box in expect.items():
            want[box] += RATE * window
        for box, n in want.items():
            if n:
                self.assertGreaterEqual(paths[box], 0.7 * n,
                                        f"{box} should carry {expect}: forwarded {paths}")
            else:
                self.assertLess(paths[box], 0.2 * RATE * window,
                                f"{box} should carry no stream: forwarded {paths}")
        if delivered:
            for stream in expect:
                self.assertGreaterEqual(got[stream], 0.7 * RATE * window,
                                        f"stream {stream} not delivered: {got}")
        return paths, got
