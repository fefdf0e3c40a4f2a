"""Polling with a deadline: tests wait for a state, never for a fixed time."""

import time


def wait_for(fn, timeout, what, interval=0.05):
    """Calls fn() until it returns something truthy (returned) or `timeout` seconds pass:
    then TimeoutError naming `what` and fn's last value (or the exception it last raised). An
    exception from fn counts as "not yet" (a daemon still starting refuses connections), but
    is shown if the wait fails, so that a bug in fn does not pass for a slow daemon."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
        except Exception as e:  # noqa: BLE001 - retried until the deadline, then reported
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}; last: "
                               f"{str(last)[:3000]}")
        time.sleep(interval)
