#!/usr/bin/python3
"""The pathpilot demo: the reference scenario in the network lab, with real traffic.

Brings the lab up (lab/up), starts pathpilot in the monitor namespace with examples/lab.yaml
(plus the HTTP API and dashboard, and alerts into a real SMTP server and a real Prometheus
Alertmanager, both in the monitor namespace), sends a numbered 1,000 packets/s stream from
each cloud subnet to the on-prem host, plays a scenario of faults, prints every event as it
happens, and ends with a table of what moved, how fast it was detected and how long traffic
stopped, then the alerts as the mail server and Alertmanager got them. The same table is
written as JSON to build/demo-report.json. The dashboard is reachable from the host at the
printed URL (a small forwarder in this process carries 127.0.0.1:PORT into the monitor
namespace). Everything it starts is torn down at the end, also on Ctrl-C.

  tools/demo.py [--keep]    --keep: after the summary, keep the lab, the daemon and the
                            dashboard running until Ctrl-C
  tools/demo.py --ha        the HA scenario instead (docs/ha.md): a 3-member etcd cluster and
                            two monitors (mon-a, mon-b) with the lab's config in the monitor
                            namespace, both programming the lab's route tables; the leader is
                            killed (kill -9) while the other takes over, then DX fails and the
                            new leader moves the routes. The timeline shows both monitors'
                            events, each line marked with the monitor that journaled it.
"""

import ctypes
import json
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "lab"))
import labctl  # noqa: E402
from ppkit.timefmt import parse_time  # noqa: E402

ROOT = labctl.ROOT
BASE_CONFIG = os.environ.get("PP_DEMO_CONFIG", os.path.join(ROOT, "examples", "lab.yaml"))
WORK = os.environ.get("PP_LAB_DIR", "/tmp/pp-lab")
CONFIG = os.path.join(WORK, "demo.yaml")
SMTP_PORT = 8025
AM_PORT = 9093        # Alertmanager (monitor namespace)
AM_SINK_PORT = 9095   # where Alertmanager's own notifications go (monitor namespace)
API_PORT = 9180       # pathpilot's HTTP API and dashboard (monitor namespace)
DASHBOARD_PORT = int(os.environ.get("PP_DEMO_DASHBOARD_PORT", "9180"))  # host side, 0 = any
# The demo's config: the lab's, plus the HTTP API/dashboard and alerts into a local SMTP sink
# (a real aiosmtpd server) and a real Alertmanager, both in the monitor namespace, so the
# scenario's alerts can be seen as the on-call would get them.
ALERTS = f"""
api:
  listen: 127.0.0.1:{API_PORT}
alerts:
  outbox: {WORK}/pathpilot/alerts.db
  group_window: 2s
  channels:
    - {{name: noc-mail, kind: smtp, url: "smtp://127.0.0.1:{SMTP_PORT}",
       from: pathpilot@lab.example, to: [noc@lab.example]}}
    - {{name: alertmanager, kind: alertmanager, url: "http://127.0.0.1:{AM_PORT}"}}
  routes:
    - {{channels: [noc-mail, alertmanager], severity: warning}}
"""
# Alertmanager groups per pathpilot incident and tells a small sink about firing and resolved
# alerts (its API lists only the active ones).
AM_CONFIG = f"""route:
  receiver: sink
  group_by: [incident]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: sink
    webhook_configs:
      - url: http://127.0.0.1:{AM_SINK_PORT}/
        send_resolved: true
"""
CLONE_NEWNET = 0x40000000


