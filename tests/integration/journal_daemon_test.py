#!/usr/bin/python3
"""The daemon's journal under the faults production throws at it (ctest label `integration`,
needs root; exit 77 otherwise).

One namespace of its own (ppj<pid>-mon) with nstest's one-veth topology: paths dx and vpn-a
probed every 100 ms, one route table programmed through a no-op exec hook. Removing dx's
probe target fails DX, so rtb-a moves to vpn-a (a route_changed event). Checked:
  * kill -9 right after a route change: after a restart the route_changed event is in the
    SQLite journal and in the JSON lines file;
  * a journal file overwritten with garbage: the daemon starts, fails over, the bad file is
    kept aside byte for byte and named in a critical journal_failed event;
  * an alert outbox overwritten with garbage: the daemon starts, fails over, the bad file is
    kept aside byte for byte and named in a critical alert_outbox_reset event;
  * disk full (the journal on a 2 MiB tmpfs, filled up): the route still moves at once, the
    events wait in memory, and when space is back they are written with journal_failed /
    journal_recovered ("0 lost") and nothing is missing.
"""

import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nstest  # noqa: E402

PREFIX = f"ppj{os.getpid() % 100000}"
WORK = f"/tmp/{PREFIX}"
DX_TARGET = "10.98.0.1/24"


def sqlite_events(path, kind, mount_ns_of=None):
    """(kind, route_table, from, to) of the events of `kind` in the SQLite journal at `path`,
    read by a second process; inside the mount namespace of PID `mount_ns_of` if given."""
    code = ("import json,sqlite3,sys; db=sqlite3.connect(sys.argv[1]); print(json.dumps("
            "db.execute('SELECT kind, route_table, \"from\", \"to\" FROM events WHERE kind=?',"
            "(sys.argv[2],)).fetchall()))")
    cmd = ["/usr/bin/python3", "-c", code, path, kind]
    if mount_ns_of is not None:
        cmd = ["nsenter", "-t", str(mount_ns_of), "-m", *cmd]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=30)
    return [tuple(r) for r in json.loads(out.stdout)]


