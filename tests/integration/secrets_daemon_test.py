#!/usr/bin/python3
"""A real `pathpilot run` keeps its secrets and its control socket (integration test, root).

In a network namespace of its own (PREFIX-mon, a veth pair: probe sources on one end, targets
on the other) the daemon runs with AWS keys, an API token and a webhook token in its
environment, under umask 000. Its exec hook and vpn-a's recovery command print their whole
environment to files and fail once with the secrets on stderr. The test checks:
  1. the hook and the recovery command saw no secret (no AWS_* variable, no value of an
     {env:} secret, nothing unlisted), but PATH, LANG, TZ, their PATHPILOT_* variables and the
     one variable their env_passthrough names;
  2. their stderr reached route_error / recovery_failed redacted ("<redacted>"), and no secret
     is anywhere in the JSON lines journal, the status document, /api/v1/events or the log;
  3. file modes under umask 000: journal 0640, JSON lines 0640, alert outbox 0600, control
     socket 0660 in a directory it created 0750; core dumps off (/proc/PID/limits);
  4. `pathpilot drain` is journalled with the uid and pid that asked;
  5. a flood of 200 concurrent `status` clients on the control socket: the engine loop's lag
     (pathpilot_engine_loop_lag_seconds) before and during, the clients answered or refused
     with a clear error, and a drain issued during the flood answered promptly (figures
     printed);
  6. a secret file that is a FIFO, then one readable by the group: `pathpilot check` rejects
     each with FILE:LINE:COL without blocking, and a SIGHUP reload is rejected
     (config_rejected) while the daemon keeps answering.
Everything it creates (namespace, processes by PID, files) is removed at the end. Exit 77
(skipped) when not root.
"""
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nstest  # noqa: E402
from ppkit.prom import lag_figures  # noqa: E402

PREFIX = f"ppsec{os.getpid() % 100000}"

SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIAPPSECRETTEST0001",
    "AWS_SECRET_ACCESS_KEY": "ppSecretAccessKey/0123456789abcdefEXAMPLE",
    "AWS_SESSION_TOKEN": "ppSessionToken0123456789abcdefEXAMPLE",
    "PP_API_TOKEN": "ppApiToken0123456789abcdef0123456789",
    "PP_HOOK_TOKEN": "ppHookBearerToken-0123456789",
}
ENV = dict(SECRETS, PP_PASS_OK="visible-value", PP_NOT_LISTED="hidden-value", LANG="C.UTF-8",
           TZ="UTC")


def fail_once_script(path, marker, env_out, stderr_line):
    """A script that writes its environment to `env_out`, then fails the first time with
    `stderr_line` on stderr and succeeds afterwards."""
    with open(path, "w") as f:
        f.write(f"""#!/bin/sh
env > '{env_out}'
if [ ! -e '{marker}' ]; then
  touch '{marker}'
  echo '{stderr_line}' >&2
  exit 1
fi
exit 0
""")
    os.chmod(path, 0o755)


def config_text(work, port, token_ref=None):
    text = nstest.probe_veth_config(work, "SecretsLab", "1s")
    text = text.replace(f"control: {{socket: {work}/control.sock}}",
                        f"control: {{socket: {work}/run/pp/control.sock}}")
    text = text.replace("backends: {exec: {command: [/bin/true]}}",
                        f"backends: {{exec: {{command: [{work}/hook.sh], "
                        f"env_passthrough: [PP_PASS_OK]}}}}")
    vpn_hop = "    next_hop: {via: 10.255.1.2, dev: v0}\n"
    assert vpn_hop in text
    text = text.replace(vpn_hop, vpn_hop + f"""    recovery:
      action: command
      command: [{work}/recover.sh]
      after: 0s
      timeout: 10s
      backoff: {{initial: 1s, max: 2s}}
      env_passthrough: [PP_PASS_OK]
""")
    token = token_ref or "{env: PP_HOOK_TOKEN}"
    return text + f"""api: {{listen: '127.0.0.1:{port}', auth_token: {{env: PP_API_TOKEN}}}}
alerts:
  outbox: {work}/alerts.db
  channels:
    - {{name: hook, kind: webhook, url: 'http://127.0.0.1:9/hook', token: {token}}}
"""


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def assert_no_secret(text, where):
    for name, value in SECRETS.items():
        assert value not in text, f"{name}'s value found in {where}"


