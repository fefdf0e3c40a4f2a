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
  * a second monitor with the same node name exits with an error naming the problem.
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
import nstest  # noqa: E402

PREFIX = f"pph{os.getpid() % 100000}"
WORK = f"/tmp/{PREFIX}"
SITE = "HaLab"
DX_TARGET = "10.98.0.1/24"
CLIENT_PORTS = (12379, 12380, 12381)
PEER_PORTS = (12389, 12390, 12391)
ENDPOINTS = [f"http://127.0.0.1:{p}" for p in CLIENT_PORTS]
LEADER_KEY = f"/pathpilot/{SITE}/leader"

# The route table's hook: rewrites the table file under a lock, then logs who wrote and whom
# etcd names as leader right now. Arguments: node, work dir, etcd endpoints.
HOOK = r"""#!/bin/sh
node="$1"; work="$2"; endpoints="$3"
table="$work/table-$PATHPILOT_TABLE"
holder=$(ETCDCTL_API=3 etcdctl --endpoints="$endpoints" --command-timeout=3s \
         get "$LEADER_KEY" --print-value-only 2>/dev/null | head -n 1)
exec 9>>"$table.lock"
flock 9
grep -v "^$PATHPILOT_DESTINATION " "$table" 2>/dev/null > "$table.new"
if [ "$PATHPILOT_ACTION" = replace ]; then
  echo "$PATHPILOT_DESTINATION $PATHPILOT_NEW_NEXT_HOP" >> "$table.new"
fi
mv "$table.new" "$table"
echo "$(date +%s.%N) $node holder=$holder $PATHPILOT_ACTION $PATHPILOT_DESTINATION $PATHPILOT_PATH" \
  >> "$work/writes.log"
""".replace("$LEADER_KEY", LEADER_KEY)


def have_etcd():
    return os.path.exists("/usr/bin/etcd") and os.path.exists("/usr/bin/etcdctl")


class Write:
    def __init__(self, line):
        parts = line.split()
        self.time = float(parts[0])
        self.node = parts[1]
        self.holder = parts[2].split("=", 1)[1]
        self.action = parts[3]
        self.path = parts[5] if len(parts) > 5 else ""

    def __repr__(self):
        return f"{self.time:.3f} {self.node} (holder {self.holder}) {self.action} {self.path}"