class JournalDaemonTest(unittest.TestCase):
    def setUp(self):
        nstest.require_root()
        subprocess.run(["rm", "-rf", WORK], check=False)
        self.net = nstest.Netns(PREFIX, WORK)
        self.addCleanup(subprocess.run, ["rm", "-rf", WORK], check=False)
        self.addCleanup(self.net.cleanup)
        self.net.add("mon")
        nstest.add_probe_veth(self.net.ns("mon"))
        self.socket = os.path.join(WORK, "control.sock")

    def write_config(self, journal_dir):
        text = nstest.probe_veth_config(WORK, "JournalLab", "1s")
        text = text.replace(f"journal: {{sqlite: {WORK}/journal.db, jsonl: {WORK}/events.jsonl}}",
                            f"journal: {{sqlite: {journal_dir}/journal.db, "
                            f"jsonl: {journal_dir}/events.jsonl}}")
        path = os.path.join(WORK, "pathpilot.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self, config, wrap=(), on="dx"):
        daemon = self.net.spawn("pathpilot", "mon",
                                [*wrap, nstest.pathpilot_bin(), "run", "--config", config])
        nstest.wait_daemon_status(
            self.net, daemon, self.socket,
            lambda s: nstest.tables_at(s, {"rtb-a": on}), 20, f"rtb-a on {on}")
        return daemon

    def fail_dx(self, daemon):
        self.net.sh("mon", "ip", "addr", "del", DX_TARGET, "dev", "v1")
        return nstest.wait_daemon_status(
            self.net, daemon, self.socket,
            lambda s: nstest.tables_at(s, {"rtb-a": "vpn-a"}), 10, "rtb-a on vpn-a")

    def test_kill9_right_after_a_route_change_loses_no_event(self):
        config = self.write_config(WORK)
        daemon = self.start(config)
        self.fail_dx(daemon)
        # The status shows the new route: kill at once, before anything else happens.
        os.kill(daemon.pid, signal.SIGKILL)
        daemon.wait(timeout=10)
        self.net.forget(daemon)
        # DX is still dead: the new daemon starts on vpn-a (the exec hook holds no routes).
        self.start(config, on="vpn-a")
        changed = [e for e in nstest.read_jsonl(os.path.join(WORK, "events.jsonl"))
                   if e.get("kind") == "route_changed" and e.get("from") == "dx"
                   and e.get("to") == "vpn-a"]
        self.assertEqual(len(changed), 1, "route_changed dx → vpn-a in the JSON lines file")
        rows = [r for r in sqlite_events(os.path.join(WORK, "journal.db"), "route_changed")
                if r[2:] == ("dx", "vpn-a")]
        self.assertEqual(len(rows), 1, f"route_changed dx → vpn-a in SQLite: {rows}")

    def test_garbage_journal_is_moved_aside_and_failover_works(self):
        garbage = os.urandom(64 * 1024)
        with open(os.path.join(WORK, "journal.db"), "wb") as f:
            f.write(garbage)
        config = self.write_config(WORK)
        daemon = self.start(config)
        status = self.fail_dx(daemon)
        self.assertEqual(status["journal"]["moved_aside"], 1)
        aside = [n for n in os.listdir(WORK) if n.startswith("journal.db.bad-")]
        self.assertEqual(len(aside), 1, os.listdir(WORK))
        with open(os.path.join(WORK, aside[0]), "rb") as f:
            self.assertEqual(f.read(), garbage, "the bad file is kept byte for byte")
        events = nstest.read_jsonl(os.path.join(WORK, "events.jsonl"))
        failed = [e for e in events if e.get("kind") == "journal_failed"]
        self.assertEqual(len(failed), 1, failed)
        self.assertEqual(failed[0]["severity"], "critical")
        self.assertIn(aside[0], failed[0]["message"])
        nstest.wait_for(lambda: any(e.get("kind") == "route_changed"
                                    for e in nstest.read_jsonl(
                                        os.path.join(WORK, "events.jsonl"))),
                        5, "route_changed journaled")
        self.assertIn("journal_failed", self.net.log("pathpilot"))

    def test_garbage_alert_outbox_is_moved_aside_and_failover_works(self):
        garbage = os.urandom(64 * 1024)
        outbox = os.path.join(WORK, "alerts.db")
        with open(outbox, "wb") as f:
            f.write(garbage)
        config = self.write_config(WORK)
        with open(config, "a") as f:
            # A webhook to a loopback port nobody listens on: nothing leaves the namespace.
            f.write(f"\nalerts:\n  outbox: {outbox}\n  channels:\n"
                    f"    - {{name: chat, kind: webhook, url: \"http://127.0.0.1:9/\"}}\n")
        daemon = self.start(config)
        self.fail_dx(daemon)
        aside = [n for n in os.listdir(WORK) if n.startswith("alerts.db.bad-")
                 and not n.endswith(("-wal", "-shm"))]
        self.assertEqual(len(aside), 1, os.listdir(WORK))
        with open(os.path.join(WORK, aside[0]), "rb") as f:
            self.assertEqual(f.read(), garbage, "the bad file is kept byte for byte")
        with open(outbox, "rb") as f:
            self.assertEqual(f.read(16), b"SQLite format 3\x00", "a new outbox was started")
        events = nstest.read_jsonl(os.path.join(WORK, "events.jsonl"))
        reset = [e for e in events if e.get("kind") == "alert_outbox_reset"]
        self.assertEqual(len(reset), 1, reset)
        self.assertEqual(reset[0]["severity"], "critical")
        self.assertIn(aside[0], reset[0]["reason"])
        nstest.wait_for(lambda: any(e.get("kind") == "route_changed"
                                    for e in nstest.read_jsonl(
                                        os.path.join(WORK, "events.jsonl"))),
                        5, "route_changed journaled")
        self.assertIn("moved aside", self.net.log("pathpilot"))

    def test_disk_full_routing_goes_on_and_events_come_back(self):
        jdir = os.path.join(WORK, "jfull")
        os.makedirs(jdir, exist_ok=True)
        config = self.write_config(jdir)
        # The journal directory is a 2 MiB tmpfs in the daemon's own mount namespace; the test
        # reaches it through /proc/PID/root.
        wrap = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                f'mount -t tmpfs -o size=2m pp-journal-full "{jdir}" && exec "$0" "$@"']
        daemon = self.start(config, wrap)
        root = f"/proc/{daemon.pid}/root"
        inside = root + jdir
        self.assertTrue(os.path.exists(inside + "/journal.db"))
        filler = inside + "/filler"
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        t0 = time.time()
        status = self.fail_dx(daemon)
        self.assertLess(time.time() - t0, 5.0, "routing does not wait for the journal")
        status = nstest.wait_daemon_status(
            self.net, daemon, self.socket, lambda s: s["journal"]["held"] > 0, 10,
            "events held in memory while the disk is full")
        self.assertEqual(status["journal"]["lost"], 0)
        os.unlink(filler)
        status = nstest.wait_daemon_status(
            self.net, daemon, self.socket, lambda s: s["journal"]["held"] == 0, 15,
            "held events written once space is back")
        self.assertEqual(status["journal"]["lost"], 0)
        events = nstest.read_jsonl(inside + "/events.jsonl")
        kinds = [e["kind"] for e in events]
        self.assertIn("route_changed", kinds)
        self.assertIn("journal_failed", kinds)
        recovered = [e for e in events if e["kind"] == "journal_recovered"]
        self.assertTrue(recovered, kinds)
        self.assertIn("0 lost", recovered[-1]["message"])
        rows = sqlite_events(jdir + "/journal.db", "route_changed", mount_ns_of=daemon.pid)
        self.assertTrue([r for r in rows if r[2:] == ("dx", "vpn-a")], rows)
        daemon.send_signal(signal.SIGTERM)
        self.assertEqual(daemon.wait(timeout=15), 0)
        self.net.forget(daemon)


if __name__ == "__main__":
    unittest.main(verbosity=2)
