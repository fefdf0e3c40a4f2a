#!/usr/bin/python3
"""A group of monitors on a real etcd cluster: exactly one writes (ctest label `integration`,
needs root and Debian's etcd-server; exit 77 otherwise).

One namespace of its own (pph<pid>-mon) holds a 3-member etcd cluster on its loopback
(127.0.0.1:12379-12381, heartbeat 100 ms, election timeout 1 s) and nstest's one-veth probe
topology (paths dx and vpn-a). Every monitor is a real `pathpilot run` with `ha:` (lease TTL
2 s) and one exec-backend route table rtb-a. The "route table" is a file shared by all
monitors, as an AWS route table is: the hook rewrites it and the list command prints it, so a
new leader adopts what the old one programmed. The hook also appends one line per write to
writes.log with the writer's name and the leader key's holder at that moment, read from etcd
by etcdctl — the check a fencing token would make at the target. Checked, per fault:
  * kill -9 of the leader: the follower leads within one TTL and a poll, moves nothing at
    takeover, and then writes (failback) as the new leader;
  * SIGSTOP of the leader past its TTL, then SIGCONT: the follower takes over and writes; the
    woken monitor writes nothing and follows;
  * quorum lost (2 of 3 etcd members stopped): nobody writes while a path fails; writing
    resumes when the members come back, and the route then moves;
  * SIGTERM of the leader: it hands over within about one poll interval;
  * a second monitor with the same node name exits with an error naming the problem;
  * the leader alone cut off from etcd (iptables on its etcd address): it stops writing before
    the other leads; a monitor that cannot reach etcd at start probes but never writes;
  * the leader alone cut off from DX (its probes' source address): its failure is disputed,
    it moves nothing and hands leadership over;
  * open alert incidents carry over a takeover (each monitor alerts to a webhook receiver of
    its own): dx fails, the leader fires, kill -9, the new leader resolves it when dx heals —
    one FIRING and one RESOLVED in all, with one fingerprint and starts_at; and a heal while
    nobody leads is resolved by the next leader;
  * recovery limits carry over a takeover: vpn-a's gateway stays down, the leader's recovery
    attempt fails and it backs off for 20 s; after kill -9 the new leader waits out that
    back-off (attempt 2, not a fresh attempt 1 a second later);
  * the AWS backend against pathpilot-fake-aws, each monitor with an access key of its own:
    every route write the fake accepted was signed by the leader of the moment, and the
    takeover itself wrote nothing;
  * the leader's wall clock stepped an hour forward, then two back (libfaketime, monotonic
    clock untouched): it keeps leading in the same term, the follower does not take over,
    nobody writes, and the leader still fails over and back afterwards;
  * a drain asked on the follower is the group's and survives kill -9 of the leader; every
    monitor restarted at once moves nothing and keeps the drain; each monitor shows every
    monitor's view of the paths.
In every case: every write was made by the monitor etcd named as leader at that moment.
"""

import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hagroup  # noqa: E402
import nstest  # noqa: E402

PREFIX = f"pph{os.getpid() % 100000}"
WORK = f"/tmp/{PREFIX}"


