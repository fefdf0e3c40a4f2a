#!/usr/bin/python3
"""Failover-gap benchmark: how long traffic stops when DX fails, classic script vs pathpilot.

For each variant it starts the controller in the lab's monitor namespace, then RUNS times:
starts a 1,000 pkt/s numbered UDP stream from cla (subnet A, table rtb-a) and one from clb
(subnet B, rtb-b) to onhost (pp-traffic), waits a random phase, black-holes DX (packets
dropped, carrier up: lab/fault blackhole dx), waits until both streams flow again, and takes the
longest arrival gap of the two streams (pp-traffic's receiver measures it: last packet before
the hole to first packet after). Then it heals DX and waits until both tables are back on DX.

Variants: classic (bench/failover_gap/classic.sh: ping -c3 -W1 per target, then
ip route replace, sleep 1), pp-1s / pp-300ms / pp-100ms (pathpilot with examples/lab.yaml at
that probe interval; timeouts 500 / 200 / 80 ms as the ceiling of lab.yaml's RTT-adaptive
timeout, 10 ms floor; fall 3; two phase-locked targets per path, quorum 1; flap damping off,
since DX is failed every few seconds on purpose).

    sudo bench/failover_gap/run.sh                    # everything, 10 runs each
    sudo RUNS=3 bench/failover_gap/run.sh classic     # a quick check of one variant

Environment: RUNS (default 10), PP_BUILD_DIR (default build; needs src/cli/pathpilot and
lab/pp-traffic), PP_LAB (namespace prefix, default ppgap), OUT (JSON results, default
/tmp/failover_gap.json), SEED (random phases; default: time).
"""

import json
import os
import random
import signal
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(ROOT, "lab"))
os.environ.setdefault("PP_LAB", "ppgap")
import labctl  # noqa: E402
import ppkit.wait  # noqa: E402
from ppkit.timefmt import parse_time  # noqa: E402

# name -> (probe interval, probe timeout, random phase before the fault in seconds)
VARIANTS = {
    "classic": (None, None, 7.0),  # one classic round takes ~7 s: fault anywhere in it
    "pp-1s": ("1s", "500ms", 1.0),
    "pp-300ms": ("300ms", "200ms", 0.3),
    "pp-100ms": ("100ms", "80ms", 0.1),
}
RATE = 1000
PORT = 9000


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def read_report(path):
    try:
        with open(path) as f:
            return json.load(f).get("streams", {})
    except (OSError, json.JSONDecodeError):
        return {}


