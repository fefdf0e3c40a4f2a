"""labctl — drives the pathpilot network lab from Python (stdlib only).

Used by the demo, the lab tests (tests/lab/), the failover-gap benchmark and lab/tunnel-state.
It wraps lab/up, lab/down, lab/fault and lab/gw-restart, starts pathpilot and the traffic
stream inside the lab's namespaces, records their PIDs (with their start times, as lab/lib.sh
does) so that teardown ends exactly those processes, reads tunnel and interface counters, and
polls `pathpilot status --json` until a condition holds (docs/development.md).

Environment: PP_LAB (namespace prefix, default "pp"), PP_LAB_DIR (default /tmp/$PP_LAB-lab),
PP_BUILD_DIR (build directory with src/cli/pathpilot and lab/pp-*, default <repo>/build).
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAB = os.path.join(ROOT, "lab")

# The lab's fixed addressing (lab/up).
GATEWAYS = ("gwa", "gwb")
PEER = {"gwa": "onpa", "gwb": "onpb"}
PROBE_SOURCE = {"dx": "10.1.0.11", "gwa": "10.1.0.12", "gwb": "10.1.0.13"}
TUNNEL_TARGET = {"gwa": "169.254.100.1", "gwb": "169.254.200.1"}
DX_TARGET = "10.10.3.100"
ONPREM_PREFIX = "10.10.0.0/16"
# vpc-side next hop of each path: (via, dev), as pathpilot programs it into tables 101/102.
NEXT_HOP = {"dx": ("10.255.1.2", "dx"), "gwa": ("10.255.2.2", "gwa"),
            "gwb": ("10.255.3.2", "gwb")}
# pathpilot path name <-> lab box.
PATH_BOX = {"dx": "dx", "vpn-a": "gwa", "vpn-b": "gwb"}
BOX_PATH = {v: k for k, v in PATH_BOX.items()}
TABLES = {"rtb-a": 101, "rtb-b": 102}


def lab_nice():
    """Nice level of the lab's processes (LAB_NICE, default -15; see lab/lib.sh): a busy build
    machine must not look like a lossy network to probes and traffic streams."""
    return int(os.environ.get("LAB_NICE", "-15"))


def autogroup_nice(pid):
    """Gives the new session's scheduling autogroup the lab's nice level (see autogroup_nice in
    lab/lib.sh: with autogroups a process's own nice only counts inside its session). Best
    effort: without autogroup support nothing changes."""
    if lab_nice() == 0:
        return
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/autogroup", "w") as f:
            f.write(str(lab_nice()))


def build_dir():
    return os.environ.get("PP_BUILD_DIR", os.path.join(ROOT, "build"))


def pathpilot_bin():
    return os.path.join(build_dir(), "src", "cli", "pathpilot")


def traffic_bin():
    return os.path.join(build_dir(), "lab", "pp-traffic")


def pid_starttime(pid):
    """Start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[19]


def pid_alive(pid, starttime=None):
    """Whether `pid` runs and, when given, still has `starttime` (not a recycled PID)."""
    st = pid_starttime(pid)
    if st is None or (starttime and st != starttime):
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Lab:
    """One running lab. Use as a context manager: teardown always runs."""

    def __init__(self, prefix=None, workdir=None):
        self.prefix = prefix or os.environ.get("PP_LAB", "pp")
        self.dir = workdir or os.environ.get("PP_LAB_DIR", f"/tmp/{self.prefix}-lab")
        self.env = dict(os.environ, PP_LAB=self.prefix, PP_LAB_DIR=self.dir,
                        PP_BUILD_DIR=build_dir())
        self.procs = []  # (name, Popen)

    # -- topology ---------------------------------------------------------------------------
    def up(self):
        subprocess.run([os.path.join(LAB, "up")], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)
        return self

    def down(self):
        for name, proc in reversed(self.procs):
            stop_process(proc)
        self.procs = []
        subprocess.run([os.path.join(LAB, "down")], env=self.env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self):
        return self.up()

    def __exit__(self, *exc):
        self.down()
        return False

    def ns(self, box):
        return f"{self.prefix}-{box}"

    def exists(self):
        return os.path.exists(f"/run/netns/{self.ns('vpc')}")

    def fault(self, *args, check=True):
        """lab/fault ARGS (see its usage): dx-down, blackhole gwa, loss dx 0.1, gw-crash gwb..."""
        out = subprocess.run([os.path.join(LAB, "fault"), *map(str, args)], env=self.env,
                             capture_output=True, text=True)
        if check and out.returncode != 0:
            raise RuntimeError(f"lab/fault {' '.join(map(str, args))} failed "
                               f"(exit {out.returncode}): {out.stderr.strip()}")
        return out

    def gw_restart(self, gw, timeout=20):
        """lab/gw-restart GW: restart the gateway's charon; True once the tunnel carries traffic."""
        out = subprocess.run([os.path.join(LAB, "gw-restart"), gw, str(timeout)], env=self.env,
                             capture_output=True, text=True)
        return out.returncode == 0

    def sh(self, box, *cmd, check=True, capture=True):
        out = subprocess.run(["ip", "netns", "exec", self.ns(box), *map(str, cmd)], check=check,
                             capture_output=capture, text=True)
        return out.stdout if capture else None

    def ping(self, src_box, target, source=None, count=1, timeout=1.0):
        """True when at least one of `count` pings from `src_box` (optionally pinned) answers."""
        cmd = ["ping", "-q", "-n", "-c", str(count), "-i", "0.05", "-W", str(timeout)]
        if source:
            cmd += ["-I", source]
        out = subprocess.run(["ip", "netns", "exec", self.ns(src_box), *cmd, target],
                             capture_output=True, text=True)
        return out.returncode == 0

    # -- routes and counters ----------------------------------------------------------------
    def route(self, table, destination=ONPREM_PREFIX):
        """The path ("dx", "gwa", "gwb") that vpc table `table` uses for `destination`, the raw
        route line when it matches none, or None without a route."""
        out = self.sh("vpc", "ip", "-j", "route", "show", "table", str(table), destination)
        routes = json.loads(out or "[]")
        if not routes:
            return None
        r = routes[0]
        for box, (via, dev) in NEXT_HOP.items():
            if r.get("gateway") == via and r.get("dev") == dev:
                return box
        return json.dumps(r)

    def link_counters(self, box, ifname):
        """{rx_bytes, rx_packets, tx_bytes, tx_packets} of `ifname` in `box`, None if absent."""
        return link_counters(self.ns(box), ifname)

    def path_counters(self, box):
        """Packets that crossed path `box` towards on-prem so far: for dx its on-prem link's
        tx, for a gateway its ipsec0's tx (plaintext entering the tunnel)."""
        if box == "dx":
            c = self.link_counters("dx", "onp")
        else:
            c = self.link_counters(box, "ipsec0")
        return c["tx_packets"] if c else 0

    def tunnel_state(self, gw):
        """State and counters of gateway `gw` (see lab/tunnel-state)."""
        return tunnel_state(self, gw)

    # -- processes --------------------------------------------------------------------------
    def record(self, pid, name):
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "pids"), "a") as f:
            f.write(f"{pid} {name} {pid_starttime(pid) or ''}\n")

    def spawn(self, name, box, cmd, log=None, env=None, cwd=None, nice=True):
        """Starts `cmd` inside namespace `box` (at the lab's nice level unless nice=False); its
        PID is recorded for teardown. `ip netns exec` and `nice` exec the command in place, so
        the PID is the command's own."""
        os.makedirs(self.dir, exist_ok=True)
        logf = open(log or os.path.join(self.dir, f"{name}.log"), "ab")
        prefix = ["nice", "-n", str(lab_nice())] if nice and lab_nice() != 0 else []
        full = ["ip", "netns", "exec", self.ns(box), *prefix, *map(str, cmd)]
        proc = subprocess.Popen(full, stdout=logf, stderr=subprocess.STDOUT, cwd=cwd,
                                env=dict(self.env, **(env or {})), start_new_session=True)
        logf.close()
        self.procs.append((name, proc))
        self.record(proc.pid, name)
        if nice:
            autogroup_nice(proc.pid)
        return proc

    def kill(self, proc, sig=signal.SIGTERM):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)

    def forget(self, proc):
        self.procs = [(n, p) for (n, p) in self.procs if p is not proc]

    # -- pathpilot --------------------------------------------------------------------------
    def start_pathpilot(self, config, name="pathpilot", box="mon", extra=()):
        # cwd = the repository, so relative recovery commands (lab/gw-restart) resolve.
        return self.spawn(name, box, [pathpilot_bin(), "run", "-c", config, *extra], cwd=ROOT)

    def status(self, socket):
        return daemon_status(socket)

    def wait_status(self, socket, predicate, timeout=30.0, interval=0.05, what="condition"):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.status(socket)
            if last is not None and predicate(last):
                return last
            time.sleep(interval)
        raise TimeoutError(f"timed out after {timeout}s waiting for {what}; last status: "
                           f"{json.dumps(last, indent=1)[:4000] if last else None}")

    def ctl(self, socket, *args):
        return subprocess.run([pathpilot_bin(), *args, "--socket", socket], capture_output=True,
                              text=True)


