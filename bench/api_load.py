#!/usr/bin/env python3
"""API latency under load while the daemon probes 1,000 targets (needs root and wrk).

Builds a network namespace of its own (`ppapi<pid>`) with a veth pair: 100 probe source
addresses on one end, 1,000 ICMP targets on the other (answered by the namespace's own stack),
writes a config with 100 paths × 10 targets probed every second (1,000 probes/s) and 100 route
tables programmed by a no-op exec hook, starts `pathpilot run` there, then:
  1. idle: measures the engine loop lag (pathpilot_engine_loop_lag_seconds, the 250 ms publish
     timer's lateness) and the probe timers' mean lateness for --idle seconds;
  2. load: runs `wrk --latency` against GET /api/v1/status for --duration seconds and measures
     the same lags over that window; with --control N, instead, N concurrent clients loop on
     `{"cmd":"status"}` over the control socket (one request per connection, as
     `pathpilot status` does);
  3. prints wrk's (or the control clients') latency distribution and both lag figures, and
     removes everything.

  sudo bench/api_load.py --build build-<you> [--paths 100] [--targets 10] [--tables 100]
                         [--duration 20] [--idle 15] [--connections 4] [--threads 1]
                         [--path /api/v1/status] [--control 200]

The API's per-client read rate limit is lifted for the run (PATHPILOT_API_READ_RATE=0):
otherwise wrk would measure 429 answers.
"""
import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TAG = f"ppapi{os.getpid() % 100000}"

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lab"))
import ppkit.proc  # noqa: E402
from ppkit.proc import sh  # noqa: E402
from ppkit.prom import histogram  # noqa: E402


def nsx(*args, **kw):
    return ppkit.proc.nsx(TAG, *args, **kw)


def http_get(port, path):
    out = nsx("curl", "-s", "-m", "5", f"http://127.0.0.1:{port}{path}", check=False).stdout
    return out