def metrics(net, port):
    return net.sh("mon", "curl", "-s", "-m", "5", f"http://127.0.0.1:{port}/metrics")


async def status_flood(sock, clients, seconds):
    """`clients` concurrent loops of one status request per connection, for `seconds`."""
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
                        chunk = await asyncio.wait_for(loop.sock_recv(s, 65536), 15)
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
    pick = (lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3
            if latencies else float("nan"))
    return {"answered": answered, "refused": refused, "other": other,
            "latency_p50_ms": pick(0.5), "latency_p99_ms": pick(0.99),
            "latency_max_ms": pick(1.0)}


def main():
    if os.geteuid() != 0:
        print("skipped: needs root (network namespace)")
        return 77
    pathpilot = nstest.pathpilot_bin()
    if not os.path.exists(pathpilot):
        print(f"missing {pathpilot}")
        return 1
    work = tempfile.mkdtemp(prefix="pp_secrets_daemon_")
    net = nstest.Netns(PREFIX, work)
    try:
        net.add("mon")
        nstest.add_probe_veth(net.ns("mon"))
        port = nstest.free_port()
        hook_line = (f"fw api: login {SECRETS['PP_API_TOKEN']} with key "
                     f"{SECRETS['AWS_SECRET_ACCESS_KEY']} refused")
        rec_line = (f"ssh: token {SECRETS['PP_HOOK_TOKEN']} session "
                    f"{SECRETS['AWS_SESSION_TOKEN']} refused")
        fail_once_script(f"{work}/hook.sh", f"{work}/hook.failed", f"{work}/hook.env", hook_line)
        fail_once_script(f"{work}/recover.sh", f"{work}/recover.failed", f"{work}/recover.env",
                         rec_line)
        config = os.path.join(work, "pathpilot.yaml")
        with open(config, "w") as f:
            f.write(config_text(work, port))
        sock = f"{work}/run/pp/control.sock"
        events = f"{work}/events.jsonl"

        # umask 000: every mode below must come from pathpilot itself.
        daemon = net.spawn("pathpilot", "mon",
                           ["/bin/sh", "-c", 'umask 000; exec "$0" run -c "$1"', pathpilot,
                            config], env=ENV)
        nstest.wait_daemon_status(
            net, daemon, sock, lambda s: nstest.tables_at(s, {"rtb-a": "dx"}), 30,
            "dx carrying rtb-a after the hook's one failure")

        # 1. What the hook saw.
        for name, gateway_var in (("hook", "PATHPILOT_TABLE=rtb-a"), ):
            env = read(f"{work}/{name}.env")
            assert_no_secret(env, f"the {name}'s environment")
            for absent in ("AWS_", "PP_API_TOKEN", "PP_HOOK_TOKEN", "PP_NOT_LISTED"):
                assert absent not in env, f"{absent} in the {name}'s environment:\n{env}"
            for present in ("PP_PASS_OK=visible-value\n", "LANG=C.UTF-8\n", "TZ=UTC\n", "PATH=",
                            gateway_var):
                assert present in env, f"{present!r} missing from the {name}'s environment"
        print("ok: the exec hook's environment holds no secret; PATH, LANG, TZ, PATHPILOT_*, "
              "PP_PASS_OK only")

        # vpn-a goes down: its recovery command runs, fails once with secrets on stderr.
        t_down = time.time()
        net.sh("mon", "ip", "addr", "del", "10.98.1.1/24", "dev", "v1")
        nstest.wait_for(lambda: nstest.events_of(events, "recovery_failed", t_down - 1), 30,
                        "recovery_failed of vpn-a")
        env = read(f"{work}/recover.env")
        assert_no_secret(env, "the recovery command's environment")
        for absent in ("AWS_", "PP_API_TOKEN", "PP_HOOK_TOKEN", "PP_NOT_LISTED"):
            assert absent not in env, f"{absent} in the recovery command's environment:\n{env}"
        for present in ("PP_PASS_OK=visible-value\n", "PATHPILOT_GATEWAY=vpn-a\n", "PATH="):
            assert present in env, f"{present!r} missing from the recovery environment"
        print("ok: the recovery command's environment holds no secret")

        # 2. Redacted everywhere.
        route_error = nstest.events_of(events, "route_error")
        assert route_error and "fw api: login <redacted> with key <redacted> refused" in \
            route_error[0]["reason"], route_error
        failed = nstest.events_of(events, "recovery_failed", t_down - 1)[0]
        assert "ssh: token <redacted> session <redacted> refused" in failed["reason"], failed
        status_text = net.sh("mon", pathpilot, "status", "--json", "--socket", sock)
        api_events = net.sh("mon", "curl", "-s", "-m", "5",
                            f"http://127.0.0.1:{port}/api/v1/events?limit=500")
        for text, where in ((read(events), "events.jsonl"), (status_text, "status"),
                            (api_events, "/api/v1/events"), (net.log("pathpilot"), "the log")):
            assert_no_secret(text, where)
        print("ok: hook and recovery stderr redacted in route_error/recovery_failed; no secret "
              "in the journal, status, /api/v1/events or the log")
        net.sh("mon", "ip", "addr", "add", "10.98.1.1/24", "dev", "v1")

        # 3. Modes under umask 000; core dumps off.
        want = {f"{work}/journal.db": 0o640, f"{work}/events.jsonl": 0o640,
                f"{work}/alerts.db": 0o600, sock: 0o660, f"{work}/run/pp": 0o750,
                f"{work}/run": 0o750}
        got = {p: mode(p) for p in want}
        assert got == want, {p: oct(m) for p, m in got.items()}
        limits = read(f"/proc/{daemon.pid}/limits")
        core = re.search(r"Max core file size\s+(\S+)\s+(\S+)", limits)
        assert core and core.groups() == ("0", "0"), core and core.groups()
        print("ok: modes under umask 000: journal 0640, events.jsonl 0640, outbox 0600, control "
              "socket 0660 in a new 0750 directory; core file size limit 0")

        # 4. Who drained.
        t_drain = time.time()
        drain = subprocess.Popen([pathpilot, "drain", "dx", "--socket", sock],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        drain_pid = drain.pid
        out, err = drain.communicate(timeout=10)
        assert drain.returncode == 0, err
        drained = nstest.wait_for(lambda: nstest.events_of(events, "drain", t_drain - 1), 10,
                                  "the drain event")[0]
        assert drained["reason"] == f"requested by control socket, uid 0 (root), pid {drain_pid}", \
            drained
        assert "drain dx requested by uid 0 (root), pid " + str(drain_pid) in \
            net.log("pathpilot"), "drain not logged with the peer"
        print(f"ok: drain journalled as: {drained['reason']}")
        subprocess.run([pathpilot, "undrain", "dx", "--socket", sock], check=True,
                       capture_output=True, timeout=10)

        # 5. A flood of status clients: engine loop lag before and during, drain still served.
        m0 = metrics(net, port)
        time.sleep(5)
        m1 = metrics(net, port)
        idle = lag_figures(m0, m1)
        flood_result = {}

        async def flood_and_drain():
            task = asyncio.ensure_future(status_flood(sock, 200, 8))
            await asyncio.sleep(3)
            # An operator's drain in the middle of it: refused while all connection slots
            # are taken (with a clear error), so retried like a user would, for at most 10 s.
            t0 = time.monotonic()
            attempts, refusals = 0, []
            while time.monotonic() - t0 < 10:
                attempts += 1
                proc = await asyncio.create_subprocess_exec(
                    pathpilot, "drain", "vpn-a", "--socket", sock,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
                _, derr = await proc.communicate()
                if proc.returncode == 0:
                    break
                refusals.append(derr.decode().strip())
                await asyncio.sleep(0.05)
            flood_result.update(drain_s=time.monotonic() - t0, drain_rc=proc.returncode,
                                drain_attempts=attempts, drain_refusals=refusals)
            flood_result.update(await task)
        asyncio.run(flood_and_drain())
        m2 = metrics(net, port)
        load = lag_figures(m1, m2)
        print(f"flood: 200 concurrent status clients for 8 s: {flood_result['answered']} answered "
              f"(p50 {flood_result['latency_p50_ms']:.1f} ms, p99 "
              f"{flood_result['latency_p99_ms']:.1f} ms, max {flood_result['latency_max_ms']:.1f}"
              f" ms), {flood_result['refused']} refused (too many connections), "
              f"{flood_result['other']} other")
        print(f"engine loop lag idle:  {idle}")
        print(f"engine loop lag flood: {load}")
        print(f"drain during the flood: done after {flood_result['drain_attempts']} "
              f"attempt(s), {flood_result['drain_s'] * 1e3:.0f} ms"
              + (f"; refused before with: {flood_result['drain_refusals'][0]}"
                 if flood_result["drain_refusals"] else ""))
        assert flood_result["answered"] > 0 and flood_result["other"] == 0, flood_result
        assert flood_result["drain_rc"] == 0, flood_result
        for refusal in flood_result["drain_refusals"]:
            assert "too many control connections (32 open)" in refusal, refusal
        assert nstest.events_of(events, "drain", t_drain), "the drain during the flood"
        assert load["samples"] > 0
        # The watchdog is petted every WatchdogSec/2 = 5 s; decisions must not wait for the
        # flood either: no lag sample above 1 s.
        assert load["max_le_ms"] <= 1000, load
        subprocess.run([pathpilot, "undrain", "vpn-a", "--socket", sock], capture_output=True,
                       timeout=10)

        # 6. A FIFO, then a group-readable file, as a secret file: check and reload reject them.
        fifo = f"{work}/hook-token.fifo"
        os.mkfifo(fifo, 0o600)
        bad_config = f"{work}/bad.yaml"
        with open(bad_config, "w") as f:
            f.write(config_text(work, port, token_ref=f"{{file: {fifo}}}"))
        t0 = time.monotonic()
        checked = subprocess.run([pathpilot, "check", bad_config], capture_output=True, text=True,
                                 timeout=20)
        assert checked.returncode == 1, checked
        m = re.search(rf"{re.escape(bad_config)}:(\d+):(\d+): error: alerts.channels\[0\]"
                      rf"\.token\.file: secret file {re.escape(fifo)} is a FIFO, not a regular "
                      "file", checked.stderr)
        assert m, checked.stderr
        print(f"ok: pathpilot check rejects the FIFO in {time.monotonic() - t0:.2f} s: "
              f"{m.group(0)}")
        good = read(config)
        for i, (ref, needle) in enumerate(((fifo, "is a FIFO, not a regular file"),
                                           (f"{work}/hook-token", "chmod 600"))):
            if not os.path.exists(ref):
                with open(ref, "w") as f:
                    f.write(SECRETS["PP_HOOK_TOKEN"] + "\n")
                os.chmod(ref, 0o640)
            with open(config, "w") as f:
                f.write(config_text(work, port, token_ref=f"{{file: {ref}}}"))
            seen = len(nstest.events_of(events, "config_rejected"))
            daemon.send_signal(signal.SIGHUP)
            rejected = nstest.wait_for(
                lambda: nstest.events_of(events, "config_rejected")[seen:], 10,
                "config_rejected after SIGHUP")[0]
            assert needle in rejected["reason"], rejected
            assert re.search(rf"{re.escape(config)}:\d+:\d+: error: alerts.channels\[0\]\.token"
                             r"\.file", rejected["reason"]), rejected
            t_status = time.monotonic()
            assert nstest.daemon_status(sock) is not None, "the daemon stopped answering"
            print(f"ok: reload with {'a FIFO' if i == 0 else 'a group-readable file'} as secret "
                  f"file rejected, status answered {(time.monotonic() - t_status) * 1e3:.0f} ms "
                  f"later: {rejected['reason'].splitlines()[0]}")
        with open(config, "w") as f:
            f.write(good)
        assert_no_secret(read(events), "events.jsonl")

        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=20) == 0
        net.forget(daemon)
        assert not os.path.exists(sock), "the control socket was not removed"
        print("ok: clean stop")
        return 0
    finally:
        net.cleanup()
        subprocess.run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    sys.exit(main())
