"""The journal's times ("2026-11-25T16:00:29.123Z", RFC 3339 UTC) as Unix seconds."""

from datetime import datetime


def parse_time(text):
    """Unix seconds of an RFC 3339 time with "Z" or an offset, with or without fractions."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def event_time(event):
    """Unix seconds of a journal event (its "time" field)."""
    return parse_time(event["time"])