class HaDaemonTest(unittest.TestCase):
    def setUp(self):
        nstest.require_root()
        if not have_etcd():
            self.skipTest("etcd-server/etcd-client not installed")
        subprocess.run(["rm", "-rf", WORK], check=False)
        self.net = nstest.Netns(PREFIX, WORK)
        self.addCleanup(subprocess.run, ["rm", "-rf", WORK], check=False)
        self.addCleanup(self.net.cleanup)
        self.addCleanup(self.resume_all)
        self.net.add("mon")
        nstest.add_probe_veth(self.net.ns("mon"))
        self.etcd = {}
        self.stopped = []
        with open(os.path.join(WORK, "hook.sh"), "w") as f:
            f.write(HOOK)
        self.start_etcd()

    # --- etcd ---------------------------------------------------------------------------------

    def start_etcd(self):
        cluster = ",".join(f"m{i}=http://127.0.0.1:{p}" for i, p in enumerate(PEER_PORTS, 1))
        for i, (client, peer) in enumerate(zip(CLIENT_PORTS, PEER_PORTS), 1):
            name = f"m{i}"
            self.etcd[name] = self.net.spawn(f"etcd-{name}", "mon", [
                "/usr/bin/etcd", "--name", name, "--data-dir", f"{WORK}/etcd-{name}",
                "--listen-client-urls", f"http://127.0.0.1:{client}",
                "--advertise-client-urls", f"http://127.0.0.1:{client}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", PREFIX, "--heartbeat-interval", "100",
                "--election-timeout", "1000", "--logger", "zap", "--log-level", "error"],
                nice=False)
        nstest.wait_for(lambda: self.etcdctl("put", "/pathpilot/ready", "1") is not None, 20,
                        "the etcd cluster to accept writes")

    def etcdctl(self, *args, timeout=5):
        out = subprocess.run(["ip", "netns", "exec", self.net.ns("mon"), "etcdctl",
                              f"--endpoints={','.join(ENDPOINTS)}", "--command-timeout=3s",
                              *args], capture_output=True, text=True, timeout=timeout,
                             env=dict(os.environ, ETCDCTL_API="3"))
        return out.stdout if out.returncode == 0 else None

    def resume_all(self):
        for proc in self.stopped:
            try:
                os.kill(proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.stopped = []

    def pause(self, proc):
        os.kill(proc.pid, signal.SIGSTOP)
        self.stopped.append(proc)

    def resume(self, proc):
        os.kill(proc.pid, signal.SIGCONT)
        self.stopped = [p for p in self.stopped if p is not proc]

    # --- monitors -----------------------------------------------------------------------------

    def config(self, node, work_name=None):
        work = os.path.join(WORK, work_name or node)
        os.makedirs(work, exist_ok=True)
        text = nstest.probe_veth_config(work, SITE, "1s")
        hook = (f"backends: {{exec: {{command: [/bin/sh, {WORK}/hook.sh, {node}, {WORK}, "
                f"'{','.join(ENDPOINTS)}'], list_command: [/bin/sh, -c, "
                f"'cat \"$0/table-$PATHPILOT_TABLE\" 2>/dev/null; true', {WORK}]}}}}")
        text = text.replace("backends: {exec: {command: [/bin/true]}}", hook)
        text += f"ha: {{endpoints: [{', '.join(ENDPOINTS)}], node: {node}, lease_ttl: 2s}}\n"
        path = os.path.join(work, "pathpilot.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def socket(self, node):
        return os.path.join(WORK, node, "control.sock")

    def start(self, node, log=None):
        """Starts monitor `node`; `log` also names its own work directory (journal, socket)."""
        return self.net.spawn(log or node, "mon", [nstest.pathpilot_bin(), "run", "--config",
                                                    self.config(node, log)])

    def status(self, node):
        return nstest.daemon_status(self.socket(node))

    def wait_ha(self, node, proc, predicate, timeout, what):
        return nstest.wait_daemon_status(self.net, proc, self.socket(node),
                                         lambda s: "ha" in s and predicate(s), timeout, what,
                                         log=node)

    def wait_leader(self, node, proc, timeout=15):
        return self.wait_ha(node, proc, lambda s: s["ha"]["role"] == "leader"
                            and s["ha"]["writing"], timeout, f"{node} leading and writing")

    def wait_follower(self, node, proc, leader, timeout=15):
        return self.wait_ha(node, proc, lambda s: s["ha"]["role"] == "follower"
                            and s["ha"]["leader"] == leader, timeout,
                            f"{node} following {leader}")

    def start_pair(self):
        """mon-a leads with rtb-a on dx; mon-b follows."""
        a = self.start("mon-a")
        self.wait_leader("mon-a", a)
        nstest.wait_daemon_status(self.net, a, self.socket("mon-a"),
                                  lambda s: nstest.tables_at(s, {"rtb-a": "dx"}), 20,
                                  "rtb-a on dx", log="mon-a")
        b = self.start("mon-b")
        self.wait_follower("mon-b", b, "mon-a")
        return a, b

    # --- the shared table and its writes ------------------------------------------------------

    def table(self):
        try:
            with open(os.path.join(WORK, "table-rtb-a")) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def table_on(self, path):
        hop = {"dx": "via 10.255.0.2 dev v0", "vpn-a": "via 10.255.1.2 dev v0"}[path]
        return f"10.10.0.0/16 {hop}" in self.table()

    def writes(self):
        try:
            with open(os.path.join(WORK, "writes.log")) as f:
                return [Write(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def assert_one_writer(self):
        """Every write was made by the monitor etcd named leader at that moment."""
        bad = [w for w in self.writes() if w.node != w.holder]
        self.assertEqual(bad, [], f"writes by a monitor that was not the leader: {bad}")

    def fail_dx(self):
        self.net.sh("mon", "ip", "addr", "del", DX_TARGET, "dev", "v1")

    def heal_dx(self):
        self.net.sh("mon", "ip", "addr", "add", DX_TARGET, "dev", "v1")

    def events(self, node, kind):
        return nstest.events_of(os.path.join(WORK, node, "events.jsonl"), kind)

    # --- tests --------------------------------------------------------------------------------

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
