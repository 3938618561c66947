"""Example tests for `Schedule` whose cases come from other schedulers' tests and documents.

Each case names its source next to it: cronsim (cuu508/cronsim, tests/test_cronsim.py),
croniter (src/croniter/tests/test_croniter.py and its README), cron-parser
(harrisiirak/cron-parser, test/*.js), crontab(5) and cron(8) of Debian / Vixie cron,
RFC 5545 and dateutil (dateutil/test/test_rrule.py). Where regua deliberately answers
differently from the peer, the comment says so and why; the expected instants are always
regua's, worked out by hand.

The DST transitions used:

* Europe/Riga: 2021-03-28 03:00 EET (+02) -> 04:00 EEST (+03), at 01:00Z;
  2021-10-31 04:00 EEST -> 03:00 EET, at 01:00Z (03:00-03:59 happens twice).
* Europe/Athens: 2016-03-27 03:00 -> 04:00 and 2016-10-30 04:00 -> 03:00, both at 01:00Z.
* Europe/Paris: 2020-03-29 02:00 CET (+01) -> 03:00 CEST (+02), at 01:00Z.
* Asia/Hebron: 2022-03-27 00:00 (+02) -> 01:00 (+03), at 2022-03-26 22:00Z.
* Europe/Dublin: 2019-10-27 02:00 IST (+01) -> 01:00 GMT (+00), at 01:00Z.
* Australia/Lord_Howe: 2019-10-06 02:00 (+10:30) -> 02:30 (+11:00), at 2019-10-05 15:30Z.
* America/New_York: 2007-03-11 02:00 -> 03:00 at 07:00Z; 2007-11-04 02:00 -> 01:00 at
  06:00Z; 1997-10-26 and 2025-11-02 fall back at 06:00Z; 1998-04-05 springs at 07:00Z.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from regua.planning.schedules import Schedule
from tests.planning.zones import NEW_YORK, ZULU, z

RIGA = ZoneInfo("Europe/Riga")
ATHENS = ZoneInfo("Europe/Athens")
PARIS = ZoneInfo("Europe/Paris")
HEBRON = ZoneInfo("Asia/Hebron")
DUBLIN = ZoneInfo("Europe/Dublin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")


def fires(expression: str, start: str, end: str, tz: ZoneInfo = ZULU) -> list[datetime]:
    """Firings in the half-open window (start, end], UTC instants given as text."""
    return list(Schedule(expression).fires_between(z(start), z(end), tz))


def every(first: str, step_minutes: int, count: int) -> list[datetime]:
    """`count` UTC instants `step_minutes` apart, from `first`."""
    return [z(first) + timedelta(minutes=step_minutes * i) for i in range(count)]


# --- cron: day-of-month and day-of-week ----------------------------------------------------------


def test_crontab5_first_and_fifteenth_plus_every_friday() -> None:
    # crontab(5), the note on the two day fields: "30 4 1,15 * 5" runs "at 4:30 am on the
    # 1st and 15th of each month, plus every Friday". June 2025: Sun 1, Fridays 6, 13, 20,
    # 27 and Sun 15.
    assert fires("30 4 1,15 * 5", "2025-06-01T00:00", "2025-06-30T23:59") == [
        z(f"2025-06-{day:02}T04:30") for day in (1, 6, 13, 15, 20, 27)
    ]


def test_croniter_readme_first_of_the_month_or_wednesday() -> None:
    # croniter README, "2 4 1 * wed" from 2010-01-25 04:46: "04:02 on every Wednesday OR on
    # 1st day of month" -> Wed 01-27, Mon 02-01, Wed 02-03.
    schedule = Schedule("2 4 1 * wed")
    first = schedule.next_fire(z("2010-01-25T04:46"), ZULU)
    assert first == z("2010-01-27T04:02")
    second = schedule.next_fire(first, ZULU)
    assert second == z("2010-02-01T04:02")
    assert schedule.next_fire(second, ZULU) == z("2010-02-03T04:02")


@pytest.mark.parametrize(
    ("expression", "start", "end", "expected"),
    [
        # croniter test_dom_dow_vixie_cron_bug: croniter reads "0 16 */2 * sat" as odd days OR
        # Saturdays (May 3, 5, 6, 7, ...). crontab(5) calls a field restricted only when it
        # does not start with "*", so regua ANDs them: odd-numbered Saturdays.
        (
            "0 16 */2 * sat",
            "2023-05-02T00:00",
            "2023-06-30T00:00",
            ["2023-05-13T16:00", "2023-05-27T16:00", "2023-06-03T16:00", "2023-06-17T16:00"],
        ),
        # cronsim test_it_handles_dow_star: "1 1 1-7 * */7" is the first Sunday of the month.
        (
            "1 1 1-7 * */7",
            "2020-01-01T00:00",
            "2020-04-30T00:00",
            ["2020-01-05T01:01", "2020-02-02T01:01", "2020-03-01T01:01", "2020-04-05T01:01"],
        ),
        # cronsim test_it_handles_dom_star: "1 1 */100,1-7 * MON" is the first Monday.
        (
            "1 1 */100,1-7 * MON",
            "2020-01-01T00:00",
            "2020-04-30T00:00",
            ["2020-01-06T01:01", "2020-02-03T01:01", "2020-03-02T01:01", "2020-04-06T01:01"],
        ),
    ],
)
def test_a_day_field_starting_with_a_star_is_anded(
    expression: str, start: str, end: str, expected: list[str]
) -> None:
    assert fires(expression, start, end) == [z(instant) for instant in expected]


def test_a_star_day_field_can_leave_no_day_at_all() -> None:
    # cronsim test_it_handles_no_matches: "*/100" is day 1 only and, starting with "*", must
    # coincide with the fourth Monday, which it never does: refused when it is built (cronsim
    # accepts it and never fires it; firing on the 1st, an OR reading, would be wrong).
    with pytest.raises(ValueError, match="never fires"):
        Schedule("1 1 */100 * MON#4")


def test_question_mark_leaves_a_day_field_unrestricted() -> None:
    # cron-parser test/expression.js, "day of month is unspecified" ("10 2 ? * 3": Wednesdays
    # only) and "day of week is unspecified" ("10 2 3,6 * ?": the 3rd and 6th only).
    assert fires("10 2 ? * 3", "2025-06-01T00:00", "2025-06-30T00:00") == [
        z(f"2025-06-{day:02}T02:10") for day in (4, 11, 18, 25)
    ]
    assert fires("10 2 3,6 * ?", "2025-06-01T00:00", "2025-07-31T00:00") == [
        z("2025-06-03T02:10"),
        z("2025-06-06T02:10"),
        z("2025-07-03T02:10"),
        z("2025-07-06T02:10"),
    ]


def test_cron_parser_august_weekends_or_the_twelfth() -> None:
    # cron-parser test/expression.js, "day of month and week are both set and dow is 6-7":
    # "10 2 12 8 6-7" from 2012-12-26 -> Sat 3, Sun 4, Sat 10, Sun 11, Mon 12, Sat 17 Aug 2013.
    assert fires("10 2 12 8 6-7", "2012-12-26T14:38", "2013-08-17T02:10") == [
        z(f"2013-08-{day:02}T02:10") for day in (3, 4, 10, 11, 12, 17)
    ]


@pytest.mark.parametrize(
    ("expression", "start", "end", "expected"),
    [
        # croniter test_lwom_friday gives L5's dates in 1987 (Jan 30, Feb 27, Mar 27); with a
        # restricted day-of-month, crontab(5)'s OR adds the 13ths.
        (
            "0 0 13 * L5",
            "1987-01-15T00:00",
            "1987-03-31T00:00",
            ["1987-01-30", "1987-02-13", "1987-02-27", "1987-03-13", "1987-03-27"],
        ),
        # croniter test_match_handle_bad_cron evaluates "0 0 31 1 1#1" with day_or=False,
        # where it never matches; ORed it is January's first Monday and January 31.
        (
            "0 0 31 1 1#1",
            "2020-01-01T00:00",
            "2021-02-01T00:00",
            ["2020-01-06", "2020-01-31", "2021-01-04", "2021-01-31"],
        ),
        # cron-parser test/expression.js, "should work with both dayOfMonth and nth occurence
        # of dayOfWeek": "0 0 0 16,18 * 3#3" (six fields) from 2019-04-01.
        (
            "0 0 16,18 * 3#3",
            "2019-04-01T00:00",
            "2019-05-31T00:00",
            [
                "2019-04-16",
                "2019-04-17",
                "2019-04-18",
                "2019-05-15",
                "2019-05-16",
                "2019-05-18",
            ],
        ),
    ],
)
def test_or_holds_with_last_and_nth_weekdays(
    expression: str, start: str, end: str, expected: list[str]
) -> None:
    assert fires(expression, start, end) == [z(f"{day}T00:00") for day in expected]


def test_first_week_of_january_or_its_first_weekdays() -> None:
    # croniter test_nth_weekday_with_restricted_day_of_month_still_raises: croniter
    # intersects "30 23 8-9 JAN MON-FRI#1" and finds no date. ORed, it is Jan 8 and 9 plus
    # the first Monday..Friday of January: in 2026 (Jan 1 is a Thursday) Thu 1, Fri 2, Mon 5,
    # Tue 6, Wed 7.
    assert fires("30 23 8-9 JAN MON-FRI#1", "2026-01-01T00:00", "2026-12-31T00:00") == [
        z(f"2026-01-{day:02}T23:30") for day in (1, 2, 5, 6, 7, 8, 9)
    ]
    # With 1-7 the first weekdays add nothing: every day of Jan 1..7, every year.
    assert fires("30 23 1-7 JAN MON-FRI#1", "2025-01-01T00:00", "2026-12-31T00:00") == [
        z(f"{year}-01-{day:02}T23:30") for year in (2025, 2026) for day in range(1, 8)
    ]


def test_plain_and_last_weekdays_in_one_field() -> None:
    # cron-parser test/parser_day_of_month.js, "runs on both every monday and last friday":
    # "0 0 0 * * 1,5L" in September 2021 -> 6, 13, 20, 24, 27 (croniter spells 5L as L5).
    assert fires("0 0 * * 1,L5", "2021-09-01T00:00", "2021-09-30T00:00") == [
        z(f"2021-09-{day:02}T00:00") for day in (6, 13, 20, 24, 27)
    ]


def test_last_day_of_february_in_a_leap_year() -> None:
    # cron-parser test/parser_day_of_month.js, "parse cron with last day in feb": "0 0 6-20/2,L
    # 2 *" in 2016 fires 9 times, the last on the 29th.
    assert fires("0 0 6-20/2,L 2 *", "2016-01-01T00:00", "2016-11-01T00:00") == [
        z(f"2016-02-{day:02}T00:00") for day in (6, 8, 10, 12, 14, 16, 18, 20, 29)
    ]


# --- cron: what is refused -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "* * 30 2 *",  # cronsim test_it_checks_day_of_month_range
        "* * 31 4 *",  # cronsim test_it_checks_day_of_month_range
        "0 0 31 4 *",  # cron-parser "invalid explicit day of month definition"
        "0 0 31 4,6,9,11 *",  # no month in the list has a 31st
    ],
)
def test_impossible_dates_are_rejected(expression: str) -> None:
    # cronsim's message: "Bad day-of-month".
    with pytest.raises(ValueError, match=r"day.of.month"):
        Schedule(expression)


def test_leap_day_is_valid_and_fires_every_four_years() -> None:
    # cron-parser test/leap_year.js iterates "0 0 29 2 *" twenty times without an error.
    schedule = Schedule("0 0 29 2 *")
    assert schedule.next_fire(z("2021-01-01T00:00"), ZULU) == z("2024-02-29T00:00")
    assert schedule.next_fire(z("2024-02-29T00:00"), ZULU) == z("2028-02-29T00:00")


@pytest.mark.parametrize(
    ("expression", "field", "allowed"),
    [
        # cron-parser test/expression.js: "Constraint error, got value 61 expected range 0-59".
        ("61 * * * *", "minute", "0-59"),
        ("0 24 * * *", "hour", "0-23"),
        # cron-parser "day of the month value out of the range": 10-15,40.
        ("0 0 10-15,40 * *", "day.of.month", "1-31"),
        # cron-parser "month value out of the range": */10,12-13.
        ("0 0 * */10,12-13 *", "month", "1-12"),
    ],
)
def test_out_of_range_values_name_the_field(expression: str, field: str, allowed: str) -> None:
    with pytest.raises(ValueError, match=field) as raised:
        Schedule(expression)
    assert allowed in str(raised.value)


# --- cron: ranges that wrap around ---------------------------------------------------------------


def test_an_hour_range_wraps_past_midnight() -> None:
    # node-cron/node-cron PR 602 and netresearch/go-cron PR 278: "22-2" is 22, 23, 0, 1, 2,
    # and "22-2/2" steps through the wrapped sequence: 22, 0, 2. (cronie's crontab(5) asks for
    # the first number to be at most the second.)
    assert fires("0 22-2 * * *", "2025-06-10T12:00", "2025-06-11T12:00") == [
        z("2025-06-10T22:00"),
        z("2025-06-10T23:00"),
        z("2025-06-11T00:00"),
        z("2025-06-11T01:00"),
        z("2025-06-11T02:00"),
    ]
    assert fires("0 22-2/2 * * *", "2025-06-10T12:00", "2025-06-11T12:00") == [
        z("2025-06-10T22:00"),
        z("2025-06-11T00:00"),
        z("2025-06-11T02:00"),
    ]


@pytest.mark.parametrize("expression", ["0 0 * * FRI-MON", "0 0 * * 5-1"])
def test_a_weekday_range_wraps_over_the_weekend(expression: str) -> None:
    # cuu508/cronsim PR 3 and go-cron PR 278: FRI-MON is Friday, Saturday, Sunday, Monday.
    # (Debian cron accepts the text but never runs it, as that PR's discussion found.)
    # June 2025: Mon 2, Fri 6 .. Mon 9, Fri 13 .. Sun 15.
    assert fires(expression, "2025-06-01T00:00", "2025-06-15T00:00") == [
        z(f"2025-06-{day:02}T00:00") for day in (2, 6, 7, 8, 9, 13, 14, 15)
    ]


def test_a_day_of_month_range_wraps_into_the_next_month() -> None:
    # go-cron PR 278: "28-3" is 28..the month's last day, then 1-3. cronsim refuses such a
    # range (test_it_rejects_lopsided_range, "* * 5-1 * *").
    days = ["01-28", "01-29", "01-30", "01-31", "02-01", "02-02", "02-03"]
    days += ["02-28", "03-01", "03-02", "03-03"]
    assert fires("0 0 28-3 * *", "2025-01-27T00:00", "2025-03-05T00:00") == [
        z(f"2025-{day}T00:00") for day in days
    ]


# --- cron: daylight-saving time ------------------------------------------------------------------


def test_a_wildcard_minute_fires_in_both_halves_of_the_repeated_hour() -> None:
    # cronsim TestDstTransitions.test_every_minute_from_1_to_6_oct: "* 1-6 * * *" from 03:58
    # EEST goes 03:59 EEST, 03:00 EET, 03:01 EET. Debian cron(8): only jobs without "*" in
    # the hour or minute field get the DST treatment; the others run by the clock.
    schedule = Schedule("* 1-6 * * *")
    first = schedule.next_fire(z("2021-10-31T00:58"), RIGA)
    assert first == z("2021-10-31T00:59")  # 03:59 EEST
    second = schedule.next_fire(first, RIGA)
    assert second == z("2021-10-31T01:00")  # 03:00 EET
    assert schedule.next_fire(second, RIGA) == z("2021-10-31T01:01")
    # Every minute of both 03:00-03:59 hours: 120 firings, 00:00Z to 01:59Z.
    assert fires("* 1-6 * * *", "2021-10-30T23:59", "2021-10-31T01:59", RIGA) == every(
        "2021-10-31T00:00", 1, 120
    )


@pytest.mark.parametrize("expression", ["* * * * *", "* 1-6 * * *"])
def test_a_wildcard_minute_runs_straight_through_the_gap(expression: str) -> None:
    # cronsim test_every_minute_mar and test_every_minute_from_1_to_6_mar: from 02:58 EET the
    # next firings are 02:59 EET and 04:00 EEST. The walls 03:00-03:59 shift onto
    # 04:00-04:59, which fire anyway: every real minute once, none twice.
    schedule = Schedule(expression)
    first = schedule.next_fire(z("2021-03-28T00:58"), RIGA)
    assert first == z("2021-03-28T00:59")  # 02:59 EET
    assert schedule.next_fire(first, RIGA) == z("2021-03-28T01:00")  # 04:00 EEST
    assert fires(expression, "2021-03-28T00:58", "2021-03-28T02:00", RIGA) == every(
        "2021-03-28T00:59", 1, 62
    )


@pytest.mark.parametrize(
    ("expression", "tz", "start", "end", "expected"),
    [
        # cronsim test_003_every_15_minutes_oct: from 02:40 EEST, 02:45 to 03:45 EEST, then
        # 03:00 to 03:45 EET, then 04:00 EET: every quarter hour of real time.
        (
            "*/15 * * * *",
            RIGA,
            "2021-10-30T23:40",
            "2021-10-31T02:00",
            every("2021-10-30T23:45", 15, 10),
        ),
        # cronsim test_006_every_3_hours_oct: 03:00 EEST, 03:00 EET, 06:00 EET.
        (
            "0 */3 * * *",
            RIGA,
            "2021-10-30T22:30",
            "2021-10-31T04:00",
            [z("2021-10-31T00:00"), z("2021-10-31T01:00"), z("2021-10-31T04:00")],
        ),
        # cron-parser test/timezone.js, "It works on DST end": cron-parser gives "*/20 3 * * *"
        # 03:00, 03:20, 03:40 once on 2016-10-30. The minute is a step, so regua fires at
        # every real 03:00/03:20/03:40, EEST (00:xxZ) and EET (01:xxZ), then 03:00 EET on
        # the 31st.
        (
            "*/20 3 * * *",
            ATHENS,
            "2016-10-29T23:00",
            "2016-10-31T01:00",
            [
                *every("2016-10-30T00:00", 20, 3),
                *every("2016-10-30T01:00", 20, 3),
                z("2016-10-31T01:00"),
            ],
        ),
    ],
)
def test_a_step_fires_in_both_halves_of_the_repeated_hour(
    expression: str, tz: ZoneInfo, start: str, end: str, expected: list[datetime]
) -> None:
    assert fires(expression, start, end, tz) == expected


@pytest.mark.parametrize(
    ("expression", "tz", "start", "end", "expected"),
    [
        # cronsim test_016_at_1_to_5_oct: "0 1-5 * * *" from 01:30 EEST fires 02:00 EEST,
        # 03:00 EEST, then 04:00 EET: the second 03:00 does not fire.
        (
            "0 1-5 * * *",
            RIGA,
            "2021-10-30T22:30",
            "2021-10-31T03:00",
            ["2021-10-30T23:00", "2021-10-31T00:00", "2021-10-31T02:00", "2021-10-31T03:00"],
        ),
        # croniter test_dst_negative_dst_zone_ambiguous_pytz: croniter fires "0 1 * * *" at
        # 01:00 IST and again at 01:00 GMT on 2019-10-27. Debian cron(8): "if the time has
        # moved backwards by less than 3 hours, those jobs that fall into the repeated time
        # will not be re-run": 01:00 IST (00:00Z) only, then 01:00 GMT on the 28th.
        (
            "0 1 * * *",
            DUBLIN,
            "2019-10-26T11:00",
            "2019-10-28T01:00",
            ["2019-10-27T00:00", "2019-10-28T01:00"],
        ),
        # Two fixed minutes in a fixed hour are still a particular time (Debian cron(8)):
        # 01:00 and 01:30 EDT on 2025-11-02, not again in EST; EST the next day.
        (
            "0,30 1 * * *",
            NEW_YORK,
            "2025-11-02T04:00",
            "2025-11-03T07:00",
            ["2025-11-02T05:00", "2025-11-02T05:30", "2025-11-03T06:00", "2025-11-03T06:30"],
        ),
    ],
)
def test_a_fixed_time_fires_once_on_a_fall_back_night(
    expression: str, tz: ZoneInfo, start: str, end: str, expected: list[str]
) -> None:
    assert fires(expression, start, end, tz) == [z(instant) for instant in expected]


@pytest.mark.parametrize(
    ("expression", "tz", "start", "end", "expected"),
    [
        # cronsim test_at_3_15_mar runs "15 3 * * *" at 04:00 EEST on 2021-03-28 (Debian
        # cron runs a skipped job as the clock jumps). regua shifts the missing 03:15 by the
        # gap's length, to 04:15 EEST, as RFC 5545 does for DTSTART.
        (
            "15 3 * * *",
            RIGA,
            "2021-03-26T22:00",
            "2021-03-29T01:00",
            ["2021-03-27T01:15", "2021-03-28T01:15", "2021-03-29T00:15"],
        ),
        # croniter, the Europe/Paris case from taichino/croniter #90: "1 2 * * *" from
        # 2020-03-29 01:59:55 CET; croniter fires at 03:00 CEST, regua at 03:01 CEST (01:01Z).
        (
            "1 2 * * *",
            PARIS,
            "2020-03-29T00:59",
            "2020-03-31T00:01",
            ["2020-03-29T01:01", "2020-03-30T00:01", "2020-03-31T00:01"],
        ),
        # croniter test_dst_iter: Hebron's midnight does not exist on 2022-03-27; both
        # croniter and regua fire at 01:00 (+03), i.e. 22:00Z the day before.
        (
            "0 0 * * *",
            HEBRON,
            "2022-03-24T22:00",
            "2022-03-27T21:00",
            ["2022-03-25T22:00", "2022-03-26T22:00", "2022-03-27T21:00"],
        ),
        # RFC 5545 section 3.3.5: "TZID=America/New_York:20070311T023000 indicates March 11,
        # 2007 at 3:30 A.M. EDT (UTC-04:00)"; the same wall time in a cron schedule.
        (
            "30 2 * * *",
            NEW_YORK,
            "2007-03-10T12:00",
            "2007-03-12T12:00",
            ["2007-03-11T07:30", "2007-03-12T06:30"],
        ),
    ],
)
def test_a_fixed_time_in_a_gap_is_shifted_by_the_gap(
    expression: str, tz: ZoneInfo, start: str, end: str, expected: list[str]
) -> None:
    assert fires(expression, start, end, tz) == [z(instant) for instant in expected]


@pytest.mark.parametrize(
    ("expression", "tz", "start", "end", "expected"),
    [
        # cronsim test_009_30_past_1_2_3_4_5_mar gives 02:30 EET, 04:00 EEST, 04:30 EEST.
        # regua: 02:30 EET (00:30Z); 03:30 shifts onto 04:30 EEST, which fires anyway
        # (01:30Z, once); 05:30 EEST (02:30Z).
        (
            "30 1,2,3,4,5 * * *",
            RIGA,
            "2021-03-27T23:30",
            "2021-03-28T03:00",
            ["2021-03-28T00:30", "2021-03-28T01:30", "2021-03-28T02:30"],
        ),
        # cron-parser test/timezone.js, "It works on DST start": "0 * 27 * *" from 00:00:01
        # fires at 1, 2, 4 and 5 o'clock ("3 is skipped"): 03:00 shifts onto 04:00.
        (
            "0 * * * *",
            ATHENS,
            "2016-03-26T22:00",
            "2016-03-27T02:00",
            ["2016-03-26T23:00", "2016-03-27T00:00", "2016-03-27T01:00", "2016-03-27T02:00"],
        ),
    ],
)
def test_firings_shifted_onto_one_instant_are_reported_once(
    expression: str, tz: ZoneInfo, start: str, end: str, expected: list[str]
) -> None:
    assert fires(expression, start, end, tz) == [z(instant) for instant in expected]


def test_steps_inside_a_gap_keep_their_spacing() -> None:
    # cron-parser test/timezone.js, "It works on DST start": "*/20 3 * * *" on 2016-03-27
    # fires at 04:00, 04:20 and 04:40 EEST ("3 is skipped"), then 03:00 on the 28th.
    assert fires("*/20 3 * * *", "2016-03-27T00:00", "2016-03-28T00:00", ATHENS) == [
        z("2016-03-27T01:00"),
        z("2016-03-27T01:20"),
        z("2016-03-27T01:40"),
        z("2016-03-28T00:00"),
    ]


def test_an_hourly_firing_in_a_half_hour_gap_is_shifted_half_an_hour() -> None:
    # croniter test_dst_gap_shift_is_not_a_fire_time: croniter lists 00:00, 01:00 (+10:30),
    # 03:00, 04:00, 05:00 (+11:00) and asserts that 02:30 is not a firing. regua shifts the
    # missing 02:00 by the gap's length (30 minutes), as it does every missing wall time, so
    # 02:30 (+11:00), 15:30Z, is one.
    assert fires("0 * * * *", "2019-10-05T13:00", "2019-10-05T18:00", LORD_HOWE) == [
        z("2019-10-05T13:30"),
        z("2019-10-05T14:30"),
        z("2019-10-05T15:30"),
        z("2019-10-05T16:00"),
        z("2019-10-05T17:00"),
        z("2019-10-05T18:00"),
    ]


# --- RRULE: what is refused ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        # RFC 5545 section 3.3.5, the example's UTC and time-zone forms of one DTSTART.
        ("DTSTART:19970714T173000Z\nRRULE:FREQ=DAILY", "timezone"),
        ("DTSTART;TZID=America/New_York:19970714T133000\nRRULE:FREQ=DAILY", "timezone"),
        # dateutil testStrSetExDateWithTZID, with a floating DTSTART.
        (
            "DTSTART:19970902T090000\nRRULE:FREQ=YEARLY;COUNT=6;BYDAY=TU,TH\n"
            "EXDATE;TZID=Europe/Brussels:19970904T090000",
            "timezone",
        ),
        # RFC 5545 section 3.8.5.2, the example "RDATE:19970714T123000Z", after a rule.
        ("DTSTART:19970714T133000\nRRULE:FREQ=DAILY;COUNT=3\nRDATE:19970714T123000Z", "timezone"),
        # RFC 5545 section 3.3.10: with a local DTSTART "the UNTIL rule part MUST also be
        # specified as a date with local time"; dateutil refuses the mix too ("RRULE UNTIL
        # values must be specified in UTC when DTSTART is timezone-aware").
        ("DTSTART:19970902T090000\nRRULE:FREQ=YEARLY;UNTIL=19990101T000000Z", "timezone"),
        # Two starts: two lines, or dateutil testStrMultipleDTStartComma's list.
        ("DTSTART:19970902T090000\nDTSTART:19970903T090000\nRRULE:FREQ=DAILY", "DTSTART"),
        ("DTSTART:19970101T000000,19970202T000000\nRRULE:FREQ=YEARLY;COUNT=1", "DTSTART"),
    ],
)
def test_timezones_and_second_starts_are_rejected(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Schedule(expression)


# --- RRULE: RFC 5545 and dateutil examples, in local wall time -----------------------------------


def test_a_floating_dtstart_is_the_contacts_wall_time() -> None:
    # RFC 5545 section 3.3.5: "DTSTART:19970714T133000 ; Local time" and
    # "DTSTART:19970714T173000Z ; UTC time" are the same moment in New York.
    schedule = Schedule("DTSTART:19970714T133000\nRRULE:FREQ=DAILY;COUNT=1")
    assert schedule.next_fire(z("1997-07-14T00:00"), NEW_YORK) == z("1997-07-14T17:30")
    assert schedule.next_fire(z("1997-07-14T17:30"), NEW_YORK) is None


def test_rfc5545_dtstart_in_an_overlap_and_in_a_gap() -> None:
    # RFC 5545 section 3.3.5: 2007-11-04 01:30 "indicates ... 1:30 A.M. EDT" (the first
    # occurrence, 05:30Z); 2007-03-11 02:30 indicates "3:30 A.M. EDT" (07:30Z).
    overlap = "DTSTART:20071104T013000\nRRULE:FREQ=DAILY;COUNT=2"
    assert fires(overlap, "2007-11-04T00:00", "2007-11-06T00:00", NEW_YORK) == [
        z("2007-11-04T05:30"),
        z("2007-11-05T06:30"),
    ]
    gap = "DTSTART:20070311T023000\nRRULE:FREQ=DAILY;COUNT=2"
    assert fires(gap, "2007-03-11T00:00", "2007-03-13T00:00", NEW_YORK) == [
        z("2007-03-11T07:30"),
        z("2007-03-12T06:30"),
    ]


def test_rfc5545_daily_for_10_occurrences() -> None:
    # RFC 5545 section 3.8.5.3, "Daily for 10 occurrences": September 2-11, 1997, 09:00 EDT.
    schedule = "DTSTART:19970902T090000\nRRULE:FREQ=DAILY;COUNT=10"
    assert fires(schedule, "1997-09-01T00:00", "1997-12-31T00:00", NEW_YORK) == [
        z(f"1997-09-{day:02}T13:00") for day in range(2, 12)
    ]


def test_rfc5545_monthly_on_the_first_friday_keeps_nine_oclock() -> None:
    # RFC 5545 section 3.8.5.3, "Monthly on the first Friday for 10 occurrences": 09:00 EDT
    # is 13:00Z (Sep, Oct 1997; May, Jun 1998), 09:00 EST 14:00Z (Nov 1997 to Apr 3, 1998).
    schedule = "DTSTART:19970905T090000\nRRULE:FREQ=MONTHLY;COUNT=10;BYDAY=1FR"
    assert fires(schedule, "1997-09-01T00:00", "1998-12-31T00:00", NEW_YORK) == [
        z("1997-09-05T13:00"),
        z("1997-10-03T13:00"),
        z("1997-11-07T14:00"),
        z("1997-12-05T14:00"),
        z("1998-01-02T14:00"),
        z("1998-02-06T14:00"),
        z("1998-03-06T14:00"),
        z("1998-04-03T14:00"),
        z("1998-05-01T13:00"),
        z("1998-06-05T13:00"),
    ]


def test_rfc5545_friday_the_13th_needs_both() -> None:
    # RFC 5545 section 3.8.5.3, "Every Friday the 13th, forever": in an RRULE, BYDAY and
    # BYMONTHDAY must both match (a cron expression ORs them). 1998 Feb 13, Mar 13, Nov 13;
    # 1999 Aug 13; 2000 Oct 13.
    schedule = (
        "DTSTART:19970902T090000\nEXDATE:19970902T090000\nRRULE:FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13"
    )
    assert fires(schedule, "1997-09-01T00:00", "2000-12-31T00:00", NEW_YORK) == [
        z("1998-02-13T14:00"),
        z("1998-03-13T14:00"),
        z("1998-11-13T14:00"),
        z("1999-08-13T13:00"),
        z("2000-10-13T13:00"),
    ]


@pytest.mark.parametrize(
    ("wkst", "days"),
    [
        ("MO", (5, 10, 19, 24)),
        ("SU", (5, 17, 19, 31)),
    ],
)
def test_rfc5545_wkst_decides_which_weeks_count(wkst: str, days: tuple[int, ...]) -> None:
    # RFC 5545 section 3.8.5.3, "An example where the days generated makes a difference
    # because of WKST": August 5, 10, 19, 24 with WKST=MO; August 5, 17, 19, 31 with SU.
    schedule = (
        f"DTSTART:19970805T090000\nRRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST={wkst}"
    )
    assert fires(schedule, "1997-08-01T00:00", "1997-12-31T00:00", NEW_YORK) == [
        z(f"1997-08-{day:02}T13:00") for day in days
    ]


def test_rfc5545_an_invalid_date_is_ignored() -> None:
    # RFC 5545 section 3.8.5.3, "An example where an invalid date (i.e., February 30) is
    # ignored": Jan 15, 30, Feb 15 (EST, 14:00Z), Mar 15, 30 (EDT from Mar 11, 13:00Z).
    # Unlike "* * 30 2 *", the rule is valid: other months have a 30th.
    schedule = "DTSTART:20070115T090000\nRRULE:FREQ=MONTHLY;BYMONTHDAY=15,30;COUNT=5"
    assert fires(schedule, "2007-01-01T00:00", "2007-12-31T00:00", NEW_YORK) == [
        z("2007-01-15T14:00"),
        z("2007-01-30T14:00"),
        z("2007-02-15T14:00"),
        z("2007-03-15T13:00"),
        z("2007-03-30T13:00"),
    ]


def test_rfc5545_last_work_day_of_the_month() -> None:
    # RFC 5545 section 3.8.5.3, "The last work day of the month" (BYSETPOS=-1): 1997 Sep 30,
    # Oct 31, Nov 28, Dec 31; 1998 Jan 30, Feb 27, Mar 31.
    schedule = "DTSTART:19970929T090000\nRRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"
    assert fires(schedule, "1997-09-01T00:00", "1998-04-01T00:00", NEW_YORK) == [
        z("1997-09-30T13:00"),
        z("1997-10-31T14:00"),
        z("1997-11-28T14:00"),
        z("1997-12-31T14:00"),
        z("1998-01-30T14:00"),
        z("1998-02-27T14:00"),
        z("1998-03-31T14:00"),
    ]


@pytest.mark.parametrize(
    "expression",
    [
        # dateutil testStrSetExDateMultiple: one EXDATE line with three dates.
        "DTSTART:19970902T090000\nRRULE:FREQ=YEARLY;COUNT=6;BYDAY=TU,TH\n"
        "EXDATE:19970904T090000,19970911T090000,19970918T090000",
        # dateutil testStrSetDateAndExRule: RDATEs only, thinned by an EXRULE.
        "DTSTART:19970902T090000\nRDATE:19970902T090000\nRDATE:19970904T090000\n"
        "RDATE:19970909T090000\nRDATE:19970911T090000\nRDATE:19970916T090000\n"
        "RDATE:19970918T090000\nEXRULE:FREQ=YEARLY;COUNT=3;BYDAY=TH",
    ],
)
def test_dateutil_sets_with_exdates_and_exrules(expression: str) -> None:
    # Both leave the Tuesdays of September 2, 9 and 16, 1997, at 09:00 EDT.
    assert fires(expression, "1997-09-01T00:00", "1997-12-31T00:00", NEW_YORK) == [
        z(f"1997-09-{day:02}T13:00") for day in (2, 9, 16)
    ]


@pytest.mark.parametrize(
    ("weekno", "dates"),
    [
        # dateutil testYearlyByWeekNoAndWeekDay: "The first days of week number one may be
        # in the last year."
        ("1", ("1997-12-29", "1999-01-04", "2000-01-03")),
        # dateutil testYearlyByWeekNoAndWeekDay53: only some years have a week 53.
        ("53", ("1998-12-28", "2004-12-27", "2009-12-28")),
    ],
)
def test_dateutil_iso_week_numbers(weekno: str, dates: tuple[str, ...]) -> None:
    schedule = f"DTSTART:19970902T090000\nRRULE:FREQ=YEARLY;COUNT=3;BYWEEKNO={weekno};BYDAY=MO"
    # Late December and early January: 09:00 EST, 14:00Z.
    assert fires(schedule, "1997-09-01T00:00", "2010-12-31T00:00", NEW_YORK) == [
        z(f"{day}T14:00") for day in dates
    ]


def test_dateutil_dtstart_as_a_date_is_midnight() -> None:
    # dateutil testStrValueDate: "DTSTART;VALUE=DATE:19970902" starts at 00:00, local here.
    schedule = "DTSTART;VALUE=DATE:19970902\nRRULE:FREQ=YEARLY;COUNT=2"
    assert fires(schedule, "1997-01-01T00:00", "1999-12-31T00:00", NEW_YORK) == [
        z("1997-09-02T04:00"),
        z("1998-09-02T04:00"),
    ]
