"""Cron and RRULE schedules evaluated in a contact's local wall time.

The text is checked by `regua.definitions.schedules.parse_schedule` (the one validator, which
`ScheduleTrigger` runs when a cadence is built); `Schedule` evaluates what it returns. Wall
times come from croniter and dateutil on naive datetimes, so their own DST heuristics never
apply, and each becomes an instant through `~regua.planning.calendar.from_local`.
"""

from __future__ import annotations

import copy
import heapq
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final, Literal
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, croniter
from dateutil.relativedelta import relativedelta

from regua.definitions.schedules import (
    RRULE_ANCHOR,
    CronSchedule,
    compile_rrule,
    parse_schedule,
)
from regua.planning.calendar import UTC, from_local, naive_utc, require_aware, to_local

__all__ = ["Schedule"]

_MINUTE: Final = timedelta(minutes=1)
_DAY: Final = timedelta(days=1)
# --- offset bounds ----------------------------------------------------------------------------

_EPOCH: Final = datetime(1970, 1, 1)
_SAMPLE_STEPS: Final = tuple(timedelta(hours=hours) for hours in range(-48, 49, 3))


@lru_cache(maxsize=4096)
def _offset_range(tz: ZoneInfo, hour: int) -> tuple[timedelta, timedelta]:
    """Smallest and largest UTC offsets `tz` uses within about two days of an hour."""
    centre = _EPOCH + timedelta(hours=hour)
    offsets: list[timedelta] = []
    # Sampling every 3 hours sees the offsets on both sides of every change: a zone's
    # transitions are months apart, never a there-and-back within three hours.
    for step in _SAMPLE_STEPS:
        try:
            offset = (centre + step).replace(tzinfo=UTC).astimezone(tz).utcoffset()
        except OverflowError:  # near datetime.min / datetime.max
            continue
        if offset is not None:
            offsets.append(offset)
    if not offsets:
        return timedelta(0), timedelta(0)
    return min(offsets), max(offsets)


