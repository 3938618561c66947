"""Tests for regua.planning.calendar: local-time arithmetic across DST changes.

Expected instants are worked out by hand in the comments; the transitions they rely on are
listed in `tests.planning.zones`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regua.definitions.durations import Duration
from regua.definitions.policy import QuietHours
from regua.planning.calendar import (
    UTC,
    from_local,
    in_quiet_hours,
    next_at,
    quiet_until,
    shift,
    to_local,
    yearly_date,
)
from regua.planning.schedules import Schedule
from tests.planning.zones import (
    LISBON,
    NEW_YORK,
    SAO_PAULO,
    TRANSITIONS,
    ZONES,
    wall,
    z,
    zoned_instants,
)
from tests.profiles import examples

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


def test_transition_scan_finds_the_known_changes() -> None:
    assert (NEW_YORK, z("2025-03-09T07:00")) in TRANSITIONS
    assert (NEW_YORK, z("2025-11-02T06:00")) in TRANSITIONS
    assert (SAO_PAULO, z("2018-11-04T03:00")) in TRANSITIONS
    assert len(TRANSITIONS) >= 14


@settings(max_examples=examples(150), deadline=None)
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


@settings(max_examples=examples(100), deadline=None)
@given(
    zoned=zoned_instants(ZONES),
    seconds=st.integers(min_value=-400 * 86400, max_value=400 * 86400),
)
def test_calendar_free_shift_is_plain_addition(
    zoned: tuple[ZoneInfo, datetime], seconds: int
) -> None:
    tz, instant = zoned
    assert shift(instant, Duration(seconds=seconds), tz) == instant + timedelta(seconds=seconds)


@settings(max_examples=examples(100), deadline=None)
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


@settings(max_examples=examples(100), deadline=None)
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


@settings(max_examples=examples(100), deadline=None)
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
