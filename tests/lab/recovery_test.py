"""pathpilot in the lab: gateway recovery and flap damping.

  * A crashed gateway (charon SIGKILLed) is recovered by the recovery command (lab/gw-restart,
    slowed down to 3 s like an instance restart) while pathpilot keeps probing the other paths
    and keeps moving routes: DX failing during the recovery is handled before it ends.
  * A tunnel torn down by the on-prem peer is brought back the same way.
  * A flapping DX is held down by flap damping even while it answers again.
  * The monitor alone cut off from every path for 10 s (longer than the recovery delay; the
    subnets' traffic flows on): its view is suspect, no gateway is recovered, no route moves
    before, during or after, and one critical monitor_suspect event says why.
"""

import time
import unittest

from lab_test_util import LabCase, event_time, labctl


class RecoveryTest(LabCase):
    daemon = True
    pathpilot_env = {"PP_LAB_RESTART_DELAY": "3"}

    def setUp(self):
        self.baseline()

    def test_crashed_gateway_is_recovered_while_other_paths_keep_being_probed(self):
        old_pid = self.lab.tunnel_state("gwa")["charon"]["pid"]
        t0 = time.time()
        self.lab.fault("gw-crash", "gwa")
        down = self.wait_event("path_down", t0, timeout=5, path="vpn-a")
        # DX stays preferred: the crash moves nothing.
        self.assertEqual(self.events("route_changed", since=t0), [])
        started = self.wait_event("recovery_started", t0, timeout=8, path="vpn-a")
        self.assertGreaterEqual(event_time(started) - event_time(down), 1.9)  # `after: 2s`
        # While the (slow) recovery runs, DX fails: pathpilot still probes, decides, programs.
        t1 = time.time()
        self.lab.fault("blackhole", "dx")
        self.wait_routes({"rtb-a": "vpn-b", "rtb-b": "vpn-b"}, timeout=3)
        dx_down = self.wait_event("path_down", t1, timeout=1, path="dx")
        self.assert_traffic_over({"rtb-a": "gwb", "rtb-b": "gwb"}, window=0.5)
        self.assertEqual(self.events("recovery_succeeded", since=t0, path="vpn-a"), [],
                         "the recovery is slowed down to 3 s; it cannot be over yet")
        # recovery_succeeded means the probes saw the gateway back (not merely that the command
        # exited 0): one per attempt.
        done = self.wait_event("recovery_succeeded", t0, timeout=30, path="vpn-a")
        self.assertIn("the gateway came back", done["message"])
        self.assertLess(event_time(dx_down), event_time(done))
        self.assertEqual(self.events("recovery_failed", since=t0), [])
        # The gateway is back with a new charon; rtb-a returns to its own AZ after the hold-down.
        st = self.lab.tunnel_state("gwa")
        self.assertTrue(st["charon"]["running"] and st["tunnel_up"], st)
        self.assertNotEqual(st["charon"]["pid"], old_pid)
        self.wait_routes({"rtb-a": "vpn-a", "rtb-b": "vpn-b"}, timeout=10)
        self.assert_traffic_over({"rtb-a": "gwa", "rtb-b": "gwb"})
        # vpn-b was probed and usable all along.
        self.assertEqual(self.events("path_down", since=t0, path="vpn-b"), [])
        # One attempt, one terminal event (checked late: a second one would have come by now).
        self.assertEqual(len(self.events("recovery_started", since=t0, path="vpn-a")), 1)
        self.assertEqual(len(self.events("recovery_succeeded", since=t0, path="vpn-a")), 1)

    def test_tunnel_torn_down_by_the_peer_is_recovered(self):
        self.lab.fault("blackhole", "dx")
        self.wait_routes({"rtb-a": "vpn-a", "rtb-b": "vpn-b"}, timeout=5)
        t0 = time.time()
        self.lab.fault("tunnel-down", "gwb")
        # rtb-b crosses to gwa's tunnel at once ...
        self.wait_routes({"rtb-a": "vpn-a", "rtb-b": "vpn-a"}, timeout=3)
        self.assert_traffic_over({"rtb-a": "gwa", "rtb-b": "gwa"}, window=0.5)
        # ... the recovery restarts gwb's charon and re-initiates the tunnel ...
        self.wait_event("recovery_started", t0, timeout=8, path="vpn-b")
        done = self.wait_event("recovery_succeeded", t0, timeout=30, path="vpn-b")
        self.assertIn("the gateway came back", done["message"])
        st = self.lab.tunnel_state("gwb")
        self.assertTrue(st["tunnel_up"] and st["peer"]["tunnel_up"], st)
        # ... and rtb-b comes home after the hold-down.
        self.wait_routes({"rtb-a": "vpn-a", "rtb-b": "vpn-b"}, timeout=10)
        self.assert_traffic_over({"rtb-a": "gwa", "rtb-b": "gwb"})
        started = self.events("recovery_started", since=t0, path="vpn-b")
        self.assertEqual(len(self.events("recovery_succeeded", since=t0, path="vpn-b")),
                         len(started), "one recovery_succeeded per attempt")