class HaDaemonTest(unittest.TestCase):
    def setUp(self):
        nstest.require_root()
        if not hagroup.have_etcd():
            self.skipTest("etcd-server/etcd-client not installed")
        subprocess.run(["rm", "-rf", WORK], check=False)
        self.net = nstest.Netns(PREFIX, WORK)
        self.addCleanup(subprocess.run, ["rm", "-rf", WORK], check=False)
        self.addCleanup(self.net.cleanup)
        self.net.add("mon")
        nstest.add_probe_veth(self.net.ns("mon"))
        self.group = hagroup.HaGroup(self.net, "mon", WORK, PREFIX)
        self.addCleanup(self.group.resume_all)
        self.group.start_etcd()
        # The group's helpers, under the names the tests use.
        g = self.group
        self.etcd = g.etcd
        for name in ("pause", "resume", "start", "status", "wait_ha", "wait_leader",
                     "wait_follower", "start_pair", "table_on", "writes", "fail_dx", "heal_dx",
                     "events", "socket", "alerts"):
            setattr(self, name, getattr(g, name))

    def assert_one_writer(self):
        """Every write was made by the monitor etcd named leader at that moment."""
        self.assertEqual(self.group.foreign_writes(), [],
                         "writes by a monitor that was not the leader")

    def test_every_monitor_shows_every_monitors_view(self):
        a, b = self.start_pair()
        self.fail_dx()
        want = {"dx": "down", "vpn-a": "up"}
        status = self.wait_ha("mon-b", b, lambda s: all(
            s["ha"].get("views", {}).get(n, {}).get("paths") == want for n in ("mon-a", "mon-b")),
            10, "mon-b showing both monitors' views with dx down")
        self.assertEqual(set(status["ha"]["views"]), {"mon-a", "mon-b"})
        def text_status():
            return subprocess.run([nstest.pathpilot_bin(), "status", "--socket",
                                   self.socket("mon-a")], capture_output=True, text=True,
                                  timeout=10).stdout
        # Each monitor reads the others' views once a second.
        out = nstest.wait_for(lambda: (lambda t: t if "view of mon-b: dx down, vpn-a up" in t
                                       else None)(text_status()), 10, "mon-b's view in mon-a's "
                              "pathpilot status")
        self.assertIn("ha: mon-a leader", out)
        # A monitor that is gone has no view: its key went with its lease.
        self.net.kill(b)
        self.wait_ha("mon-a", a, lambda s: set(s["ha"].get("views", {})) == {"mon-a"}, 10,
                     "mon-b's view gone with its lease")

    def test_a_leader_cut_off_from_the_paths_alone_moves_nothing_and_hands_over(self):
        a, b = self.start_pair()
        before = len(self.writes())
        # DX alone, so that this is the group's rule at work, not the monitor's own doubt when
        # every path fails at once (policy/view_check.h).
        self.group.cut_off("mon-a", paths=("dx",))
        # mon-a sees DX fail; mon-b sees it up: mon-a's view is disputed, so it keeps the
        # route on DX (it would move it to vpn-a on its own view), and after 3 s it hands
        # leadership to mon-b.
        self.wait_ha("mon-a", a, lambda s: "dx" in s.get("disputed", {}), 10,
                     "mon-a's dx failure disputed by mon-b")
        status = self.wait_leader("mon-b", b, timeout=15)
        self.wait_follower("mon-a", a, "mon-b", timeout=10)
        time.sleep(1.0)
        kinds = ("path_down", "path_up", "route_changed", "monitor_suspect", "leader_changed")
        self.assertEqual(self.writes()[before:], [], "a route moved on the cut-off view; "
                         + "; ".join(f"{n}: {e['time'][11:23]} {e['kind']} {e.get('message')}"
                                     for n in ("mon-a", "mon-b") for k in kinds
                                     for e in self.events(n, k)))
        self.assertTrue(self.table_on("dx"))
        suspect = self.events("mon-a", "monitor_suspect")
        self.assertTrue(suspect and "the group disagrees" in suspect[-1]["reason"], suspect)
        print(f"\nleadership handed to mon-b (term {status['ha']['term']})")
        # mon-a gets its paths back: it agrees again and follows.
        self.group.cut_off("mon-a", cut=False, paths=("dx",))
        self.wait_ha("mon-a", a, lambda s: not s.get("disputed"), 10, "mon-a agreeing again")
        nstest.wait_for(lambda: self.events("mon-a", "monitor_trusted"), 10,
                        "mon-a: monitor_trusted")
        self.assert_one_writer()

    def test_a_failure_every_monitor_sees_moves_the_route_at_once(self):
        # The cost of requiring agreement: the leader waits for the others' views (published
        # and read every lease_ttl/8 = 250 ms) before it treats dx as down.
        a, b = self.start_pair()
        failed = time.time()
        self.fail_dx()
        nstest.wait_for(lambda: self.table_on("vpn-a"), 10, "the table on vpn-a", interval=0.01)
        took = time.time() - failed
        print(f"\nDX fail → table on vpn-a with agreement: {took:.2f} s")
        self.assert_one_writer()

    def drain(self, node, path, verb="drain"):
        out = subprocess.run([nstest.pathpilot_bin(), verb, path, "--socket", self.socket(node)],
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def test_a_drain_on_any_monitor_is_the_groups_and_survives_a_takeover(self):
        a, b = self.start_pair()
        # Asked on the follower: recorded in etcd, applied by every monitor, the leader moves
        # the route.
        self.assertIn("requested for every monitor", self.drain("mon-b", "dx"))
        nstest.wait_for(lambda: self.table_on("vpn-a"), 10, "the leader drains dx")
        self.wait_ha("mon-a", a, lambda s: any(p["name"] == "dx" and p["drained"]
                                               for p in s["paths"]), 5, "mon-a: dx drained")
        # The leader dies; the new leader keeps dx drained (no move back).
        before = len(self.writes())
        self.net.kill(a)
        self.wait_leader("mon-b", b, timeout=10)
        time.sleep(2.0)  # a failback would happen within the 1 s hold-down
        self.assertEqual(self.writes()[before:], [], "the drain was lost at takeover")
        self.assertTrue(self.table_on("vpn-a"))
        # A restarted monitor finds the drain too; undrained (on the new leader), dx is back.
        a = self.start("mon-a")
        self.wait_ha("mon-a", a, lambda s: any(p["name"] == "dx" and p["drained"]
                                               for p in s["paths"]), 10,
                     "the restarted mon-a has dx drained")
        self.drain("mon-b", "dx", "undrain")
        nstest.wait_for(lambda: self.table_on("dx"), 15, "dx back after the undrain")
        self.assert_one_writer()
        unknown = subprocess.run([nstest.pathpilot_bin(), "drain", "nope", "--socket",
                                  self.socket("mon-b")], capture_output=True, text=True,
                                 timeout=10)
        self.assertNotEqual(unknown.returncode, 0)
        self.assertIn("unknown path", unknown.stderr + unknown.stdout)

    def test_a_reload_that_changes_the_ha_section_is_rejected(self):
        a = self.start("mon-a")
        self.wait_leader("mon-a", a)
        path = os.path.join(WORK, "mon-a", "pathpilot.yaml")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("lease_ttl: 2s", "lease_ttl: 3s"))
        a.send_signal(signal.SIGHUP)
        rejected = nstest.wait_for(lambda: self.events("mon-a", "config_rejected"), 10,
                                   "config_rejected")
        self.assertIn("(ha)", rejected[-1]["message"])
        self.assertIn("restart the monitor", rejected[-1]["reason"])
        self.assertEqual(self.status("mon-a")["ha"]["role"], "leader")

    def test_restarting_every_monitor_at_once_moves_nothing(self):
        a, b = self.start_pair()
        self.fail_dx()
        nstest.wait_for(lambda: self.table_on("vpn-a"), 10, "the table on vpn-a")
        self.drain("mon-a", "vpn-a")  # both paths unusable now: fail static keeps vpn-a
        before = len(self.writes())
        self.net.kill(a)
        self.net.kill(b)
        a = self.start("mon-a")
        b = self.start("mon-b")
        status = self.wait_ha("mon-b", b, lambda s: s["ha"]["leader"] in ("mon-a", "mon-b"), 15,
                              "a leader after the restart")
        leader = status["ha"]["leader"]
        proc = a if leader == "mon-a" else b
        self.wait_leader(leader, proc, timeout=10)
        self.wait_ha(leader, proc, lambda s: any(p["name"] == "vpn-a" and p["drained"]
                                                 for p in s["paths"]), 10,
                     "the drain carried over")
        time.sleep(1.5)
        self.assertEqual(self.writes()[before:], [], "a route moved after the restart")
        self.assertTrue(self.table_on("vpn-a"))
        self.assert_one_writer()

    def test_a_leader_cut_off_from_etcd_stops_writing_before_another_leads(self):
        a, b = self.start_pair()
        self.group.cut_from_etcd("mon-a")
        cut = time.time()
        self.wait_ha("mon-a", a, lambda s: not s["ha"]["writing"], 5, "mon-a stops writing")
        stopped = time.time() - cut
        status = self.wait_leader("mon-b", b, timeout=10)
        led = time.time() - cut
        print(f"\nleader cut from etcd: stopped writing after {stopped:.2f} s, mon-b leads "
              f"after {led:.2f} s (term {status['ha']['term']})")
        self.assertLess(stopped, led, "the old leader stopped writing before the new one led")
        # The new leader works; the cut-off one (still seeing DX down too) writes nothing.
        self.fail_dx()
        nstest.wait_for(lambda: self.table_on("vpn-a"), 10, "mon-b moves the table")
        nstest.wait_for(lambda: self.events("mon-a", "ha_lost"), 10, "mon-a: ha_lost")
        self.group.cut_from_etcd("mon-a", cut=False)
        self.wait_follower("mon-a", a, "mon-b", timeout=15)
        nstest.wait_for(lambda: self.events("mon-a", "ha_restored"), 10, "mon-a: ha_restored")
        self.assertEqual({w.node for w in self.writes() if w.time > cut}, {"mon-b"})
        self.assert_one_writer()

    def test_a_monitor_that_cannot_reach_etcd_at_start_probes_but_never_writes(self):
        path = self.group.config("mon-a")
        with open(path) as f:
            text = f.read()
        # A port nothing listens on, so every call fails at once.
        text = text.replace("12379", "12399").replace("12380", "12399").replace("12381", "12399")
        text = text.replace("http://127.0.0.1:12399, http://127.0.0.1:12399, "
                            "http://127.0.0.1:12399", "http://127.0.0.1:12399")
        with open(path, "w") as f:
            f.write(text)
        a = self.net.spawn("mon-a", "mon", [nstest.pathpilot_bin(), "run", "--config", path])
        status = self.wait_ha("mon-a", a, lambda s: s["ha"]["last_error"] and any(
            p["state"] == "up" for p in s["paths"]), 10, "mon-a probing, etcd unreachable")
        self.assertFalse(status["ha"]["writing"])
        self.assertIn("12399", status["ha"]["last_error"])
        lost = nstest.wait_for(lambda: self.events("mon-a", "ha_lost"), 10, "ha_lost at start")
        self.assertEqual(lost[0]["severity"], "critical")
        time.sleep(1.0)
        self.assertEqual(self.writes(), [], "a monitor without etcd wrote")

    def make_certs(self, d):
        """A CA, a server certificate for 127.0.0.1 (serverAuth and clientAuth: etcd's gateway
        dials its own server with it) and a client certificate, all EC P-256, valid one day."""
        os.makedirs(d, exist_ok=True)

        def run(*args):
            subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for ca in ("ca", "other-ca"):
            run("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "1",
                "-subj", f"/CN=pathpilot test {ca}")
        for name, ext in (("server", "subjectAltName=IP:127.0.0.1\n"
                                     "extendedKeyUsage=serverAuth,clientAuth"),
                          ("client", "extendedKeyUsage=clientAuth")):
            with open(os.path.join(d, f"{name}.ext"), "w") as f:
                f.write(ext + "\n")
            run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj",
                f"/CN={name}")
            run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "1", "-extfile",
                f"{name}.ext")
        return d

    def test_tls_with_client_certificates_and_a_wrong_ca(self):
        certs = self.make_certs(os.path.join(WORK, "tls"))
        url = "https://127.0.0.1:12479"
        self.net.spawn("etcd-tls", "mon", [
            "/usr/bin/etcd", "--name", "tls", "--data-dir", f"{WORK}/etcd-tls",
            "--listen-client-urls", url, "--advertise-client-urls", url,
            "--listen-peer-urls", "http://127.0.0.1:12489",
            "--initial-advertise-peer-urls", "http://127.0.0.1:12489",
            "--initial-cluster", "tls=http://127.0.0.1:12489",
            "--cert-file", f"{certs}/server.pem", "--key-file", f"{certs}/server.key",
            "--trusted-ca-file", f"{certs}/ca.pem", "--client-cert-auth",
            "--logger", "zap", "--log-level", "error"], nice=False)

        def start_tls(node, ca, cert=True):
            path = self.group.config(node)
            with open(path) as f:
                text = f.read().split("ha: ")[0]
            text += (f"ha: {{endpoints: [{url}], node: {node}, ca_file: {certs}/{ca}.pem"
                     + (f", cert_file: {certs}/client.pem, key_file: {certs}/client.key"
                        if cert else "") + "}\n")
            with open(path, "w") as f:
                f.write(text)
            return self.net.spawn(node, "mon", [nstest.pathpilot_bin(), "run", "--config",
                                                 path])
        a = start_tls("mon-a", "ca")
        self.wait_leader("mon-a", a, timeout=20)
        # Trusting another CA: the server is not believed; no certificate: etcd refuses.
        for node, ca, cert in (("mon-b", "other-ca", True), ("mon-c", "ca", False)):
            proc = start_tls(node, ca, cert)
            status = self.wait_ha(node, proc, lambda s: s["ha"]["last_error"], 15,
                                  f"{node}: the etcd error in its status")
            self.assertFalse(status["ha"]["writing"])
            self.assertIn("https://127.0.0.1:12479", status["ha"]["last_error"])
            print(f"\n{node} ({ca}, {'a' if cert else 'no'} client certificate): "
                  f"{status['ha']['last_error']}")
            nstest.wait_for(lambda node=node: self.events(node, "ha_lost"), 10,
                            f"{node}: ha_lost")
        self.assertEqual(self.status("mon-a")["ha"]["role"], "leader")

    def test_kill9_of_the_leader_hands_over_without_moving_a_route(self):
        a, b = self.start_pair()
        self.fail_dx()
        nstest.wait_for(lambda: self.table_on("vpn-a"), 10, "the table on vpn-a")
        self.assertEqual({w.node for w in self.writes()}, {"mon-a"})
        before = len(self.writes())
        killed = time.time()
        self.net.kill(a)
        status = self.wait_leader("mon-b", b, timeout=10)
        took = time.time() - killed
        print(f"\ntakeover after kill -9: {took:.2f} s (term {status['ha']['term']})")
        self.assertLess(took, 5.0, "a follower leads within TTL + a poll (+ slack)")
        # Adopted, not moved: the table still says vpn-a and nothing was written for it.
        nstest.wait_daemon_status(self.net, b, self.socket("mon-b"),
                                  lambda s: nstest.tables_at(s, {"rtb-a": "vpn-a"}), 10,
                                  "mon-b sees rtb-a on vpn-a", log="mon-b")
        time.sleep(1.0)  # a write at takeover would come within this
        self.assertEqual(len(self.writes()), before, f"writes at takeover: "
                         f"{self.writes()[before:]}")
        # The new leader does write: DX heals and it fails back after the hold-down.
        self.heal_dx()
        nstest.wait_for(lambda: self.table_on("dx"), 15, "failback to dx by mon-b")
        self.assertEqual(self.writes()[-1].node, "mon-b")
        self.assert_one_writer()
        led = [e for e in self.events("mon-b", "leader_changed") if e.get("to") == "mon-b"]
        self.assertTrue(led, "mon-b journaled that it leads")

    def kill_right_after_firing(self, proc):
        """Write-ahead (docs/ha.md): a FIRING is delivered only once etcd holds its record,
        so killing the leader the moment the receiver has the FIRING leaves the record for
        the next leader. The record is checked after the kill, from what etcd kept."""
        self.net.kill(proc)
        key = f"/pathpilot/{hagroup.SITE}/state/incident/{hagroup.SITE}/path/dx"
        self.assertTrue((self.group.etcdctl("get", key, "--print-value-only") or "").strip(),
                        "the FIRING went out before etcd had the incident's record")

    def test_open_incidents_carry_over_a_takeover(self):
        for node in ("mon-a", "mon-b"):
            self.group.start_hook(node)
        a, b = self.start_pair()
        # The leader fires; the follower, which sees dx fail too, sends nothing.
        self.fail_dx()
        nstest.wait_for(lambda: self.alerts("mon-a", "dx", "firing"), 15, "mon-a's FIRING for dx")
        firing = self.alerts("mon-a", "dx", "firing")[0]
        self.kill_right_after_firing(a)
        self.wait_leader("mon-b", b, timeout=10)
        nstest.wait_for(lambda: any("taking over 1 open incident" in line for line in
                                    self.net.log("mon-b").splitlines()), 10,
                        "mon-b taking over the incident")
        time.sleep(2.0)  # a second FIRING (group window 1 s) would be out by now
        self.assertEqual(self.alerts("mon-b", "dx", "firing"), [],
                         "the new leader fired the incident again")
        # dx heals: one RESOLVED, from the new leader, matching the FIRING.
        self.heal_dx()
        nstest.wait_for(lambda: self.alerts("mon-b", "dx", "resolved"), 20,
                        "mon-b's RESOLVED for dx")
        time.sleep(1.5)
        resolved = self.alerts("mon-b", "dx", "resolved")
        self.assertEqual(len(resolved), 1, resolved)
        self.assertEqual(resolved[0]["fingerprint"], firing["fingerprint"])
        self.assertEqual(resolved[0]["starts_at"], firing["starts_at"])
        self.assertEqual(len(self.alerts("mon-a", "dx")), 1, "mon-a: its FIRING only")
        self.assertIsNone(self.group.etcdctl("get", "--prefix", f"/pathpilot/{hagroup.SITE}/state/incident/",
                                             "--keys-only").strip() or None,
                          "the resolved incident left etcd")

        # A heal while nobody leads: mon-b fires, dies, dx heals at once; mon-a (restarted,
        # following) leads after the lease and resolves it — once.
        a = self.start("mon-a")  # its outbox still holds the first incident: left to the leader
        a_before = len(self.alerts("mon-a", "dx"))  # phase 1's FIRING
        self.wait_follower("mon-a", a, "mon-b")
        self.fail_dx()
        nstest.wait_for(lambda: len(self.alerts("mon-b", "dx", "firing")) == 1, 15,
                        "mon-b's FIRING for dx")
        second = self.alerts("mon-b", "dx", "firing")[0]
        self.kill_right_after_firing(b)
        self.heal_dx()
        self.wait_leader("mon-a", a, timeout=10)
        nstest.wait_for(lambda: self.alerts("mon-a", "dx", "resolved"), 20,
                        "mon-a's RESOLVED for the incident mon-b fired")
        time.sleep(1.5)
        sent = self.alerts("mon-a", "dx")[a_before:]
        self.assertEqual([x["status"] for x in sent], ["resolved"],
                         "mon-a: one RESOLVED and no FIRING for an incident it took over")
        self.assertEqual(sent[0]["fingerprint"], second["fingerprint"])
        self.assertEqual(sent[0]["starts_at"], second["starts_at"])
        self.assert_one_writer()

    def test_recovery_limits_carry_over_a_takeover(self):
        self.group.recovery = 20  # back-off after a failed attempt: 20 s, then 40 s
        a, b = self.start_pair()
        self.group.fail_vpn()
        nstest.wait_for(lambda: self.group.recoveries(), 20, "mon-a's recovery attempt")
        first = self.group.recoveries()
        self.assertEqual([(n, k) for _, n, k in first], [("mon-a", 1)])
        # The attempt failed: mon-a backs off (status), and its memory reached etcd.
        nstest.wait_for(lambda: self.group.etcdctl(
            "get", f"/pathpilot/{hagroup.SITE}/state/recovery/vpn-a", "--print-value-only"),
            10, "the recovery limits in etcd")
        self.net.kill(a)
        self.wait_leader("mon-b", b, timeout=10)
        status = self.wait_ha("mon-b", b, lambda s: any(
            p["name"] == "vpn-a" and p.get("recovery", {}).get("attempts_last_hour") == 1
            for p in s["paths"]), 10, "mon-b took over the attempt count")
        # With a fresh count mon-b would try within a second (after: 1s). It waits for the
        # back-off of mon-a's attempt (20 s from its failure) and goes on with attempt 2.
        time.sleep(4.0)
        self.assertEqual(len(self.group.recoveries()), 1,
                         f"mon-b restarted the gateway at once: {self.group.recoveries()}")
        nstest.wait_for(lambda: len(self.group.recoveries()) >= 2, 30, "mon-b's attempt")
        t2, node2, attempt2 = self.group.recoveries()[1]
        self.assertEqual((node2, attempt2), ("mon-b", 2))
        self.assertGreaterEqual(t2 - first[0][0], 19.0, "mon-b honoured the back-off")
        self.assertTrue(status)
        self.group.fail_vpn(up=True)

    def test_aws_backend_only_the_leaders_key_writes(self):
        if not os.path.exists(nstest.fake_aws_bin()):
            self.skipTest("pathpilot-fake-aws not built")
        self.group.start_fake_aws(["mon-a", "mon-b"])
        table = self.group.table_id
        a, b = self.start_pair()
        self.fail_dx()
        nstest.wait_daemon_status(self.net, a, self.socket("mon-a"),
                                  lambda s: nstest.tables_at(s, {table: "vpn-a"}), 15,
                                  "mon-a moved the VPC table to vpn-a", log="mon-a")
        before = self.group.aws_writes()
        self.assertTrue(before, "no route write reached the fake")
        self.assertEqual({n for _, n, _, _ in before}, {"mon-a"}, before)
        self.net.kill(a)
        self.wait_leader("mon-b", b, timeout=10)
        nstest.wait_daemon_status(self.net, b, self.socket("mon-b"),
                                  lambda s: nstest.tables_at(s, {table: "vpn-a"}), 10,
                                  "mon-b adopted the table on vpn-a", log="mon-b")
        time.sleep(1.0)
        self.assertEqual(self.group.aws_writes(), before, "a write at takeover")
        self.heal_dx()
        nstest.wait_daemon_status(self.net, b, self.socket("mon-b"),
                                  lambda s: nstest.tables_at(s, {table: "dx"}), 15,
                                  "mon-b failed back to dx", log="mon-b")
        after = self.group.aws_writes()[len(before):]
        self.assertTrue(after)
        self.assertEqual({n for _, n, _, _ in after}, {"mon-b"}, after)
        print(f"\nAWS writes: {len(before)} by mon-a's key before the takeover, "
              f"{len(after)} by mon-b's after it, none by a follower")

    def test_wall_clock_steps_change_nothing(self):
        lib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
        if not os.path.exists(lib):
            self.skipTest("libfaketime not installed")
        offset = os.path.join(WORK, "mon-a-clock")
        with open(offset, "w") as f:
            f.write("+0\n")
        # The wall clock of mon-a alone, read from `offset` (at most once a second); its
        # monotonic clock is the real one.
        a = self.start("mon-a", env={"LD_PRELOAD": lib, "FAKETIME_TIMESTAMP_FILE": offset,
                                     "FAKETIME_NO_CACHE": "0", "FAKETIME_CACHE_DURATION": "1",
                                     "DONT_FAKE_MONOTONIC": "1"})
        term = self.wait_leader("mon-a", a)["ha"]["term"]
        b = self.start("mon-b")
        self.wait_follower("mon-b", b, "mon-a")
        nstest.wait_for(lambda: self.table_on("dx"), 15, "mon-a programs rtb-a on dx")
        before = len(self.writes())
        for step in ("+1h", "-1h"):
            with open(offset, "w") as f:
                f.write(step + "\n")
            time.sleep(3.0)  # more than a lease TTL (2 s) and a follower poll
            s = self.status("mon-a")
            skew = nstest.event_time({"time": s["now"]}) - time.time()
            self.assertAlmostEqual(skew, 3600 if step == "+1h" else -3600, delta=60,
                                   msg="mon-a's wall clock was stepped")
            self.assertEqual((s["ha"]["role"], s["ha"]["term"], s["ha"]["writing"]),
                             ("leader", term, True), f"after the {step} step")
            self.assertEqual(self.status("mon-b")["ha"]["leader"], "mon-a")
            self.assertEqual(self.writes()[before:], [], f"a write after the {step} step")
            changes = [e for e in nstest.read_jsonl(os.path.join(WORK, "mon-a", "events.jsonl"))
                       if e.get("kind") in ("leader_changed", "ha_lost")]
            self.assertEqual(len(changes), 1, f"only the first leader_changed: {changes}")
        # Still the writer: dx fails and heals, mon-a moves the route both ways.
        self.fail_dx()
        nstest.wait_for(lambda: self.table_on("vpn-a"), 10, "mon-a fails over after the steps")
        self.heal_dx()
        nstest.wait_for(lambda: self.table_on("dx"), 15, "mon-a fails back")
        self.assertEqual({w.node for w in self.writes()[before:]}, {"mon-a"})
        self.assert_one_writer()

    def test_a_paused_leader_writes_nothing_when_it_wakes(self):
        a, b = self.start_pair()
        paused = time.time()
        self.pause(a)
        self.wait_leader("mon-b", b, timeout=10)
        self.fail_dx()
        nstest.wait_for(lambda: self.table_on("vpn-a"), 10, "mon-b moves the table to vpn-a")
        time.sleep(0.5)
        self.resume(a)
        self.wait_follower("mon-a", a, "mon-b", timeout=10)
        time.sleep(1.0)
        late = [w for w in self.writes() if w.node == "mon-a" and w.time > paused]
        self.assertEqual(late, [], "the woken monitor wrote")
        self.assertTrue(self.table_on("vpn-a"))
        self.assert_one_writer()

    def test_quorum_loss_stops_every_write_until_etcd_is_back(self):
        a, b = self.start_pair()
        before = len(self.writes())
        self.pause(self.etcd["m2"])
        self.pause(self.etcd["m3"])
        lost = time.time()
        self.wait_ha("mon-a", a, lambda s: not s["ha"]["writing"], 10,
                     "mon-a stops writing without quorum")
        print(f"\nleader stopped writing {time.time() - lost:.2f} s after quorum loss")
        self.fail_dx()
        # Both monitors see DX down and would move the route; neither may.
        nstest.wait_daemon_status(self.net, a, self.socket("mon-a"),
                                  lambda s: any(p.get("name") == "dx" and p.get("state") == "down"
                                                for p in s.get("paths", [])), 10,
                                  "mon-a sees dx down", log="mon-a")
        time.sleep(2.0)
        self.assertEqual(self.writes()[before:], [], "a write without quorum")
        self.assertTrue(self.table_on("dx"), "routes stay where they are (fail static)")
        self.resume(self.etcd["m2"])
        self.resume(self.etcd["m3"])
        back = time.time()
        nstest.wait_for(lambda: self.table_on("vpn-a"), 20, "the route moves once etcd is back")
        print(f"route moved {time.time() - back:.2f} s after quorum came back")
        self.assert_one_writer()
        # Every monitor said so, critically, and said when it was over.
        for node in ("mon-a", "mon-b"):
            journal = os.path.join(WORK, node, "events.jsonl")
            nstest.wait_for(lambda node=node: self.events(node, "ha_restored"), 10,
                            f"{node}: ha_restored; events: "
                            f"{[(e['kind'], e.get('message')) for e in nstest.read_jsonl(journal)]}"
                            f"; log: {self.net.log(node)[-4000:]}")
            lost_events = self.events(node, "ha_lost")
            self.assertEqual(len(lost_events), 1, f"{node}: one ha_lost")
            self.assertEqual(lost_events[0]["severity"], "critical")

    def test_sigterm_hands_over_within_a_poll(self):
        a, b = self.start_pair()
        stopped = time.time()
        a.send_signal(signal.SIGTERM)
        self.assertEqual(a.wait(timeout=15), 0)
        self.net.forget(a)
        self.wait_leader("mon-b", b, timeout=5)
        took = time.time() - stopped
        print(f"\ntakeover after SIGTERM: {took:.2f} s")
        self.assertLess(took, 2.0, "a clean stop hands over without waiting for the lease")
        self.assertIn("gave up leadership", self.net.log("mon-a"))

    def test_a_second_monitor_with_the_same_name_exits_with_an_error(self):
        a = self.start("mon-a")
        self.wait_leader("mon-a", a)
        twin = self.start("mon-a", log="twin")
        code = twin.wait(timeout=20)
        self.net.forget(twin)
        self.assertEqual(code, 1)
        self.assertRegex(self.net.log("twin"), re.compile("another monitor named mon-a"))
        self.assertEqual(self.status("mon-a")["ha"]["role"], "leader", "the first one goes on")


if __name__ == "__main__":
    unittest.main(verbosity=2)