def write_config(lab, variant, interval, timeout):
    """examples/lab.yaml with this variant's probe timing and the lab's own paths and netns."""
    with open(os.path.join(ROOT, "examples", "lab.yaml")) as f:
        text = f.read()
    run_dir = os.path.join(lab.dir, "pathpilot", variant)
    os.makedirs(run_dir, exist_ok=True)
    # Flap damping off: the benchmark fails DX every few seconds on purpose, and damping would
    # (rightly) hold DX down after a few rounds, which is not what is measured here.
    for old, new in (("interval: 100ms", f"interval: {interval}"),
                     ("timeout: 80ms", f"timeout: {timeout}"),
                     ("damping:\n    enabled: true", "damping:\n    enabled: false"),
                     ("/tmp/pp-lab/pathpilot/", run_dir + "/"),
                     ("netns: pp-vpc", f"netns: {lab.ns('vpc')}")):
        if old not in text:
            raise RuntimeError(f"examples/lab.yaml no longer contains {old!r}")
        text = text.replace(old, new)
    path = os.path.join(run_dir, "lab.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path, os.path.join(run_dir, "control.sock")


def reset_routes(lab):
    for table in labctl.TABLES.values():
        via, dev = labctl.NEXT_HOP["dx"]
        lab.sh("vpc", "ip", "route", "replace", labctl.ONPREM_PREFIX, "via", via, "dev", dev,
               "table", str(table))


def wait_for(pred, timeout, what, interval=0.05):
    """ppkit's wait_for, as a bool: a run that times out is logged and skipped, not fatal."""
    try:
        return bool(ppkit.wait.wait_for(pred, timeout, what, interval))
    except TimeoutError as e:
        log(str(e))
        return False


def on_dx(lab):
    return all(lab.route(t) == "dx" for t in labctl.TABLES.values())


def one_run(lab, variant, index, phase_max, rng):
    """One DX failure; returns {"gap_ms", "lost", "per_stream"} or {"error"}."""
    report = os.path.join(lab.dir, f"gap-{variant}-{index}.json")
    recv = lab.spawn(f"recv-{variant}-{index}", "onhost",
                     [labctl.traffic_bin(), "recv", "--port", PORT, "--report", report,
                      "--flush", "50ms"])
    time.sleep(0.2)
    target = f"{labctl.DX_TARGET}:{PORT}"
    senders = [lab.spawn(f"send-{s}-{variant}-{index}", box,
                         [labctl.traffic_bin(), "send", "--to", target, "--rate", RATE,
                          "--stream", s])
               for s, box in (("rtb-a", "cla"), ("rtb-b", "clb"))]
    result = {}
    try:
        if not wait_for(lambda: all(read_report(report).get(s, {}).get("received", 0) > RATE // 2
                                    for s in ("rtb-a", "rtb-b")), 10, "both streams to flow"):
            return {"error": "streams did not start"}
        time.sleep(rng.uniform(0, phase_max))
        if not on_dx(lab):
            return {"error": "the tables were not on DX before the fault"}
        t_fault = time.time()
        lab.fault("blackhole", "dx")

        def resumed():
            streams = read_report(report)
            return all(any(parse_time(g["at"]) >= t_fault - 0.5
                           for g in streams.get(s, {}).get("gaps", []))
                       and parse_time(streams[s]["last_at"]) > t_fault
                       for s in ("rtb-a", "rtb-b"))
        if not wait_for(resumed, 60, "traffic to flow again after the DX failure"):
            result = {"error": "traffic did not come back within 60 s"}
        time.sleep(0.3)
    finally:
        for p in senders:
            labctl.stop_process(p)
            lab.forget(p)
        labctl.stop_process(recv)
        lab.forget(recv)
    if "error" in result:
        return result
    streams = read_report(report)
    per_stream = {}
    for s in ("rtb-a", "rtb-b"):
        gaps = [g for g in streams[s]["gaps"] if parse_time(g["at"]) >= t_fault - 0.5]
        per_stream[s] = {"gap_ms": max(g["gap_ms"] for g in gaps),
                         "lost": sum(g["lost"] for g in gaps)}
    return {"gap_ms": max(v["gap_ms"] for v in per_stream.values()),
            "lost": sum(v["lost"] for v in per_stream.values()), "per_stream": per_stream}


def run_variant(lab, variant, runs, rng):
    interval, timeout, phase_max = VARIANTS[variant]
    reset_routes(lab)
    lab.fault("clear")
    if variant == "classic":
        proc = lab.spawn("classic", "mon", [os.path.join(HERE, "classic.sh")])
    else:
        config, sock = write_config(lab, variant, interval, timeout)
        proc = lab.start_pathpilot(config, name=f"pathpilot-{variant}")
        lab.wait_status(sock, lambda s: all(p.get("state") == "up" for p in s["paths"])
                        and all(r.get("current") == "dx" and r.get("sync") == "synced"
                                for r in s["routes"]), timeout=30, what="pathpilot ready")
    results = []
    try:
        for i in range(runs):
            r = one_run(lab, variant, i, phase_max, rng)
            lab.fault("unblackhole", "dx")
            if not wait_for(lambda: on_dx(lab), 60, "both tables back on DX"):
                r.setdefault("error", "no failback to DX within 60 s")
            results.append(r)
            if "error" in r:
                log(f"{variant} run {i + 1}/{runs}: FAILED: {r['error']}")
            else:
                log(f"{variant} run {i + 1}/{runs}: gap {r['gap_ms']:.0f} ms "
                    f"(rtb-a {r['per_stream']['rtb-a']['gap_ms']:.0f}, "
                    f"rtb-b {r['per_stream']['rtb-b']['gap_ms']:.0f}), {r['lost']} packets lost")
            time.sleep(0.5)
    finally:
        labctl.stop_process(proc)
        lab.forget(proc)
    return results


def summarize(results):
    gaps = [r["gap_ms"] for r in results if "error" not in r]
    if not gaps:
        return {"runs": len(results), "failed": len(results)}
    return {"runs": len(results), "failed": len(results) - len(gaps), "min_ms": min(gaps),
            "median_ms": statistics.median(gaps), "max_ms": max(gaps),
            "gaps_ms": [round(g, 1) for g in gaps]}


def main(argv):
    labctl.require_root()
    runs = int(os.environ.get("RUNS", "10"))
    variants = argv[1:] or list(VARIANTS)
    for v in variants:
        if v not in VARIANTS:
            print(f"failover_gap: unknown variant {v!r} (one of {', '.join(VARIANTS)})",
                  file=sys.stderr)
            return 2
    for binary in [labctl.traffic_bin()] + ([labctl.pathpilot_bin()]
                                             if any(v != "classic" for v in variants) else []):
        if not os.access(binary, os.X_OK):
            print(f"failover_gap: {binary} not built (set PP_BUILD_DIR)", file=sys.stderr)
            return 2
    seed = int(os.environ.get("SEED", str(int(time.time()))))
    rng = random.Random(seed)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    summary = {}
    lab = labctl.Lab()
    log(f"lab {lab.prefix}: up (runs={runs}, seed={seed})")
    with lab:
        for v in variants:
            summary[v] = summarize(run_variant(lab, v, runs, rng))
    base = summary.get("classic", {}).get("median_ms")
    print(f"\nfailover gap on a DX black-hole, {RATE} pkt/s per subnet, {runs} runs per variant")
    print(f"{'variant':<10} {'min ms':>9} {'median ms':>10} {'max ms':>9} {'failed':>7}"
          f" {'baseline median / median':>26}")
    for v, s in summary.items():
        if "median_ms" not in s:
            print(f"{v:<10} {'-':>9} {'-':>10} {'-':>9} {s['failed']:>7}")
            continue
        ratio = f"{base / s['median_ms']:.1f}x" if base else "-"
        s["speedup_vs_classic"] = base / s["median_ms"] if base else None
        print(f"{v:<10} {s['min_ms']:>9.0f} {s['median_ms']:>10.0f} {s['max_ms']:>9.0f}"
              f" {s['failed']:>7} {ratio:>26}")
    out = os.environ.get("OUT", "/tmp/failover_gap.json")
    with open(out, "w") as f:
        json.dump({"runs": runs, "seed": seed, "rate_pps": RATE, "variants": summary}, f,
                  indent=1)
    print(f"(results: {out})")
    return 0 if all(s.get("failed", 0) == 0 for s in summary.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
