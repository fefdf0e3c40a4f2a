"""Running commands: on the host, or inside a network namespace the caller created."""

import subprocess


def sh(*args, check=True, **kw):
    """Runs argv `args` (no shell) and returns the CompletedProcess with text stdout/stderr.
    With `check`, a non-zero exit raises CalledProcessError."""
    return subprocess.run(args, check=check, capture_output=True, text=True, **kw)


def nsx(ns, *args, check=True, **kw):
    """sh() inside network namespace `ns` (`ip netns exec`)."""
    return sh("ip", "netns", "exec", ns, *args, check=check, **kw)
