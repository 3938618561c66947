"""Tests for regua.planning.calendar: local-time arithmetic across DST changes.

Expected instants are worked out by hand in the comments. The transitions used:

* America/New_York: 2025-03-09 02:00 EST (-05) -> 03:00 EDT (-04), i.e. at 07:00Z;
  2025-11-02 02:00 EDT -> 01:00 EST, at 06:00Z (01:00-01:59 happens twice).
* Europe/Lisbon: 2025-03-30 01:00 WET (+00) -> 02:00 WEST (+01), at 01:00Z;
  2025-10-26 02:00 WEST -> 01:00 WET, at 01:00Z.
* America/Sao_Paulo (DST until 2019): 2018-11-04 00:00 (-03) -> 01:00 (-02), at 03:00Z;
  2019-02-17 00:00 (-02) -> 2019-02-16 23:00 (-03), at 02:00Z.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from regua.definitions.durations import Duration
from regua.definitions.policy import QuietHours
from regua.planning.calendar import (
    UTC,
    Schedule,
    from_local,
    in_quiet_hours,
    next_at,
    quiet_until,
    shift,
    to_local,
    yearly_date,
)

NEW_YORK = ZoneInfo("America/New_York")
LISBON = ZoneInfo("Europe/Lisbon")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
HAVANA = ZoneInfo("America/Havana")
ZULU = ZoneInfo("UTC")

# For the properties: DST north and south, a half-hour DST shift (Lord Howe), an odd offset
# with DST (Chatham, +12:45/+13:45) and a zone without DST.
ZONES = [
    NEW_YORK,
    LISBON,
    SAO_PAULO,
    ZoneInfo("Australia/Lord_Howe"),
    ZoneInfo("Pacific/Chatham"),
    ZoneInfo("Asia/Tokyo"),
]


def z(text: str) -> datetime:
    """A UTC instant from 'YYYY-MM-DDTHH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def wall(text: str) -> datetime:
    """A naive local wall time from 'YYYY-MM-DDTHH:MM'."""
    return datetime.fromisoformat(text)


def fires(expression: str, start: str, end: str, tz: ZoneInfo) -> list[datetime]:
    return list(Schedule(expression).fires_between(z(start), z(end), tz))


# --- the zone database agrees with the transitions above --------------------------------------


@pytest.mark.parametrize(
    ("tz", "instant", "local"),
    [
        (NEW_YORK, "2025-03-09T06:59", "2025-03-09 01:59 -0500"),
        (NEW_YORK, "2025-03-09T07:00", "2025-03-09 03:00 -0400"),
        (NEW_YORK, "2025-11-02T05:59", "2025-11-02 01:59 -0400"),
        (NEW_YORK, "2025-11-02T06:00", "2025-11-02 01:00 -0500"),
        (LISBON, "2025-03-30T00:59", "2025-03-30 00:59 +0000"),
        (LISBON, "2025-03-30T01:00", "2025-03-30 02:00 +0100"),
        (LISBON, "2025-10-26T00:59", "2025-10-26 01:59 +0100"),
        (LISBON, "2025-10-26T01:00", "2025-10-26 01:00 +0000"),
        (SAO_PAULO, "2018-11-04T02:59", "2018-11-03 23:59 -0300"),
        (SAO_PAULO, "2018-11-04T03:00", "2018-11-04 01:00 -0200"),
        (SAO_PAULO, "2019-02-17T01:59", "2019-02-16 23:59 -0200"),
        (SAO_PAULO, "2019-02-17T02:00", "2019-02-16 23:00 -0300"),
    ],
)
def test_transitions_are_where_the_tests_assume(tz: ZoneInfo, instant: str, local: str) -> None:
    assert to_local(z(instant), tz).strftime("%Y-%m-%d %H:%M %z") == local


# --- naive / aware errors ---------------------------------------------------------------------


def test_naive_instants_are_rejected_naming_the_argument() -> None:
    naive = datetime(2025, 1, 1, 9)
    schedule = Schedule("0 9 * * *")
    with pytest.raises(ValueError, match="instant"):
        to_local(naive, NEW_YORK)
    with pytest.raises(ValueError, match="instant"):
        shift(naive, Duration(days=1), NEW_YORK)
    with pytest.raises(ValueError, match="instant"):
        next_at(naive, time(9), NEW_YORK)
    with pytest.raises(ValueError, match="instant"):
        in_quiet_hours(naive, QuietHours(start=time(21), end=time(8)), NEW_YORK)
    with pytest.raises(ValueError, match="start"):
        schedule.fires_between(naive, z("2025-01-02T00:00"), NEW_YORK)
    with pytest.raises(ValueError, match="end"):
        schedule.fires_between(z("2025-01-01T00:00"), naive, NEW_YORK)
    with pytest.raises(ValueError, match="after"):
        schedule.next_fire(naive, NEW_YORK)
    with pytest.raises(ValueError, match="at_or_before"):
        schedule.last_fire(naive, NEW_YORK)
    with pytest.raises(ValueError, match="not_before"):
        schedule.last_fire(z("2025-01-01T00:00"), NEW_YORK, not_before=naive)


def test_aware_wall_times_are_rejected() -> None:
    with pytest.raises(ValueError, match="wall"):
        from_local(z("2025-01-01T09:00"), NEW_YORK)
    with pytest.raises(ValueError, match="at"):
        next_at(z("2025-01-01T00:00"), time(9, tzinfo=timezone.utc), NEW_YORK)


def test_results_are_utc() -> None:
    other = timezone(timedelta(hours=2))
    assert to_local(z("2025-06-01T12:00"), NEW_YORK).tzinfo is NEW_YORK
    assert from_local(wall("2025-06-01T12:00"), NEW_YORK).tzinfo is UTC
    # An instant given in another fixed offset is the same instant; the result is UTC.
    assert shift(datetime(2025, 6, 1, 14, tzinfo=other), Duration(), NEW_YORK) == z(
        "2025-06-01T12:00"
    )
    assert shift(datetime(2025, 6, 1, 14, tzinfo=other), Duration(), NEW_YORK).tzinfo is UTC
    assert next_at(z("2025-06-01T12:00"), time(9), NEW_YORK).tzinfo is UTC


