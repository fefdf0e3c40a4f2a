#!/usr/bin/python3
"""Route changes caused by a lossy path, per hour (bench; root; the network lab).

For each path (dx, vpn-a) and each random loss ratio (10 %, 30 %, 60 % by default), brings the
lab's daemon up on examples/lab.yaml with every route on its first choice, applies the loss on
that path (lab/fault loss), counts the route_changed events for DURATION seconds, and prints the
changes per table and per hour, plus how often the path changed state. Everything runs in the
lab's own namespaces (prefix PP_LAB, default "ppl"); the lab is removed at the end.

  bench/lossy_paths/run.py                   DURATION=120 s per case
  DURATION=600 LOSSES="0.3" PATHS="dx" bench/lossy_paths/run.py

What a user expects (dpinger/pfSense gateway groups): a path over its loss threshold is worse
than a clean one, traffic leaves it at most once, and nothing moves back while the loss lasts.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lab"))
import labctl  # noqa: E402

PREFIX = os.environ.get("PP_LAB", "ppl")
WORK = f"/tmp/{PREFIX}-lab"
DURATION = float(os.environ.get("DURATION", "120"))
LOSSES = [float(x) for x in os.environ.get("LOSSES", "0.1 0.3 0.6").split()]
PATHS = os.environ.get("PATHS", "dx vpn-a").split()
# A VPN carries traffic only while DX is out: for a VPN case DX is black-holed first, so that
# each table is on its own AZ's gateway, and the loss then hits a path in use.
FIRST_WITH_DX = {"rtb-a": "dx", "rtb-b": "dx"}
FIRST_WITHOUT_DX = {"rtb-a": "vpn-a", "rtb-b": "vpn-b"}


def config():
    with open(os.path.join(labctl.ROOT, "examples", "lab.yaml")) as f:
        text = f.read().replace("pp-vpc", f"{PREFIX}-vpc").replace("/tmp/pp-lab", WORK)
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, "lab.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def main():
    labctl.require_root()
    lab = labctl.Lab(prefix=PREFIX, workdir=WORK)
    lab.up()
    results = []
    try:
        cfg = config()
        socket = os.path.join(WORK, "pathpilot", "control.sock")
        jsonl = os.path.join(WORK, "pathpilot", "events.jsonl")
        for path in PATHS:
            for loss in LOSSES:
                first = FIRST_WITH_DX if path == "dx" else FIRST_WITHOUT_DX
                daemon = lab.start_pathpilot(cfg)
                if path != "dx":
                    lab.fault("blackhole", "dx")
                lab.wait_status(socket, lambda s: all(
                    (labctl.route_of(s, t) or {}).get("current") == p for t, p in first.items()),
                    timeout=40, what="every table on its first choice")
                start = time.time()
                lab.fault("loss", path, str(loss))
                time.sleep(DURATION)
                lab.fault("clear")
                seen = [e for e in labctl.read_jsonl(jsonl)
                        if labctl_time(e) >= start and labctl_time(e) <= start + DURATION]
                moves = [e for e in seen if e.get("kind") == "route_changed"]
                states = [e for e in seen if e.get("kind") in ("path_down", "path_up",
                                                               "path_degraded")
                          and e.get("path") == path]
                per_table = {t: sum(1 for e in moves if e.get("route_table") == t) for t in first}
                back = sum(1 for e in moves if e.get("to") == first.get(e.get("route_table")))
                results.append((path, loss, per_table, back, len(states)))
                print(f"{path} loss {loss:.0%}: route changes {per_table} in {DURATION:.0f} s, "
                      f"{back} of them back to the first choice; {len(states)} state changes "
                      f"of {path}", flush=True)
                daemon.terminate()
                daemon.wait(timeout=20)
                lab.forget(daemon)
                os.remove(jsonl)
    finally:
        lab.down()
    # A move off the lossy path happens once, when the loss starts; what would recur for as
    # long as the loss lasts is a move back, so "per hour" is extrapolated from those.
    print(f"\n| path | loss | route changes rtb-a | rtb-b | back to first choice | "
          f"moves back per hour | path state changes |")
    print("|---|---|---|---|---|---|---|")
    for path, loss, per_table, back, states in results:
        print(f"| {path} | {loss:.0%} | {per_table['rtb-a']} | {per_table['rtb-b']} | {back} | "
              f"{back * 3600 / DURATION:.0f} | {states} |")


def labctl_time(event):
    from datetime import datetime
    return datetime.strptime(event["time"].replace("Z", "+0000"),
                             "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


if __name__ == "__main__":
    main()