class NetnsForwarder:
    """Carries TCP connections to 127.0.0.1:`port` in the host namespace to
    127.0.0.1:`target` inside network namespace `netns`, so that a browser on the host reaches
    the daemon's dashboard. One thread enters the namespace (setns applies to the calling
    thread only) and opens the inner connections; sockets keep the namespace they were made
    in, so the relays run in ordinary threads. close() ends every thread and socket, which
    releases the namespace before the lab deletes it."""

    def __init__(self, netns, target, port=0):
        self.netns, self.target = netns, target
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.listener.bind(("127.0.0.1", port))
        except OSError:  # the preferred port is taken: any free one
            self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(32)
        self.listener.settimeout(0.3)
        self.port = self.listener.getsockname()[1]
        self.requests = queue.Queue()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.socks = set()
        self.connector = threading.Thread(target=self._connector, daemon=True)
        self.connector.start()
        threading.Thread(target=self._accept, daemon=True).start()

    def _connector(self):
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{self.netns}", os.O_RDONLY)
        try:
            entered = libc.setns(fd, CLONE_NEWNET) == 0
        finally:
            os.close(fd)
        while True:
            reply = self.requests.get()
            if reply is None:
                return  # the thread ends, and with it its hold on the namespace
            if not entered:
                reply.put(OSError(ctypes.get_errno(), f"setns {self.netns}"))
                continue
            try:
                reply.put(socket.create_connection(("127.0.0.1", self.target), timeout=5))
            except OSError as e:
                reply.put(e)

    def _accept(self):
        while not self.stop.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client):
        reply = queue.Queue()
        self.requests.put(reply)
        try:
            upstream = reply.get(timeout=10)
        except queue.Empty:
            upstream = OSError("no connection")
        if isinstance(upstream, Exception):
            client.close()
            return
        upstream.settimeout(None)
        with self.lock:
            self.socks |= {client, upstream}
        try:
            while not self.stop.is_set():
                ready, _, _ = select.select([client, upstream], [], [], 0.3)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is client else client).sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            with self.lock:
                self.socks -= {client, upstream}
            client.close()
            upstream.close()

    def close(self):
        self.stop.set()
        self.listener.close()
        self.requests.put(None)
        self.connector.join(timeout=5)
        with self.lock:
            for s in list(self.socks):
                s.close()
            self.socks.clear()


def write_config():
    with open(BASE_CONFIG) as f:
        text = f.read()
    os.makedirs(WORK, exist_ok=True)
    with open(CONFIG, "w") as f:
        f.write(text + ALERTS)


def mails(log):
    """(time, subject) of every mail the aiosmtpd sink printed."""
    from email.header import decode_header, make_header
    out = []
    if os.path.exists(log):
        with open(log, errors="replace") as f:
            lines = f.read().splitlines()
        for i, line in enumerate(lines):
            if not line.startswith("Subject:"):
                continue
            raw = line[len("Subject:"):]
            for cont in lines[i + 1:]:  # folded header lines start with white space
                if not cont[:1].isspace():
                    break
                raw += cont
            try:
                out.append(str(make_header(decode_header(raw.strip()))))
            except Exception:  # a header we cannot decode is shown as it came
                out.append(raw.strip())
    return out
# Where examples/lab.yaml puts the daemon's files.
SOCKET = os.path.join(WORK, "pathpilot", "control.sock")
EVENTS = os.path.join(WORK, "pathpilot", "events.jsonl")
TRAFFIC_REPORT = os.path.join(WORK, "traffic.json")
REPORT = os.path.join(labctl.build_dir(), "demo-report.json")
STREAMS = {"rtb-a": "cla", "rtb-b": "clb"}  # route table -> cloud host sending its stream

COLORS = sys.stdout.isatty()


def color(text, code):
    return f"\033[{code}m{text}\033[0m" if COLORS else text