# --- from_local: gaps and overlaps ------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "local", "expected"),
    [
        # Gap: 02:30 is read with EST (-05): 07:30Z, which is 03:30 EDT (shifted by 1h).
        (NEW_YORK, "2025-03-09T02:30", "2025-03-09T07:30"),
        # Overlap: the first 01:30 is EDT (-04): 05:30Z (the second would be 06:30Z).
        (NEW_YORK, "2025-11-02T01:30", "2025-11-02T05:30"),
        # Gap: 01:30 read with WET (+00): 01:30Z, which is 02:30 WEST.
        (LISBON, "2025-03-30T01:30", "2025-03-30T01:30"),
        # Overlap: the first 01:30 is WEST (+01): 00:30Z (the second would be 01:30Z).
        (LISBON, "2025-10-26T01:30", "2025-10-26T00:30"),
        # Gap at midnight: 00:30 read with -03: 03:30Z, which is 01:30 -02.
        (SAO_PAULO, "2018-11-04T00:30", "2018-11-04T03:30"),
        # Overlap before midnight: the first 23:30 is -02: 01:30Z next UTC day.
        (SAO_PAULO, "2019-02-16T23:30", "2019-02-17T01:30"),
        # Ordinary times: 09:00 EDT = 13:00Z, 09:00 WEST = 08:00Z, 09:00 -03 = 12:00Z.
        (NEW_YORK, "2025-07-01T09:00", "2025-07-01T13:00"),
        (LISBON, "2025-07-01T09:00", "2025-07-01T08:00"),
        (SAO_PAULO, "2025-07-01T09:00", "2025-07-01T12:00"),
    ],
)
def test_from_local(tz: ZoneInfo, local: str, expected: str) -> None:
    assert from_local(wall(local), tz) == z(expected)


def test_from_local_ignores_fold_and_takes_the_first_occurrence() -> None:
    assert from_local(wall("2025-11-02T01:30").replace(fold=1), NEW_YORK) == z("2025-11-02T05:30")


def test_gap_shift_is_the_length_of_the_gap() -> None:
    # 02:30 on a night when 02:00 jumps to 03:00 becomes 03:30 local.
    assert to_local(from_local(wall("2025-03-09T02:30"), NEW_YORK), NEW_YORK).replace(
        tzinfo=None
    ) == wall("2025-03-09T03:30")
    # Lord Howe's gap is half an hour (02:00 +10:30 -> 02:30 +11:00): 02:10 becomes 02:40.
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    assert to_local(from_local(wall("2025-10-05T02:10"), lord_howe), lord_howe).replace(
        tzinfo=None
    ) == wall("2025-10-05T02:40")


instants = st.datetimes(min_value=datetime(2010, 1, 1), max_value=datetime(2035, 1, 1)).map(
    lambda naive: naive.replace(tzinfo=UTC, microsecond=0)
)


def _transitions(tz: ZoneInfo, year: int) -> list[datetime]:
    """The instants `tz` changed its UTC offset in `year`, found by day scan and bisection."""
    found: list[datetime] = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    while day.year == year:
        low, high = day, day + timedelta(days=1)
        if low.astimezone(tz).utcoffset() != high.astimezone(tz).utcoffset():
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if middle.astimezone(tz).utcoffset() == low.astimezone(tz).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high.replace(second=0, microsecond=0))
        day += timedelta(days=1)
    return found


# Random instants rarely land near a DST change, so half the examples are drawn within two
# days of one (2018 for Sao Paulo's last DST, 2025 for the others).
TRANSITIONS = [
    (tz, instant)
    for tz in [*ZONES, HAVANA]
    for year in (2018, 2025)
    for instant in _transitions(tz, year)
]


def zoned_instants(zones: list[ZoneInfo]) -> st.SearchStrategy[tuple[ZoneInfo, datetime]]:
    near = [pair for pair in TRANSITIONS if pair[0] in zones]
    return st.one_of(
        st.tuples(st.sampled_from(zones), instants),
        st.tuples(st.sampled_from(near), st.integers(-2 * 86400, 2 * 86400)).map(
            lambda drawn: (drawn[0][0], drawn[0][1] + timedelta(seconds=drawn[1]))
        ),
    )


def test_transition_scan_finds_the_known_changes() -> None:
    assert (NEW_YORK, z("2025-03-09T07:00")) in TRANSITIONS
    assert (NEW_YORK, z("2025-11-02T06:00")) in TRANSITIONS
    assert (SAO_PAULO, z("2018-11-04T03:00")) in TRANSITIONS
    assert len(TRANSITIONS) >= 14


@settings(max_examples=150, deadline=None)
@given(zoned=zoned_instants(ZONES))
def test_round_trip_except_in_the_second_half_of_an_ambiguous_hour(
    zoned: tuple[ZoneInfo, datetime],
) -> None:
    tz, instant = zoned
    local = to_local(instant, tz)
    back = from_local(local.replace(tzinfo=None), tz)
    if local.fold == 0:
        assert back == instant
    else:
        # zoneinfo sets fold=1 exactly on the second occurrence of a repeated wall time;
        # from_local means the first one, earlier by the size of the fall-back.
        first_offset = local.replace(fold=0).utcoffset()
        second_offset = local.utcoffset()
        assert first_offset is not None
        assert second_offset is not None
        assert first_offset > second_offset
        assert back == instant - (first_offset - second_offset)


@pytest.mark.parametrize(
    ("instant", "tz", "first"),
    [
        ("2025-11-02T06:30", NEW_YORK, "2025-11-02T05:30"),  # 01:30 EST -> 01:30 EDT
        ("2025-10-26T01:30", LISBON, "2025-10-26T00:30"),  # 01:30 WET -> 01:30 WEST
        ("2019-02-17T02:30", SAO_PAULO, "2019-02-17T01:30"),  # 23:30 -03 -> 23:30 -02
    ],
)
def test_round_trip_in_the_second_half_gives_the_first_occurrence(
    instant: str, tz: ZoneInfo, first: str
) -> None:
    assert to_local(z(instant), tz).fold == 1
    assert from_local(to_local(z(instant), tz).replace(tzinfo=None), tz) == z(first)