def scalar(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def scalar_labelled(text, name, label):
    for line in text.splitlines():
        if line.startswith(name + "{") and label in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def quantile(q, before, after):
    """histogram_quantile over the difference of two scrapes (linear within a bucket)."""
    bounds = sorted(after[0])
    counts = [after[0][b] - before[0].get(b, 0) for b in bounds]
    total = counts[-1] if counts else 0
    if total <= 0:
        return float("nan")
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for b, c in zip(bounds, counts):
        if c >= rank:
            if b == float("inf"):
                return prev_bound
            return prev_bound + (b - prev_bound) * (rank - prev_count) / max(c - prev_count, 1e-9)
        prev_bound, prev_count = b, c
    return bounds[-2] if len(bounds) > 1 else float("nan")


def lag_report(before, after):
    hb = histogram(before, "pathpilot_engine_loop_lag_seconds")
    ha = histogram(after, "pathpilot_engine_loop_lag_seconds")
    n = ha[2] - hb[2]
    mean = (ha[1] - hb[1]) / n if n else float("nan")
    wake = scalar(after, "pathpilot_probe_timer_wakeups_total") - scalar(
        before, "pathpilot_probe_timer_wakeups_total")
    lag = scalar(after, "pathpilot_probe_timer_lag_seconds_total") - scalar(
        before, "pathpilot_probe_timer_lag_seconds_total")
    sent = scalar(after, "pathpilot_probe_sent_total") - scalar(before, "pathpilot_probe_sent_total")
    timed_out = scalar(after, "pathpilot_probe_timed_out_total") - scalar(
        before, "pathpilot_probe_timed_out_total")
    return {
        "loop_lag_samples": int(n),
        "loop_lag_mean_ms": mean * 1e3,
        "loop_lag_p50_ms": quantile(0.5, hb, ha) * 1e3,
        "loop_lag_p99_ms": quantile(0.99, hb, ha) * 1e3,
        "probe_timer_wakeups": int(wake),
        "probe_timer_mean_lag_ms": (lag / wake * 1e3) if wake else float("nan"),
        "probes_sent": int(sent),
        "probes_timed_out": int(timed_out),
        "snapshot_status_ms": scalar_labelled(after, "pathpilot_snapshot_duration_seconds",
                                              'phase="status"') * 1e3,
        "snapshot_build_ms": scalar_labelled(after, "pathpilot_snapshot_duration_seconds",
                                             'phase="build"') * 1e3,
        "snapshot_interval_ms": scalar(after, "pathpilot_snapshot_interval_seconds") * 1e3,
    }


async def control_flood(sock, clients, seconds):
    """`clients` concurrent loops of one status request per connection, for `seconds`: counts
    of answers and refusals ("too many control connections") and the answers' latency."""
    answered, refused, other, latencies = 0, 0, 0, []
    deadline = time.monotonic() + seconds

    async def client():
        # Plain sockets: a refused connection's answer is read even when our request could
        # not be sent any more (the server answered and closed first: EPIPE on send, the line
        # still queued for reading).
        nonlocal answered, refused, other
        loop = asyncio.get_running_loop()
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            data = b""
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.setblocking(False)
                try:
                    await loop.sock_connect(s, sock)
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        await loop.sock_sendall(s, b'{"cmd":"status"}\n')
                    while True:
                        chunk = await asyncio.wait_for(loop.sock_recv(s, 65536), 30)
                        if not chunk:
                            break
                        data += chunk
                except (OSError, asyncio.TimeoutError):
                    pass
            if data.startswith(b'{"ok":true'):
                answered += 1
                latencies.append(time.monotonic() - t0)
            elif b"too many control connections" in data:
                refused += 1
                await asyncio.sleep(0.01)
            else:
                other += 1
    await asyncio.gather(*(client() for _ in range(clients)))
    latencies.sort()

    def pick(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3 \
            if latencies else float("nan")
    return (f"{clients} control clients for {seconds} s: {answered} answered "
            f"({answered / seconds:.0f}/s; latency p50 {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms,"
            f" max {pick(1.0):.1f} ms), {refused} refused (too many connections), {other} other")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--paths", type=int, default=100)
    ap.add_argument("--targets", type=int, default=10)
    ap.add_argument("--tables", type=int, default=100)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--idle", type=int, default=15)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--path", default="/api/v1/status")
    ap.add_argument("--control", type=int, default=0,
                    help="flood the control socket with this many status clients instead")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespace)")
        return 77
    if not a.control and not shutil.which("wrk"):
        print("needs wrk (apt-get install wrk)")
        return 77
    pathpilot = os.path.join(a.build, "src/cli/pathpilot")
    work = tempfile.mkdtemp(prefix="pp_api_load_")
    daemon = None
    try:
        sh("ip", "netns", "add", TAG)
        sh("ip", "-n", TAG, "link", "set", "lo", "up")
        sh("ip", "-n", TAG, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
        batch = []
        for p in range(a.paths):
            batch.append(f"addr add 10.99.{p // 250}.{p % 250 + 1}/16 dev v0")
            for t in range(a.targets):
                n = p * a.targets + t
                batch.append(f"addr add 10.98.{n // 250}.{n % 250 + 1}/16 dev v1")
        with open(os.path.join(work, "addrs"), "w") as f:
            f.write("\n".join(batch) + "\n")
        sh("ip", "-n", TAG, "-batch", os.path.join(work, "addrs"))
        sh("ip", "-n", TAG, "link", "set", "v0", "up")
        sh("ip", "-n", TAG, "link", "set", "v1", "up")
        nsx("sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 2147483647")

        token = os.path.join(work, "token")
        with open(token, "w") as f:
            f.write(os.urandom(24).hex())
        os.chmod(token, 0o600)
        port = 19700 + os.getpid() % 200
        lines = ["version: 1", "site: {name: LoadTest}",
                 "probe: {kind: icmp, interval: 1s, timeout: 500ms, jitter: 10, quorum: 1}",
                 "health: {window: 10, rise: 3, fall: 3}",
                 "policy: {preference: [dx, vpn], az_affinity: true, failback_hold_down: 60s}",
                 "paths:"]
        for p in range(a.paths):
            targets = ", ".join(
                f"10.98.{(p * a.targets + t) // 250}.{(p * a.targets + t) % 250 + 1}"
                for t in range(a.targets))
            kind = "dx" if p < 2 else "vpn"
            az = "" if kind == "dx" else f"    az: {'ab'[p % 2]}\n"
            lines.append(f"  - name: p{p}\n    kind: {kind}\n{az}    probe:\n"
                         f"      targets: [{targets}]\n      source: 10.99.{p // 250}.{p % 250 + 1}\n"
                         f"    next_hop: {{via: 10.255.{p // 250}.{p % 250 + 1}, dev: v0}}")
        lines.append("route_tables:")
        for t in range(a.tables):
            lines.append(f"  - id: rt{t}\n    az: {'ab'[t % 2]}\n    backend: exec\n"
                         f"    destinations: [10.{10 + t // 250}.{t % 250}.0/24]")
        lines += ["backends: {exec: {command: [/bin/true]}}",
                  f"journal: {{sqlite: {work}/journal.db, jsonl: ''}}",
                  f"control: {{socket: {work}/control.sock}}",
                  f"api: {{listen: '127.0.0.1:{port}', auth_token: {{file: {token}}}}}"]
        config = os.path.join(work, "pathpilot.yaml")
        with open(config, "w") as f:
            f.write("\n".join(lines) + "\n")
        env = dict(os.environ, PATHPILOT_API_READ_RATE="0")
        log = open(os.path.join(work, "daemon.log"), "w")
        daemon = subprocess.Popen(["ip", "netns", "exec", TAG, pathpilot, "run", "-c", config],
                                  stdout=log, stderr=subprocess.STDOUT, env=env)
        until = time.time() + 60
        while time.time() < until:
            try:
                s = json.loads(http_get(port, "/api/v1/status"))
                if all(p["state"] == "up" for p in s["paths"]):
                    break
            except Exception:  # noqa: BLE001
                pass
            time.sleep(0.5)
        else:
            print(open(os.path.join(work, "daemon.log")).read()[-3000:])
            raise SystemExit("the daemon did not bring every path up within 60 s")
        body = http_get(port, "/api/v1/status")
        print(f"daemon up: {a.paths} paths × {a.targets} targets = {a.paths * a.targets} targets "
              f"at 1/s, {a.tables} route tables; status document {len(body)} bytes")

        m0 = http_get(port, "/metrics")
        time.sleep(a.idle)
        m1 = http_get(port, "/metrics")
        idle = lag_report(m0, m1)
        if a.control:
            report = asyncio.run(control_flood(os.path.join(work, "control.sock"), a.control,
                                               a.duration))
            m2 = http_get(port, "/metrics")
            load = lag_report(m1, m2)
            print(f"\n# {report}")
            print("# engine loop and probe timers (idle vs. under the control socket flood)")
        else:
            wrk = nsx("wrk", "--latency", "-t", str(a.threads), "-c", str(a.connections), "-d",
                      f"{a.duration}s", f"http://127.0.0.1:{port}{a.path}",
                      timeout=a.duration + 60)
            m2 = http_get(port, "/metrics")
            load = lag_report(m1, m2)
            print(f"\n# wrk -t{a.threads} -c{a.connections} -d{a.duration}s {a.path}\n"
                  f"{wrk.stdout}")
            print("# engine loop and probe timers (idle vs. under wrk load)")
            non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk.stdout)
            if non2xx:
                print(f"  WARNING: {non2xx.group(1)} non-2xx responses")
        for key in idle:
            print(f"  {key:28s} idle {idle[key]:>10.3f}   load {load[key]:>10.3f}")
        return 0
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.terminate()
            try:
                daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        sh("ip", "netns", "del", TAG, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