class DampingTest(LabCase):
    daemon = True

    def test_cut_off_monitor_moves_no_route_and_recovers_no_gateway(self):
        self.baseline()
        t0 = time.time()
        self.lab.fault("monitor-cut")
        try:
            suspect = self.wait_event("monitor_suspect", t0, timeout=5)
            self.assertEqual(suspect["severity"], "critical")
            # Longer than the gateways' recovery delay (after: 2s in lab.yaml).
            while time.time() < t0 + 10:
                s = self.status()
                self.assertEqual(s["monitor"]["view"], "suspect", s["monitor"])
                for r in s["routes"]:
                    self.assertEqual(r["current"], "dx", r)
                time.sleep(0.5)
            # The subnets never lost DX.
            self.assert_traffic_over({"rtb-a": "dx", "rtb-b": "dx"}, window=0.5)
        finally:
            self.lab.fault("monitor-uncut")
        t1 = time.time()
        self.wait_event("monitor_trusted", t1, timeout=10)
        self.lab.wait_status(self.socket, self.settled_on_dx, timeout=30,
                             what="every path up again, both tables still on dx")
        time.sleep(2)  # a late move or recovery would show by now
        print(f"diag: events since the cut: "
              f"{[(e['kind'], round(event_time(e) - t0, 2)) for e in self.events(since=t0)]}")
        self.assertEqual(self.events("route_changed", since=t0), [])
        self.assertEqual(self.events("recovery_started", since=t0), [])
        self.assertEqual(len(self.events("monitor_suspect", since=t0)), 1)
        self.assertEqual((self.lab.route(101), self.lab.route(102)), ("dx", "dx"))
        self.assert_traffic_over({"rtb-a": "dx", "rtb-b": "dx"})

    def test_flapping_dx_is_held_down_while_it_answers(self):
        self.baseline()
        t0 = time.time()
        # Four outages in a few seconds: 4 x 1000 penalty (half-life 1 min) > suppress 3000.
        for _ in range(4):
            self.lab.fault("blackhole", "dx")
            self.lab.wait_status(self.socket, lambda s: labctl.path_of(s, "dx")["state"] == "down",
                                 timeout=3, what="dx down")
            self.lab.fault("unblackhole", "dx")
            time.sleep(0.6)
        self.assertGreaterEqual(len(self.events("path_down", since=t0, path="dx")), 3)
        status = self.lab.wait_status(self.socket,
                                      lambda s: labctl.path_of(s, "dx")["suppressed"],
                                      timeout=5, what="dx suppressed")
        dx = labctl.path_of(status, "dx")
        self.assertEqual(dx["state"], "down", dx)
        self.assertIn("damping", dx["reason"])
        # DX answers, but the traffic stays on the VPNs well beyond the 5 s hold-down.
        self.assertTrue(self.lab.ping("mon", labctl.DX_TARGET,
                                      source=labctl.PROBE_SOURCE["dx"], count=3))
        time.sleep(7)
        status = self.wait_routes({"rtb-a": "vpn-a", "rtb-b": "vpn-b"}, timeout=1)
        self.assertTrue(labctl.path_of(status, "dx")["suppressed"])
        self.assert_traffic_over({"rtb-a": "gwa", "rtb-b": "gwb"})


if __name__ == "__main__":
    unittest.main()
