"""ppkit — the helpers pathpilot's Python tools share (stdlib only).

One package for the lab (lab/labctl.py), the integration tests (tests/integration/), the
benchmarks (bench/) and the demo (tools/demo.py), so that they run commands, wait, read
journal times and parse /metrics the same way:

  ppkit.proc     sh() and nsx(): a command (or one inside a network namespace) with its output
  ppkit.wait     wait_for(): poll a condition with a deadline instead of a fixed sleep
  ppkit.timefmt  parse_time() / event_time(): the journal's RFC 3339 times as Unix seconds
  ppkit.prom     metric() / histogram(): values out of a Prometheus text exposition

Scripts outside lab/ put lab/ on sys.path first (see tests/integration/nstest.py).
"""
