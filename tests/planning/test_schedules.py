"""Tests for regua.planning.schedules: cron and RRULE schedules in local wall time.

Expected instants are worked out by hand in the comments; the transitions they rely on are
listed in `tests.planning.zones`.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from regua.planning.calendar import UTC
from regua.planning.schedules import Schedule
from tests.planning.zones import HAVANA, LISBON, NEW_YORK, SAO_PAULO, ZONES, ZULU, z, zoned_instants
from tests.profiles import examples


def fires(expression: str, start: str, end: str, tz: ZoneInfo) -> list[datetime]:
    return list(Schedule(expression).fires_between(z(start), z(end), tz))


# --- schedules: parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "invalid cron expression"),
        ("0 9 * *", "expected five fields .*got 4"),
        ("0 0 9 * * *", "expected five fields"),  # croniter would read seconds first
        ("61 * * * *", "the minute 61 is out of range 0-59"),
        ("0 24 * * *", "the hour 24 is out of range 0-23"),
        ("0 0 0 * *", "the day-of-month 0 is out of range 1-31"),
        ("0 0 32 * *", "the day-of-month 32 is out of range 1-31"),
        ("0 0 * 13 *", "the month 13 is out of range 1-12"),
        ("0 0 * * 8", "the day-of-week 8 is out of range 0-7"),
        ("0 0 * * 8#1", "the day-of-week 8 is out of range 0-7"),
        ("0 0 * * 1#6", "day-of-week field '1#6' is not valid"),
        ("*/0 * * * *", "minute field '\\*/0' is not valid"),
        ("0 0 * JAN,FOO *", "month field 'JAN,FOO' is not valid"),
        ("H 9 * * *", "hashed or random"),
        ("0 R * * *", "hashed or random"),
        ("* * 30 2 *", "never fires: no month '2' has a day-of-month '30'"),
        ("* * 31 4 *", "never fires: no month '4' has a day-of-month '31'"),
        ("0 0 31 4,6,9,11 *", "never fires"),
        ("0 0 30,31 FEB *", "never fires"),
        ("0 0 31 2 */2", "never fires"),  # */2 is not a restriction: AND, still impossible
        ("RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never fires"),
        ("RRULE:FREQ=MONTHLY;BYMONTH=4,6;BYMONTHDAY=31", "never fires"),
        ("RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=-30", "never fires"),
        ("RDATE:20250101T090000Z,20250102T090000 RRULE:FREQ=DAILY", "timezone"),
        ("RRULE:FREQ=DAILY RDATE:20250101T090000Z DTSTART:20250101T090000", "timezone"),
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


def test_kind_and_every_instant() -> None:
    assert Schedule(" 0 9 * * MON ").kind == "cron"
    assert Schedule("0 9 * * MON").expression == "0 9 * * MON"
    assert Schedule("RRULE:FREQ=DAILY").kind == "rrule"
    assert Schedule("FREQ=DAILY;BYHOUR=9").kind == "rrule"
    assert Schedule("DTSTART:20250101T090000\nRRULE:FREQ=DAILY").kind == "rrule"
    # Vixie cron: a minute or hour field that is a wildcard or a step repeats with the hour.
    every_instant = ["0 * * * *", "0 */2 * * *", "*/15 9 * * *", "* 1-6 * * *", "0 1-5/2 * * *"]
    assert all(Schedule(e).every_instant for e in every_instant)
    fixed = ["0 9 * * *", "30 1 * * *", "0,30 1 * * *", "0 9,10 * * *", "0-5 1 * * *"]
    assert not any(Schedule(e).every_instant for e in fixed)
    assert Schedule("RRULE:FREQ=HOURLY").every_instant
    assert Schedule("RRULE:FREQ=MINUTELY;INTERVAL=15").every_instant
    assert not Schedule("RRULE:FREQ=DAILY;BYHOUR=9,10").every_instant
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


RIGA = ZoneInfo("Europe/Riga")


def test_a_wildcard_minute_fires_through_both_halves_of_a_repeated_hour() -> None:
    # Riga falls back on 2025-10-26 at 04:00 EEST (+03) to 03:00 EET (+02): 03:00-03:59 is
    # lived twice, 00:00-00:59Z and 01:00-01:59Z. Vixie cron (and Debian's) runs a job whose
    # minute or hour is a wildcard at every real minute it matches, so "* 1-6 * * *" fires
    # every minute from 01:00 EEST (22:00Z) to 06:59 EET (04:59Z), without a silent hour.
    every_minute = fires("* 1-6 * * *", "2025-10-25T21:59", "2025-10-26T04:59", RIGA)
    start = z("2025-10-25T22:00")
    assert every_minute == [start + timedelta(minutes=m) for m in range(7 * 60)]
    # A step in the minute field, with a fixed hour: 03:00, 03:15, 03:30, 03:45, twice.
    assert fires("*/15 3 * * *", "2025-10-25T23:59", "2025-10-26T02:00", RIGA) == [
        z(f"2025-10-26T0{hour}:{minute:02d}") for hour in (0, 1) for minute in (0, 15, 30, 45)
    ]
    # The same instants with minute and hour both fixed fire once per local date.
    assert fires("0,15,30,45 3 * * *", "2025-10-25T23:59", "2025-10-26T02:00", RIGA) == [
        z(f"2025-10-26T00:{minute:02d}") for minute in (0, 15, 30, 45)
    ]
    assert fires("0-59/15 3 * * *", "2025-10-25T23:59", "2025-10-26T02:00", RIGA) == [
        z(f"2025-10-26T0{hour}:{minute:02d}") for hour in (0, 1) for minute in (0, 15, 30, 45)
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


@settings(max_examples=examples(50), deadline=None)
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


def test_rare_and_ended_schedules() -> None:
    leap_day = Schedule("0 9 29 2 *")
    # 2024-02-29 09:00 EST = 14:00Z; next 2028-02-29.
    assert leap_day.last_fire(z("2027-01-01T00:00"), NEW_YORK) == z("2024-02-29T14:00")
    assert leap_day.next_fire(z("2024-03-01T00:00"), NEW_YORK) == z("2028-02-29T14:00")
    assert leap_day.last_fire(z("2027-01-01T00:00"), NEW_YORK, z("2025-01-01T00:00")) is None
    # An RRULE may end; a cron expression that never fires is refused (see above).
    ended = Schedule("DTSTART:20200101T090000 RRULE:FREQ=DAILY;COUNT=2")
    assert ended.next_fire(z("2025-01-01T00:00"), NEW_YORK) is None
    assert ended.last_fire(z("2025-01-01T00:00"), NEW_YORK) == z("2020-01-02T14:00")
    assert list(ended.fires_between(z("2025-01-01T00:00"), z("2026-01-01T00:00"), NEW_YORK)) == []


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


@settings(max_examples=examples(100), deadline=None)
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


ORACLE_CRONS = [
    "30 1 * * *",
    "30 2 * * *",
    "0 * * * *",
    "*/20 * * * *",
    "15 0,1,2,3 * * *",
    "*/20 0-3 * * *",
    "0-59/20 1 * * *",
    "0,20,40 0-3 * * *",
]


@settings(max_examples=examples(60), deadline=None)
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
    # gives within two days either side, each read with fold=0 (and, when the minute or the
    # hour is a wildcard or a step, also fold=1 when that is a real second occurrence), kept
    # if inside (start, end].
    end = start + timedelta(minutes=minutes)
    minute, hour = expression.split()[:2]
    every_instant = any(field.startswith("*") or "/" in field for field in (minute, hour))
    walls = croniter(expression, _naive(start) - timedelta(days=2), ret_type=datetime)
    expected: set[datetime] = set()
    while (local := walls.get_next(datetime)) < _naive(end) + timedelta(days=2):
        candidates = [local.replace(tzinfo=tz).astimezone(UTC)]
        second = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
        if every_instant and second.astimezone(tz).replace(tzinfo=None) == local:
            candidates.append(second)
        expected.update(c for c in candidates if start < c <= end)
    assert list(Schedule(expression).fires_between(start, end, tz)) == sorted(expected)


def _naive(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None)
