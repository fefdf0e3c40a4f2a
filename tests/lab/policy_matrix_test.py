"""pathpilot in the lab: for every combination of DX / VPN-A / VPN-B up or down, both route
tables end on the path the policy says (DX first; else the table's own AZ's gateway: rtb-a →
vpn-a, rtb-b → vpn-b; else the other one; nothing → fail static, routes kept), and the streams
of both subnets really cross that path. Also: failback waits for the hold-down."""

import time
import unittest

from lab_test_util import LabCase, event_time, labctl

BOX = labctl.PATH_BOX  # path name -> lab box


def expected(dx, a, b):
    """What the policy must choose for (rtb-a, rtb-b); None = fail static."""
    def pick(own, other):
        for name, up in (("dx", dx), own, other):
            if up:
                return name
        return None
    return pick(("vpn-a", a), ("vpn-b", b)), pick(("vpn-b", b), ("vpn-a", a))


class PolicyMatrixTest(LabCase):
    daemon = True
    # These tests take DX down a dozen times in a few minutes: with flap damping on, DX would
    # (rightly) be suppressed. Damping has its own test (recovery_test.py).
    config_edits = (("damping:\n    enabled: true", "damping:\n    enabled: false"),)

    def setUp(self):
        self.baseline()

    def apply(self, dx, a, b):
        """Faults: a down path is black-holed (carrier up, every packet dropped). The VPN
        faults go first and are seen before DX fails, so that the routes move once."""
        for up, box, path in ((a, "gwa", "vpn-a"), (b, "gwb", "vpn-b")):
            if not up:
                self.lab.fault("blackhole", box)
        self.lab.wait_status(self.socket, lambda s: all(
            labctl.path_of(s, p)["usable"] == up for p, up in (("vpn-a", a), ("vpn-b", b))),
            timeout=5, what="VPN path states")
        if not dx:
            self.lab.fault("blackhole", "dx")

    def check_combination(self, dx, a, b):
        t0 = time.time()
        self.apply(dx, a, b)
        want_a, want_b = expected(dx, a, b)
        states = {"dx": dx, "vpn-a": a, "vpn-b": b}
        # pathpilot sees each path as it is ...
        status = self.lab.wait_status(
            self.socket,
            lambda s: all(labctl.path_of(s, p)["usable"] == up for p, up in states.items()),
            timeout=5, what=f"path states {states}")
        if want_a is None:
            # ... nothing usable: fail static, the routes stay where they were (DX).
            status = self.wait_routes({"rtb-a": "dx", "rtb-b": "dx"}, fail_static=True)
            for table in ("rtb-a", "rtb-b"):
                r = labctl.route_of(status, table)
                self.assertEqual(r["decision"], "fail_static", r)
            self.assertEqual(self.events("route_changed", since=t0), [])
            # Packets still go to DX (kept route) and die there.
            paths, got = self.measure()
            self.assertLess(paths["gwa"] + paths["gwb"], 0.2 * 500)
            self.assertEqual(sum(got.values()), 0)
            return
        # ... and both tables end on the policy's choice, in pathpilot and in the router.
        status = self.wait_routes({"rtb-a": want_a, "rtb-b": want_b})
        for table, want in (("rtb-a", want_a), ("rtb-b", want_b)):
            r = labctl.route_of(status, table)
            self.assertFalse(r["fail_static"], r)
        # The streams really cross that path, and no other path carries them.
        self.assert_traffic_over({"rtb-a": BOX[want_a], "rtb-b": BOX[want_b]})

    # One test per combination, so that a failure names it.
    def test_all_up_both_on_dx(self):
        self.check_combination(True, True, True)

    def test_dx_down_each_table_to_its_own_az(self):
        self.check_combination(False, True, True)

    def test_dx_and_vpn_a_down_both_on_vpn_b(self):
        self.check_combination(False, False, True)

    def test_dx_and_vpn_b_down_both_on_vpn_a(self):
        self.check_combination(False, True, False)

    def test_everything_down_fail_static(self):
        self.check_combination(False, False, False)

    def test_vpn_a_down_dx_still_preferred(self):
        self.check_combination(True, False, True)

    def test_vpn_b_down_dx_still_preferred(self):
        self.check_combination(True, True, False)

    def test_both_vpns_down_dx_still_preferred(self):
        self.check_combination(True, False, False)

    def test_fail_static_keeps_the_vpn_routes_when_the_vpns_fail_too(self):
        self.lab.fault("blackhole", "dx")
        self.wait_routes({"rtb-a": "vpn-a", "rtb-b": "vpn-b"}, timeout=5)
        t0 = time.time()
        self.lab.fault("vpn-down")
        status = self.wait_routes({"rtb-a": "vpn-a", "rtb-b": "vpn-b"}, fail_static=True)
        for table in ("rtb-a", "rtb-b"):
            self.assertEqual(labctl.route_of(status, table)["decision"], "fail_static")
        time.sleep(1.0)
        self.assertEqual(self.events("route_changed", since=t0), [])
        self.assertEqual((self.lab.route(101), self.lab.route(102)), ("gwa", "gwb"))

    def test_dx_link_down_is_a_failover_too(self):
        self.lab.fault("dx-down")
        self.wait_routes({"rtb-a": "vpn-a", "rtb-b": "vpn-b"}, timeout=5)
        self.assert_traffic_over({"rtb-a": "gwa", "rtb-b": "gwb"})

    def test_failback_waits_for_the_hold_down(self):
        self.lab.fault("blackhole", "dx")
        self.wait_routes({"rtb-a": "vpn-a", "rtb-b": "vpn-b"}, timeout=5)
        t0 = time.time()
        self.lab.fault("unblackhole", "dx")
        up = self.wait_event("path_up", t0, timeout=5, path="dx")
        t_up = event_time(up)
        # Shortly after DX is back: still on the VPNs, with the hold-down counting.
        status = self.lab.wait_status(self.socket,
                                      lambda s: labctl.path_of(s, "dx")["state"] == "up",
                                      timeout=3, what="dx up")
        for table, path in (("rtb-a", "vpn-a"), ("rtb-b", "vpn-b")):
            r = labctl.route_of(status, table)
            self.assertEqual(r["current"], path, r)
            self.assertEqual(r["decision"], "hold_down", r)
            self.assertGreater(r["hold_down_remaining_ms"], 3000, r)
        time.sleep(max(0.0, t_up + 3.0 - time.time()))
        self.assertEqual(self.lab.route(101), "gwa")
        self.assertEqual(self.lab.route(102), "gwb")
        self.assert_traffic_over({"rtb-a": "gwa", "rtb-b": "gwb"}, window=0.8)
        # Then both go back to DX once DX has been measured clean (its loss window full again:
        # 50 results at 100 ms, ~4.7 s after the 3 answers that brought it up) and then clean
        # for the whole hold-down (5 s).
        self.wait_routes({"rtb-a": "dx", "rtb-b": "dx"}, timeout=12)
        for table, frm in (("rtb-a", "vpn-a"), ("rtb-b", "vpn-b")):
            moves = self.events("route_changed", t0, route_table=table, to="dx")
            self.assertEqual(len(moves), 1, moves)
            self.assertEqual(moves[0]["from"], frm)
            waited = event_time(moves[0]) - t_up
            self.assertGreaterEqual(waited, 9.5, moves[0])
            self.assertLess(waited, 11.5, moves[0])
        self.assert_traffic_over({"rtb-a": "dx", "rtb-b": "dx"})


if __name__ == "__main__":
    unittest.main()
