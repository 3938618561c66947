"""Digest windows: which events of a digest step's trigger go into which message.

A window opens with the earliest matching event that no digest has closed; its occurrence's
source is ``digest=<id of that event>``, so its key never changes as later events join. The
message is due when the window closes (`digest_close`), and events keep joining until the
occurrence itself ends: when it is sent it lists every event recorded by then, and its
delivery records their ids (`Delivery.collected`); a digest the planner cancels, skips or
expires at instant X closes the events before X. Every event is thus in exactly one
digest: one that ended (whose recorded ids say which), or the one still open. An event
recorded late, with an instant that a digest already sent had covered, is not lost: no
digest holds it, so it opens (or joins) the next window.

A window with an open claim (a retry after a temporary failure) keeps its opening event even
if an older event is recorded late meanwhile: the late event joins it, so that the retry goes
out under the same idempotency key.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from regua.definitions.digests import Digest
from regua.definitions.triggers import EventTrigger
from regua.planning.calendar import next_at, shift
from regua.planning.firings import Firing
from regua.planning.history import History
from regua.records import Event

__all__ = [
    "EVENTS_KEY",
    "SOURCE_PREFIX",
    "Closure",
    "digest_close",
    "digest_firings",
    "listing",
]

EVENTS_KEY = "events"
"""The payload key under which a digest lists its events."""

SOURCE_PREFIX = "digest="
"""How a digest occurrence's source starts; the opening event's id follows."""

Closure = tuple[datetime, tuple[str, ...]]
"""When a digest ended, and the ids of the events it closed (empty: not recorded)."""

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


def listing(events: Sequence[Event]) -> dict[str, Any]:
    """The payload entries of a digest: ``{"events": [{"id", "at", "data"}, ...]}``."""
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
    not_before: datetime | None,
    recorded: Callable[[], Iterator[tuple[str, Closure]]],
    closed: Callable[[str], Closure | None],
    claimed: Collection[str] = (),
) -> Iterator[Firing]:
    """One firing per digest: those that ended, then the one still open, if any.

    `recorded()` gives the (source, closure) of every recorded digest of the step;
    `closed(source)` the closure of one digest, recorded or reached by the planner just now.
    It is asked again after the open window's firing has been assessed (the caller consumes
    this generator in step with its assessment), so that when the planner closes it (a
    cancel, an expiry) the events it did not take open the next window in the same plan.
    `claimed` holds the ids of opening events whose digest has an open claim. Each firing's
    `collected` holds its events, oldest first; the open window's `data` lists them.
    """
    events = [
        event
        for event in history.events_named(trigger.event)
        if (not trigger.where or trigger.matches(event.name, event.data))
        and (not_before is None or event.at >= not_before)
    ]
    by_id = {event.key: event for event in events}
    held: set[str] = set()
    for source, (_, ids) in recorded():
        if not ids:
            continue  # recorded without its events: placed by instant, below
        members = [by_id[event_id] for event_id in ids if event_id in by_id]
        held.update(ids)
        opener = by_id.get(source.removeprefix(SOURCE_PREFIX))
        first = opener or (members[0] if members else None)
        if first is not None:
            yield Firing(source=source, at=first.at, collected=tuple(members))
    pending = [event for event in events if event.key not in held]
    while pending:
        opener = next((e for e in pending if e.key in claimed), pending[0])
        source = SOURCE_PREFIX + opener.key
        closure = closed(source)
        if closure is None:
            yield Firing(
                source=source, at=opener.at, data=listing(pending), collected=tuple(pending)
            )
            closure = closed(source)
            if closure is None:
                return
        else:
            members = _members(pending, opener, closure)
            yield Firing(source=source, at=opener.at, collected=tuple(members))
        taken = {event.key for event in _members(pending, opener, closure)}
        pending = [event for event in pending if event.key not in taken]


def _members(pending: Sequence[Event], opener: Event, closure: Closure) -> list[Event]:
    at, ids = closure
    if ids:
        wanted = set(ids)
        return [event for event in pending if event.key in wanted] or [opener]
    # Recorded without its events (a repository that does not keep them): the events up to
    # the instant it ended.
    return [event for event in pending if event is opener or event.at <= at]
