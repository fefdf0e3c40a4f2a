#!/usr/bin/python3
"""Alerts from a real `pathpilot run` (integration test, needs root; exit 77 = skipped).

In a namespace of its own (ppad<pid>-mon: a veth pair, probe sources on one end and targets on
the other, as in obs_daemon_test.py) the daemon probes two paths and programs one route table
through a no-op exec hook, with an `alerts:` section delivering to real receivers inside that
namespace: a real SMTP server (aiosmtpd) and two webhook receivers (small HTTP servers that
append every POST body to a JSON lines file). The test checks, against the running daemon:
  1. a path failure (its target address removed) gives a FIRING alert by mail and webhook, and
     its healing the RESOLVED one;
  2. SIGHUP with an invalid alerts section (a secret that cannot be read) is rejected with
     config_rejected and changes nothing; SIGHUP with a new webhook channel and route applies
     at once: a row pending for a receiver that is down stays in the outbox, and the new
     channel receives the next alert;
  3. kill -9 of the daemon while an accepted alert waits in the outbox, a restart, the
     receiver back: that alert is delivered exactly once; its path healed while the daemon
     was down, so the restarted daemon (first probes: up) resolves the restored incident;
  4. open incidents survive kill -9: dx down → FIRING; kill -9; restart (dx still down: no
     second FIRING); dx heals → exactly one RESOLVED on each channel it fired on, with the
     FIRING's fingerprint and starts_at (what Alertmanager matches).
Helpers: tests/integration/nstest.py (shared with the other daemon tests). Everything created
here is removed at the end, also on failure.
"""

import email
import email.policy
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nstest  # noqa: E402

PREFIX = f"ppad{os.getpid() % 100000}"


def config_text(work, smtp_port, hook_port, hook2_port=None, broken=False):
    """The daemon's config; `hook2_port` adds a second webhook channel and a route to it;
    `broken` adds a channel whose secret cannot be read."""
    extra_channel, extra_route = "", ""
    if hook2_port:
        extra_channel = (f"    - {{name: hook2, kind: webhook, "
                         f"url: 'http://127.0.0.1:{hook2_port}/hook2', timeout: 2s}}\n")
        extra_route = "    - {channels: [hook2], severity: warning}\n"
    if broken:
        extra_channel += ("    - {name: broken, kind: webhook, "
                          "url: {file: " + work + "/no-such-secret}}\n")
    return nstest.probe_veth_config(work, "AlertLab", "1s") + f"""alerts:
  outbox: {work}/alerts.db
  group_window: 1s
  retry: {{initial: 200ms, max: 1s}}
  channels:
    - {{name: mail, kind: smtp, url: 'smtp://127.0.0.1:{smtp_port}', from: pathpilot@lab.example,
       to: [noc@lab.example], html: false, timeout: 3s}}
    - {{name: hook, kind: webhook, url: 'http://127.0.0.1:{hook_port}/hook', timeout: 2s}}
{extra_channel}  routes:
    - {{channels: [mail, hook], severity: warning}}
{extra_route}"""


