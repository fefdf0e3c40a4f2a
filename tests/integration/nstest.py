"""nstest — helpers shared by the daemon integration tests (stdlib only).

A small network-namespace topology that a test builds and removes itself (namespaces under its
own prefix, veth pairs, processes started inside them and ended by PID), polling with deadlines
instead of fixed sleeps, and reading the daemon's status and journal. The full strongSwan lab
lives in lab/labctl.py; the generic pieces here (process tracking, JSONL, status lookups) come
from there, so both kinds of test read status and events the same way.

Safety: traffic only inside the namespaces created here or on their loopback; every
namespace and process is removed by name or PID in cleanup(), which runs even on failure.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lab"))
import labctl  # noqa: E402
from ppkit.timefmt import event_time  # noqa: E402,F401 (re-exported)
from ppkit.wait import wait_for  # noqa: E402,F401 (re-exported)

# Re-exported: the same readers the lab tests use.
read_jsonl = labctl.read_jsonl
route_of = labctl.route_of
path_of = labctl.path_of
pathpilot_bin = labctl.pathpilot_bin
require_root = labctl.require_root
JSON_POST_SINK = labctl.JSON_POST_SINK


def build_dir():
    return labctl.build_dir()


def events_of(path, kind, since=0.0):
    """Journal events of `kind` in the JSONL file `path` with time >= `since`."""
    return [e for e in read_jsonl(path) if e.get("kind") == kind and event_time(e) >= since]


def daemon_status(socket):
    """`pathpilot status --json` over the control socket, or None while it does not answer;
    a status call hanging for 10 s raises (TimeoutExpired, which wait_for counts as falsy)."""
    return labctl.daemon_status(socket, timeout=10)


def aws_env(keys):
    """Environment for a daemon that must take the key pair `keys` (access key, secret) from
    its environment and nothing else: no shared files, no instance metadata."""
    return {"AWS_ACCESS_KEY_ID": keys[0], "AWS_SECRET_ACCESS_KEY": keys[1],
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
            "AWS_EC2_METADATA_DISABLED": "true"}


def wait_daemon_status(net, daemon, socket, predicate, timeout, what, log="pathpilot"):
    """Polls the daemon's status until predicate(status) holds (returned); fails at once,
    with the end of its log `log`, if the daemon process exits meanwhile."""
    def check():
        if daemon.poll() is not None:
            raise AssertionError(f"pathpilot exited ({daemon.returncode}):\n"
                                 f"{net.log(log)[-3000:]}")
        s = daemon_status(socket)
        return s if s is not None and predicate(s) else None
    return wait_for(check, timeout, what)


def tables_at(status, want):
    """True when every route table in `want` ({table id: path}) uses that path and is synced."""
    for table, path in want.items():
        r = route_of(status, table) or {}
        if r.get("current") != path or r.get("sync") != "synced":
            return False
    return True


def free_port():
    """A TCP port on 127.0.0.1 free right now (bound to port 0 and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# One namespace, one veth pair: probe sources on v0, targets on v1. Removing a target address
# from v1 fails that path (dx: 10.98.0.1, vpn-a: 10.98.1.1) without touching the other.
PROBE_VETH_ADDRS = (("10.99.0.1/24", "v0"), ("10.99.1.1/24", "v0"), ("10.98.0.1/24", "v1"),
                    ("10.98.1.1/24", "v1"))


def add_probe_veth(ns):
    """Creates the veth pair v0 -- v1 with PROBE_VETH_ADDRS inside namespace `ns` (which must
    exist), both ends up."""
    def ip(*args):
        subprocess.run(["ip", "-n", ns, *args], check=True, capture_output=True, text=True)
    ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
    for addr, dev in PROBE_VETH_ADDRS:
        ip("addr", "add", addr, "dev", dev)
    for dev in ("v0", "v1"):
        ip("link", "set", dev, "up")


def probe_veth_config(work, site, failback_hold_down):
    """The start of a daemon config for add_probe_veth's topology: paths dx and vpn-a probed
    every 100 ms, one route table programmed through a no-op exec hook, journal and control
    socket in `work`. Tests append their own sections (api:, alerts:)."""
    return f"""version: 1
site: {{name: {site}}}
probe: {{kind: icmp, interval: 100ms, timeout: 80ms, quorum: 1}}
health: {{window: 10, rise: 2, fall: 2, damping: {{enabled: false}}}}
policy: {{preference: [dx, vpn], az_affinity: true, failback_hold_down: {failback_hold_down}}}
paths:
  - name: dx
    kind: dx
    probe: {{targets: [10.98.0.1], source: 10.99.0.1}}
    next_hop: {{via: 10.255.0.2, dev: v0}}
  - name: vpn-a
    kind: vpn
    az: a
    probe: {{targets: [10.98.1.1], source: 10.99.1.1}}
    next_hop: {{via: 10.255.1.2, dev: v0}}
route_tables:
  - id: rtb-a
    name: Private-A
    az: a
    backend: exec
    destinations: [10.10.0.0/16]
backends: {{exec: {{command: [/bin/true]}}}}
journal: {{sqlite: {work}/journal.db, jsonl: {work}/events.jsonl}}
control: {{socket: {work}/control.sock}}
"""


def fake_aws_bin():
    return os.path.join(build_dir(), "src", "aws", "pathpilot-fake-aws")


def add_mon_far_paths(net, prefix16):
    """Namespaces mon and far joined by veth pairs dx, gwa and gwb (PREFIX16.1.0/30 to
    PREFIX16.3.0/30: .1 in mon, .2 in far); returns once each pair answers a ping. The topology
    must answer before a daemon starts: right after `ip link set up` a veth may have no carrier
    yet, and probes sent then fail (ENOBUFS) and mark paths down."""
    net.add("mon")
    net.add("far")
    for i, path in enumerate(("dx", "gwa", "gwb"), start=1):
        net.veth("mon", path, f"{prefix16}.{i}.1/30", "far", path, f"{prefix16}.{i}.2/30")
    for i in (1, 2, 3):
        wait_for(lambda i=i: net.ping("mon", f"{prefix16}.{i}.2", f"{prefix16}.{i}.1"), 10,
                 f"{prefix16}.{i}.2 answering")


def start_fake_aws(net, box, keys, tables=(), route=None, instances=(), extra=(),
                   propagated=None, name="fake-aws"):
    """Starts pathpilot-fake-aws on 127.0.0.1, port 0, in namespace `box`, accepting the key
    pair `keys` (access key, secret) and holding `tables`, each with the static route `route`
    (destination, target) and the route `propagated` (destination, vgw-...) that the VGW
    propagates into it (origin EnableVgwRoutePropagation), if given, and `instances` ((id,
    state, availability zone), ...); `extra`: more arguments (--seed, --transition). Its log
    is NAME.log. Returns (process, url) once it listens."""
    cmd = [fake_aws_bin(), "--listen", "127.0.0.1:0", *extra]
    for t in tables:
        cmd += ["--route-table", t]
        if route:
            cmd += ["--route", f"{t},{route[0]},{route[1]}"]
        if propagated:
            cmd += ["--propagated-route", f"{t},{propagated[0]},{propagated[1]}"]
    for instance in instances:
        cmd += ["--instance", ",".join(instance)]
    env = {"PP_FAKE_AWS_ACCESS_KEY": keys[0], "PP_FAKE_AWS_SECRET_KEY": keys[1]}
    proc = net.spawn(name, box, cmd, env=env)
    line = wait_for(
        lambda: [l for l in net.log(name).splitlines() if l.startswith("listening")],
        10, "the fake AWS endpoint to listen")
    return proc, line[0].split()[-1]


class Netns:
    """Namespaces named PREFIX-BOX, veth pairs between them, and processes inside them.
    Use as a context manager, or call cleanup() in a finally/tearDown."""

    def __init__(self, prefix, workdir):
        self.prefix = prefix
        self.dir = workdir
        self.boxes = []
        self.procs = []  # (name, Popen)
        os.makedirs(self.dir, exist_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    def ns(self, box):
        return f"{self.prefix}-{box}"

    def add(self, box):
        """Creates namespace PREFIX-BOX with loopback up, forwarding on, ICMP ping sockets
        allowed (the sysctl is per namespace) and rp_filter off."""
        name = self.ns(box)
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.boxes.append(box)
        self.sh(box, "ip", "link", "set", "lo", "up")
        self.sh(box, "sysctl", "-qw", "net.ipv4.ip_forward=1",
                "net.ipv4.ping_group_range=0 2147483647", "net.ipv4.conf.all.rp_filter=0",
                "net.ipv4.conf.default.rp_filter=0")

    def veth(self, box_a, if_a, addr_a, box_b, if_b, addr_b):
        """A veth pair if_a (in box_a, address addr_a "10.0.0.1/30") -- if_b (box_b)."""
        tmp = f"ppv{os.getpid() % 100000}{len(self.procs)}{if_a}"[:15]
        subprocess.run(["ip", "link", "add", tmp, "netns", self.ns(box_a), "type", "veth",
                        "peer", "name", if_b, "netns", self.ns(box_b)], check=True)
        self.sh(box_a, "ip", "link", "set", tmp, "name", if_a)
        for box, ifname, addr in ((box_a, if_a, addr_a), (box_b, if_b, addr_b)):
            self.sh(box, "ip", "addr", "add", addr, "dev", ifname)
            self.sh(box, "ip", "link", "set", ifname, "up")

    def sh(self, box, *cmd, check=True):
        out = subprocess.run(["ip", "netns", "exec", self.ns(box), *map(str, cmd)],
                             capture_output=True, text=True, timeout=30)
        if check and out.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd))} in {self.ns(box)} failed "
                               f"(exit {out.returncode}): {out.stderr.strip()}")
        return out.stdout

    def ping(self, box, target, source=None):
        """True when one ping from namespace `box` (optionally from `source`) is answered."""
        cmd = ["ip", "netns", "exec", self.ns(box), "ping", "-q", "-n", "-c", "1", "-W", "1"]
        if source:
            cmd += ["-I", source]
        return subprocess.run([*cmd, target], capture_output=True, timeout=10).returncode == 0

    def spawn(self, name, box, cmd, env=None, cwd=None, nice=True):
        """Starts `cmd` in namespace `box` (output to DIR/NAME.log), at the lab's nice level
        (LAB_NICE, default -15: on a busy build machine a starved prober looks like a lossy
        path) unless nice=False. `ip netns exec` and `nice` exec the command in place, so the
        Popen's PID is the command's own: it is ended by that PID."""
        log = open(os.path.join(self.dir, f"{name}.log"), "ab")
        level = labctl.lab_nice()
        prefix = ["nice", "-n", str(level)] if nice and level != 0 else []
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns(box), *prefix, *map(str, cmd)],
                                stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
                                env=dict(os.environ, **(env or {})), start_new_session=True)
        log.close()
        self.procs.append((name, proc))
        return proc

    def log(self, name):
        path = os.path.join(self.dir, f"{name}.log")
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as f:
            return f.read()

    def kill(self, proc, sig=signal.SIGKILL):
        """Sends `sig` to `proc` by PID and, for SIGKILL, reaps it and forgets it."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        if sig == signal.SIGKILL:
            proc.wait(timeout=10)
            self.forget(proc)

    def forget(self, proc):
        self.procs = [(n, p) for (n, p) in self.procs if p is not proc]

    def cleanup(self):
        for _, proc in reversed(self.procs):
            labctl.stop_process(proc)
        self.procs = []
        for box in reversed(self.boxes):
            subprocess.run(["ip", "netns", "del", self.ns(box)], check=False,
                           stderr=subprocess.DEVNULL)
        self.boxes = []