def _offsets_near(naive: datetime, tz: ZoneInfo) -> tuple[timedelta, timedelta]:
    """Offset bounds for instants near `naive` (a naive UTC instant or a wall time).

    A wall time maps to an instant at most about 15 hours away from the same digits read as
    UTC, well inside the ±48 hours sampled.
    """
    return _offset_range(tz, (naive - _EPOCH) // timedelta(hours=1))


# --- schedules --------------------------------------------------------------------------------

# Restarting an RRULE from a later anchor is done on a grid of whole days (or whole periods
# when longer), so that nearby queries share one compiled rule from the cache.
_GRAIN_SECONDS: Final = 86400


class Schedule:
    """A cron expression or an RRULE, compiled once, evaluated in a contact's local wall time.

    The syntax and its checks are `regua.definitions.schedules.parse_schedule`'s.

    *Cron*: standard five fields (``"0 9 * * MON"``), via croniter; when both day-of-month
    and day-of-week are restricted (neither starts with ``*``) either matching fires, as
    crontab(5) says (``"0 9 13 * FRI"``: every Friday and every 13th), with ``L`` and ``#``
    too; otherwise both must match.

    *RRULE*: an RFC 5545 rule (``"RRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0"``), via
    `dateutil.rrule.rrulestr`, optionally with a naive ``DTSTART`` and further RRULE, RDATE,
    EXRULE and EXDATE lines. Without a DTSTART the rule starts at the fixed naive anchor
    2000-01-01 00:00 local time: FREQ and INTERVAL count from it (``FREQ=DAILY;INTERVAL=2``
    fires on even days since that date, COUNT counts from it) and, as dateutil derives
    missing BYHOUR / BYMINUTE / BYSECOND from the start, ``"RRULE:FREQ=DAILY"`` fires at
    00:00. Give BYHOUR and BYMINUTE to pick the time. Timezones (TZID, a trailing ``Z``) are
    rejected: the contact's timezone applies.

    The expression is evaluated on naive local wall times, and each wall time becomes an
    instant through `from_local`: a schedule with a fixed minute and hour
    (``"30 1 * * *"``) fires once per local date, at the first occurrence on a fall-back
    night, and shifted forward in a gap. A schedule whose minute or hour is a wildcard or a
    step (``"* 1-6 * * *"``, ``"*/15 9 * * *"``, ``"0 * * * *"``; an RRULE with FREQ=HOURLY,
    MINUTELY or SECONDLY) fires at every real instant it matches, as Vixie cron does: an
    ambiguous wall time yields both instants. A gap firing shifted onto another firing's
    instant is reported once.

    All results are UTC instants (``tzinfo is timezone.utc``).
    """

    __slots__ = ("_body", "_crons", "_dtstart", "_every_instant", "_expression", "_step")

    def __init__(self, expression: str) -> None:
        """Parse `expression` once.

        Raises:
            ValueError: when it is neither a valid five-field cron expression nor a valid
                RRULE, or when it could never fire.

        """
        spec = parse_schedule(expression)
        self._expression = spec.expression
        self._every_instant = spec.every_instant
        self._crons: tuple[croniter[datetime], ...] = ()
        self._body = ""
        self._dtstart = RRULE_ANCHOR
        self._step: tuple[Literal["seconds", "months"], int] | None = None
        if isinstance(spec, CronSchedule):
            self._crons = tuple(
                croniter(part, RRULE_ANCHOR, ret_type=datetime, day_or=False) for part in spec.parts
            )
        else:
            self._body, self._dtstart, self._step = spec.body, spec.dtstart, spec.restart

    @property
    def expression(self) -> str:
        """The expression as given (stripped)."""
        return self._expression

    @property
    def kind(self) -> Literal["cron", "rrule"]:
        """Whether the expression is a cron expression or an RRULE."""
        return "cron" if self._crons else "rrule"

    @property
    def every_instant(self) -> bool:
        """True for schedules that fire in both halves of a repeated (fall-back) hour."""
        return self._every_instant

    def __repr__(self) -> str:
        return f"Schedule({self._expression!r})"

    # --- public queries -----------------------------------------------------------------------

    def fires_between(self, start: datetime, end: datetime, tz: ZoneInfo) -> Iterator[datetime]:
        """UTC instants of firings in the half-open interval (start, end], ascending, once each.

        Raises:
            InvalidArgumentError: when `start` or `end` is naive.

        """
        require_aware(start, "start")
        require_aware(end, "end")
        return self._fires_between(start.astimezone(UTC), end.astimezone(UTC), tz)

    def next_fire(self, after: datetime, tz: ZoneInfo) -> datetime | None:
        """The first firing strictly after `after`, or None (an RRULE may end).

        Raises:
            InvalidArgumentError: when `after` is naive.

        """
        require_aware(after, "after")
        after = after.astimezone(UTC)
        # Walls at or below after + (smallest offset nearby) map to instants <= after.
        low_wall = naive_utc(after) + _offsets_near(naive_utc(after), tz)[0]
        best: datetime | None = None
        stop_wall: datetime | None = None
        for wall in self._walls_after(low_wall):
            if stop_wall is not None and wall > stop_wall:
                break
            for instant in self._instants(wall, tz):
                if instant > after and (best is None or instant < best):
                    best = instant
                    # Walls above best + (largest offset nearby) map to instants > best.
                    naive_best = naive_utc(best)
                    stop_wall = naive_best + _offsets_near(naive_best, tz)[1]
        return best

    def last_fire(
        self, at_or_before: datetime, tz: ZoneInfo, not_before: datetime | None = None
    ) -> datetime | None:
        """The latest firing <= `at_or_before` (and >= `not_before` if given), or None.

        Wall times are walked backwards from `at_or_before` (croniter's ``get_prev``; for an
        RRULE, windows of doubling width restarted from a later anchor), so the cost does not
        grow with how far back `not_before` lies.

        Raises:
            InvalidArgumentError: when `at_or_before` or `not_before` is naive.

        """
        require_aware(at_or_before, "at_or_before")
        upper = at_or_before.astimezone(UTC)
        lower: datetime | None = None
        floor_wall: datetime | None = None
        if not_before is not None:
            require_aware(not_before, "not_before")
            lower = not_before.astimezone(UTC)
            if lower > upper:
                return None
            # Walls below not_before + (smallest offset nearby) map to instants < not_before.
            naive_lower = naive_utc(lower)
            floor_wall = naive_lower + _offsets_near(naive_lower, tz)[0]
        naive_upper = naive_utc(upper)
        high_wall = naive_upper + _offsets_near(naive_upper, tz)[1]
        best: datetime | None = None
        stop_wall: datetime | None = None
        for wall in self._walls_at_or_before(high_wall):
            if (floor_wall is not None and wall < floor_wall) or (
                stop_wall is not None and wall < stop_wall
            ):
                break
            for instant in self._instants(wall, tz):
                if (
                    instant <= upper
                    and (lower is None or instant >= lower)
                    and (best is None or instant > best)
                ):
                    best = instant
                    naive_best = naive_utc(best)
                    stop_wall = naive_best + _offsets_near(naive_best, tz)[0]
        return best

    # --- evaluation ---------------------------------------------------------------------------

    def _fires_between(self, start: datetime, end: datetime, tz: ZoneInfo) -> Iterator[datetime]:
        if end <= start:
            return
        naive_start, naive_end = naive_utc(start), naive_utc(end)
        low_wall = naive_start + _offsets_near(naive_start, tz)[0]
        high_wall = naive_end + _offsets_near(naive_end, tz)[1]
        # Instants are not monotonic in wall time (a gap time is shifted past later walls;
        # both halves of a repeated hour interleave), so they wait in a heap until no later
        # wall can produce an earlier instant.
        pending: list[datetime] = []
        last: datetime | None = None
        for wall in self._walls_after(low_wall):
            if wall > high_wall:
                break
            horizon = wall - _offsets_near(wall, tz)[1]
            while pending and naive_utc(pending[0]) < horizon:
                instant = heapq.heappop(pending)
                if instant != last:
                    last = instant
                    yield instant
            for instant in self._instants(wall, tz):
                if start < instant <= end:
                    heapq.heappush(pending, instant)
        while pending:
            instant = heapq.heappop(pending)
            if instant != last:
                last = instant
                yield instant

    def _instants(self, wall: datetime, tz: ZoneInfo) -> tuple[datetime, ...]:
        """The UTC instants a wall time fires at: one, or two in an overlap for `every_instant`."""
        first = from_local(wall, tz)
        if self._every_instant:
            second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
            # fold=1 differs from fold=0 both in a gap and in an overlap; only in an overlap
            # does it read back as the same wall time (a real, second occurrence).
            if second != first and to_local(second, tz).replace(tzinfo=None) == wall:
                return (first, second)
        return (first,)

    def _walls_after(self, start: datetime) -> Iterator[datetime]:
        """Naive wall times of firings strictly after the naive `start`, ascending."""
        if self._crons:
            # Cron walls are whole minutes: those after `start` are those after its minute.
            minute = start.replace(second=0, microsecond=0)
            yield from _distinct(heapq.merge(*(_cron_after(c, minute) for c in self._crons)))
        else:
            anchor = self._anchor(start)
            yield from compile_rrule(self._body, anchor).xafter(start, inc=False)

    def _walls_at_or_before(self, end: datetime) -> Iterator[datetime]:
        """Naive wall times of firings at or before the naive `end`, descending."""
        if self._crons:
            # get_prev returns walls before its start minute: start one minute past `end`'s.
            minute = end.replace(second=0, microsecond=0) + _MINUTE
            walls = heapq.merge(*(_cron_before(c, minute) for c in self._crons), reverse=True)
            yield from _distinct(walls)
        else:
            yield from self._rrule_walls_backwards(end)

    def _rrule_walls_backwards(self, end: datetime) -> Iterator[datetime]:
        # dateutil only iterates forwards, from DTSTART. Walk back in windows of doubling
        # width, each restarted from an anchor just below it: the cost is proportional to the
        # distance to the firing found, not to the distance to DTSTART or to `not_before`.
        high, inclusive = end, True
        width = self._initial_width()
        while True:
            try:
                anchor = self._anchor(high - width)
            except OverflowError:
                anchor = self._dtstart
            batch: list[datetime] = []
            for wall in compile_rrule(self._body, anchor).xafter(anchor, inc=True):
                if wall > high or (wall == high and not inclusive):
                    break
                batch.append(wall)
            yield from reversed(batch)
            if anchor <= self._dtstart:
                return
            high, inclusive = anchor, False
            width *= 2

    def _initial_width(self) -> timedelta:
        if self._step is None:
            return _DAY
        unit, step = self._step
        return timedelta(seconds=2 * step) if unit == "seconds" else timedelta(days=62 * step)

    def _anchor(self, target: datetime) -> datetime:
        """The latest start <= `target` from which the RRULE yields the same firings.

        An RRULE restarted from ``DTSTART + k * (INTERVAL periods)`` has the same firings from
        there on: its periods line up, and the BY* parts dateutil derives from the start
        (time of day, weekday, day of month, month) are unchanged. Not possible with COUNT,
        which counts from the original start.
        """
        start = self._dtstart
        if self._step is None or target <= start:
            return start
        unit, step = self._step
        if unit == "seconds":
            grain = step * max(1, _GRAIN_SECONDS // step)
            periods = int((target - start).total_seconds()) // grain
            return start + timedelta(seconds=periods * grain)
        months = (target.year - start.year) * 12 + target.month - start.month
        periods = months // step
        # The day of month must survive (Jan 31 + 1 month is not the 31st): step back to a
        # period whose month has that day; period 0 is the original start.
        for period in range(periods, max(periods - 48, 0) - 1, -1):
            candidate = start + relativedelta(months=period * step)
            if candidate.day == start.day and candidate <= target:
                return candidate
        return start


def _cron_after(template: croniter[datetime], start: datetime) -> Iterator[datetime]:
    cron = copy.copy(template)  # croniter is stateful; the template stays shared
    cron.set_current(start)
    while True:
        try:
            yield cron.get_next(datetime)
        except CroniterBadDateError:  # no firing within croniter's 50-year horizon
            return


def _cron_before(template: croniter[datetime], start: datetime) -> Iterator[datetime]:
    cron = copy.copy(template)
    cron.set_current(start)
    while True:
        try:
            yield cron.get_prev(datetime)
        except CroniterBadDateError:
            return


def _distinct(walls: Iterator[datetime]) -> Iterator[datetime]:
    """Sorted walls with repeats dropped (two parts of one schedule may match one minute)."""
    last: datetime | None = None
    for wall in walls:
        if wall != last:
            last = wall
            yield wall
