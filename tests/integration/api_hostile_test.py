#!/usr/bin/python3
"""The HTTP API of a real `pathpilot run` against hostile clients (integration test, root).

The daemon runs in a network namespace of its own (PREFIX-mon, the probe veth pair of
nstest.add_probe_veth) with `api:` on 127.0.0.1 and a free port, request_timeout and
response_timeout 3 s, the default per-client cap (3 of the 4 workers). The test process joins
that namespace (setns, main thread) so that its clients can use many loopback source
addresses (127.0.0.X: one client each). Phases of PHASE_S seconds each:
  0. idle: the baseline;
  1. slowloris: 200 connections from one address trickling a header byte every 0.5 s,
     reconnecting half a second after being refused or timed out;
  2. slow reader: 20 connections from one address, each pipelining 1000 GET /metrics with a 4 KiB
     receive buffer and never reading, reconnecting when closed;
  3. flood: 100 concurrent loops from 10, then 50 addresses, each connect, GET /healthz,
     read, close, as fast as they can (reads are not rate limited in this daemon).
During each phase a well-behaved client (127.0.0.200) sends GET /api/v1/status on a new
connection every 100 ms. Printed per phase: the engine loop lag (pathpilot_engine_loop_lag_
seconds between two scrapes), the well-behaved client's answered requests and latency, what
the attackers got (503, 408, reset, ...), pathpilot_api_rejected_total by reason, and the
daemon's open file descriptors (max sampled every 100 ms) against its RLIMIT_NOFILE.
Asserted, with bounds generous enough for a loaded 2-core machine: the well-behaved client is
answered (>= 80% within 3 s; >= 50% in the flood from 50 addresses, where 50 x 3 connections
exceed the 4 workers and 64 queue places and a full queue is shared fairly between addresses:
a flooder with two places more gives its newest up), no engine lag sample
above 1 s, the daemon's descriptors stay below base + 250, and the attackers are refused as
designed (slowloris: 503s and 408s, no connection held past 5 x request_timeout: 3 served
at a time, 12 waiting behind them; slow reader: connections reset; flood: 503s).
Everything it creates (namespace, the daemon by PID, files) is removed at the end. Exit 77
(skipped) when not root.
"""
import asyncio
import contextlib
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nstest  # noqa: E402
from ppkit.prom import lag_figures  # noqa: E402

PREFIX = f"ppapi{os.getpid() % 100000}"
PHASE_S = float(os.environ.get("PP_API_HOSTILE_PHASE_S", "8"))
TOKEN = "ppApiHostileToken0123456789abcdef"
GOOD = "127.0.0.200"
SCRAPER = "127.0.0.201"
CLONE_NEWNET = 0x40000000


def setns(path):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