# --- shift --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "start", "duration", "expected"),
    [
        # 09:00 EST 03-08 (14:00Z) + 1d = 09:00 EDT 03-09 = 13:00Z: 23 real hours.
        (NEW_YORK, "2025-03-08T14:00", "1d", "2025-03-09T13:00"),
        # + 24h = 03-09T14:00Z (10:00 EDT).
        (NEW_YORK, "2025-03-08T14:00", "24h", "2025-03-09T14:00"),
        # 09:00 EDT 11-01 (13:00Z) + 1d = 09:00 EST 11-02 = 14:00Z: 25 real hours.
        (NEW_YORK, "2025-11-01T13:00", "1d", "2025-11-02T14:00"),
        # + 24h = 11-02T13:00Z (08:00 EST).
        (NEW_YORK, "2025-11-01T13:00", "24h", "2025-11-02T13:00"),
        # 09:00 WET 03-29 (09:00Z) + 1d = 09:00 WEST 03-30 = 08:00Z.
        (LISBON, "2025-03-29T09:00", "1d", "2025-03-30T08:00"),
        (LISBON, "2025-03-29T09:00", "24h", "2025-03-30T09:00"),
        # 09:00 WEST 10-25 (08:00Z) + 1d = 09:00 WET 10-26 = 09:00Z.
        (LISBON, "2025-10-25T08:00", "1d", "2025-10-26T09:00"),
        # 09:00 -03 2018-11-03 (12:00Z) + 1d = 09:00 -02 11-04 = 11:00Z.
        (SAO_PAULO, "2018-11-03T12:00", "1d", "2018-11-04T11:00"),
        # 09:00 -02 2019-02-16 (11:00Z) + 1d = 09:00 -03 02-17 = 12:00Z.
        (SAO_PAULO, "2019-02-16T11:00", "1d", "2019-02-17T12:00"),
        # Months from the anchor: 2025-01-31 09:00 EST (14:00Z) + 1mo = 02-28 09:00 EST.
        (NEW_YORK, "2025-01-31T14:00", "1mo", "2025-02-28T14:00"),
        # Leap year: 2024-01-31 + 1mo = 2024-02-29 09:00 EST = 14:00Z.
        (NEW_YORK, "2024-01-31T14:00", "1mo", "2024-02-29T14:00"),
        # + 2mo = 03-31 (not 02-28 + 1mo = 03-28), 09:00 EDT = 13:00Z.
        (NEW_YORK, "2025-01-31T14:00", "2mo", "2025-03-31T13:00"),
        # A year from Feb 29: 2025-02-28 (relativedelta clamps the day).
        (NEW_YORK, "2024-02-29T14:00", "1y", "2025-02-28T14:00"),
        # Negative: 2025-03-31 09:00 EDT (13:00Z) - 30d = 03-01 09:00 EST = 14:00Z.
        (NEW_YORK, "2025-03-31T13:00", "-30d", "2025-03-01T14:00"),
        # - 1mo = 02-28 09:00 EST = 14:00Z.
        (NEW_YORK, "2025-03-31T13:00", "-1mo", "2025-02-28T14:00"),
        # Calendar part, then seconds: 03-08 21:00 EST (03-09T02:00Z) + 1d = 03-09 21:00 EDT
        # = 03-10T01:00Z, + 12h = 03-10T13:00Z.
        (NEW_YORK, "2025-03-09T02:00", "1d12h", "2025-03-10T13:00"),
        # And backwards: 03-10 09:00 EDT (13:00Z) - 1d = 03-09 09:00 EDT = 13:00Z, - 12h =
        # 03-09T01:00Z.
        (NEW_YORK, "2025-03-10T13:00", "-1d12h", "2025-03-09T01:00"),
        # Landing in the gap: 03-08 02:30 EST (07:30Z) + 1d = 03-09 02:30, shifted to 03:30
        # EDT = 07:30Z.
        (NEW_YORK, "2025-03-08T07:30", "1d", "2025-03-09T07:30"),
        # From the second 01:30 (EST, 06:30Z) + 1d = 11-03 01:30 EST = 06:30Z.
        (NEW_YORK, "2025-11-02T06:30", "1d", "2025-11-03T06:30"),
        # Weeks are calendar days: 2w from 03-01 09:00 EST (14:00Z) = 03-15 09:00 EDT.
        (NEW_YORK, "2025-03-01T14:00", "2w", "2025-03-15T13:00"),
    ],
)
def test_shift(tz: ZoneInfo, start: str, duration: str, expected: str) -> None:
    assert shift(z(start), Duration.parse(duration), tz) == z(expected)


def test_zero_shift_is_the_identity_even_in_a_repeated_hour() -> None:
    # 01:00 EST on 2025-11-02 (06:00Z), the second 01:00: nothing to add, nothing to move.
    assert shift(z("2025-11-02T06:00"), Duration(), NEW_YORK) == z("2025-11-02T06:00")
    assert shift(z("2025-11-02T06:00"), Duration(seconds=60), NEW_YORK) == z("2025-11-02T06:01")


def test_shift_by_a_timedelta_counts_its_days_as_calendar_days() -> None:
    # timedelta(days=1, hours=1): 1 calendar day then 1 real hour. 09:00 EST 03-08 (14:00Z)
    # -> 09:00 EDT 03-09 (13:00Z) -> 14:00Z.
    duration = Duration.parse(timedelta(days=1, hours=1))
    assert shift(z("2025-03-08T14:00"), duration, NEW_YORK) == z("2025-03-09T14:00")


@settings(max_examples=100, deadline=None)
@given(
    zoned=zoned_instants(ZONES),
    seconds=st.integers(min_value=-400 * 86400, max_value=400 * 86400),
)
def test_calendar_free_shift_is_plain_addition(
    zoned: tuple[ZoneInfo, datetime], seconds: int
) -> None:
    tz, instant = zoned
    assert shift(instant, Duration(seconds=seconds), tz) == instant + timedelta(seconds=seconds)


@settings(max_examples=100, deadline=None)
@given(
    zoned=zoned_instants(ZONES),
    # Zero days is the empty duration: shift() returns the instant unchanged, even in the
    # second half of a repeated hour (tested below), so it is not a calendar shift here.
    days=(st.integers(-3, 3) | st.integers(-400, 400)).filter(bool),
)
def test_day_shift_keeps_the_wall_clock_when_it_exists(
    zoned: tuple[ZoneInfo, datetime], days: int
) -> None:
    tz, instant = zoned
    result = shift(instant, Duration(days=days), tz)
    target = to_local(instant, tz).replace(tzinfo=None) + timedelta(days=days)
    assert result == from_local(target, tz)
    landed = to_local(result, tz).replace(tzinfo=None)
    if to_local(from_local(target, tz), tz).replace(tzinfo=None) == target:  # not in a gap
        assert landed == target
    else:
        assert landed > target


# --- next_at -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "at", "tz", "expected"),
    [
        # 08:00 EDT; 09:00 EDT the same day = 13:00Z.
        ("2025-06-10T12:00", time(9), NEW_YORK, "2025-06-10T13:00"),
        # Exactly 09:00 EDT: >= includes it.
        ("2025-06-10T13:00", time(9), NEW_YORK, "2025-06-10T13:00"),
        # 09:01 EDT: passed, so tomorrow's 09:00 EDT.
        ("2025-06-10T13:01", time(9), NEW_YORK, "2025-06-11T13:00"),
        # 10:00 EST on 03-08: next 09:00 is 03-09 09:00 EDT = 13:00Z (23h after 09:00 EST).
        ("2025-03-08T15:00", time(9), NEW_YORK, "2025-03-09T13:00"),
        # 00:00 EST on 03-09, at 02:30: in the gap, shifted to 03:30 EDT = 07:30Z.
        ("2025-03-09T05:00", time(2, 30), NEW_YORK, "2025-03-09T07:30"),
        # 01:45 EDT on 11-02 (05:45Z), at 01:30: the date's 01:30 is the first (05:30Z),
        # passed; the second 01:30 is not a candidate; 11-03 01:30 EST = 06:30Z.
        ("2025-11-02T05:45", time(1, 30), NEW_YORK, "2025-11-03T06:30"),
        # 23:00 -03 on 2018-11-03, at 00:00: 11-04 00:00 is in the gap -> 01:00 -02 = 03:00Z.
        ("2018-11-04T02:00", time(0), SAO_PAULO, "2018-11-04T03:00"),
        # 00:10 WET on 03-30 (00:10Z), at 01:30: in the gap -> 02:30 WEST = 01:30Z.
        ("2025-03-30T00:10", time(1, 30), LISBON, "2025-03-30T01:30"),
    ],
)
def test_next_at(instant: str, at: time, tz: ZoneInfo, expected: str) -> None:
    assert next_at(z(instant), at, tz) == z(expected)


