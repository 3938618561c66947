"""Local-time arithmetic that is exact across daylight-saving changes.

Everything the planner does with wall clocks goes through this module: ``at=`` times, delays
in calendar days and months, quiet hours, birthdays, and the wall times of cron and RRULE
schedules (`regua.planning.schedules`). Instants in and
out are timezone-aware datetimes in UTC; a contact's `~zoneinfo.ZoneInfo` is only used to read
and write its local wall clock. A naive datetime where an instant is expected is a
`~regua.errors.InvalidArgumentError` (a `ValueError`), never a guess.

The rules (DESIGN.md, "Semantics") and why:

* **A wall time that does not exist** (the spring-forward gap, 02:30 on a night when 02:00
  jumps to 03:00) is shifted forward by the length of the gap, to 03:30. This is what RFC 5545
  prescribes for recurrences and what java.time does, so regua agrees with calendar software
  and with the services it sits next to; and distinct wall times stay distinct (02:15 and
  02:45 become 03:15 and 03:45, instead of all snapping to 03:00).
* **An ambiguous wall time** (the fall-back overlap, 01:30 twice) means its first occurrence:
  a once-a-day rule fires once, at the earlier instant. Only schedules whose minute or hour
  is a wildcard or a step (``*``, ``*/15``; an RRULE of FREQ=HOURLY or finer) fire in both
  halves of the repeated hour, as Vixie cron does, because they are about elapsed time, not
  about a time of day.
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

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Final, Literal
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from regua.definitions.durations import Duration
from regua.definitions.policy import QuietHours
from regua.errors import InvalidArgumentError

__all__ = [
    "UTC",
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

_DAY: Final = timedelta(days=1)


# --- instants and wall times ------------------------------------------------------------------


def require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgumentError(
            f"{name} must be a timezone-aware datetime (an instant), got the naive {value!r}"
        )


def naive_utc(instant: datetime) -> datetime:
    """The instant as a naive UTC datetime, for arithmetic against naive wall times."""
    return instant.astimezone(UTC).replace(tzinfo=None)


def to_local(instant: datetime, tz: ZoneInfo) -> datetime:
    """Aware local datetime for a UTC instant.

    In the second half of an ambiguous (fall-back) hour the result has ``fold=1``.

    Raises:
        InvalidArgumentError: when `instant` is naive.

    """
    require_aware(instant, "instant")
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
        InvalidArgumentError: when `wall` is aware (a wall time carries no timezone).

    """
    if wall.tzinfo is not None:
        raise InvalidArgumentError(
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
        InvalidArgumentError: when `instant` is naive.

    """
    # The planner's hot path: instants are already UTC, so skip the checks and conversions
    # for them (any other aware instant takes the general route, with the same result).
    if instant.tzinfo is not UTC:
        require_aware(instant, "instant")
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
        InvalidArgumentError: when `instant` is naive or `at` carries a timezone.

    """
    if instant.tzinfo is not UTC:  # the planner's instants are UTC: no checks for them
        require_aware(instant, "instant")
        instant = instant.astimezone(UTC)
    if at.tzinfo is not None:
        raise InvalidArgumentError(
            f"at must be a local wall-clock time without a timezone, got {at!r}"
        )
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
        InvalidArgumentError: when `instant` is naive.

    """
    require_aware(instant, "instant")
    return quiet.covers(instant.astimezone(tz).time())


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
        InvalidArgumentError: when `instant` is naive.

    """
    if instant.tzinfo is not UTC:  # the planner's instants are UTC: no checks for them
        require_aware(instant, "instant")
        instant = instant.astimezone(UTC)
    # One conversion to the wall clock answers both questions: inside? until when?
    local = instant.astimezone(tz)
    if not quiet.covers(local.time()):
        return None
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
        InvalidArgumentError: an unknown `feb29` rule.
        ValueError: a month and day that never exist.

    """
    if feb29 not in ("feb28", "mar1"):
        raise InvalidArgumentError(f"feb29 must be 'feb28' or 'mar1', got {feb29!r}")
    if (month, day) == (2, 29) and not _is_leap(year):
        return date(year, 2, 28) if feb29 == "feb28" else date(year, 3, 1)
    return date(year, month, day)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
