"""Values out of a Prometheus text exposition (what /metrics serves)."""

import re


def metric(text, name, **labels):
    """The value of the first sample of `name` whose labels include `labels` (all of them,
    exact values), or None. An unlabelled sample matches when no labels are asked for."""
    for line in text.splitlines():
        if line.startswith(name + "{"):
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        elif line.startswith(name + " ") and not labels:
            return float(line.rsplit(" ", 1)[1])
    return None


def histogram(text, name):
    """Bucket counts (le -> cumulative count), sum and count of an unlabelled histogram:
    ({le: count}, sum, count)."""
    buckets = {}
    total = count = 0.0
    for line in text.splitlines():
        m = re.match(rf'{name}_bucket\{{le="([^"]+)"\}} (\S+)', line)
        if m:
            le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
            buckets[le] = float(m.group(2))
        elif line.startswith(name + "_sum "):
            total = float(line.split()[1])
        elif line.startswith(name + "_count "):
            count = float(line.split()[1])
    return buckets, total, count


def lag_figures(before, after, name="pathpilot_engine_loop_lag_seconds"):
    """Between two scrapes of a histogram in seconds (by default the engine loop's lag): the
    number of samples, their mean, and the bucket bounds under which 99 % and all of them fell
    ({"samples", "mean_ms", "p99_le_ms", "max_le_ms"})."""
    hb, sb, cb = histogram(before, name)
    ha, sa, ca = histogram(after, name)
    n = ca - cb
    diff = [(b, ha[b] - hb.get(b, 0.0)) for b in sorted(ha)]

    def bound(q):
        for b, c in diff:
            if c >= q * n:
                return b
        return float("inf")
    return {"samples": int(n), "mean_ms": round((sa - sb) / n * 1e3, 3) if n else float("nan"),
            "p99_le_ms": bound(0.99) * 1e3, "max_le_ms": bound(1.0) * 1e3}
