"""Digest windows: which events of a digest step's trigger go into which message.

A window opens with the first matching event that no earlier window holds; its occurrence's
source is ``digest=<id of that event>``, so its key never changes as later events join. The
message is due when the window closes (`digest_close`), and events keep joining until the
occurrence itself closes: sent (the instant it was handed to a sender), or cancelled, skipped
or expired. A window closed at instant X holds exactly the events before X; an event at X
or later opens the next window. That one rule, read from recorded deliveries, makes the
assignment of events to messages a function of history alone: every event is in exactly
one window, and a digest sent at X listed exactly the events before X that were recorded
by then.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from regua.definitions.digests import Digest
from regua.definitions.triggers import EventTrigger
from regua.planning.calendar import next_at, shift
from regua.planning.firings import Firing
from regua.planning.history import History
from regua.records import Event

__all__ = ["EVENTS_KEY", "digest_close", "digest_firings"]

EVENTS_KEY = "events"
"""The payload key under which a digest lists its events."""

_AFTER = timedelta(microseconds=1)


def digest_close(opened_at: datetime, digest: Digest, tz: ZoneInfo) -> datetime:
    """The instant a window opened at `opened_at` closes (and its message is due).

    `window` after the first event; or the first local `until` time strictly after it; or,
    with both, the first `until` time at or after first event + `window`.
    """
    if digest.window is not None:
        close = shift(opened_at, digest.window, tz)
        return close if digest.until is None else next_at(close, digest.until, tz)
    assert digest.until is not None
    # Strictly after: an event at 18:00:00 does not make "until 18:00" close at once.
    return next_at(opened_at + _AFTER, digest.until, tz)


def _listing(events: Sequence[Event]) -> dict[str, Any]:
    return {
        EVENTS_KEY: [
            {
                "id": event.key,
                "at": event.at.isoformat().replace("+00:00", "Z"),
                "data": dict(event.data),
            }
            for event in events
        ]
    }


def digest_firings(
    trigger: EventTrigger,
    history: History,
    now: datetime,
    not_before: datetime | None,
    closed_at: Callable[[str], datetime | None],
) -> Iterator[Firing]:
    """One firing per window, oldest first; the last one is the window still open, if any.

    `closed_at(source)` says when the window of that source closed: its recorded delivery,
    or an outcome the planner reached for it just now. It is asked again after each firing
    of a window without a recorded delivery has been assessed (the caller consumes this
    generator in step with its assessment), so that a window the planner closes (a cancel,
    an expiry) lets the events after the closing instant open the next window in the same
    plan. The firing of an open window lists the events before `now` (an event at `now`
    itself belongs to whatever closes after `now`) in its data; each firing's `collected`
    holds its events (for the open window, every one so far).
    """
    events = [
        event
        for event in history.events_named(trigger.event)
        if (not trigger.where or trigger.matches(event.name, event.data))
        and (not_before is None or event.at >= not_before)
    ]
    times = [event.at for event in events]
    start = 0
    while start < len(events):
        first = events[start]
        source = f"digest={first.key}"
        recorded = closed_at(source)
        if recorded is None:
            pending = events[start:]
            listed = [event for event in pending if event.at < now] or pending
            yield Firing(
                source=source, at=first.at, data=_listing(listed), collected=tuple(pending)
            )
            closed = closed_at(source)
            if closed is None:
                return
        else:
            closed = recorded
        # The window holds its first event and every later one before the closing instant.
        end = max(start + 1, bisect_left(times, closed, lo=start))
        if recorded is not None:
            yield Firing(source=source, at=first.at, collected=tuple(events[start:end]))
        start = end
