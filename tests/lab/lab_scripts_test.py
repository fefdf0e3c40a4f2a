"""The lab itself (no pathpilot): real IPsec tunnels, pinned probe paths, cross-AZ forwarding,
every fault of lab/fault, lab/gw-restart, lab/tunnel-state, and a clean lab/down."""

import json
import os
import re
import subprocess
import time
import unittest

from lab_test_util import PREFIX, LabCase, labctl


def ping_stats(lab, source, target, count=100, interval=0.01, wait=1):
    """(loss ratio, min rtt ms, avg rtt ms) of pinned pings from the monitor."""
    out = subprocess.run(["ip", "netns", "exec", lab.ns("mon"), "ping", "-q", "-n", "-c",
                          str(count), "-i", str(interval), "-W", str(wait), "-I", source,
                          target], capture_output=True, text=True).stdout
    m = re.search(r"(\d+) received", out)
    received = int(m.group(1)) if m else 0
    rtt = re.search(r"= ([\d.]+)/([\d.]+)/", out)
    return (1 - received / count, float(rtt.group(1)) if rtt else None,
            float(rtt.group(2)) if rtt else None)


class LabScriptsTest(LabCase):
    def setUp(self):
        self.lab.fault("clear")
        for table, box in ((101, "dx"), (102, "dx")):
            via, dev = labctl.NEXT_HOP[box]
            self.lab.sh("vpc", "ip", "route", "replace", labctl.ONPREM_PREFIX, "via", via, "dev",
                        dev, "table", str(table))

    def tunnel_out(self, gw):
        return self.lab.tunnel_state(gw)["totals"]["packets_out"]

    def test_each_gateway_runs_a_real_ipsec_tunnel_with_its_own_peer(self):
        for gw, peer, inside in (("gwa", "onpa", "169.254.100.1"),
                                 ("gwb", "onpb", "169.254.200.1")):
            st = self.lab.tunnel_state(gw)
            self.assertTrue(st["charon"]["running"], st)
            self.assertTrue(st["tunnel_up"], st)
            self.assertEqual(len(st["ike_sas"]), 1)
            ike = st["ike_sas"][0]
            self.assertEqual(ike["state"], "ESTABLISHED")
            self.assertEqual(ike["remote_id"], peer)
            child = ike["child_sas"][0]
            self.assertEqual(child["state"], "INSTALLED")
            self.assertTrue(child["encap"], "libipsec: ESP in UDP")
            self.assertEqual(child["local_ts"], ["10.1.0.0/16"])
            self.assertEqual(sorted(child["remote_ts"]), ["10.10.0.0/16", f"{inside}/32"])
            # Pitfall A avoided: each on-prem end runs one charon with one tunnel.
            self.assertEqual(st["peer"]["name"], peer)
            self.assertTrue(st["peer"]["tunnel_up"])
            self.assertEqual(len(st["peer"]["ike_sas"]), 1)
            self.assertIsNotNone(st["interfaces"]["ipsec0"])
        self.assertNotEqual(self.lab.tunnel_state("gwa")["charon"]["pid"],
                            self.lab.tunnel_state("gwb")["charon"]["pid"])

    def test_pinned_probes_take_their_own_path(self):
        for path in ("dx", "gwa", "gwb"):
            before = {b: self.lab.path_counters(b) for b in ("dx", "gwa", "gwb")}
            target = labctl.DX_TARGET if path == "dx" else labctl.TUNNEL_TARGET[path]
            loss, _, _ = ping_stats(self.lab, labctl.PROBE_SOURCE[path], target, count=50)
            self.assertEqual(loss, 0.0, path)
            after = {b: self.lab.path_counters(b) for b in ("dx", "gwa", "gwb")}
            delta = {b: after[b] - before[b] for b in before}
            self.assertGreaterEqual(delta[path], 50, (path, delta))
            for other in set(delta) - {path}:
                self.assertLess(delta[other], 5, (path, delta))

    def test_either_tunnel_carries_either_subnet(self):
        """Cross-AZ: subnet B over gwa's tunnel, subnet A over gwb's (the SA counters prove it)."""
        for table, client, gw, other in ((102, "clb", "gwa", "gwb"), (101, "cla", "gwb", "gwa")):
            via, dev = labctl.NEXT_HOP[gw]
            self.lab.sh("vpc", "ip", "route", "replace", labctl.ONPREM_PREFIX, "via", via, "dev",
                        dev, "table", str(table))
            out_gw, out_other = self.tunnel_out(gw), self.tunnel_out(other)
            peer_in = self.lab.tunnel_state(gw)["peer"]["totals"]["packets_in"]
            self.assertTrue(self.lab.ping(client, labctl.DX_TARGET, count=20, timeout=1))
            self.assertGreaterEqual(self.tunnel_out(gw) - out_gw, 20)
            self.assertGreaterEqual(
                self.lab.tunnel_state(gw)["peer"]["totals"]["packets_in"] - peer_in, 20)
            self.assertLess(self.tunnel_out(other) - out_other, 3)

    def test_blackhole_drops_everything_but_keeps_the_carrier(self):
        self.lab.fault("blackhole", "gwa")
        loss, _, _ = ping_stats(self.lab, labctl.PROBE_SOURCE["gwa"], labctl.TUNNEL_TARGET["gwa"],
                                count=10, wait=0.3)
        self.assertEqual(loss, 1.0)
        self.assertEqual(self.lab.link_counters("gwa", "vpc")["state"], "UP")
        self.assertTrue(self.lab.tunnel_state("gwa")["tunnel_up"])
        loss, _, _ = ping_stats(self.lab, labctl.PROBE_SOURCE["gwb"], labctl.TUNNEL_TARGET["gwb"],
                                count=10)
        self.assertEqual(loss, 0.0)
        self.lab.fault("unblackhole", "gwa")
        loss, _, _ = ping_stats(self.lab, labctl.PROBE_SOURCE["gwa"], labctl.TUNNEL_TARGET["gwa"],
                                count=10)
        self.assertEqual(loss, 0.0)

    def test_dx_down_takes_the_link_down(self):
        self.lab.fault("dx-down")
        self.assertFalse(self.lab.ping("mon", labctl.DX_TARGET, source=labctl.PROBE_SOURCE["dx"],
                                       timeout=0.3))
        self.lab.fault("dx-up")
        self.assertTrue(self.lab.ping("mon", labctl.DX_TARGET, source=labctl.PROBE_SOURCE["dx"],
                                      count=3))

    def test_loss_drops_the_given_share(self):
        self.lab.fault("loss", "dx", "0.3")
        loss, _, _ = ping_stats(self.lab, labctl.PROBE_SOURCE["dx"], labctl.DX_TARGET, count=400,
                                interval=0.002, wait=0.5)
        # Binomial(400, 0.3): ±5 standard deviations.
        self.assertGreater(loss, 0.18)
        self.assertLess(loss, 0.42)
        self.lab.fault("noloss", "dx")
        loss, _, _ = ping_stats(self.lab, labctl.PROBE_SOURCE["dx"], labctl.DX_TARGET, count=50)
        self.assertEqual(loss, 0.0)

    def test_delay_holds_packets_with_the_nfqueue_helper(self):
        _, base_min, _ = ping_stats(self.lab, labctl.PROBE_SOURCE["gwb"],
                                    labctl.TUNNEL_TARGET["gwb"], count=10)
        self.lab.fault("delay", "gwb", "40")
        rec = [line.split() for line in open(os.path.join(self.lab.dir, "pids"))
               if line.split()[1] == "nfq-gwb"]
        self.assertEqual(len(rec), 1)
        pid = int(rec[0][0])
        self.assertTrue(labctl.pid_alive(pid))
        loss, rtt_min, _ = ping_stats(self.lab, labctl.PROBE_SOURCE["gwb"],
                                      labctl.TUNNEL_TARGET["gwb"], count=20, interval=0.05)
        self.assertEqual(loss, 0.0, "delay must not drop")
        self.assertGreaterEqual(rtt_min, 40.0)
        self.assertLess(rtt_min, 40.0 + base_min + 30)
        # The other paths are untouched.
        _, dx_min, _ = ping_stats(self.lab, labctl.PROBE_SOURCE["dx"], labctl.DX_TARGET, count=5)
        self.assertLess(dx_min, 20.0)
        self.lab.fault("nodelay", "gwb")
        self.assertFalse(labctl.pid_alive(pid), "the helper is ended on nodelay")
        _, rtt_min, _ = ping_stats(self.lab, labctl.PROBE_SOURCE["gwb"],
                                   labctl.TUNNEL_TARGET["gwb"], count=10)
        self.assertLess(rtt_min, 20.0)

    def test_gw_crash_and_gw_restart(self):
        old = self.lab.tunnel_state("gwa")["charon"]["pid"]
        self.lab.fault("gw-crash", "gwa")
        time.sleep(0.2)
        st = self.lab.tunnel_state("gwa")
        self.assertFalse(st["charon"]["running"])
        self.assertFalse(labctl.pid_alive(old))
        self.assertFalse(self.lab.ping("mon", labctl.TUNNEL_TARGET["gwa"],
                                       source=labctl.PROBE_SOURCE["gwa"], timeout=0.3))
        # The other gateway is not affected.
        self.assertTrue(self.lab.ping("mon", labctl.TUNNEL_TARGET["gwb"],
                                      source=labctl.PROBE_SOURCE["gwb"], count=3))
        t0 = time.monotonic()
        self.assertTrue(self.lab.gw_restart("gwa"))
        self.assertLess(time.monotonic() - t0, 10)
        st = self.lab.tunnel_state("gwa")
        self.assertTrue(st["charon"]["running"])
        self.assertNotEqual(st["charon"]["pid"], old)
        self.assertTrue(st["tunnel_up"])
        self.assertTrue(self.lab.ping("mon", labctl.TUNNEL_TARGET["gwa"],
                                      source=labctl.PROBE_SOURCE["gwa"], count=3))
        # The new IKE_SA replaced the one the peer still had (INITIAL_CONTACT).
        deadline = time.monotonic() + 5
        while len(self.lab.tunnel_state("gwa")["peer"]["ike_sas"]) != 1:
            self.assertLess(time.monotonic(), deadline, self.lab.tunnel_state("gwa")["peer"])
            time.sleep(0.1)

    def test_tunnel_down_by_the_peer_and_gw_restart(self):
        self.lab.fault("tunnel-down", "gwb")
        deadline = time.monotonic() + 5
        while self.lab.tunnel_state("gwb")["tunnel_up"]:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        st = self.lab.tunnel_state("gwb")
        self.assertTrue(st["charon"]["running"], "the gateway itself still runs")
        self.assertFalse(st["peer"]["tunnel_up"])
        self.assertFalse(self.lab.ping("mon", labctl.TUNNEL_TARGET["gwb"],
                                       source=labctl.PROBE_SOURCE["gwb"], timeout=0.3))
        old = st["charon"]["pid"]
        self.assertTrue(self.lab.gw_restart("gwb"))
        st = self.lab.tunnel_state("gwb")
        self.assertNotEqual(st["charon"]["pid"], old)
        self.assertTrue(st["tunnel_up"] and st["peer"]["tunnel_up"])

    def test_gw_restart_fails_while_the_path_is_black_holed(self):
        self.lab.fault("blackhole", "gwb")
        out = subprocess.run([os.path.join(labctl.LAB, "gw-restart"), "gwb", "2"],
                             env=self.lab.env, capture_output=True, text=True)
        self.assertEqual(out.returncode, 1)
        self.assertIn("does not carry", out.stderr)

    def test_clear_restores_every_fault(self):
        self.lab.fault("gw-crash", "gwa")
        self.lab.fault("tunnel-down", "gwb")
        self.lab.fault("all-down")
        self.lab.fault("dx-down")
        self.lab.fault("delay", "dx", "30")
        self.lab.fault("clear")
        for path, target in (("dx", labctl.DX_TARGET), ("gwa", labctl.TUNNEL_TARGET["gwa"]),
                             ("gwb", labctl.TUNNEL_TARGET["gwb"])):
            loss, rtt_min, _ = ping_stats(self.lab, labctl.PROBE_SOURCE[path], target, count=10)
            self.assertEqual(loss, 0.0, path)
            self.assertLess(rtt_min, 20.0, path)
        show = self.lab.fault("show").stdout
        self.assertIn("gwa: charon running, tunnel up", show)
        self.assertIn("gwb: charon running, tunnel up", show)
        self.assertNotIn("DROP", show)
        self.assertNotIn("NFQUEUE", show)

    def test_bad_arguments_are_refused_with_a_reason(self):
        for args, code, text in ((["blackhole", "nope"], 1, "unknown path 'nope'"),
                                 (["loss", "dx", "2"], 1, "loss ratio must be 0..1"),
                                 (["gw-crash", "dx"], 1, "unknown gateway 'dx'"),
                                 (["delay", "gwa", "abc"], 1, "whole milliseconds"),
                                 ([], 2, "dx-down")):
            out = self.lab.fault(*args, check=False)
            self.assertEqual(out.returncode, code, (args, out.stderr))
            self.assertIn(text, out.stderr, args)
        out = subprocess.run([os.path.join(labctl.LAB, "tunnel-state"), "gwc"],
                             env=self.lab.env, capture_output=True, text=True)
        self.assertEqual(out.returncode, 2)
        out = subprocess.run([os.path.join(labctl.LAB, "tunnel-state"), "gwa", "dx"],
                             env=self.lab.env, capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        both = json.loads(out.stdout)
        self.assertTrue(both["gwa"]["tunnel_up"])
        self.assertEqual(both["dx"]["interfaces"]["vpc"]["state"], "UP")


class LabLifecycleTest(unittest.TestCase):
    """lab/up is idempotent and fast; lab/down leaves no namespace and no process behind."""

    def test_up_twice_then_down_leaves_nothing(self):
        lab = labctl.Lab(prefix=PREFIX + "x", workdir=f"/tmp/{PREFIX}x-lab")
        try:
            t0 = time.monotonic()
            lab.up()
            first = time.monotonic() - t0
            t0 = time.monotonic()
            lab.up()  # tears the first one down and builds again
            second = time.monotonic() - t0
            self.assertLess(first, 15)
            self.assertLess(second, 15)
            with open(os.path.join(lab.dir, "pids")) as f:
                recs = [line.split() for line in f if line.strip()]
            names = sorted(r[1] for r in recs)
            self.assertEqual(names, ["charon-gwa", "charon-gwb", "charon-onpa", "charon-onpb"])
            pids = [(int(r[0]), r[2]) for r in recs]
            self.assertTrue(all(labctl.pid_alive(p, st) for p, st in pids))
            for gw in ("gwa", "gwb"):
                self.assertTrue(lab.ping("mon", labctl.TUNNEL_TARGET[gw],
                                         source=labctl.PROBE_SOURCE[gw]))
        finally:
            lab.down()
        self.assertFalse(any(labctl.pid_alive(p, st) for p, st in pids))
        left = [n for n in os.listdir("/run/netns") if n.startswith(lab.prefix + "-")]
        self.assertEqual(left, [])
        self.assertFalse(os.path.exists(lab.dir))


if __name__ == "__main__":
    unittest.main()
