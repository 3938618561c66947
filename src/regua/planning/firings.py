"""Firings: the instants at which a step's trigger fires for one contact.

Each firing carries its *source*, the part of the occurrence key that says what fired it
(``event=<id>``, ``year=2026``, ``date=2026-05-01``, ``at=20260504T120000Z``,
``inactive=20260301T101500Z``, ``after=<step>/<source of that step's occurrence>``; a
digest's ``digest=<id>`` comes from `regua.planning.digests`). The source is the last part
of the key: `regua.planning.keys` says how the key is put together and escaped.
Recurring triggers yield only their latest past firing (missed firings coalesce into it)
and their next future one; `claimed_firing` rebuilds an older firing from its source, so
that an occurrence with an open claim (a deferred retry) is planned until it closes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo

import attrs

from regua.definitions.durations import Duration
from regua.definitions.triggers import (
    AfterStepTrigger,
    DateTrigger,
    EventTrigger,
    InactivityTrigger,
    ScheduleTrigger,
)
from regua.errors import InvalidRecordError, personal_value
from regua.planning.calendar import from_local, shift, to_local, yearly_date
from regua.planning.history import History
from regua.planning.keys import after_source, split_occurrence_key
from regua.planning.schedules import Schedule
from regua.records import Contact, Event

__all__ = ["Firing", "claimed_firing", "date_attribute", "instant_label"]


@attrs.define(slots=True)
class Firing:
    """One firing of a trigger: what fired, when, and the data it brings.

    `collected` holds the events of a digest window (see `regua.planning.digests`). Treat
    it as immutable: it is not frozen only because a plan builds one for every event of
    the history, and a frozen class's constructor costs three times as much.
    """

    source: str
    at: datetime
    data: dict[str, Any] = attrs.field(factory=dict)
    upcoming: bool = False
    collected: tuple[Event, ...] = ()


def instant_label(instant: datetime) -> str:
    """A UTC instant as it appears in occurrence keys: ``20260504T120000Z``."""
    if instant.year < 1000:  # strftime's %Y is not zero-padded there on every platform
        return instant.strftime("%Y%m%dT%H%M%SZ")
    # Several times faster than strftime, with the same result.
    return (
        f"{instant.year}{instant.month:02}{instant.day:02}T"
        f"{instant.hour:02}{instant.minute:02}{instant.second:02}Z"
    )


def _parse_label(label: str) -> datetime | None:
    """The UTC instant `instant_label` wrote as `label`, or None when it is not one."""
    try:
        instant = datetime.strptime(label, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return instant if instant_label(instant) == label else None


def date_attribute(contact: Contact, name: str, tz: ZoneInfo) -> date | None:
    """Read a date attribute (a `date`, an aware `datetime`, or an ISO string).

    Returns None when the attribute is absent or null; raises `InvalidRecordError` naming
    the contact and attribute when the value is not a date.
    """
    value = contact.attributes.get(name)
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidRecordError(
                f"contact {contact.id!r}: attribute {name!r} is a naive datetime; "
                "give a date or a timezone-aware datetime"
            )
        return value.astimezone(tz).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise InvalidRecordError(
        f"contact {contact.id!r}: attribute {name!r} must be a date (or 'YYYY-MM-DD'), "
        f"got {personal_value(value)}"
    )


def event_firings(trigger: EventTrigger, history: History) -> Iterator[Firing]:
    """Every matching event so far (with `of_step`: each message's first engagement)."""
    if trigger.of_step is not None:
        return engagement_firings(trigger, history)
    if trigger.where:
        return (
            Firing(source=f"event={event.id}", at=event.at, data=event.data)
            for event in history.events_named(trigger.event)
            if trigger.matches(event.name, event.data)
        )
    # Steps triggered by the same event (a confirmation and a follow-up) share its firings.
    memo = history.memo
    key = ("event", trigger.event)
    firings = memo.get(key)
    if firings is None:
        firings = memo[key] = [
            event_firing(source, event) for source, event in event_sources(trigger.event, history)
        ]
    return iter(firings)


def event_sources(name: str, history: History) -> list[tuple[str, Event]]:
    """The source of the firing of every event of `name` so far, with the event, oldest first.

    What `event_firings` yields for a trigger on `name` without ``where`` or ``of_step``, one
    `event_firing` each: the planner looks an occurrence's key up before it builds its
    firing, since most occurrences of a long history are recorded. Steps triggered by the
    same event share the list.
    """
    memo = history.memo
    key = ("sources", name)
    sources: list[tuple[str, Event]] | None = memo.get(key)
    if sources is None:
        sources = memo[key] = [(f"event={event.id}", event) for event in history.events_named(name)]
    return sources


def event_firing(source: str, event: Event) -> Firing:
    """The firing of `event` (whose source is `source`) for a trigger on its name."""
    return Firing(source=source, at=event.at, data=event.data)


def engagement_firings(trigger: EventTrigger, history: History) -> Iterator[Firing]:
    """One firing per message of `trigger.of_step` engaged with, at its first engagement.

    The source is the engagement's kind and the message's own source (``clicked=event=S-1``),
    so that later engagements with the same message fire nothing new.
    """
    seen: set[str] = set()
    for event in history.events_named(trigger.event):
        if event.ref is None or event.ref in seen:
            continue
        try:
            cadence, step, _, source = split_occurrence_key(event.ref)
        except ValueError:  # not an occurrence key: an engagement with nothing of ours
            continue
        if cadence != history.cadence or step != trigger.of_step:
            continue
        seen.add(event.ref)
        yield Firing(source=f"{trigger.event}={source}", at=event.at)


def date_firings(
    trigger: DateTrigger,
    contact: Contact,
    tz: ZoneInfo,
    now: datetime,
    not_before: datetime | None,
) -> Iterator[Firing]:
    """The latest past and the next future firing of a date trigger."""
    base = date_attribute(contact, trigger.date, tz)
    if base is None:
        return
    if trigger.every is None:
        at = shift(from_local(datetime.combine(base, time()), tz), trigger.offset, tz)
        if not_before is None or at >= not_before:
            yield Firing(source=f"date={base.isoformat()}", at=at, upcoming=at > now)
        return
    past: Firing | None = None
    first_year = base.year + 1
    for candidate_year, instant in _yearly_firings(
        base.month, base.day, trigger.feb29, trigger.offset, tz, now
    ):
        if candidate_year < first_year:
            continue
        if instant is None:  # a year out of range: raise as computing it does
            instant = _yearly_firing(
                base.month, base.day, candidate_year, trigger.feb29, trigger.offset, tz
            )
        at = instant
        if not_before is not None and at < not_before:
            continue
        firing = Firing(source=f"year={candidate_year}", at=at, upcoming=at > now)
        if at <= now:
            past = firing
        else:
            if past is not None:
                yield past
            yield firing
            return
    if past is not None:
        yield past


# Birthdays and anniversaries: many contacts share a day of the year (and a timezone), and
# are planned at one instant.
@functools.lru_cache(maxsize=65536)
def _yearly_firings(
    month: int,
    day: int,
    feb29: Literal["feb28", "mar1"],
    offset: Duration,
    tz: ZoneInfo,
    now: datetime,
) -> tuple[tuple[int, datetime | None], ...]:
    """(year, instant) of the anniversary in the years around `now`'s, in order.

    The years a firing may be the latest past or the next one in: an offset of several
    years needs a wider window of candidate years. None for a year where the instant is out
    of range (`date_firings` raises the error only if it reaches that year).
    """
    span = abs(offset.months) // 12 + abs(offset.days) // 365 + 1
    year = to_local(now, tz).year
    candidates: list[tuple[int, datetime | None]] = []
    for candidate in range(year - span, year + span + 1):
        try:
            candidates.append((candidate, _yearly_firing(month, day, candidate, feb29, offset, tz)))
        except (ValueError, OverflowError):
            candidates.append((candidate, None))
    return tuple(candidates)


@functools.lru_cache(maxsize=65536)
def _yearly_firing(
    month: int, day: int, year: int, feb29: Literal["feb28", "mar1"], offset: Duration, tz: ZoneInfo
) -> datetime:
    date_ = yearly_date(month, day, year, feb29)
    return shift(from_local(datetime.combine(date_, time()), tz), offset, tz)


def schedule_firings(
    schedule: Schedule,
    trigger: ScheduleTrigger,
    tz: ZoneInfo,
    now: datetime,
    not_before: datetime | None,
    delay_pending: bool,
) -> Iterator[Firing]:
    """The latest past firing (and the one before when `delay_pending`) and the next one."""
    last = _last_fire(schedule, now, tz)
    if last is not None and (not_before is None or last >= not_before):
        yield Firing(source=_schedule_source(last), at=last)
        if delay_pending:
            previous = _last_fire(schedule, last - timedelta(seconds=1), tz)
            if previous is not None and (not_before is None or previous >= not_before):
                yield Firing(source=_schedule_source(previous), at=previous)
    upcoming = _next_fire(schedule, now, tz)
    if upcoming is not None:
        yield Firing(source=_schedule_source(upcoming), at=upcoming, upcoming=True)


@functools.lru_cache(maxsize=4096)
def _schedule_source(instant: datetime) -> str:
    # The few instants a schedule fires at around now, for every contact: label them once.
    return f"at={instant_label(instant)}"


# Every contact planned at one instant asks the same few questions of a schedule (one per
# timezone): answer each once.
@functools.lru_cache(maxsize=4096)
def _last_fire(schedule: Schedule, at: datetime, tz: ZoneInfo) -> datetime | None:
    return schedule.last_fire(at, tz)


@functools.lru_cache(maxsize=4096)
def _next_fire(schedule: Schedule, after: datetime, tz: ZoneInfo) -> datetime | None:
    return schedule.next_fire(after, tz)


def inactivity_firing(
    trigger: InactivityTrigger,
    contact: Contact,
    history: History,
    tz: ZoneInfo,
    now: datetime,
) -> Firing | None:
    """The firing of the current inactive period (started by the last activity)."""
    # Inactivity ladders (60, 90, 180 days) share their start: find and label it once.
    memo_key = ("inactive", trigger.activity, now)
    period: tuple[datetime, str] | None = history.memo.get(memo_key)
    if period is None:
        start = history.last_activity(trigger.activity, now)
        if start is None:
            # A contact created later than now (its record stamped by a clock ahead of this
            # one) starts its first inactive period then: the firing is upcoming.
            start = contact.created_at
            if start is None:
                return None
        period = history.memo[memo_key] = (start, f"inactive={instant_label(start)}")
    start, source = period
    at = shift(start, trigger.inactivity, tz)
    return Firing(source=source, at=at, upcoming=at > now)


def after_step_source(trigger: AfterStepTrigger, source_part: str) -> str:
    """The source of a follower's occurrence, from the source part of the one it follows."""
    return after_source(trigger.after_step, source_part)


def claimed_firing(
    trigger: ScheduleTrigger | DateTrigger | InactivityTrigger,
    source: str,
    contact: Contact,
    tz: ZoneInfo,
    now: datetime,
) -> Firing | None:
    """The firing of `trigger` that `source` names, rebuilt from the source alone.

    For occurrences with an open claim that the catch-up above no longer yields (a later
    firing superseded them): ``at=<instant>`` (schedule), ``year=<Y>`` (yearly date, on the
    contact's current date attribute), ``date=<date>`` (one-shot date) and
    ``inactive=<instant>`` (inactivity: that instant plus the inactivity). None when the
    source is not one this trigger makes, or cannot be rebuilt.
    """
    kind, _, value = source.partition("=")
    try:
        if isinstance(trigger, ScheduleTrigger):
            at = _parse_label(value) if kind == "at" else None
        elif isinstance(trigger, InactivityTrigger):
            start = _parse_label(value) if kind == "inactive" else None
            at = None if start is None else shift(start, trigger.inactivity, tz)
        elif trigger.every is None:
            if kind != "date":
                return None
            base = date.fromisoformat(value)
            if base.isoformat() != value:
                return None
            at = shift(from_local(datetime.combine(base, time()), tz), trigger.offset, tz)
        else:
            if kind != "year" or not value.isdigit():
                return None
            anniversary = date_attribute(contact, trigger.date, tz)
            if anniversary is None:
                return None
            day = yearly_date(anniversary.month, anniversary.day, int(value), trigger.feb29)
            at = shift(from_local(datetime.combine(day, time()), tz), trigger.offset, tz)
    except (ValueError, OverflowError):
        return None
    if at is None:
        return None
    return Firing(source=source, at=at, upcoming=at > now)