class AlertDaemonTest:
    def __init__(self, net, work):
        self.net, self.work = net, work
        self.socket = os.path.join(work, "control.sock")
        self.events = os.path.join(work, "events.jsonl")
        self.config = os.path.join(work, "pathpilot.yaml")
        self.smtp_port, self.hook_port, self.hook2_port = (nstest.free_port() for _ in range(3))
        self.maildir = os.path.join(work, "maildir")
        self.daemon = None
        self.hook = None

    # ---- receivers and the daemon ----
    def start_hook(self, name, port):
        return self.net.spawn(name, "mon", ["/usr/bin/python3", "-c", nstest.JSON_POST_SINK,
                                            str(port), os.path.join(self.work, f"{name}.jsonl")])

    def port_open(self, port):
        out = self.net.sh("mon", "/usr/bin/python3", "-c",
                          "import socket,sys\ntry:\n socket.create_connection(('127.0.0.1', "
                          f"{port}), 1); print('open')\nexcept OSError: print('closed')",
                          check=False)
        return out.strip() == "open"

    def write_config(self, **kw):
        with open(self.config, "w") as f:
            f.write(config_text(self.work, self.smtp_port, self.hook_port, **kw))

    def start_daemon(self):
        self.daemon = self.net.spawn("daemon", "mon",
                                     [nstest.pathpilot_bin(), "run", "-c", self.config])
        return nstest.wait_for(
            lambda: (lambda s: s if s and all(p["state"] != "unknown" for p in s["paths"])
                     else None)(nstest.daemon_status(self.socket)), 20, "all paths known")

    def status(self):
        return nstest.daemon_status(self.socket)

    def outbox_depth(self):
        s = self.status()
        return s["alerts"]["outbox_depth"] if s else None

    # ---- what the receivers got ----
    def mails(self):
        """(X-Pathpilot-Status, X-Pathpilot-Incident, subject) of every mail received."""
        out = []
        new = os.path.join(self.maildir, "new")
        if not os.path.isdir(new):
            return out
        for name in sorted(os.listdir(new), key=lambda n: os.path.getmtime(os.path.join(new, n))):
            with open(os.path.join(new, name), "rb") as f:
                m = email.message_from_binary_file(f, policy=email.policy.default)
            out.append((m["X-Pathpilot-Status"], m["X-Pathpilot-Incident"], str(m["Subject"])))
        return out

    def hooks(self, name):
        return nstest.read_jsonl(os.path.join(self.work, f"{name}.jsonl"))

    def hook_alerts(self, name, path, status):
        return [b for b in self.hooks(name) if b.get("path") == path and b.get("status") == status]

    def mail_alerts(self, path, status):
        return [m for m in self.mails() if (m[0] or "").lower() == status and m[1] and
                m[1].endswith("/" + path)]

    def set_target(self, addr, up):
        self.net.sh("mon", "ip", "addr", "add" if up else "del", addr, "dev", "v1")

    # ---- the scenario ----
    def run(self):
        net = self.net
        net.add("mon")
        nstest.add_probe_veth(net.ns("mon"))

        net.spawn("smtpd", "mon", ["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l",
                                   f"127.0.0.1:{self.smtp_port}", "-c",
                                   "aiosmtpd.handlers.Mailbox", self.maildir])
        self.hook = self.start_hook("hook", self.hook_port)
        self.start_hook("hook2", self.hook2_port)
        for port in (self.smtp_port, self.hook_port, self.hook2_port):
            nstest.wait_for(lambda: self.port_open(port), 20, f"a receiver on port {port}")

        self.write_config()
        self.start_daemon()
        nstest.wait_for(lambda: nstest.tables_at(self.status(), {"rtb-a": "dx"}), 20,
                        "rtb-a on dx")

        # 1. dx fails → FIRING by mail and webhook; it heals → RESOLVED.
        t0 = time.time()
        self.set_target("10.98.0.1/24", up=False)
        nstest.wait_for(lambda: self.hook_alerts("hook", "dx", "firing") and
                        self.mail_alerts("dx", "firing"), 20, "dx FIRING by webhook and mail")
        fired = time.time() - t0
        firing = self.hook_alerts("hook", "dx", "firing")[0]
        assert firing["severity"] in ("warning", "critical"), firing
        assert "rtb-a" in firing.get("route_tables", []), firing
        self.set_target("10.98.0.1/24", up=True)
        nstest.wait_for(lambda: self.hook_alerts("hook", "dx", "resolved") and
                        self.mail_alerts("dx", "resolved"), 20, "dx RESOLVED by webhook and mail")
        resolved = self.hook_alerts("hook", "dx", "resolved")[0]
        assert resolved["fingerprint"] == firing["fingerprint"], (firing, resolved)
        assert len(self.hook_alerts("hook", "dx", "firing")) == 1
        sent = nstest.events_of(self.events, "alert_sent")
        assert {e.get("to") for e in sent} >= {"mail", "hook"}, sent
        print(f"ok: dx down → FIRING by mail and webhook ({fired:.1f} s after the fault, "
              f"group window 1 s); healed → RESOLVED (subject: "
              f"{self.mail_alerts('dx', 'resolved')[0][2]!r})", flush=True)

        # 2. The webhook receiver goes down; vpn-a fails: its alert waits in the outbox.
        net.kill(self.hook)
        nstest.wait_for(lambda: not self.port_open(self.hook_port), 10, "hook receiver down")
        t_vpn = time.time()
        self.set_target("10.98.1.1/24", up=False)
        nstest.wait_for(lambda: self.mail_alerts("vpn-a", "firing"), 20, "vpn-a FIRING by mail")
        nstest.wait_for(lambda: (self.outbox_depth() or 0) >= 1, 10, "the hook row pending")

        # SIGHUP with an unreadable secret: rejected, nothing changes.
        t_bad = time.time()
        self.write_config(hook2_port=self.hook2_port, broken=True)
        self.daemon.send_signal(signal.SIGHUP)
        rejected = nstest.wait_for(lambda: nstest.events_of(self.events, "config_rejected",
                                                            t_bad - 1), 10, "config_rejected")
        assert "broken" in rejected[0]["reason"] and "file:" in rejected[0]["reason"], rejected
        assert (self.outbox_depth() or 0) >= 1
        print("ok: SIGHUP with an unreadable alert secret rejected: " +
              rejected[0]["reason"].splitlines()[0], flush=True)

        # SIGHUP with a second webhook channel: applied; the pending row stays.
        t_hup = time.time()
        self.write_config(hook2_port=self.hook2_port)
        self.daemon.send_signal(signal.SIGHUP)
        nstest.wait_for(lambda: nstest.events_of(self.events, "config_loaded", t_hup), 10,
                        "config_loaded after SIGHUP")
        assert not nstest.events_of(self.events, "config_rejected", t_hup)
        assert (self.outbox_depth() or 0) >= 1, "the reload lost the pending row"
        # The new channel and route are in force: the next alert reaches hook2.
        self.set_target("10.98.0.1/24", up=False)
        nstest.wait_for(lambda: self.hook_alerts("hook2", "dx", "firing"), 20,
                        "dx FIRING on the new channel hook2")
        self.set_target("10.98.0.1/24", up=True)
        nstest.wait_for(lambda: self.hook_alerts("hook2", "dx", "resolved"), 20,
                        "dx RESOLVED on hook2")
        assert not self.hook_alerts("hook", "vpn-a", "firing")  # its receiver is still down
        print("ok: SIGHUP applied a new channel and route at once; the row pending for the "
              "down receiver stayed in the outbox", flush=True)

        # 3. kill -9 with the vpn-a alert still pending for hook; restart; receiver back.
        depth = self.outbox_depth()
        net.kill(self.daemon)
        self.set_target("10.98.1.1/24", up=True)
        self.start_daemon()
        assert (self.outbox_depth() or 0) >= 1, "the accepted alert was lost by kill -9"
        self.hook = self.start_hook("hook", self.hook_port)
        nstest.wait_for(lambda: self.hook_alerts("hook", "vpn-a", "firing"), 20,
                        "the vpn-a FIRING delivered after the restart")
        nstest.wait_for(lambda: self.outbox_depth() == 0, 20, "the outbox empty")
        time.sleep(0.5)  # a duplicate would arrive now
        got = self.hook_alerts("hook", "vpn-a", "firing")
        assert len(got) == 1, got
        assert nstest.event_time({"time": got[0]["starts_at"]}) >= t_vpn - 1, got
        print(f"ok: kill -9 with {depth} alert(s) in the outbox, restart: the vpn-a FIRING "
              "delivered exactly once when the receiver came back", flush=True)
        # vpn-a healed while the daemon was down: the restored incident resolves at start
        # (after its FIRING on the same channel: per-channel order).
        nstest.wait_for(lambda: self.hook_alerts("hook", "vpn-a", "resolved") and
                        self.mail_alerts("vpn-a", "resolved"), 20,
                        "vpn-a RESOLVED after the restart (healed while the daemon was down)")
        bodies = [b for b in self.hooks("hook") if b.get("path") == "vpn-a"]
        assert [b["status"] for b in bodies] == ["firing", "resolved"], bodies
        assert bodies[1]["starts_at"] == bodies[0]["starts_at"], bodies
        print("ok: vpn-a healed while the daemon was down: RESOLVED after the restart "
              "(webhook and mail), same starts_at as its FIRING", flush=True)

        # 4. dx down → FIRING; kill -9; restart with dx still down; dx heals → RESOLVED.
        self.restart_while_down()

        self.daemon.send_signal(signal.SIGTERM)
        assert self.daemon.wait(timeout=20) == 0
        net.forget(self.daemon)
        return 0

    def dx_alerts(self, name, status, starts_after):
        return [b for b in self.hook_alerts(name, "dx", status)
                if nstest.event_time({"time": b["starts_at"]}) >= starts_after]

    def restart_while_down(self):
        t4 = time.time()
        mail_fired = len(self.mail_alerts("dx", "firing"))
        mail_resolved = len(self.mail_alerts("dx", "resolved"))
        self.set_target("10.98.0.1/24", up=False)
        nstest.wait_for(lambda: self.dx_alerts("hook", "firing", t4 - 1) and
                        self.dx_alerts("hook2", "firing", t4 - 1) and
                        len(self.mail_alerts("dx", "firing")) > mail_fired, 20,
                        "dx FIRING (webhooks and mail) before the kill")
        firing = self.dx_alerts("hook", "firing", t4 - 1)[0]
        # `pathpilot alerts outbox` lists the open incident kept in the outbox file.
        out = subprocess.run([nstest.pathpilot_bin(), "alerts", "outbox", "-c", self.config],
                             capture_output=True, text=True, timeout=20, check=True).stdout
        listed = [line for line in out.splitlines() if line.startswith("AlertLab/path/dx ")]
        assert listed and "hook" in listed[0] and "mail" in listed[0], out
        self.net.kill(self.daemon)  # SIGKILL: nothing flushed, nothing said
        t_kill = time.time()
        self.start_daemon()
        status = self.status()
        dx = [p for p in status["paths"] if p["name"] == "dx"][0]
        assert dx["state"] == "down", dx
        assert status["alerts"]["open_incidents"] == 1, status["alerts"]  # restored
        t_heal = time.time()
        self.set_target("10.98.0.1/24", up=True)
        nstest.wait_for(lambda: self.dx_alerts("hook", "resolved", t4 - 1) and
                        self.dx_alerts("hook2", "resolved", t4 - 1) and
                        len(self.mail_alerts("dx", "resolved")) > mail_resolved, 20,
                        "dx RESOLVED after kill -9 and restart")
        healed = time.time() - t_heal
        nstest.wait_for(lambda: self.outbox_depth() == 0, 20, "the outbox empty")
        time.sleep(0.5)  # a duplicate would arrive now
        for name in ("hook", "hook2"):
            got = self.dx_alerts(name, "resolved", t4 - 1)
            assert len(got) == 1, (name, got)
            assert got[0]["fingerprint"] == firing["fingerprint"], (firing, got)
            assert got[0]["starts_at"] == firing["starts_at"], (firing, got)
            assert got[0].get("ends_at"), got
            assert len(self.dx_alerts(name, "firing", t4 - 1)) == 1, name
        assert self.status()["alerts"]["open_incidents"] == 0, self.status()["alerts"]
        assert len(self.mail_alerts("dx", "resolved")) == mail_resolved + 1
        assert len(self.mail_alerts("dx", "firing")) == mail_fired + 1
        print(f"ok: dx down → FIRING, kill -9, restart ({t_heal - t_kill:.1f} s, dx still "
              f"down: no second FIRING), dx heals → exactly one RESOLVED on hook, hook2 and "
              f"mail {healed:.1f} s later, same fingerprint and starts_at", flush=True)


def main():
    if os.geteuid() != 0:
        print("skipped: needs root (network namespace)")
        return 77
    if not os.path.exists(nstest.pathpilot_bin()):
        print(f"missing {nstest.pathpilot_bin()}")
        return 1
    if os.system("/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null") != 0:
        print("skipped: python3-aiosmtpd not installed (tools/deps.sh)")
        return 77
    work = tempfile.mkdtemp(prefix="pp_alert_daemon_")
    net = nstest.Netns(PREFIX, work)
    try:
        return AlertDaemonTest(net, work).run()
    except (AssertionError, TimeoutError) as e:
        print(f"FAILED: {e}")
        print("---- daemon.log (tail)\n" + "".join(net.log("daemon").splitlines(True)[-40:]))
        for name in ("smtpd", "hook", "hook2"):
            print(f"---- {name}.log\n" + net.log(name)[-2000:])
        return 1
    finally:
        net.cleanup()
        if not os.environ.get("PP_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