def http_get(port, path, source, timeout=5.0):
    """(status, body) of one GET on a new connection from `source`; (0, error) on failure."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                      source_address=(source, 0)) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                      "\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        return 0, str(e)
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.1 (\d+)", head)
    return (int(m.group(1)) if m else 0), body.decode(errors="replace")


def scrape(port):
    status, body = http_get(port, "/metrics", SCRAPER, timeout=10)
    assert status == 200, (status, body[:200])
    return body


def counters(text, name, label):
    out = {}
    for line in text.splitlines():
        m = re.match(rf'{name}\{{{label}="([^"]+)"\}} (\S+)', line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def delta(before, after):
    return {k: int(v - before.get(k, 0)) for k, v in after.items() if v - before.get(k, 0)}


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def fd_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return -1


# --- clients ----------------------------------------------------------------------------------

async def read_status(reader, timeout):
    """The status code of the response on `reader`, 'closed' on EOF without one, 'reset'."""
    try:
        line = await asyncio.wait_for(reader.readline(), timeout)
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    except asyncio.TimeoutError:
        return "timeout"
    m = re.match(rb"HTTP/1\.1 (\d+)", line)
    if m:
        return int(m.group(1))
    return "closed" if not line else "garbage"


async def good_client(port, stop, stats):
    """GET /api/v1/status on a new connection every 100 ms."""
    while not stop.is_set():
        t0 = time.monotonic()
        status = "error"
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", port, local_addr=(GOOD, 0)), 3)
            writer.write(b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Connection: close\r\n\r\n")
            status = await read_status(reader, 3)
            if status == 200:
                await asyncio.wait_for(reader.read(), 3)
            writer.close()
        except (OSError, asyncio.TimeoutError):
            pass
        took = time.monotonic() - t0
        stats["sent"] += 1
        if status == 200 and took <= 3:
            stats["ok"] += 1
            stats["latencies"].append(took)
        else:
            stats["failed"][str(status)] = stats["failed"].get(str(status), 0) + 1
        await asyncio.sleep(max(0.0, 0.1 - took))


def count(outcomes, key):
    outcomes[str(key)] = outcomes.get(str(key), 0) + 1


async def slowloris_conn(port, source, stop, outcomes):
    request = b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                           local_addr=(source, 0))
        except OSError:
            count(outcomes, "connect_error")
            await asyncio.sleep(0.5)
            continue
        count(outcomes, "opened")
        result = None
        t0 = time.monotonic()
        try:
            for i in range(len(request)):
                writer.write(request[i:i + 1])
                await writer.drain()
                # A byte every 0.5 s, unless the server answered or closed meanwhile.
                try:
                    line = await asyncio.wait_for(reader.readline(), 0.5)
                except asyncio.TimeoutError:
                    if stop.is_set():
                        break
                    continue
                m = re.match(rb"HTTP/1\.1 (\d+)", line)
                result = int(m.group(1)) if m else "closed"
                break
        except (ConnectionResetError, BrokenPipeError):
            result = "reset"
        if result is not None:
            held = time.monotonic() - t0
            # Timed out in the request line, httplib closes without an answer; in the headers
            # the answer is 408.
            if result in (408, "closed", "reset") and held >= 1:
                result = f"timed_out_by_server_{result}"
                outcomes.setdefault("held_s", []).append(held)
            count(outcomes, result)
        writer.close()
        if result is None:
            break
        await asyncio.sleep(0.5)  # refused or timed out: come back a little later


async def slow_reader_conn(port, source, stop, outcomes):
    requests = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 1000
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.bind((source, 0))
        s.setblocking(False)
        t0 = time.monotonic()
        try:
            await loop.sock_connect(s, ("127.0.0.1", port))
            await loop.sock_sendall(s, requests)
        except OSError:
            count(outcomes, "refused_at_once" if time.monotonic() - t0 < 0.5 else "reset")
            s.close()
            await asyncio.sleep(0.5)
            continue
        count(outcomes, "opened")
        # Never read: wait until the server resets or closes the connection (an error or
        # hang-up on the socket, seen without consuming data), or the phase ends.
        fate = None
        while not stop.is_set():
            try:
                head = s.recv(12, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                if head == b"":
                    fate = "closed"
                elif head.startswith(b"HTTP/1.1 503"):
                    fate = "503"
                elif s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    fate = "reset"
            except BlockingIOError:
                pass
            except OSError:
                fate = "reset"
            if fate:
                break
            await asyncio.sleep(0.1)
        if fate is not None:
            held = time.monotonic() - t0
            if fate == "503" or held < 0.5:
                count(outcomes, "refused_at_once")
                await asyncio.sleep(0.5)
            else:
                count(outcomes, f"ended_by_server_{fate}")
                outcomes.setdefault("held_s", []).append(held)
        s.close()


async def flood_loop(port, sources, stop, outcomes):
    i = 0
    while not stop.is_set():
        source = sources[i % len(sources)]
        i += 1
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", port, local_addr=(source, 0)), 3)
        except (OSError, asyncio.TimeoutError):
            count(outcomes, "connect_error")
            await asyncio.sleep(0.05)
            continue
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            count(outcomes, await read_status(reader, 5))
        except (ConnectionResetError, BrokenPipeError):
            count(outcomes, "reset")
        writer.close()


async def run_phase(name, port, pid, attackers):
    """Runs `attackers` (coroutine factories taking stop) and the good client for PHASE_S."""
    stop = asyncio.Event()
    good = {"sent": 0, "ok": 0, "failed": {}, "latencies": []}
    fds = []

    async def sample_fds():
        while not stop.is_set():
            fds.append(fd_count(pid))
            await asyncio.sleep(0.1)

    loop = asyncio.get_running_loop()
    before = await loop.run_in_executor(None, scrape, port)
    tasks = [asyncio.ensure_future(a(stop)) for a in attackers]
    await asyncio.sleep(0.5)  # let the attack build up before measuring the good client
    tasks.append(asyncio.ensure_future(good_client(port, stop, good)))
    tasks.append(asyncio.ensure_future(sample_fds()))
    await asyncio.sleep(PHASE_S)
    after = await loop.run_in_executor(None, scrape, port)
    stop.set()
    await asyncio.wait(tasks, timeout=10)
    for t in tasks:
        t.cancel()
    lat = sorted(good["latencies"])
    p = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1e3) if lat else (lambda q: 0)
    return {
        "phase": name,
        "lag": lag_figures(before, after),
        "good": {"sent": good["sent"], "ok": good["ok"], "failed": good["failed"],
                 "p50_ms": round(p(0.5), 1), "p99_ms": round(p(0.99), 1),
                 "max_ms": round(lat[-1] * 1e3, 1) if lat else 0},
        "rejected": delta(counters(before, "pathpilot_api_rejected_total", "reason"),
                          counters(after, "pathpilot_api_rejected_total", "reason")),
        "fds_max": max(fds) if fds else -1,
    }


def report(result, outcomes):
    held = outcomes.get("held_s")
    g = result["good"]
    print(f"--- {result['phase']}")
    print(f"  engine loop lag: {result['lag']}")
    print(f"  well-behaved client: {g['ok']}/{g['sent']} answered 200 within 3 s (p50 "
          f"{g['p50_ms']} ms, p99 {g['p99_ms']} ms, max {g['max_ms']} ms), failures "
          f"{g['failed']}")
    shown = {k: v for k, v in outcomes.items() if k != "held_s"}
    if shown:
        print(f"  attackers: {shown}")
    if held:
        print(f"  connections the server ended after {min(held):.1f}-{max(held):.1f} s: "
              f"{len(held)}")
    print(f"  pathpilot_api_rejected_total during the phase: {result['rejected']}")
    print(f"  daemon fds: max {result['fds_max']}")


def main():
    if os.geteuid() != 0:
        print("skipped: needs root (network namespace)")
        return 77
    pathpilot = nstest.pathpilot_bin()
    if not os.path.exists(pathpilot):
        print(f"missing {pathpilot}")
        return 1
    work = tempfile.mkdtemp(prefix="pp_api_hostile_")
    net = nstest.Netns(PREFIX, work)
    own_ns = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        net.add("mon")
        nstest.add_probe_veth(net.ns("mon"))
        port = nstest.free_port()
        config = os.path.join(work, "pathpilot.yaml")
        with open(config, "w") as f:
            f.write(nstest.probe_veth_config(work, "ApiHostile", "1s") + f"""api:
  listen: '127.0.0.1:{port}'
  auth_token: {{env: PP_API_TOKEN}}
  request_timeout: 3s
  response_timeout: 3s
  rate_limit: {{read_per_second: 0}}