def stop_process(proc, timeout=5.0):
    if proc.poll() is not None:
        return proc.returncode
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        return proc.wait()


def daemon_status(socket, timeout=None):
    """`pathpilot status --json` over the control socket, or None while it does not answer
    (`timeout` seconds: subprocess.TimeoutExpired past it; None waits)."""
    out = subprocess.run([pathpilot_bin(), "status", "--json", "--socket", socket],
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        return None
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError:
        return None


def route_of(status, table, destination=None):
    for r in status.get("routes", []):
        if r.get("route_table") == table and (destination is None or
                                             r.get("destination") == destination):
            return r
    return None


def path_of(status, name):
    for p in status.get("paths", []):
        if p.get("name") == name:
            return p
    return None


# An HTTP receiver for `python3 -c JSON_POST_SINK PORT FILE`: listens on 127.0.0.1:PORT and
# appends the JSON body of every POST as one line to FILE (read it with read_jsonl), answering
# 200. Plays a webhook or Alertmanager receiver inside a namespace (demo, integration tests).
JSON_POST_SINK = r"""
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(sys.argv[2], "a") as f:
            f.write(json.dumps(json.loads(body)) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def read_jsonl(path):
    events = []
    if not os.path.exists(path):
        return events
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                with contextlib.suppress(json.JSONDecodeError):  # a line being written
                    events.append(json.loads(line))
    return events


def require_root():
    if os.geteuid() != 0:
        print("lab: needs root (network namespaces)", file=sys.stderr)
        sys.exit(77)


# -- strongSwan state ---------------------------------------------------------------------------

_TOKEN = re.compile(r"\{|\}|[^\s{}=]+=\[[^\]]*\]|[^\s{}=]+=[^\s{}]*|[^\s{}]+")


def parse_swanctl_raw(text):
    """Parses `swanctl --list-sas --raw` output ("list-sa event {NAME {k=v child-sas {...}}}"
    lines, one per IKE_SA) into {ike_name: {key: value, "child-sas": {...}}}. Lists ("[a b]")
    become Python lists; everything else stays a string."""
    result = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("list-sa event"):
            continue
        tokens = _TOKEN.findall(line[len("list-sa event"):])
        stack = [{}]
        pending = None
        for tok in tokens:
            if tok == "{":
                child = {}
                stack[-1][pending if pending is not None else "_"] = child
                stack.append(child)
                pending = None
            elif tok == "}":
                if len(stack) > 1:
                    stack.pop()
            elif "=" in tok:
                key, value = tok.split("=", 1)
                if value.startswith("[") and value.endswith("]"):
                    value = value[1:-1].split()
                stack[-1][key] = value
            else:
                pending = tok
        # The outermost "{" opened an anonymous section holding {ike_name: {...}}.
        for name, ike in stack[0].get("_", {}).items():
            if isinstance(ike, dict):
                result[name] = ike
    return result


def _int(d, key):
    try:
        return int(d.get(key, 0))
    except (TypeError, ValueError):
        return 0


def link_counters(netns, ifname):
    out = subprocess.run(["ip", "-n", netns, "-s", "-j", "link", "show", "dev", ifname],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return None
    try:
        link = json.loads(out.stdout)[0]
    except (json.JSONDecodeError, IndexError):
        return None
    s = link.get("stats64", {})
    return {"state": link.get("operstate"),
            "rx_bytes": s.get("rx", {}).get("bytes", 0),
            "rx_packets": s.get("rx", {}).get("packets", 0),
            "tx_bytes": s.get("tx", {}).get("bytes", 0),
            "tx_packets": s.get("tx", {}).get("packets", 0)}


def _recorded(lab, name):
    """(pid, starttime) of the newest record `name` in the lab's pids file, or None."""
    found = None
    with contextlib.suppress(OSError):
        with open(os.path.join(lab.dir, "pids")) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[1] == name:
                    found = (int(parts[0]), parts[2] if len(parts) > 2 else None)
    return found


def charon_state(lab, box):
    """{"pid", "running", "ike_sas": [...], "tunnel_up", "totals"} of the charon in `box`."""
    rec = _recorded(lab, f"charon-{box}")
    running = bool(rec) and pid_alive(*rec)
    state = {"namespace": lab.ns(box), "charon": {"pid": rec[0] if rec else None,
                                                  "running": running},
             "ike_sas": [], "tunnel_up": False,
             "totals": {"bytes_in": 0, "packets_in": 0, "bytes_out": 0, "packets_out": 0}}
    if not running:
        return state
    out = subprocess.run(["ip", "netns", "exec", lab.ns(box), "swanctl", "--list-sas", "--raw",
                          "--uri", f"unix://{lab.dir}/{box}/charon.vici"],
                         capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        state["error"] = (out.stderr or out.stdout).strip()[-300:]
        return state
    for name, ike in parse_swanctl_raw(out.stdout).items():
        children = []
        for cname, c in (ike.get("child-sas") or {}).items():
            if not isinstance(c, dict):
                continue
            child = {"name": c.get("name", cname), "state": c.get("state"),
                     "reqid": _int(c, "reqid"), "spi_in": c.get("spi-in"),
                     "spi_out": c.get("spi-out"), "encap": c.get("encap") == "yes",
                     "bytes_in": _int(c, "bytes-in"), "packets_in": _int(c, "packets-in"),
                     "bytes_out": _int(c, "bytes-out"), "packets_out": _int(c, "packets-out"),
                     "install_time_s": _int(c, "install-time"),
                     "local_ts": c.get("local-ts", []), "remote_ts": c.get("remote-ts", [])}
            children.append(child)
            if child["state"] == "INSTALLED":
                for k in state["totals"]:
                    state["totals"][k] += child[k]
        sa = {"name": name, "state": ike.get("state"), "local_host": ike.get("local-host"),
              "remote_host": ike.get("remote-host"), "local_id": ike.get("local-id"),
              "remote_id": ike.get("remote-id"), "established_s": _int(ike, "established"),
              "child_sas": children}
        state["ike_sas"].append(sa)
        if sa["state"] == "ESTABLISHED" and any(c["state"] == "INSTALLED" for c in children):
            state["tunnel_up"] = True
    return state


def tunnel_state(lab, gw):
    """Everything that shows which gateway carries traffic: the gateway's charon and SAs with
    counters, its interfaces' counters (ipsec0 = plaintext through the tunnel, vpc = towards
    the VPC, out = the encrypted side), and the on-prem peer's view of the same tunnel. For
    "dx" only the interface counters (vpc, onp)."""
    if gw == "dx":
        return {"gateway": "dx", "namespace": lab.ns("dx"),
                "interfaces": {i: link_counters(lab.ns("dx"), i) for i in ("vpc", "onp")}}
    if gw not in GATEWAYS:
        raise ValueError(f"unknown gateway {gw!r} (gwa|gwb|dx)")
    state = {"gateway": gw}
    state.update(charon_state(lab, gw))
    state["interfaces"] = {i: link_counters(lab.ns(gw), i) for i in ("ipsec0", "vpc", "out")}
    peer = PEER[gw]
    state["peer"] = {"name": peer, **charon_state(lab, peer),
                     "interfaces": {"ipsec0": link_counters(lab.ns(peer), "ipsec0")}}
    return state