@settings(max_examples=100, deadline=None)
@given(
    zoned=zoned_instants(ZONES),
    at=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
)
def test_next_at_is_the_first_daily_candidate(zoned: tuple[ZoneInfo, datetime], at: time) -> None:
    tz, instant = zoned
    result = next_at(instant, at, tz)
    assert result >= instant
    assert result - instant < timedelta(days=1, hours=2)
    local_date = to_local(instant, tz).date()
    candidates = [
        from_local(datetime.combine(local_date + timedelta(days=offset), at), tz)
        for offset in (-1, 0, 1, 2)
    ]
    assert result == min(c for c in candidates if c >= instant)


# --- quiet hours ---------------------------------------------------------------------------------

NIGHT = QuietHours(start=time(21), end=time(8))
LUNCH = QuietHours(start=time(12), end=time(14))


@pytest.mark.parametrize(
    ("instant", "quiet", "tz", "expected"),
    [
        # Crossing midnight, New York summer (EDT = UTC-4).
        ("2025-06-11T00:59", NIGHT, NEW_YORK, False),  # 20:59
        ("2025-06-11T01:00", NIGHT, NEW_YORK, True),  # 21:00: start is inclusive
        ("2025-06-11T04:00", NIGHT, NEW_YORK, True),  # 00:00
        ("2025-06-11T11:59", NIGHT, NEW_YORK, True),  # 07:59
        ("2025-06-11T12:00", NIGHT, NEW_YORK, False),  # 08:00: end is exclusive
        # Not crossing midnight, Sao Paulo 2025 (no DST, UTC-3).
        ("2025-06-11T14:59", LUNCH, SAO_PAULO, False),  # 11:59
        ("2025-06-11T15:00", LUNCH, SAO_PAULO, True),  # 12:00
        ("2025-06-11T16:59", LUNCH, SAO_PAULO, True),  # 13:59
        ("2025-06-11T17:00", LUNCH, SAO_PAULO, False),  # 14:00
        ("2025-06-11T03:00", LUNCH, SAO_PAULO, False),  # 00:00
    ],
)
def test_in_quiet_hours(instant: str, quiet: QuietHours, tz: ZoneInfo, expected: bool) -> None:
    assert in_quiet_hours(z(instant), quiet, tz) is expected


@pytest.mark.parametrize(
    ("instant", "quiet", "tz", "expected"),
    [
        # Outside the window.
        ("2025-06-11T00:59", NIGHT, NEW_YORK, None),
        ("2025-06-11T12:00", NIGHT, NEW_YORK, None),
        # Entered in the evening (22:00 EDT 06-10): ends 06-11 08:00 EDT = 12:00Z.
        ("2025-06-11T02:00", NIGHT, NEW_YORK, "2025-06-11T12:00"),
        # In the morning (06:00 EDT 06-11): ends the same date.
        ("2025-06-11T10:00", NIGHT, NEW_YORK, "2025-06-11T12:00"),
        # Spring forward: 22:00 EST 03-08 (03-09T03:00Z) -> 03-09 08:00 EDT = 12:00Z (not
        # 13:00Z, which a fixed EST offset would give).
        ("2025-03-09T03:00", NIGHT, NEW_YORK, "2025-03-09T12:00"),
        # 07:00 EDT on the same morning (11:00Z) -> 12:00Z as well.
        ("2025-03-09T11:00", NIGHT, NEW_YORK, "2025-03-09T12:00"),
        # Fall back: 22:00 EDT 11-01 (11-02T02:00Z) -> 11-02 08:00 EST = 13:00Z.
        ("2025-11-02T02:00", NIGHT, NEW_YORK, "2025-11-02T13:00"),
        # Lisbon spring forward: 22:00 WET 03-29 (22:00Z) -> 03-30 08:00 WEST = 07:00Z.
        ("2025-03-29T22:00", NIGHT, LISBON, "2025-03-30T07:00"),
        # Sao Paulo 2018 spring forward at midnight: 22:00 -03 11-03 (11-04T01:00Z) ->
        # 11-04 08:00 -02 = 10:00Z.
        ("2018-11-04T01:00", NIGHT, SAO_PAULO, "2018-11-04T10:00"),
        # Not crossing midnight: 12:30 -03 -> 14:00 -03 = 17:00Z.
        ("2025-06-11T15:30", LUNCH, SAO_PAULO, "2025-06-11T17:00"),
    ],
)
def test_quiet_until(instant: str, quiet: QuietHours, tz: ZoneInfo, expected: str | None) -> None:
    assert quiet_until(z(instant), quiet, tz) == (None if expected is None else z(expected))


def test_quiet_until_an_end_inside_the_gap_is_shifted() -> None:
    quiet = QuietHours(start=time(22), end=time(2, 30))
    # 23:00 EST 03-08 (04:00Z): the end, 03-09 02:30, does not exist and becomes 03:30 EDT
    # (07:30Z), as from_local rules; in_quiet_hours already answers False from 03:00 EDT.
    assert quiet_until(z("2025-03-09T04:00"), quiet, NEW_YORK) == z("2025-03-09T07:30")
    assert in_quiet_hours(z("2025-03-09T06:59"), quiet, NEW_YORK)  # 01:59 EST
    assert not in_quiet_hours(z("2025-03-09T07:00"), quiet, NEW_YORK)  # 03:00 EDT


def test_quiet_until_inside_a_repeated_hour() -> None:
    quiet = QuietHours(start=time(21), end=time(1, 30))
    # First pass, 01:10 EDT (05:10Z): ends at the first 01:30 (EDT) = 05:30Z.
    assert quiet_until(z("2025-11-02T05:10"), quiet, NEW_YORK) == z("2025-11-02T05:30")
    # 01:40 EDT (05:40Z) is outside; the wall clock goes back to 01:00 EST at 06:00Z, inside
    # again, and that second pass ends at the second 01:30 (EST) = 06:30Z, after the instant.
    assert quiet_until(z("2025-11-02T05:40"), quiet, NEW_YORK) is None
    assert quiet_until(z("2025-11-02T06:10"), quiet, NEW_YORK) == z("2025-11-02T06:30")


