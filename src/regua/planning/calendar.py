"""Local-time arithmetic that is exact across daylight-saving changes.

Everything the planner does with wall clocks goes through this module: ``at=`` times, delays
in calendar days and months, quiet hours, birthdays, cron and RRULE schedules. Instants in and
out are timezone-aware datetimes in UTC; a contact's `~zoneinfo.ZoneInfo` is only used to read
and write its local wall clock. A naive datetime where an instant is expected is a
`ValueError`, never a guess.

The rules (DESIGN.md, "Semantics") and why:

* **A wall time that does not exist** (the spring-forward gap, 02:30 on a night when 02:00
  jumps to 03:00) is shifted forward by the length of the gap, to 03:30. This is what RFC 5545
  prescribes for recurrences and what java.time does, so regua agrees with calendar software
  and with the services it sits next to; and distinct wall times stay distinct (02:15 and
  02:45 become 03:15 and 03:45, instead of all snapping to 03:00).
* **An ambiguous wall time** (the fall-back overlap, 01:30 twice) means its first occurrence:
  a once-a-day rule fires once, at the earlier instant. Only schedules that run every hour
  (or more often) fire in both halves of the repeated hour, because they are about elapsed
  time, not about a time of day.
* **Calendar units keep the wall clock**: "1d" after 09:00 is 09:00 the next day, 23 or 25
  real hours later on a DST night; "24h" is 24 real hours. Months are added from the anchor
  (Jan 31 + 2 months is Mar 31, not Feb 28 + 1 month).
* **Schedules run on naive local wall time**: a cron expression or RRULE is evaluated on naive
  datetimes (croniter and dateutil never see a timezone, so their own, different, DST
  heuristics never apply) and every wall time is then converted with `from_local`. Firings
  are reported as UTC instants, which are what occurrence keys are made of: 01:30 EDT and
  01:30 EST compare equal as aware Python datetimes, their UTC instants do not.

`zoneinfo` already implements the first two rules: a naive wall time with ``fold=0`` is read
with the offset in force *before* the transition, which lands a gap time after the gap by
exactly its length, and picks the first of two ambiguous instants.
"""

from __future__ import annotations

import copy
import heapq
import math
import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Final, Literal
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, CroniterError, croniter
from dateutil.parser import isoparse
from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulebase, rrulestr

from regua.definitions.durations import Duration
from regua.definitions.policy import QuietHours

__all__ = [
    "UTC",
    "Schedule",
    "from_local",
    "in_quiet_hours",
    "next_at",
    "quiet_until",
    "shift",
    "to_local",
    "yearly_date",
]

UTC: Final = timezone.utc
"""The timezone of every instant the engine handles."""

_MINUTE: Final = timedelta(minutes=1)
_DAY: Final = timedelta(days=1)


# --- instants and wall times ------------------------------------------------------------------


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name} must be a timezone-aware datetime (an instant), got the naive {value!r}"
        )


def _naive_utc(instant: datetime) -> datetime:
    """The instant as a naive UTC datetime, for arithmetic against naive wall times."""
    return instant.astimezone(UTC).replace(tzinfo=None)


def to_local(instant: datetime, tz: ZoneInfo) -> datetime:
    """Aware local datetime for a UTC instant.

    In the second half of an ambiguous (fall-back) hour the result has ``fold=1``.

    Raises:
        ValueError: when `instant` is naive.

    """
    _require_aware(instant, "instant")
    return instant.astimezone(tz)


