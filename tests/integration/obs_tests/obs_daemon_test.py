#!/usr/bin/env python3
"""The HTTP API of a real `pathpilot run` (integration test, needs root).

In a network namespace of its own (`ppod<pid>`, a veth pair: probe sources on one end, targets
on the other) the daemon probes two paths, programs one route table through a no-op exec hook
and serves the API. The test checks, against the running daemon:
  - GET /api/v1/status is the document `pathpilot status --json` prints (same paths, routes,
    site, config; only clock-dependent fields may differ);
  - /metrics passes `promtool check metrics` and a real Prometheus scraping the daemon answers
    a PromQL query for a path's state, before and after the path goes down;
  - drain/undrain over HTTP need the token from the 0600 file, and the CLI sees the drain;
  - a path going down (its target address removed) shows in /metrics, the route moves, and
    GET /api/v1/events finds the path_down event by path and by free text;
  - the dashboard is served;
  - a token file readable by others stops the daemon at start with a clear error (exit 1).
Everything it creates is removed at the end. Exit 77 (skipped) when not root.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import nstest  # noqa: E402

BUILD = os.environ.get("PP_BUILD_DIR", "build")
PATHPILOT = os.path.join(BUILD, "src/cli/pathpilot")
NS = f"ppod{os.getpid() % 100000}"

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "lab"))
from ppkit.proc import sh, nsx as _nsx  # noqa: E402
from ppkit.prom import metric  # noqa: E402
from ppkit.wait import wait_for  # noqa: E402


def nsx(*args, check=True, **kw):
    return _nsx(NS, *args, check=check, **kw)


def curl(port, path, method="GET", token=None, data=None):
    args = ["curl", "-s", "-m", "10", "-o", "-", "-w", "\n%{http_code}", "-X", method]
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    if data is not None:
        args += ["-H", "Content-Type: application/json", "--data", data]
    out = nsx(*args, f"http://127.0.0.1:{port}{path}", check=False).stdout
    body, _, code = out.rpartition("\n")
    return int(code or 0), body


VOLATILE = {"now", "since", "since_seconds", "engine", "journal", "reuse_in_ms",
            "hold_down_remaining_ms", "penalty", "loss", "samples", "rtt_p50_ms", "rtt_p95_ms",
            "rtt_p99_ms", "rtt_mean_ms", "targets", "reason", "consecutive_misses", "answering",
            "clean"}


def stable(doc):
    if isinstance(doc, dict):
        return {k: stable(v) for k, v in doc.items() if k not in VOLATILE}
    if isinstance(doc, list):
        return [stable(v) for v in doc]
    return doc


def main():
    if os.geteuid() != 0:
        print("skipped: needs root (network namespace)")
        return 77
    if not os.path.exists(PATHPILOT):
        print(f"missing {PATHPILOT}")
        return 1
    work = tempfile.mkdtemp(prefix="pp_obs_daemon_")
    procs = []
    try:
        sh("ip", "netns", "add", NS)
        sh("ip", "-n", NS, "link", "set", "lo", "up")
        nstest.add_probe_veth(NS)

        token_file = os.path.join(work, "token")
        token = os.urandom(24).hex()
        with open(token_file, "w") as f:
            f.write(token + "\n")
        os.chmod(token_file, 0o600)
        port = nstest.free_port()
        config = os.path.join(work, "pathpilot.yaml")
        with open(config, "w") as f:
            f.write(nstest.probe_veth_config(work, "ObsTest", "2s") +
                    f"api: {{listen: '127.0.0.1:{port}', auth_token: {{file: {token_file}}}}}\n")
        # A token file readable by others: refused at start, with the fix in the message.
        os.chmod(token_file, 0o644)
        bad = nsx(PATHPILOT, "run", "-c", config, check=False, timeout=30)
        assert bad.returncode == 1, bad
        assert "chmod 600 " + token_file in bad.stderr, bad.stderr
        os.chmod(token_file, 0o600)
        print("ok: token file with mode 0644 refused at start: " +
              re.search(r"token file .*", bad.stderr).group(0))

        log = open(os.path.join(work, "daemon.log"), "w")
        daemon = subprocess.Popen(["ip", "netns", "exec", NS, PATHPILOT, "run", "-c", config],
                                  stdout=log, stderr=subprocess.STDOUT)
        procs.append(daemon)
        wait_for(lambda: (lambda r: r[0] == 200 and json.loads(r[1])["routes"][0]["current"] == "dx")(
            curl(port, "/api/v1/status")), 20, "dx up and carrying rtb-a")

        # 1. /api/v1/status == pathpilot status --json.
        cli = json.loads(sh(PATHPILOT, "status", "--json", "--socket",
                            os.path.join(work, "control.sock")).stdout)
        api = json.loads(curl(port, "/api/v1/status")[1])
        assert stable(api) == stable(cli), (json.dumps(stable(api))[:800],
                                            json.dumps(stable(cli))[:800])
        assert set(api) == set(cli), (set(api) ^ set(cli))
        print("ok: GET /api/v1/status is the `pathpilot status --json` document")

        # 2. promtool on the live exposition; dashboard served.
        code, text = curl(port, "/metrics")
        assert code == 200
        if shutil.which("promtool"):
            pt = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                                text=True)
            assert pt.returncode == 0, pt.stdout + pt.stderr
        assert metric(text, "pathpilot_path_state", path="dx", state="up") == 1, text[:2000]
        assert metric(text, "pathpilot_route_on_primary_path", route_table="rtb-a") == 1, text
        code, html = curl(port, "/")
        assert code == 200 and "<title>pathpilot" in html
        print("ok: /metrics passes promtool; dashboard served")

        # 3. Real Prometheus scraping the daemon (in the namespace).
        prom_port = None
        if shutil.which("prometheus"):
            prom_port = nstest.free_port()
            pdir = os.path.join(work, "prom")
            os.makedirs(pdir)
            with open(os.path.join(pdir, "prometheus.yml"), "w") as f:
                f.write(f"global: {{scrape_interval: 1s}}\nscrape_configs:\n"
                        f"  - job_name: pathpilot\n    static_configs: [{{targets: "
                        f"['127.0.0.1:{port}']}}]\n")
            prom = subprocess.Popen(
                ["ip", "netns", "exec", NS, "prometheus",
                 f"--config.file={pdir}/prometheus.yml", f"--storage.tsdb.path={pdir}/data",
                 f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
                stdout=open(os.path.join(pdir, "log"), "w"), stderr=subprocess.STDOUT)
            procs.append(prom)

            def promql(q):
                out = nsx("curl", "-s", "-G", f"http://127.0.0.1:{prom_port}/api/v1/query",
                          "--data-urlencode", f"query={q}", check=False).stdout
                r = json.loads(out)["data"]["result"]
                return float(r[0]["value"][1]) if r else None

            wait_for(lambda: promql('pathpilot_path_state{path="dx",state="up"}') == 1, 40,
                 "Prometheus to scrape dx up", interval=0.5)
            print("ok: Prometheus scraped the daemon: dx up")

        # 4. drain/undrain over HTTP.
        assert curl(port, "/api/v1/paths/vpn-a/drain", "POST")[0] == 401
        assert curl(port, "/api/v1/paths/vpn-a/drain", "POST", token="x" * 32)[0] == 403
        code, body = curl(port, "/api/v1/paths/vpn-a/drain", "POST", token=token,
                          data='{"comment":"integration test"}')
        assert code == 200, body
        cli = json.loads(sh(PATHPILOT, "status", "--json", "--socket",
                            os.path.join(work, "control.sock")).stdout)
        assert [p["drained"] for p in cli["paths"] if p["name"] == "vpn-a"] == [True]
        code, body = curl(port, "/api/v1/paths/nope/drain", "POST", token=token)
        assert code == 404 and "unknown path" in body, body
        assert curl(port, "/api/v1/paths/vpn-a/undrain", "POST", token=token)[0] == 200
        print("ok: drain/undrain need the token; the CLI sees the drain")

        # 5. dx goes down: target address removed.
        sh("ip", "-n", NS, "addr", "del", "10.98.0.1/24", "dev", "v1")
        text = wait_for(lambda: (lambda t: t if metric(t, "pathpilot_path_state", path="dx",
                                                   state="down") == 1 else None)(
            curl(port, "/metrics")[1]), 20, "dx down on /metrics")
        wait_for(lambda: json.loads(curl(port, "/api/v1/status")[1])["routes"][0]["current"] == "vpn-a",
             20, "rtb-a to move to vpn-a")
        text = curl(port, "/metrics")[1]
        routes = "\n".join(l for l in text.splitlines() if l.startswith("pathpilot_route"))
        assert metric(text, "pathpilot_route_next_hop_info", route_table="rtb-a",
                      path="vpn-a") == 1, routes
        assert metric(text, "pathpilot_route_on_primary_path", route_table="rtb-a") == 0, text
        assert metric(text, "pathpilot_route_on_preferred_path", route_table="rtb-a") == 1, text
        assert metric(text, "pathpilot_path_transitions_total", path="dx", to="down") >= 1, text
        assert metric(text, "pathpilot_route_changes_total", route_table="rtb-a") >= 1, routes
        events = wait_for(lambda: (lambda e: e if e["count"] >= 1 else None)(json.loads(
            curl(port, "/api/v1/events?path=dx&kind=path_down&since=1h")[1])), 10,
            "the path_down event in the journal")
        assert events["events"][0]["link"] == "dx", events
        moved = json.loads(curl(port, "/api/v1/events?route_table=rtb-a&q=vpn-a&link=vpn")[1])
        assert any(e["kind"] == "route_changed" for e in moved["events"]), moved
        code, body = curl(port, "/api/v1/events?kind=nope")
        assert code == 400 and 'parameter "kind"' in json.loads(body)["error"], (code, body)
        print("ok: dx down → /metrics, route moved to vpn-a, events searchable")
        if prom_port:
            wait_for(lambda: promql('pathpilot_path_state{path="dx",state="down"}') == 1, 20,
                 "Prometheus to see dx down", interval=0.5)
            print("ok: Prometheus answers PromQL: dx down")

        daemon.terminate()
        assert daemon.wait(timeout=20) == 0
        return 0
    except (AssertionError, TimeoutError) as e:
        print(f"FAILED: {e}")
        path = os.path.join(work, "daemon.log")
        if os.path.exists(path):
            print("---- daemon.log (tail)\n" + "".join(open(path).readlines()[-40:]))
        return 1
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        sh("ip", "netns", "del", NS, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
