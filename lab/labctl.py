"""labctl — drives the pathpilot network lab from Python (stdlib only).

Used by the demo (tools/demo.py) and the lab/integration tests. It wraps lab/up, lab/down and
lab/fault, starts pathpilot and the traffic stream inside the lab's namespaces, records their
PIDs so that teardown ends exactly those processes, and polls `pathpilot status --json` until a
condition holds (STYLE.md §8).
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAB = os.path.join(ROOT, "lab")


def build_dir():
    return os.environ.get("PP_BUILD_DIR", os.path.join(ROOT, "build"))


def pathpilot_bin():
    return os.path.join(build_dir(), "src", "cli", "pathpilot")


def traffic_bin():
    return os.path.join(build_dir(), "lab", "pp-traffic")


class Lab:
    """One running lab. Use as a context manager: teardown always runs."""

    def __init__(self, prefix=None, workdir=None):
        self.prefix = prefix or os.environ.get("PP_LAB", "pp")
        self.dir = workdir or os.environ.get("PP_LAB_DIR", f"/tmp/{self.prefix}-lab")
        self.env = dict(os.environ, PP_LAB=self.prefix, PP_LAB_DIR=self.dir)
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

    def fault(self, *args):
        subprocess.run([os.path.join(LAB, "fault"), *map(str, args)], env=self.env, check=True)

    def sh(self, box, *cmd, check=True, capture=True):
        out = subprocess.run(["ip", "netns", "exec", self.ns(box), *map(str, cmd)], check=check,
                             capture_output=capture, text=True)
        return out.stdout if capture else None

    # -- processes --------------------------------------------------------------------------
    def spawn(self, name, box, cmd, log=None, env=None):
        """Starts `cmd` inside namespace `box`; its PID is recorded for teardown."""
        os.makedirs(self.dir, exist_ok=True)
        logf = open(log or os.path.join(self.dir, f"{name}.log"), "ab")
        full = ["ip", "netns", "exec", self.ns(box), *map(str, cmd)]
        proc = subprocess.Popen(full, stdout=logf, stderr=subprocess.STDOUT,
                                env=dict(self.env, **(env or {})), start_new_session=True)
        self.procs.append((name, proc))
        with open(os.path.join(self.dir, "pids"), "a") as f:
            f.write(f"{proc.pid} {name}\n")
        return proc

    def kill(self, proc, sig=signal.SIGTERM):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)

    def forget(self, proc):
        self.procs = [(n, p) for (n, p) in self.procs if p is not proc]

    # -- pathpilot --------------------------------------------------------------------------
    def start_pathpilot(self, config, name="pathpilot", box="mon", extra=()):
        return self.spawn(name, box, [pathpilot_bin(), "run", "-c", config, *extra])

    def status(self, socket):
        out = subprocess.run([pathpilot_bin(), "status", "--json", "--socket", socket],
                             capture_output=True, text=True)
        if out.returncode != 0:
            return None
        return json.loads(out.stdout)

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


def read_jsonl(path):
    events = []
    if not os.path.exists(path):
        return events
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                events.append(json.loads(line))
    return events


def require_root():
    if os.geteuid() != 0:
        print("lab: needs root (network namespaces)", file=sys.stderr)
        sys.exit(77)