def from_local(wall: datetime, tz: ZoneInfo) -> datetime:
    """Naive local wall time -> aware UTC instant.

    A wall time in a spring-forward gap is shifted forward by the length of the gap (02:30 on
    a night when 02:00 jumps to 03:00 becomes 03:30 local), as RFC 5545 and java.time do; an
    ambiguous (fall-back) wall time takes the first occurrence. `wall`'s ``fold`` is ignored:
    the first occurrence is always meant, so ``from_local(to_local(x).replace(tzinfo=None))``
    gives back `x` except in the second half of an ambiguous hour, where it gives the instant
    one fall-back length earlier.

    Raises:
        ValueError: when `wall` is aware (a wall time carries no timezone).

    """
    if wall.tzinfo is not None:
        raise ValueError(
            f"wall must be a naive local wall-clock datetime, got the aware {wall!r}; "
            "convert instants with to_local() first"
        )
    # PEP 495 / zoneinfo: with fold=0 a gap time is read with the offset in force before the
    # transition (so it lands after the gap, shifted by exactly the gap's length) and an
    # ambiguous time is its first occurrence: both rules of DESIGN.md, "Time".
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def shift(instant: datetime, duration: Duration, tz: ZoneInfo) -> datetime:
    """Add a `Duration`: calendar part on the wall clock, then elapsed seconds in UTC.

    The calendar part (months, then days) is added to the local wall-clock time, always from
    the anchor (Jan 31 + 1mo = Feb 28/29; Jan 31 + 2mo = Mar 31), and the result is
    re-localised with `from_local`; then the elapsed seconds are added to the UTC instant.
    Negative durations work the same way (calendar part first, then seconds). So ``"1d"``
    after 09:00 local on the eve of a DST change is 09:00 the next day, 23 or 25 real hours
    later, while ``"24h"`` is exactly 24 real hours.

    Raises:
        ValueError: when `instant` is naive.

    """
    # The planner's hot path: instants are already UTC, so skip the checks and conversions
    # for them (any other aware instant takes the general route, with the same result).
    if instant.tzinfo is not UTC:
        _require_aware(instant, "instant")
        instant = instant.astimezone(UTC)
    months = duration.months
    days = duration.days
    if months:
        wall = instant.astimezone(tz).replace(tzinfo=None)
        # relativedelta applies months first (clamping the day to the month's length),
        # then days: exactly "months, then days", computed from the anchor in one step.
        wall = wall + relativedelta(months=months, days=days)
        # from_local, inlined: fold=0 reads a gap forward and an ambiguous time as the first.
        instant = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    elif days:
        # The same, cheaper: adding a timedelta to an aware datetime is wall-clock arithmetic
        # and gives fold=0, so converting the sum to UTC is from_local of the shifted wall.
        instant = (instant.astimezone(tz) + _days(days)).astimezone(UTC)
    seconds = duration.seconds
    return instant + _seconds(seconds) if seconds else instant


@lru_cache(maxsize=256)
def _days(days: int) -> timedelta:
    return timedelta(days=days)