""")
        daemon = net.spawn("pathpilot", "mon", [pathpilot, "run", "-c", config],
                           env={"PP_API_TOKEN": TOKEN})
        setns(f"/run/netns/{net.ns('mon')}")
        nstest.wait_for(lambda: http_get(port, "/healthz", SCRAPER, 2)[0] == 200
                        or daemon.poll() is not None, 30, "the API answering /healthz")
        assert daemon.poll() is None, net.log("pathpilot")
        pid = daemon.pid
        base_fds = fd_count(pid)
        print(f"daemon pid {pid}: {base_fds} fds open at rest, RLIMIT_NOFILE {fd_limit(pid)}; "
              f"phases of {PHASE_S:.0f} s")

        results = {}

        async def all_phases():
            idle = await run_phase("idle", port, pid, [])
            report(idle, {})
            results["idle"] = idle

            loris = {}
            r = await run_phase("slowloris: 200 connections from 127.0.0.2, a byte per 0.5 s",
                                port, pid,
                                [lambda stop: slowloris_conn(port, "127.0.0.2", stop, loris)
                                 for _ in range(200)])
            report(r, loris)
            results["slowloris"] = (r, loris)

            readers = {}
            r = await run_phase("slow reader: 20 connections from 127.0.0.3, 1000 pipelined "
                                "GET /metrics each, 4 KiB receive buffer, never read",
                                port, pid,
                                [lambda stop: slow_reader_conn(port, "127.0.0.3", stop, readers)
                                 for _ in range(20)])
            report(r, readers)
            results["slow_reader"] = (r, readers)

            for n in (10, 50):
                flood = {}
                sources = [f"127.0.1.{i}" for i in range(1, n + 1)]
                r = await run_phase(f"flood: 100 concurrent connect/GET/close loops from {n} "
                                    "addresses", port, pid,
                                    [lambda stop, i=i: flood_loop(port, sources[i % n:] +
                                                                  sources[:i % n], stop, flood)
                                     for i in range(100)])
                report(r, flood)
                results[f"flood{n}"] = (r, flood)

        asyncio.run(all_phases())

        # Bounds generous enough for a loaded 2-core machine. From a few addresses the
        # per-client cap keeps a worker and queue room for others; 50 addresses x 3 exceed the
        # 4 workers + 64 queued, and there the queue's fair sharing gives the well-behaved
        # client a place (77/77 answered here, against 7/22 with a first-come queue); the
        # descriptors must stay bounded anyway.
        failures = []
        for name, need in (("slowloris", 0.8), ("slow_reader", 0.8), ("flood10", 0.8),
                           ("flood50", 0.5)):
            r, outcomes = results[name]
            g = r["good"]
            share = g["ok"] / g["sent"] if g["sent"] else 0
            if share < need:
                failures.append(f"{name}: well-behaved client answered {share:.0%} < {need:.0%}")
            if r["lag"]["samples"] == 0 or r["lag"]["max_le_ms"] > 1000:
                failures.append(f"{name}: engine loop lag {r['lag']}")
            if r["fds_max"] > base_fds + 250:
                failures.append(f"{name}: {r['fds_max']} fds (at rest {base_fds})")
        loris = results["slowloris"][1]
        if loris.get("503", 0) == 0 or not any(k.startswith("timed_out") for k in loris):
            failures.append(f"slowloris: expected 503s (over the cap) and time-outs: {loris}")
        # A served connection gets request_timeout (3 s); the client's 12 waiting ones are
        # served 3 at a time behind it: at most 5 rounds of 3 s from the client's view.
        if max(loris.get("held_s") or [0]) > 5 * 3 + 2:
            failures.append(f"slowloris: a connection held past 5 x request_timeout: {loris}")
        readers = results["slow_reader"][1]
        if not any(k.startswith("ended_by_server") for k in readers):
            failures.append(f"slow reader: no connection ended by the server: {readers}")
        for name in ("flood10", "flood50"):
            if results[name][1].get("503", 0) == 0:
                failures.append(f"{name}: no 503: {results[name][1]}")
        assert daemon.poll() is None, "the daemon died:\n" + net.log("pathpilot")[-2000:]
        assert not failures, failures
        print("ok: the API stays usable and the engine on time under slowloris, slow readers "
              "and a connection flood")

        setns(f"/proc/self/fd/{own_ns}")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=20) == 0
        net.forget(daemon)
        return 0
    finally:
        with contextlib.suppress(OSError):
            setns(f"/proc/self/fd/{own_ns}")
        os.close(own_ns)
        net.cleanup()
        subprocess.run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    sys.exit(main())