@settings(max_examples=100, deadline=None)
@given(
    zoned=zoned_instants(ZONES),
    start=st.integers(0, 47),
    end=st.integers(0, 47),
)
def test_quiet_until_is_later_and_outside_the_window(
    zoned: tuple[ZoneInfo, datetime], start: int, end: int
) -> None:
    tz, instant = zoned
    if start == end:
        return
    quiet = QuietHours(start=time(start // 2, 30 * (start % 2)), end=time(end // 2, 30 * (end % 2)))
    until = quiet_until(instant, quiet, tz)
    if until is None:
        assert not in_quiet_hours(instant, quiet, tz)
    else:
        assert in_quiet_hours(instant, quiet, tz)
        assert until > instant
        assert until - instant <= timedelta(days=1, hours=1)
        if to_local(until, tz).time() == quiet.end:
            assert not in_quiet_hours(until, quiet, tz)
        # else: the end was in a gap and shifted by its length (see the test above)


# --- yearly dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("month", "day", "year", "rule", "expected"),
    [
        (2, 29, 2025, "feb28", date(2025, 2, 28)),
        (2, 29, 2025, "mar1", date(2025, 3, 1)),
        (2, 29, 2024, "feb28", date(2024, 2, 29)),
        (2, 29, 2024, "mar1", date(2024, 2, 29)),
        (2, 29, 2100, "feb28", date(2100, 2, 28)),  # divisible by 100: common year
        (2, 29, 2000, "mar1", date(2000, 2, 29)),  # divisible by 400: leap year
        (2, 28, 2025, "mar1", date(2025, 2, 28)),
        (12, 31, 2025, "feb28", date(2025, 12, 31)),
    ],
)
def test_yearly_date(month: int, day: int, year: int, rule: str, expected: date) -> None:
    assert yearly_date(month, day, year, rule) == expected  # type: ignore[arg-type]


def test_yearly_date_default_is_feb28_and_errors() -> None:
    assert yearly_date(2, 29, 2023) == date(2023, 2, 28)
    with pytest.raises(ValueError, match="day is out of range"):
        yearly_date(4, 31, 2025)
    with pytest.raises(ValueError, match="feb29"):
        yearly_date(2, 29, 2025, "mar31")  # type: ignore[arg-type]


# --- schedules: parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "invalid cron expression"),
        ("0 9 * *", "expected five fields"),
        ("0 0 9 * * *", "expected five fields"),  # croniter would read seconds first
        ("61 * * * *", "invalid cron expression"),
        ("0 9 * * FOO", "invalid cron expression"),
        ("@daily", "expected five fields"),
        ("RRULE:FREQ=FORTNIGHTLY", "invalid RRULE"),
        ("RRULE:FREQ=DAILY;BYHOUR=25", "invalid RRULE"),
        ("RRULE:FREQ=DAILY;UNTIL=20250101T000000Z", "timezone"),
        ("DTSTART;TZID=Europe/Lisbon:20250101T090000 RRULE:FREQ=DAILY", "timezone"),
        ("DTSTART:20250101T090000Z RRULE:FREQ=DAILY", "timezone"),
        ("DTSTART:20250101T090000+0100 RRULE:FREQ=DAILY", "naive local date-time"),
        ("DTSTART:20250101T090000 DTSTART:20250102T090000 RRULE:FREQ=DAILY", "one DTSTART"),
        ("DTSTART:tomorrow RRULE:FREQ=DAILY", "invalid DTSTART"),
    ],
)
def test_invalid_expressions(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Schedule(expression)


def test_kind_and_hourly() -> None:
    assert Schedule(" 0 9 * * MON ").kind == "cron"
    assert Schedule("0 9 * * MON").expression == "0 9 * * MON"
    assert Schedule("RRULE:FREQ=DAILY").kind == "rrule"
    assert Schedule("FREQ=DAILY;BYHOUR=9").kind == "rrule"
    assert Schedule("DTSTART:20250101T090000\nRRULE:FREQ=DAILY").kind == "rrule"
    assert [Schedule(e).hourly for e in ("0 9 * * *", "0 * * * *", "0 */2 * * *")] == [
        False,
        True,
        True,
    ]
    assert [Schedule(e).hourly for e in ("*/15 9 * * *", "0 9,10 * * *", "0 1-5/2 * * *")] == [
        False,
        False,
        True,
    ]
    assert Schedule("RRULE:FREQ=HOURLY").hourly
    assert Schedule("RRULE:FREQ=MINUTELY;INTERVAL=15").hourly
    assert not Schedule("RRULE:FREQ=DAILY;BYHOUR=9,10").hourly
    assert repr(Schedule("0 9 * * *")) == "Schedule('0 9 * * *')"


# --- schedules: DST semantics --------------------------------------------------------------------


def test_fixed_time_fires_once_at_the_first_occurrence_on_a_fall_back_night() -> None:
    # 01:30 EDT 11-02 = 05:30Z (the EST 01:30, 06:30Z, does not fire); 01:30 EST 11-03 =
    # 06:30Z.
    assert fires("30 1 * * *", "2025-11-01T06:00", "2025-11-03T12:00", NEW_YORK) == [
        z("2025-11-02T05:30"),
        z("2025-11-03T06:30"),
    ]
    # Lisbon: the first 01:30 on 10-26 is WEST: 00:30Z; 10-27 01:30 WET = 01:30Z.
    assert fires("30 1 * * *", "2025-10-25T12:00", "2025-10-27T12:00", LISBON) == [
        z("2025-10-26T00:30"),
        z("2025-10-27T01:30"),
    ]
    # Sao Paulo 2019: 23:30 on 02-16 happens at -02 (01:30Z) and -03 (02:30Z): first only.
    assert fires("30 23 * * *", "2019-02-16T12:00", "2019-02-17T12:00", SAO_PAULO) == [
        z("2019-02-17T01:30")
    ]


def test_daily_nine_oclock_on_both_sides_of_each_change() -> None:
    # 09:00 EST = 14:00Z, 09:00 EDT = 13:00Z: once a day, at 09:00 local.
    assert fires("0 9 * * *", "2025-03-08T00:00", "2025-03-10T23:00", NEW_YORK) == [
        z("2025-03-08T14:00"),
        z("2025-03-09T13:00"),
        z("2025-03-10T13:00"),
    ]
    assert fires("0 9 * * *", "2025-11-01T00:00", "2025-11-03T23:00", NEW_YORK) == [
        z("2025-11-01T13:00"),
        z("2025-11-02T14:00"),
        z("2025-11-03T14:00"),
    ]
    # Lisbon: 09:00 WET = 09:00Z, 09:00 WEST = 08:00Z.
    assert fires("0 9 * * *", "2025-03-29T00:00", "2025-03-31T00:00", LISBON) == [
        z("2025-03-29T09:00"),
        z("2025-03-30T08:00"),
    ]
    # Sao Paulo 2018: 09:00 -03 = 12:00Z, then 09:00 -02 = 11:00Z.
    assert fires("0 9 * * *", "2018-11-03T00:00", "2018-11-05T00:00", SAO_PAULO) == [
        z("2018-11-03T12:00"),
        z("2018-11-04T11:00"),
    ]


def test_fixed_time_in_a_gap_is_shifted() -> None:
    # 02:30 EST 03-08 = 07:30Z; 03-09 02:30 -> 03:30 EDT = 07:30Z; 02:30 EDT 03-10 = 06:30Z.
    assert fires("30 2 * * *", "2025-03-08T00:00", "2025-03-10T23:00", NEW_YORK) == [
        z("2025-03-08T07:30"),
        z("2025-03-09T07:30"),
        z("2025-03-10T06:30"),
    ]
    # Sao Paulo midnight: 00:00 -03 11-03 = 03:00Z; 11-04 00:00 -> 01:00 -02 = 03:00Z;
    # 00:00 -02 11-05 = 02:00Z.
    assert fires("0 0 * * *", "2018-11-02T12:00", "2018-11-05T12:00", SAO_PAULO) == [
        z("2018-11-03T03:00"),
        z("2018-11-04T03:00"),
        z("2018-11-05T02:00"),
    ]
    # Lisbon: 01:30 on 03-30 -> 02:30 WEST = 01:30Z.
    assert fires("30 1 * * *", "2025-03-30T00:00", "2025-03-30T12:00", LISBON) == [
        z("2025-03-30T01:30")
    ]


def test_hourly_fires_at_every_real_hour_through_a_fall_back() -> None:
    # 00:00 EDT 04:00Z, 01:00 EDT 05:00Z, 01:00 EST 06:00Z, 02:00 EST 07:00Z, 03:00 EST 08:00Z.
    expected = [z(f"2025-11-02T0{hour}:00") for hour in range(4, 9)]
    assert fires("0 * * * *", "2025-11-02T03:30", "2025-11-02T08:30", NEW_YORK) == expected
    assert fires("RRULE:FREQ=HOURLY", "2025-11-02T03:30", "2025-11-02T08:30", NEW_YORK) == expected
    # Minutes too: */30 gives 01:00, 01:30 twice each: 05:00, 05:30, 06:00, 06:30Z.
    assert fires("*/30 * * * *", "2025-11-02T04:45", "2025-11-02T06:45", NEW_YORK) == [
        z("2025-11-02T05:00"),
        z("2025-11-02T05:30"),
        z("2025-11-02T06:00"),
        z("2025-11-02T06:30"),
    ]
    # Lisbon: 01:30 WEST 00:30Z, 01:30 WET 01:30Z.
    assert fires("30 * * * *", "2025-10-26T00:00", "2025-10-26T02:00", LISBON) == [
        z("2025-10-26T00:30"),
        z("2025-10-26T01:30"),
    ]
    # Sao Paulo 2019: 23:30 -02 01:30Z, 23:30 -03 02:30Z, 00:30 -03 03:30Z.
    assert fires("30 * * * *", "2019-02-17T01:00", "2019-02-17T04:00", SAO_PAULO) == [
        z("2019-02-17T01:30"),
        z("2019-02-17T02:30"),
        z("2019-02-17T03:30"),
    ]


def test_an_hour_step_is_hourly() -> None:
    # Havana falls back at 01:00 CDT (-04) to 00:00 CST (-05) on 2025-11-02, so midnight
    # repeats: "0 */2" fires at 00:00 CDT 04:00Z, 00:00 CST 05:00Z, then 02:00 CST 07:00Z.
    assert fires("0 */2 * * *", "2025-11-02T03:00", "2025-11-02T08:00", HAVANA) == [
        z("2025-11-02T04:00"),
        z("2025-11-02T05:00"),
        z("2025-11-02T07:00"),
    ]


def test_hourly_through_a_gap_yields_each_instant_once() -> None:
    # 00:00 EST 05:00Z, 01:00 EST 06:00Z, 02:00 -> 03:00 EDT 07:00Z == 03:00 EDT, 04:00 EDT
    # 08:00Z.
    assert fires("0 * * * *", "2025-03-09T04:30", "2025-03-09T08:30", NEW_YORK) == [
        z("2025-03-09T05:00"),
        z("2025-03-09T06:00"),
        z("2025-03-09T07:00"),
        z("2025-03-09T08:00"),
    ]
    # Every 20 minutes: walls 01:40 (06:40Z), 02:00/02:20/02:40 shifted to 07:00/07:20/07:40Z,
    # 03:00/03:20/03:40 EDT = the same instants, 04:00 EDT 08:00Z. The wall 02:40 comes before
    # 03:00 but its instant after: results are still sorted and unique.
    assert fires(
        "RRULE:FREQ=MINUTELY;INTERVAL=20", "2025-03-09T06:30", "2025-03-09T08:00", NEW_YORK
    ) == [z(f"2025-03-09T{t}") for t in ("06:40", "07:00", "07:20", "07:40", "08:00")]
    # A fixed schedule with two times in and after the gap: 02:00 and 03:00 are both 07:00Z.
    assert fires("0,30 2,3 * * *", "2025-03-09T00:00", "2025-03-09T12:00", NEW_YORK) == [
        z("2025-03-09T07:00"),
        z("2025-03-09T07:30"),
    ]


def test_day_of_month_or_day_of_week() -> None:
    # croniter 7 ORs restricted day-of-month and day-of-week by default (day_or=True), as
    # POSIX cron does: every Friday and every 13th. June 2025: Fridays 6, 13 (also the 13th,
    # once), 20, 27; July: Fridays 4, 11, 18, 25 and Sunday 13.
    days = [instant.day for instant in fires("0 9 13 * FRI", "2025-06-01", "2025-08-01", ZULU)]
    assert days == [6, 13, 20, 27, 4, 11, 13, 18, 25]


# --- schedules: RRULE specifics ------------------------------------------------------------------


def test_rrule_defaults_come_from_the_2000_anchor() -> None:
    # No BYHOUR: midnight. 2025-06-11 00:00 -03 = 03:00Z.
    assert Schedule("RRULE:FREQ=DAILY").next_fire(z("2025-06-10T12:00"), SAO_PAULO) == z(
        "2025-06-11T03:00"
    )
    # INTERVAL counts from 2000-01-01: 2025-06-10 is 9292 days later (even), so it fires on
    # the 10th and the 12th, not the 11th.
    every_other = "RRULE:FREQ=DAILY;INTERVAL=2;BYHOUR=9;BYMINUTE=0"
    assert fires(every_other, "2025-06-10T00:00", "2025-06-13T00:00", ZULU) == [
        z("2025-06-10T09:00"),
        z("2025-06-12T09:00"),
    ]


def test_rrule_dtstart_count_and_until() -> None:
    # Every other Monday from Monday 2025-01-06 09:30 EST (14:30Z).
    schedule = Schedule("DTSTART:20250106T093000\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO")
    assert list(schedule.fires_between(z("2025-01-01T00:00"), z("2025-02-04T00:00"), NEW_YORK)) == [
        z("2025-01-06T14:30"),
        z("2025-01-20T14:30"),
        z("2025-02-03T14:30"),
    ]
    assert schedule.last_fire(z("2025-01-06T14:29"), NEW_YORK) is None
    # Far later, across DST: 2025-06-30 is 25 weeks after 01-06 (odd): the last firing
    # before it is 06-23 09:30 EDT = 13:30Z, the next 07-07.
    assert schedule.last_fire(z("2025-06-30T12:00"), NEW_YORK) == z("2025-06-23T13:30")
    assert schedule.next_fire(z("2025-06-30T12:00"), NEW_YORK) == z("2025-07-07T13:30")

    counted = Schedule("DTSTART:20250106T093000 RRULE:FREQ=DAILY;COUNT=3")
    assert counted.next_fire(z("2025-01-07T14:30"), NEW_YORK) == z("2025-01-08T14:30")
    assert counted.next_fire(z("2025-01-08T14:30"), NEW_YORK) is None
    assert counted.last_fire(z("2030-01-01T00:00"), NEW_YORK) == z("2025-01-08T14:30")

    until = Schedule("RRULE:FREQ=DAILY;BYHOUR=9;UNTIL=20250110T235959")
    assert until.next_fire(z("2025-01-10T14:00"), NEW_YORK) is None
    assert until.next_fire(z("2025-01-10T13:00"), NEW_YORK) == z("2025-01-10T14:00")
    assert until.last_fire(z("2026-01-01T00:00"), NEW_YORK) == z("2025-01-10T14:00")


def test_rrule_sets() -> None:
    # Weekdays at 09:00 (daily minus a weekend EXRULE) plus one RDATE, in UTC.
    schedule = Schedule(
        "RRULE:FREQ=DAILY;BYHOUR=9 EXRULE:FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=9 RDATE:20250607T120000"
    )
    # Fri 06-06, (Sat 06-07 only the RDATE at 12:00), Mon 06-09.
    assert fires(schedule.expression, "2025-06-06T00:00", "2025-06-09T23:00", ZULU) == [
        z("2025-06-06T09:00"),
        z("2025-06-07T12:00"),
        z("2025-06-09T09:00"),
    ]
    assert schedule.last_fire(z("2025-06-09T08:00"), ZULU) == z("2025-06-07T12:00")


# (rule, how far past its DTSTART to look, in days): plain dateutil iterates from DTSTART,
# so the horizon keeps the reference cheap.
RESTARTED_RULES = [
    ("DTSTART:20200101T000000 RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15;BYHOUR=9", 3000),
    ("DTSTART:20200131T083000 RRULE:FREQ=MONTHLY", 3000),
    ("DTSTART:20000229T070000 RRULE:FREQ=YEARLY", 30 * 365),
    ("DTSTART:20200103T101500 RRULE:FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,FR", 3000),
    ("DTSTART:20240101T003000 RRULE:FREQ=HOURLY;INTERVAL=5", 400),
    ("DTSTART:20250101T000000 RRULE:FREQ=MINUTELY;INTERVAL=7;BYHOUR=9,10", 100),
    ("DTSTART:20200101T000000 RRULE:FREQ=DAILY;INTERVAL=3;BYHOUR=9,18;BYSETPOS=-1", 3000),
    ("DTSTART:20200101T000000 RRULE:FREQ=MONTHLY;INTERVAL=5;BYDAY=-1FR;BYHOUR=9", 3000),
    ("DTSTART:20200101T000000 RRULE:FREQ=YEARLY;BYWEEKNO=1,53;BYDAY=MO", 3000),
]


@settings(max_examples=50, deadline=None)
@given(rule=st.sampled_from(RESTARTED_RULES), fraction=st.floats(min_value=0, max_value=1))
def test_rrule_restarted_from_a_later_anchor_matches_plain_dateutil(
    rule: tuple[str, int], fraction: float
) -> None:
    # Schedule restarts a rule from an anchor near the query to stay fast (dateutil only
    # iterates forwards from DTSTART); the firings must be exactly dateutil's.
    expression, horizon_days = rule
    reference = rrulestr(expression)
    begin = datetime.strptime(expression[8:23], "%Y%m%dT%H%M%S")
    naive = begin + timedelta(seconds=round(fraction * horizon_days * 86400))
    schedule = Schedule(expression)
    moment = naive.replace(tzinfo=UTC)
    assert schedule.next_fire(moment, ZULU) == _utc(reference.after(naive))
    assert schedule.last_fire(moment, ZULU) == _utc(reference.before(naive, inc=True))


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


# --- schedules: next_fire / last_fire ------------------------------------------------------------


def test_next_and_last_fire() -> None:
    schedule = Schedule("0 9 * * *")
    # 2025-03-09 09:00 EDT = 13:00Z.
    assert schedule.next_fire(z("2025-03-09T12:59"), NEW_YORK) == z("2025-03-09T13:00")
    assert schedule.next_fire(z("2025-03-09T13:00"), NEW_YORK) == z("2025-03-10T13:00")
    assert schedule.last_fire(z("2025-03-09T13:00"), NEW_YORK) == z("2025-03-09T13:00")
    # 03-08 09:00 EST = 14:00Z.
    assert schedule.last_fire(z("2025-03-09T12:59"), NEW_YORK) == z("2025-03-08T14:00")
    assert schedule.last_fire(
        z("2025-03-09T12:59"), NEW_YORK, not_before=z("2025-03-08T14:00")
    ) == z("2025-03-08T14:00")
    assert (
        schedule.last_fire(z("2025-03-09T12:59"), NEW_YORK, not_before=z("2025-03-08T14:01"))
        is None
    )
    # not_before after at_or_before: nothing.
    assert schedule.last_fire(z("2025-03-01T00:00"), NEW_YORK, not_before=z("2025-03-02")) is None
    # Hourly through the fall-back: after 01:00 EDT (05:00Z) comes 01:00 EST (06:00Z).
    hourly = Schedule("0 * * * *")
    assert hourly.next_fire(z("2025-11-02T05:00"), NEW_YORK) == z("2025-11-02T06:00")
    assert hourly.last_fire(z("2025-11-02T06:59"), NEW_YORK) == z("2025-11-02T06:00")
    # Fixed 01:30: the last one before 06:45Z (01:45 EST) is the first 01:30 (05:30Z).
    assert Schedule("30 1 * * *").last_fire(z("2025-11-02T06:45"), NEW_YORK) == z(
        "2025-11-02T05:30"
    )


def test_rare_and_impossible_schedules() -> None:
    leap_day = Schedule("0 9 29 2 *")
    # 2024-02-29 09:00 EST = 14:00Z; next 2028-02-29.
    assert leap_day.last_fire(z("2027-01-01T00:00"), NEW_YORK) == z("2024-02-29T14:00")
    assert leap_day.next_fire(z("2024-03-01T00:00"), NEW_YORK) == z("2028-02-29T14:00")
    assert leap_day.last_fire(z("2027-01-01T00:00"), NEW_YORK, z("2025-01-01T00:00")) is None
    never = Schedule("0 0 30 2 *")
    assert never.next_fire(z("2025-01-01T00:00"), NEW_YORK) is None
    assert never.last_fire(z("2025-01-01T00:00"), NEW_YORK) is None
    assert list(never.fires_between(z("2025-01-01T00:00"), z("2026-01-01T00:00"), NEW_YORK)) == []


@pytest.mark.parametrize("expression", ["*/5 * * * *", "RRULE:FREQ=MINUTELY;INTERVAL=5"])
def test_last_fire_with_not_before_years_back(expression: str) -> None:
    schedule = Schedule(expression)
    for tz in ZONES:
        # Enumerating the ~2 million firings since 2005 would take minutes.
        assert schedule.last_fire(z("2025-06-10T12:03"), tz, not_before=z("2005-01-01T00:00")) == z(
            "2025-06-10T12:00"
        )
        assert schedule.next_fire(z("2025-06-10T12:03"), tz) == z("2025-06-10T12:05")
    # The newest firing far back: every 5 minutes until 2006, then nothing.
    ended = Schedule("RRULE:FREQ=MINUTELY;INTERVAL=5;UNTIL=20060101T000000")
    assert ended.last_fire(z("2025-06-10T12:03"), ZULU, not_before=z("2005-01-01T00:00")) == z(
        "2006-01-01T00:00"
    )


def test_fires_between_empty_and_reversed_windows() -> None:
    schedule = Schedule("0 9 * * *")
    assert (
        list(schedule.fires_between(z("2025-06-10T13:00"), z("2025-06-10T13:00"), NEW_YORK)) == []
    )
    assert (
        list(schedule.fires_between(z("2025-06-11T00:00"), z("2025-06-10T00:00"), NEW_YORK)) == []
    )
    # (start, end]: 13:00Z is excluded as start and included as end.
    assert list(schedule.fires_between(z("2025-06-10T12:00"), z("2025-06-10T13:00"), NEW_YORK)) == [
        z("2025-06-10T13:00")
    ]
    assert (
        list(schedule.fires_between(z("2025-06-10T13:00"), z("2025-06-10T14:00"), NEW_YORK)) == []
    )


# --- schedules: properties -----------------------------------------------------------------------

PROPERTY_SCHEDULES = [
    "0 9 * * *",
    "30 1 * * *",
    "30 2 * * *",
    "0 * * * *",
    "*/20 * * * *",
    "0 */2 * * *",
    "0 9 13 * FRI",
    "RRULE:FREQ=HOURLY;BYMINUTE=15,45",
    "RRULE:FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=2;BYMINUTE=30",
]


def zoned_window_starts(zones: list[ZoneInfo]) -> st.SearchStrategy[tuple[ZoneInfo, datetime]]:
    return zoned_instants(zones).map(lambda drawn: (drawn[0], drawn[1].replace(second=0)))


@settings(max_examples=100, deadline=None)
@given(
    expression=st.sampled_from(PROPERTY_SCHEDULES),
    zoned=zoned_window_starts([*ZONES, HAVANA]),
    minutes=st.integers(min_value=1, max_value=4 * 24 * 60),
    split=st.floats(min_value=0, max_value=1),
)
def test_fires_between_properties(
    expression: str, zoned: tuple[ZoneInfo, datetime], minutes: int, split: float
) -> None:
    tz, start = zoned
    schedule = Schedule(expression)
    end = start + timedelta(minutes=minutes)
    middle = start + timedelta(minutes=round(minutes * split))
    whole = list(schedule.fires_between(start, end, tz))
    assert all(instant.tzinfo is UTC for instant in whole)
    assert all(start < instant <= end for instant in whole)
    assert all(a < b for a, b in itertools.pairwise(whole))
    assert whole == list(schedule.fires_between(start, middle, tz)) + list(
        schedule.fires_between(middle, end, tz)
    )
    # next_fire and last_fire agree with the window.
    following = schedule.next_fire(start, tz)
    if whole:
        assert following == whole[0]
        assert schedule.last_fire(end, tz, not_before=start + timedelta(seconds=1)) == whole[-1]
    else:
        assert following is None or following > end
        assert schedule.last_fire(end, tz, not_before=start + timedelta(seconds=1)) is None


ORACLE_CRONS = ["30 1 * * *", "30 2 * * *", "0 * * * *", "*/20 * * * *", "15 0,1,2,3 * * *"]


@settings(max_examples=60, deadline=None)
@given(
    expression=st.sampled_from(ORACLE_CRONS),
    zoned=zoned_window_starts([*ZONES, HAVANA]),
    minutes=st.integers(min_value=1, max_value=2 * 24 * 60),
)
def test_fires_between_matches_a_brute_force_oracle(
    expression: str, zoned: tuple[ZoneInfo, datetime], minutes: int
) -> None:
    tz, start = zoned
    # The rule, spelled out without Schedule's bounds and heap: every wall time croniter
    # gives within two days either side, each read with fold=0 (and, for hourly schedules,
    # also fold=1 when that is a real second occurrence), kept if inside (start, end].
    end = start + timedelta(minutes=minutes)
    hourly = expression.split()[1] == "*"
    walls = croniter(expression, _naive(start) - timedelta(days=2), ret_type=datetime)
    expected: set[datetime] = set()
    while (local := walls.get_next(datetime)) < _naive(end) + timedelta(days=2):
        candidates = [local.replace(tzinfo=tz).astimezone(UTC)]
        second = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
        if hourly and second.astimezone(tz).replace(tzinfo=None) == local:
            candidates.append(second)
        expected.update(c for c in candidates if start < c <= end)
    assert list(Schedule(expression).fires_between(start, end, tz)) == sorted(expected)


def _naive(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None)