@lru_cache(maxsize=256)
def _seconds(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def next_at(instant: datetime, at: time, tz: ZoneInfo) -> datetime:
    """The first instant >= `instant` whose local wall-clock time is `at`.

    That is `at` on the same local date if it has not passed yet, else on the next date. Each
    local date has exactly one candidate, ``from_local(date + at)``: when `at` falls in a gap
    on a date, that date's candidate is the shifted instant; when it is ambiguous, the first
    occurrence (the second one is not a candidate: "at 01:30" happens once a day).

    Raises:
        ValueError: when `instant` is naive or `at` carries a timezone.

    """
    if instant.tzinfo is not UTC:  # the planner's instants are UTC: no checks for them
        _require_aware(instant, "instant")
        instant = instant.astimezone(UTC)
    if at.tzinfo is not None:
        raise ValueError(f"at must be a local wall-clock time without a timezone, got {at!r}")
    local_date = instant.astimezone(tz).date()
    # The previous date counts too: a gap that swallows midnight can shift yesterday's `at`
    # into today. Dates beyond tomorrow only matter after day-long offset jumps. The
    # candidates are in increasing order (from_local never goes back), so the first one at
    # or after `instant` is the answer.
    for candidate in _at_candidates(local_date, at, tz):
        if candidate >= instant:
            return candidate
    best: datetime | None = None
    offset = 2
    while best is None:
        candidate = from_local(datetime.combine(local_date + timedelta(days=offset), at), tz)
        if candidate >= instant and (best is None or candidate < best):
            best = candidate
        offset += 1
    return best


@lru_cache(maxsize=65536)
def _at_candidates(local_date: date, at: time, tz: ZoneInfo) -> tuple[datetime, datetime, datetime]:
    # `at` on the day before, the day itself and the day after, as instants: every contact
    # with an instant on that local date asks the same three questions; answer them once.
    return (
        from_local(datetime.combine(local_date - _DAY, at), tz),
        from_local(datetime.combine(local_date, at), tz),
        from_local(datetime.combine(local_date + _DAY, at), tz),
    )


def in_quiet_hours(instant: datetime, quiet: QuietHours, tz: ZoneInfo) -> bool:
    """Whether the local wall-clock time of `instant` is inside the quiet window.

    The window is half-open: ``start <= t < end``, or, for a window crossing midnight
    (``start > end``, e.g. 21:00-08:00), ``t >= start or t < end``.

    Raises:
        ValueError: when `instant` is naive.

    """
    _require_aware(instant, "instant")
    wall_time = to_local(instant, tz).time()
    if quiet.crosses_midnight:
        return wall_time >= quiet.start or wall_time < quiet.end
    return quiet.start <= wall_time < quiet.end


def quiet_until(instant: datetime, quiet: QuietHours, tz: ZoneInfo) -> datetime | None:
    """The UTC instant the quiet window around `instant` ends, or None outside the window.

    The end is `quiet.end` in the contact's local time on the right date: the same local date,
    except for a window crossing midnight entered in the evening, which ends on the next date.
    The end wall time goes through `from_local`, so 08:00 on the spring-forward day in New
    York (2025-03-09) is 12:00Z, not 13:00Z, and an end inside a gap is shifted by the gap's
    length (an end of 02:30 on that night is 03:30 EDT, although `in_quiet_hours` already
    says "not quiet" from 03:00 EDT, when the wall clock jumps past 02:30). When `instant` is
    in the second half of a repeated hour and the first occurrence of the end is already past,
    the end's second occurrence is returned, so the result is always later than `instant`.

    Raises:
        ValueError: when `instant` is naive.

    """
    if not in_quiet_hours(instant, quiet, tz):
        return None
    instant = instant.astimezone(UTC)
    local = to_local(instant, tz)
    end_date = local.date()
    if quiet.crosses_midnight and local.time() >= quiet.start:
        end_date += _DAY
    wall_end = datetime.combine(end_date, quiet.end)
    result = from_local(wall_end, tz)
    if result <= instant:
        # Only possible inside a repeated hour: t is in the window on the second pass, while
        # the end's first occurrence was on the first pass. The window ends on this pass.
        result = wall_end.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return result


def yearly_date(month: int, day: int, year: int, feb29: Literal["feb28", "mar1"] = "feb28") -> date:
    """The date of a yearly anniversary in `year`.

    Feb 29 falls on Feb 28 in common years, or on Mar 1 with ``feb29="mar1"``.

    >>> yearly_date(2, 29, 2025), yearly_date(2, 29, 2025, "mar1"), yearly_date(2, 29, 2024)
    (datetime.date(2025, 2, 28), datetime.date(2025, 3, 1), datetime.date(2024, 2, 29))

    Raises:
        ValueError: for a month and day that never exist, or an unknown `feb29` rule.

    """
    if feb29 not in ("feb28", "mar1"):
        raise ValueError(f"feb29 must be 'feb28' or 'mar1', got {feb29!r}")
    if (month, day) == (2, 29) and not _is_leap(year):
        return date(year, 2, 28) if feb29 == "feb28" else date(year, 3, 1)
    return date(year, month, day)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


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

_RRULE_ANCHOR: Final = datetime(2000, 1, 1)
"""The DTSTART of an RRULE that gives none (and croniter's start time, irrelevant there)."""
_TZ_IN_RRULE = re.compile(r"TZID|\dZ\b")
_SUB_DAILY: Final = frozenset({"HOURLY", "MINUTELY", "SECONDLY"})
_SECOND_STEPS: Final = {
    "WEEKLY": 7 * 86400,
    "DAILY": 86400,
    "HOURLY": 3600,
    "MINUTELY": 60,
    "SECONDLY": 1,
}
_MONTH_STEPS: Final = {"YEARLY": 12, "MONTHLY": 1}
# Restarting an RRULE from a later anchor is done on a grid of whole days (or whole periods
# when longer), so that nearby queries share one compiled rule from the cache.
_GRAIN_SECONDS: Final = 86400


def _is_rrule(expression: str) -> bool:
    # Kept in step with regua.definitions.triggers, which classifies ScheduleTrigger.kind.
    upper = expression.upper()
    return "FREQ=" in upper or upper.startswith(("RRULE:", "DTSTART"))


@lru_cache(maxsize=512)
def _compile_rrule(body: str, dtstart: datetime) -> rrulebase:
    """An RRULE body (no DTSTART) compiled with a naive `dtstart`; shared, read-only."""
    return rrulestr(body, dtstart=dtstart, cache=False)


class Schedule:
    """A cron expression or an RRULE, compiled once, evaluated in a contact's local wall time.

    *Cron*: standard five fields (``"0 9 * * MON"``), via croniter; when both day-of-month
    and day-of-week are restricted either matching fires, as POSIX cron does
    (``"0 9 13 * FRI"``: every Friday and every 13th).

    *RRULE*: an RFC 5545 rule (``"RRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0"``), via
    `dateutil.rrule.rrulestr`, optionally with a naive ``DTSTART`` and further RRULE, RDATE,
    EXRULE and EXDATE lines. Without a DTSTART the rule starts at the fixed naive anchor
    2000-01-01 00:00 local time: FREQ and INTERVAL count from it (``FREQ=DAILY;INTERVAL=2``
    fires on even days since that date, COUNT counts from it) and, as dateutil derives
    missing BYHOUR / BYMINUTE / BYSECOND from the start, ``"RRULE:FREQ=DAILY"`` fires at
    00:00. Give BYHOUR and BYMINUTE to pick the time. Timezones (TZID, a trailing ``Z``) are
    rejected: the contact's timezone applies.

    The expression is evaluated on naive local wall times, and each wall time becomes an
    instant through `from_local`: a fixed-time schedule (``"30 1 * * *"``) fires once per
    local date, at the first occurrence on a fall-back night and shifted forward in a gap. An
    hourly schedule (cron hour field ``*`` or a step such as ``*/2``; an RRULE with
    FREQ=HOURLY, MINUTELY or SECONDLY) fires at every real hour: an ambiguous wall time yields
    both instants. A gap firing shifted onto another firing's instant is reported once.

    All results are UTC instants (``tzinfo is timezone.utc``).
    """

    __slots__ = (
        "_body",
        "_cron",
        "_dtstart",
        "_expression",
        "_hourly",
        "_step",
    )

    def __init__(self, expression: str) -> None:
        """Parse `expression` once.

        Raises:
            ValueError: when it is neither a valid five-field cron expression nor a valid
                RRULE.

        """
        text = expression.strip()
        self._expression = text
        self._cron: croniter[datetime] | None = None
        self._body = ""
        self._dtstart = _RRULE_ANCHOR
        self._step: tuple[Literal["seconds", "months"], int] | None = None
        self._hourly = False
        if _is_rrule(text):
            self._parse_rrule(text)
        else:
            self._parse_cron(text)

    @property
    def expression(self) -> str:
        """The expression as given (stripped)."""
        return self._expression

    @property
    def kind(self) -> Literal["cron", "rrule"]:
        """Whether the expression is a cron expression or an RRULE."""
        return "cron" if self._cron is not None else "rrule"

    @property
    def hourly(self) -> bool:
        """True for schedules that fire at every real hour (both halves of a repeated hour)."""
        return self._hourly

    def __repr__(self) -> str:
        return f"Schedule({self._expression!r})"

    # --- parsing ------------------------------------------------------------------------------

    def _parse_cron(self, text: str) -> None:
        fields = text.split()
        if len(fields) != 5:
            raise ValueError(
                f"invalid cron expression {text!r}: expected five fields "
                "'minute hour day-of-month month day-of-week', e.g. '0 9 * * MON'"
            )
        try:
            # day_or=True is croniter's default; spelled out because POSIX OR semantics for
            # day-of-month + day-of-week is a decided rule, not an accident of defaults.
            self._cron = croniter(text, _RRULE_ANCHOR, ret_type=datetime, day_or=True)
        except (CroniterError, TypeError) as exc:
            raise ValueError(f"invalid cron expression {text!r}: {exc}") from None
        hour = fields[1]
        self._hourly = hour == "*" or "/" in hour

    def _parse_rrule(self, text: str) -> None:
        if _TZ_IN_RRULE.search(text.upper()):
            raise ValueError(
                f"RRULE {text!r} must not carry a timezone (TZID or a UTC 'Z' time): "
                "schedules run in the contact's local time"
            )
        tokens = text.split()
        starts = [token for token in tokens if token.upper().startswith("DTSTART")]
        if len(starts) > 1:
            raise ValueError(f"RRULE {text!r} has more than one DTSTART")
        if starts:
            self._dtstart = _parse_dtstart(starts[0], text)
        self._body = " ".join(token for token in tokens if not token.upper().startswith("DTSTART"))
        try:
            _compile_rrule(self._body, self._dtstart)  # validates, and warms the cache
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"invalid RRULE {text!r}: {exc}") from None
        rules = [(name, _rule_parts(value)) for name, value in _rule_lines(tokens)]
        self._hourly = any(
            name == "RRULE" and parts.get("FREQ") in _SUB_DAILY for name, parts in rules
        )
        self._step = _restart_step([parts for _, parts in rules])

    # --- public queries -----------------------------------------------------------------------

    def fires_between(self, start: datetime, end: datetime, tz: ZoneInfo) -> Iterator[datetime]:
        """UTC instants of firings in the half-open interval (start, end], ascending, once each.

        Raises:
            ValueError: when `start` or `end` is naive.

        """
        _require_aware(start, "start")
        _require_aware(end, "end")
        return self._fires_between(start.astimezone(UTC), end.astimezone(UTC), tz)

    def next_fire(self, after: datetime, tz: ZoneInfo) -> datetime | None:
        """The first firing strictly after `after`, or None (an RRULE may end).

        Raises:
            ValueError: when `after` is naive.

        """
        _require_aware(after, "after")
        after = after.astimezone(UTC)
        # Walls at or below after + (smallest offset nearby) map to instants <= after.
        low_wall = _naive_utc(after) + _offsets_near(_naive_utc(after), tz)[0]
        best: datetime | None = None
        stop_wall: datetime | None = None
        for wall in self._walls_after(low_wall):
            if stop_wall is not None and wall > stop_wall:
                break
            for instant in self._instants(wall, tz):
                if instant > after and (best is None or instant < best):
                    best = instant
                    # Walls above best + (largest offset nearby) map to instants > best.
                    naive_best = _naive_utc(best)
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
            ValueError: when `at_or_before` or `not_before` is naive.

        """
        _require_aware(at_or_before, "at_or_before")
        upper = at_or_before.astimezone(UTC)
        lower: datetime | None = None
        floor_wall: datetime | None = None
        if not_before is not None:
            _require_aware(not_before, "not_before")
            lower = not_before.astimezone(UTC)
            if lower > upper:
                return None
            # Walls below not_before + (smallest offset nearby) map to instants < not_before.
            naive_lower = _naive_utc(lower)
            floor_wall = naive_lower + _offsets_near(naive_lower, tz)[0]
        naive_upper = _naive_utc(upper)
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
                    naive_best = _naive_utc(best)
                    stop_wall = naive_best + _offsets_near(naive_best, tz)[0]
        return best

    # --- evaluation ---------------------------------------------------------------------------

    def _fires_between(self, start: datetime, end: datetime, tz: ZoneInfo) -> Iterator[datetime]:
        if end <= start:
            return
        naive_start, naive_end = _naive_utc(start), _naive_utc(end)
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
            while pending and _naive_utc(pending[0]) < horizon:
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
        """The UTC instants a wall time fires at: one, or two for an hourly schedule."""
        first = from_local(wall, tz)
        if self._hourly:
            second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
            # fold=1 differs from fold=0 both in a gap and in an overlap; only in an overlap
            # does it read back as the same wall time (a real, second occurrence).
            if second != first and to_local(second, tz).replace(tzinfo=None) == wall:
                return (first, second)
        return (first,)

    def _walls_after(self, start: datetime) -> Iterator[datetime]:
        """Naive wall times of firings strictly after the naive `start`, ascending."""
        if self._cron is not None:
            cron = copy.copy(self._cron)  # croniter is stateful; the template stays shared
            # Cron walls are whole minutes: those after `start` are those after its minute.
            cron.set_current(start.replace(second=0, microsecond=0))
            while True:
                try:
                    yield cron.get_next(datetime)
                except CroniterBadDateError:  # no firing within croniter's 50-year horizon
                    return
        else:
            anchor = self._anchor(start)
            yield from _compile_rrule(self._body, anchor).xafter(start, inc=False)

    def _walls_at_or_before(self, end: datetime) -> Iterator[datetime]:
        """Naive wall times of firings at or before the naive `end`, descending."""
        if self._cron is not None:
            cron = copy.copy(self._cron)
            # get_prev returns walls before its start minute: start one minute past `end`'s.
            cron.set_current(end.replace(second=0, microsecond=0) + _MINUTE)
            while True:
                try:
                    yield cron.get_prev(datetime)
                except CroniterBadDateError:
                    return
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
            for wall in _compile_rrule(self._body, anchor).xafter(anchor, inc=True):
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


def _parse_dtstart(token: str, text: str) -> datetime:
    name, separator, value = token.partition(":")
    params = name.upper().split(";")[1:]
    if (
        not separator
        or not value
        or any(p not in ("VALUE=DATE", "VALUE=DATE-TIME") for p in params)
    ):
        raise ValueError(f"invalid DTSTART {token!r} in RRULE {text!r}")
    try:
        start = isoparse(value)
    except ValueError:
        start = None
    if start is None or start.tzinfo is not None:
        raise ValueError(
            f"invalid DTSTART {token!r} in RRULE {text!r}: expected a naive local date-time "
            "such as DTSTART:20250101T090000"
        )
    return start


def _rule_lines(tokens: list[str]) -> Iterator[tuple[str, str]]:
    """(RRULE or EXRULE, its value) for each recurrence rule among the tokens."""
    for token in tokens:
        name, separator, value = token.partition(":")
        if not separator:  # a bare "FREQ=...;..." is an RRULE, as rrulestr reads it
            yield "RRULE", token
        elif name.upper() in ("RRULE", "EXRULE"):
            yield name.upper(), value


def _rule_parts(value: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for pair in value.split(";"):
        key, _, item = pair.partition("=")
        parts[key.upper()] = item.upper()
    return parts


def _restart_step(rules: list[dict[str, str]]) -> tuple[Literal["seconds", "months"], int] | None:
    """The period after which every rule repeats its pattern, in seconds or in months.

    None when the rules cannot be restarted later (COUNT, a mix of month- and second-based
    rules, or no rule at all).
    """
    if not rules or any("COUNT" in parts for parts in rules):
        return None
    seconds: list[int] = []
    months: list[int] = []
    for parts in rules:
        freq = parts.get("FREQ", "")
        interval = int(parts.get("INTERVAL", "1"))
        if freq in _SECOND_STEPS:
            seconds.append(_SECOND_STEPS[freq] * interval)
        elif freq in _MONTH_STEPS:
            months.append(_MONTH_STEPS[freq] * interval)
        else:
            return None
    if seconds and months:
        return None
    if seconds:
        return "seconds", math.lcm(*seconds)
    return "months", math.lcm(*months)
