"""pathpilot in the lab: 10% random loss on every path for 60 s (PP_LAB_LOSS_SECONDS) moves no
route and takes no path down, while the loss is real (pathpilot measures it, the streams lose
about 10%).

On a heavily loaded machine the userspace tunnels have been seen to stall for a few seconds
(both at once; DX unaffected). A VPN path that goes down during such a stall is right to do so,
so each gateway's own tunnel is watched independently (pings from the gateway's address, which
the loss rule does not touch): a VPN path_down is accepted only when that watcher saw its
tunnel stall at the same time, and the test says so.
"""

import json
import os
import re
import time
import unittest

from lab_test_util import STREAMS, LabCase, event_time, labctl

DURATION = float(os.environ.get("PP_LAB_LOSS_SECONDS", "60"))
LOSSY_DX_SECONDS = float(os.environ.get("PP_LAB_LOSSY_DX_SECONDS", "60"))


class LossTest(LabCase):
    daemon = True

    def stream_counts(self):
        with open(self.report) as f:
            streams = json.load(f)["streams"]
        return {s: (streams[s]["received"], streams[s]["lost"]) for s in STREAMS}

    def watch_tunnels(self):
        """Starts a 20 Hz ping from each gateway's own address through its tunnel."""
        procs = {}
        for gw, src in (("gwa", "10.1.255.2"), ("gwb", "10.1.255.3")):
            log = os.path.join(self.lab.dir, f"watch-{gw}.txt")
            procs[gw] = (self.lab.spawn(f"watch-{gw}", gw,
                                        ["ping", "-D", "-n", "-i", "0.05", "-W", "1", "-I", src,
                                         labctl.TUNNEL_TARGET[gw]], log=log), log)
        return procs

    @staticmethod
    def stalls(log, min_gap=0.25):
        """[(start, end)] wall-clock intervals without any answer longer than min_gap."""
        times = []
        with open(log) as f:
            for line in f:
                m = re.match(r"\[(\d+\.\d+)\] \d+ bytes from", line)
                if m:
                    times.append(float(m.group(1)))
        return [(a, b) for a, b in zip(times, times[1:]) if b - a > min_gap]

    def test_ten_percent_loss_on_every_path_moves_no_route(self):
        self.baseline()
        watchers = self.watch_tunnels()
        time.sleep(0.5)
        t0 = time.time()
        before = self.stream_counts()
        for box in ("dx", "gwa", "gwb"):
            self.lab.fault("loss", box, "0.1")
        max_loss = {p: 0.0 for p in labctl.PATH_BOX}
        states = set()
        try:
            while time.time() < t0 + DURATION:
                s = self.status()
                for p in s["paths"]:
                    max_loss[p["name"]] = max(max_loss[p["name"]], p["loss"])
                    states.add((p["name"], p["state"]))
                for r in s["routes"]:
                    self.assertEqual((r["current"], r["desired"]), ("dx", "dx"), r)
                time.sleep(0.5)
            after = self.stream_counts()
        finally:
            self.lab.fault("clear")
            for proc, _ in watchers.values():
                labctl.stop_process(proc)
                self.lab.forget(proc)
        self.assertEqual(self.events("route_changed", since=t0), [])
        self.assertEqual((self.lab.route(101), self.lab.route(102)), ("dx", "dx"))
        self.assertEqual(self.events("path_down", since=t0, path="dx"), [])
        self.assertNotIn(("dx", "down"), states)
        for path, gw in (("vpn-a", "gwa"), ("vpn-b", "gwb")):
            stalls = self.stalls(watchers[gw][1])
            short = self.stalls(watchers[gw][1], min_gap=0.1)
            print(f"diag: {gw} watcher gaps >= 0.1 s: "
                  f"{[(round(a, 3), round(b - a, 3)) for a, b in short]}")
            for e in self.events("path_down", since=t0, path=path):
                print(f"diag: {path} down at {event_time(e):.3f}: {e['reason']}")
            for e in self.events("path_down", since=t0, path=path):
                t = event_time(e)
                explained = [st for st in stalls if st[0] - 0.5 <= t <= st[1] + 0.5]
                self.assertTrue(explained, f"{path} went down at {e['time']} under 10% loss "
                                f"while its tunnel answered (stalls seen: {stalls}): {e}")
                print(f"note: {path} down at {e['time']} during a tunnel stall of "
                      f"{explained[0][1] - explained[0][0]:.1f}s (not caused by the loss)")
        # The loss was real: pathpilot saw it on every path, and each stream lost ~10%.
        for path, loss in max_loss.items():
            self.assertGreater(loss, 0.0, f"{path}: no loss ever measured")
        for s in STREAMS:
            received = after[s][0] - before[s][0]
            lost = after[s][1] - before[s][1]
            ratio = lost / max(1, received + lost)
            self.assertGreater(ratio, 0.07, (s, received, lost))
            self.assertLess(ratio, 0.13, (s, received, lost))

    def test_thirty_percent_loss_on_dx_moves_each_table_off_dx_once_and_never_back(self):
        """30 % random loss on DX (right at its degraded threshold) for a minute: each table
        leaves DX at most once, for a clean VPN, and nothing moves back while the loss lasts;
        once DX is clean again the tables return after the hold-down."""
        self.baseline()
        t0 = time.time()
        self.lab.fault("loss", "dx", "0.3")
        try:
            while time.time() < t0 + LOSSY_DX_SECONDS:
                for r in self.status()["routes"]:
                    self.assertIn(r["current"], ("dx", "vpn-a", "vpn-b"), r)
                time.sleep(0.5)
            moves = self.events("route_changed", since=t0)
        finally:
            self.lab.fault("clear")
        # A failback to DX while it loses 30% is the bug this test is for. A move back to DX
        # because the VPN path it was on failed is right (on a loaded machine the userspace
        # tunnels have been seen to stall, see the module doc): it must follow a path_down or
        # path_degraded of that VPN path, and then the table may leave DX once more.
        for table in ("rtb-a", "rtb-b"):
            mine = [e for e in moves if e["route_table"] == table]
            print(f"diag: {table} route changes under 30% DX loss: "
                  f"{[(e['from'], e['to'], e.get('reason', '')) for e in mine]}")
            forced_back = 0
            for e in mine:
                if e["to"] != "dx":
                    continue
                self.assertNotIn("passed), preferred over", e.get("reason", ""),
                                 f"{table} failed back to a lossy DX: {e}")
                t = event_time(e)
                cause = [x for kind in ("path_down", "path_degraded")
                         for x in self.events(kind, since=t0, path=e["from"])
                         if t - 1.0 <= event_time(x) <= t + 0.1]
                self.assertTrue(cause, f"{table} went back to DX while {e['from']} was fine: {e}")
                print(f"note: {table} back on dx at {e['time']} because {e['from']} "
                      f"{cause[0]['kind']}: {cause[0].get('reason', '')}")
                forced_back += 1
            away = [e for e in mine if e["from"] == "dx"]
            self.assertLessEqual(len(away), 1 + forced_back, f"{table} bounced: {mine}")
        degraded = self.events("path_degraded", since=t0, path="dx")
        ups = [e for e in self.events("path_up", since=t0, path="dx")
               if event_time(e) < t0 + LOSSY_DX_SECONDS]
        print(f"diag: dx degraded {len(degraded)}×, up {len(ups)}× during the loss")
        # Clean again: back on DX once it is measured clean and the hold-down passed — unless
        # flap damping holds DX down for the runs of lost probes it had (by design: a link that
        # kept failing stays out until its penalty decays; lab.yaml allows up to 5 minutes).
        def settled(s):
            dx = labctl.path_of(s, "dx")
            on_dx = all((labctl.route_of(s, t) or {}).get("current") == "dx"
                        for t in ("rtb-a", "rtb-b"))
            return on_dx or dx.get("suppressed")
        status = self.lab.wait_status(self.socket, settled, timeout=60,
                                      what="back on dx, or dx held down by damping")
        print(f"diag: after the loss: dx {labctl.path_of(status, 'dx')['state']}, suppressed "
              f"{labctl.path_of(status, 'dx').get('suppressed')}")


if __name__ == "__main__":
    unittest.main()