def stamp(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M:%S.%f")[:-3]


class Timeline(threading.Thread):
    """Follows the journal's JSON lines file and prints each event as it arrives."""

    def __init__(self, path, t0):
        super().__init__(daemon=True)
        self.path, self.t0 = path, t0
        self.events = []
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        pos = 0
        while not self.stop.is_set():
            try:
                with open(self.path) as f:
                    f.seek(pos)
                    for line in f:
                        if not line.endswith("\n"):
                            break
                        pos += len(line.encode())
                        self.show(json.loads(line))
            except FileNotFoundError:
                pass
            time.sleep(0.05)

    def show(self, e):
        with self.lock:
            self.events.append(e)
        sev = e.get("severity", "info")
        code = {"critical": "31;1", "warning": "33"}.get(sev, "36")
        t = parse_time(e["time"])
        what = e.get("message", "")
        if e.get("reason") and e["kind"] in ("path_down", "path_up", "path_degraded",
                                              "fail_static", "recovery_failed"):
            what += f"  [{e['reason']}]"
        print(f"  {stamp(t)} +{t - self.t0:7.3f}s  {color(e['kind'].ljust(19), code)} {what}",
              flush=True)

    def find(self, kind, since, **fields):
        with self.lock:
            for e in self.events:
                if e["kind"] != kind or parse_time(e["time"]) < since:
                    continue
                if all(e.get(k) == v for k, v in fields.items()):
                    return e
        return None

    def all(self, kind, since, until=None):
        with self.lock:
            return [e for e in self.events if e["kind"] == kind and
                    parse_time(e["time"]) >= since and
                    (until is None or parse_time(e["time"]) <= until)]


def banner(text):
    print()
    print(color(f"== {text} ", "1") + "=" * max(0, 70 - len(text)), flush=True)


def wait_routes(lab, want, timeout, what):
    """Waits until every route table uses the path in `want` ({table: path})."""
    def ok(s):
        return all((labctl.route_of(s, t) or {}).get("current") == p and
                   (labctl.route_of(s, t) or {}).get("sync") == "synced" for t, p in want.items())
    return lab.wait_status(SOCKET, ok, timeout=timeout, what=what)


def am_alerts(lab):
    """The alerts Alertmanager holds now (GET /api/v2/alerts, active ones), from inside the
    monitor namespace."""
    out = lab.sh("mon", "curl", "-s", "-m", "5", f"http://127.0.0.1:{AM_PORT}/api/v2/alerts",
                 check=False)
    try:
        return json.loads(out or "[]")
    except json.JSONDecodeError:
        return []


def am_notified(path):
    """{(incident, status): summary} of what Alertmanager notified (firing and resolved)."""
    seen = {}
    for n in labctl.read_jsonl(path):
        for a in n.get("alerts", []):
            key = (a["labels"].get("incident", "?"), a.get("status", "?"))
            seen[key] = a.get("annotations", {}).get("summary", "")
    return seen


HA_CLIENT_PORTS = (12379, 12380, 12381)
HA_PEER_PORTS = (12389, 12390, 12391)


class HaTimeline(Timeline):
    """The timeline of several monitors: follows each one's journal, prints each event with
    the monitor's name, in arrival order."""

    def __init__(self, journals, t0):
        super().__init__(None, t0)
        self.journals = journals  # node -> JSON lines file

    def run(self):
        pos = {node: 0 for node in self.journals}
        while not self.stop.is_set():
            for node, path in self.journals.items():
                try:
                    with open(path) as f:
                        f.seek(pos[node])
                        for line in f:
                            if not line.endswith("\n"):
                                break
                            pos[node] += len(line.encode())
                            e = json.loads(line)
                            e["message"] = f"[{node}] {e.get('message', '')}"
                            e["monitor"] = node
                            self.show(e)
                except FileNotFoundError:
                    pass
            time.sleep(0.05)


def ha_demo():
    """The HA scenario (see the module comment)."""
    lab = labctl.Lab(workdir=WORK)
    work = os.path.join(WORK, "ha")
    endpoints = [f"http://127.0.0.1:{p}" for p in HA_CLIENT_PORTS]
    procs = {}
    try:
        banner("bringing the lab up (namespaces, strongSwan gateways, tunnels)")
        lab.up()
        subprocess.run(["rm", "-rf", work], check=False)
        os.makedirs(work)
        banner("starting a 3-member etcd cluster in the monitor namespace")
        cluster = ",".join(f"e{i}=http://127.0.0.1:{p}" for i, p in enumerate(HA_PEER_PORTS, 1))
        for i, (client, peer) in enumerate(zip(HA_CLIENT_PORTS, HA_PEER_PORTS), 1):
            lab.spawn(f"etcd-e{i}", "mon", [
                "/usr/bin/etcd", "--name", f"e{i}", "--data-dir", f"{work}/etcd-e{i}",
                "--listen-client-urls", f"http://127.0.0.1:{client}",
                "--advertise-client-urls", f"http://127.0.0.1:{client}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--logger", "zap", "--log-level", "error"])
        with open(BASE_CONFIG) as f:
            base = f.read()
        journals = {}
        sockets = {}
        for node in ("mon-a", "mon-b"):
            d = os.path.join(work, node)
            os.makedirs(d)
            text = base.replace("/tmp/pp-lab/pathpilot/", d + "/")
            text += f"ha: {{endpoints: [{', '.join(endpoints)}], node: {node}}}\n"
            with open(os.path.join(d, "pathpilot.yaml"), "w") as f:
                f.write(text)
            journals[node] = os.path.join(d, "events.jsonl")
            sockets[node] = os.path.join(d, "control.sock")
        t0 = time.time()
        timeline = HaTimeline(journals, t0)
        timeline.start()
        banner("starting monitor mon-a, then mon-b (same config, own node names)")
        procs["mon-a"] = lab.start_pathpilot(os.path.join(work, "mon-a", "pathpilot.yaml"),
                                             name="mon-a")
        lab.wait_status(sockets["mon-a"], lambda s: s.get("ha", {}).get("writing"), 30,
                        what="mon-a leading")
        procs["mon-b"] = lab.start_pathpilot(os.path.join(work, "mon-b", "pathpilot.yaml"),
                                             name="mon-b")
        lab.wait_status(sockets["mon-b"], lambda s: s.get("ha", {}).get("leader") == "mon-a",
                        30, what="mon-b following mon-a")
        lab.wait_status(sockets["mon-a"], lambda s: all(
            (labctl.route_of(s, t) or {}).get("current") == "dx" for t in ("rtb-a", "rtb-b")),
            30, what="both tables on dx")
        banner("kill -9 of the leader (mon-a)")
        killed = time.time()
        os.kill(procs["mon-a"].pid, signal.SIGKILL)
        procs["mon-a"].wait(timeout=10)
        lab.forget(procs["mon-a"])
        s = lab.wait_status(sockets["mon-b"], lambda s: s.get("ha", {}).get("writing"), 15,
                            what="mon-b leading")
        took = time.time() - killed
        print(color(f"  mon-b leads (term {s['ha']['term']}) {took:.2f} s after the kill; "
                    f"routes: " + ", ".join(f"{t} on {(labctl.route_of(s, t) or {}).get('current')}"
                                           for t in ("rtb-a", "rtb-b")), "1;32"), flush=True)
        banner("DX down (black hole): the new leader moves the routes")
        lab.fault("blackhole", "dx")
        lab.wait_status(sockets["mon-b"], lambda s: all(
            (labctl.route_of(s, t) or {}).get("current", "").startswith("vpn")
            for t in ("rtb-a", "rtb-b")), 20, what="both tables on a VPN")
        time.sleep(1.0)
        banner("mon-a comes back: it follows")
        procs["mon-a"] = lab.start_pathpilot(os.path.join(work, "mon-a", "pathpilot.yaml"),
                                             name="mon-a")
        lab.wait_status(sockets["mon-a"], lambda s: s.get("ha", {}).get("leader") == "mon-b",
                        30, what="mon-a following mon-b")
        time.sleep(1.0)
        timeline.stop.set()
        banner("summary")
        led = [e for e in timeline.all("leader_changed", t0)]
        for e in led:
            print(f"  {stamp(parse_time(e['time']))}  {e['message']}")
        moved = timeline.all("route_changed", t0)
        print(f"  route changes: {len(moved)}, all by the leader of the moment: " +
              ", ".join(f"{e['monitor']} {e['route_table']} {e.get('from')}→{e.get('to')}"
                        for e in moved))
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        print(f"\ndemo: failed: {exc}", file=sys.stderr)
        return 1
    finally:
        banner("tearing the lab down")
        lab.down()


def main():
    if "--ha" in sys.argv[1:]:
        labctl.require_root()
        return ha_demo()
    keep = "--keep" in sys.argv[1:]
    labctl.require_root()
    for tool in (labctl.pathpilot_bin(), labctl.traffic_bin()):
        if not os.path.exists(tool):
            sys.exit(f"demo: {tool} is missing: run `make build` first")
    lab = labctl.Lab(workdir=WORK)
    rows = []
    started = time.time()
    forwarder = None
    finished = False  # the summary was printed (Ctrl-C after it ends a --keep run normally)

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        banner("bringing the lab up (namespaces, strongSwan gateways, tunnels)")
        lab.up()
        for f in (EVENTS, TRAFFIC_REPORT):
            if os.path.exists(f):
                os.remove(f)
        t0 = time.time()
        timeline = Timeline(EVENTS, t0)
        timeline.start()
        write_config()
        smtp_log = os.path.join(WORK, "smtp-sink.log")
        lab.spawn("smtp-sink", "mon", ["/usr/bin/python3", "-u", "-m", "aiosmtpd", "-n", "-l",
                                        f"127.0.0.1:{SMTP_PORT}"], log=smtp_log)
        am_dir = os.path.join(WORK, "alertmanager")
        os.makedirs(am_dir, exist_ok=True)
        with open(os.path.join(am_dir, "alertmanager.yml"), "w") as f:
            f.write(AM_CONFIG)
        am_log = os.path.join(am_dir, "notifications.jsonl")
        if os.path.exists(am_log):
            os.remove(am_log)
        # The sink: appends each notification Alertmanager posts to a JSON lines file.
        lab.spawn("am-sink", "mon", ["/usr/bin/python3", "-c", labctl.JSON_POST_SINK,
                                     str(AM_SINK_PORT), am_log])
        # --cluster.listen-address= : no gossip port (a single Alertmanager, nothing leaves
        # the namespace).
        lab.spawn("alertmanager", "mon", [
            "/usr/bin/prometheus-alertmanager",
            f"--config.file={os.path.join(am_dir, 'alertmanager.yml')}",
            f"--storage.path={os.path.join(am_dir, 'data')}",
            f"--web.listen-address=127.0.0.1:{AM_PORT}", "--cluster.listen-address=",
            "--log.level=warn"])
        banner(f"starting pathpilot with {os.path.relpath(BASE_CONFIG, ROOT)} "
               f"(+ API/dashboard, alerts to an SMTP sink and Alertmanager, all in the monitor "
               f"namespace)")
        lab.start_pathpilot(CONFIG)
        forwarder = NetnsForwarder(lab.ns("mon"), API_PORT, DASHBOARD_PORT)
        print(color(f"  Dashboard: http://127.0.0.1:{forwarder.port}/", "1;32") +
              f"  (forwarded into {lab.ns('mon')}, where the daemon serves 127.0.0.1:{API_PORT})",
              flush=True)
        wait_routes(lab, {"rtb-a": "dx", "rtb-b": "dx"}, 30, "both tables on dx")
        lab.spawn("traffic-recv", "onhost", [labctl.traffic_bin(), "recv", "--port", "9000",
                                             "--report", TRAFFIC_REPORT, "--flush", "200ms"])
        time.sleep(0.3)
        for table, host in STREAMS.items():
            lab.spawn(f"traffic-{table}", host, [labctl.traffic_bin(), "send", "--to",
                                                 "10.10.3.100:9000", "--rate", "1000",
                                                 "--stream", table])
        time.sleep(1.0)

        def scenario(name, fault_cmds, want, timeout=20, settle=0.5):
            banner(name)
            t_fault = time.time()
            for cmd in fault_cmds:
                lab.fault(*cmd)
            print(f"  {stamp(t_fault)} +{t_fault - t0:7.3f}s  {color('fault'.ljust(19), '35')} "
                  + "; ".join(" ".join(c) for c in fault_cmds), flush=True)
            status = wait_routes(lab, want, timeout, name) if want else None
            time.sleep(settle)
            return t_fault, status

        marks = []  # (scenario, t_fault, t_end)

        def play(name, faults, want, timeout=20, settle=0.5):
            t_fault, _ = scenario(name, faults, want, timeout, settle)
            marks.append((name, t_fault, time.time()))

        play("1. DX down (black hole: carrier up, packets dropped)", [("blackhole", "dx")],
             {"rtb-a": "vpn-a", "rtb-b": "vpn-b"})
        play("2. VPN-A gateway crash (charon killed) and recovery", [("gw-crash", "gwa")],
             {"rtb-a": "vpn-b", "rtb-b": "vpn-b"})
        banner("   waiting for the recovery command to restart strongSwan-1 and the failback")
        wait_routes(lab, {"rtb-a": "vpn-a", "rtb-b": "vpn-b"}, 40, "rtb-a back on vpn-a")
        marks[-1] = (marks[-1][0], marks[-1][1], time.time())
        play("3. DX back (failback only after the hold-down)", [("unblackhole", "dx")],
             {"rtb-a": "dx", "rtb-b": "dx"}, timeout=30)
        banner("4. DX flapping (down 1 s / up 1 s, five times)")
        t_flap = time.time()
        for _ in range(5):
            lab.fault("blackhole", "dx")
            time.sleep(1.0)
            lab.fault("unblackhole", "dx")
            time.sleep(1.0)
        marks.append(("4. DX flapping", t_flap, time.time()))
        moves = len(timeline.all("route_changed", t_flap))
        print(f"  {moves} route change(s) during 10 s of flapping "
              f"(hold-down and damping keep traffic off a flapping link)", flush=True)
        play("5. DX and both VPNs down: fail static",
             [("blackhole", "dx"), ("vpn-down",)], None, settle=3.0)
        fs = timeline.find("fail_static", marks[-1][1])
        print("  " + (color("fail static raised (critical): routes kept as they were", "31;1")
                      if fs else "no fail_static event seen"), flush=True)
        # DX flapped in step 4: flap damping keeps it suppressed for minutes, so the tables
        # come back to their own AZ's gateway and stay off DX until its penalty decays.
        play("6. everything back (DX still suppressed by flap damping)", [("clear",)],
             {"rtb-a": "vpn-a", "rtb-b": "vpn-b"}, timeout=30)
        dx = labctl.path_of(lab.status(SOCKET), "dx")
        print(f"  dx: {dx['state']}, damping penalty {dx['penalty']:.0f}"
              + (f", released in {dx['reuse_in_ms'] / 1000:.0f} s" if "reuse_in_ms" in dx
                 else ""), flush=True)

        for name, proc in list(lab.procs):
            if name.startswith("traffic-rtb"):
                labctl.stop_process(proc)
                lab.forget(proc)
        time.sleep(0.5)
        for name, proc in list(lab.procs):
            if name == "traffic-recv":
                labctl.stop_process(proc)
                lab.forget(proc)
        traffic = json.load(open(TRAFFIC_REPORT))["streams"]
        timeline.stop.set()
        time.sleep(0.1)

        # One row per route change: which scenario, detection time, the gap it caused.
        for e in timeline.all("route_changed", t0):
            t_change = parse_time(e["time"])
            scen = None
            for name, t_fault, t_end in marks:
                if t_fault <= t_change <= t_end + 0.5:
                    scen = (name, t_fault)
            if scen is None:
                continue
            # The outage this change ended: a gap in the table's stream that spans the change.
            gap_ms, lost, gap_start = 0.0, 0, None
            for g in traffic.get(e["route_table"], {}).get("gaps", []):
                tg = parse_time(g["at"])
                if tg - 0.05 <= t_change <= tg + g["gap_ms"] / 1000.0 + 0.05:
                    gap_ms, lost, gap_start = g["gap_ms"], g["lost"], tg
            # Detection: from the moment traffic stopped (or the fault, if none did) to the
            # path_down event of the path the route left.
            down = [d for d in timeline.all("path_down", scen[1] - 1.0, t_change)
                    if d.get("path") == e.get("from")]
            origin = gap_start if gap_start is not None else scen[1]
            detect_ms = ((parse_time(down[-1]["time"]) - origin) * 1000.0) if down else None
            rows.append({"scenario": scen[0], "route_table": e["route_table"],
                         "from": e.get("from"), "to": e.get("to"),
                         "detect_ms": round(detect_ms, 1) if detect_ms is not None else None,
                         "gap_ms": round(gap_ms, 1), "lost": lost})
        banner("summary")
        print(f"  {'SCENARIO':<52} {'TABLE':<6} {'FROM → TO':<16} {'DETECT':>9} "
              f"{'GAP':>9} {'LOST':>6}")
        for r in rows:
            detect = f"{r['detect_ms']:.0f} ms" if r["detect_ms"] is not None else "-"
            print(f"  {r['scenario'][:52]:<52} {r['route_table']:<6} "
                  f"{(r['from'] or '?') + ' → ' + (r['to'] or '?'):<16} {detect:>9} "
                  f"{r['gap_ms']:>6.0f} ms {r['lost']:>6}")
        for table, s in traffic.items():
            print(f"  stream {table}: {s['received']} packets received, {s['lost']} lost in all")
        time.sleep(4.0)  # let the last grouped alerts go out (and Alertmanager notify them)
        subjects = mails(smtp_log)
        print(f"\n  alerts delivered by mail to the SMTP sink: {len(subjects)}")
        for subject in subjects:
            print(f"    {subject}")
        active = am_alerts(lab)
        print(f"\n  Alertmanager (GET /api/v2/alerts) holds {len(active)} active alert(s):")
        for a in active:
            print(f"    {a['labels'].get('incident', '?'):<28} {a['status']['state']:<10} "
                  f"since {a.get('startsAt', '?')[:19]}  {a['annotations'].get('summary', '')}")
        notified = am_notified(am_log)
        resolved = sorted(k[0] for k in notified if k[1] == "resolved")
        fired = sorted(k[0] for k in notified if k[1] == "firing")
        print(f"  Alertmanager notified {len(fired)} incident(s) firing and {len(resolved)} "
              f"resolved (send_resolved webhook):")
        for incident in sorted(set(fired) | set(resolved)):
            states = "firing → resolved" if incident in resolved else "firing"
            print(f"    {incident:<28} {states}")
        os.makedirs(os.path.dirname(REPORT), exist_ok=True)
        with open(REPORT, "w") as f:
            json.dump(rows, f, indent=1)
        print(f"\n  report written to {os.path.relpath(REPORT, ROOT)}; "
              f"demo took {time.time() - started:.0f} s")
        finished = True
        if keep:
            print(color(f"\n  --keep: the lab, pathpilot and the dashboard "
                        f"(http://127.0.0.1:{forwarder.port}/) keep running; Ctrl-C to tear "
                        f"everything down", "1"), flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        if finished:
            return 0
        print("\ndemo: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the lab is torn down whatever happened
        print(f"\ndemo: failed: {exc}", file=sys.stderr)
        return 1
    finally:
        banner("tearing the lab down")
        if forwarder is not None:
            forwarder.close()  # before the namespace goes: its thread holds it
        lab.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
