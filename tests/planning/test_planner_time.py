"""The planner is correct to the minute in every timezone, across DST changes."""

from __future__ import annotations

from datetime import time

from regua import Event, QuietHours, Snapshot, Step, on_date, on_event, on_schedule, plan
from tests.planning.helpers import (
    LISBON,
    NEW_YORK,
    SAO_PAULO,
    Journey,
    cadence,
    contact,
    local,
    utc,
)


def test_daily_0900_fires_at_0900_local_on_both_sides_of_spring_forward() -> None:
    c = cadence(Step("digest", trigger=on_schedule("0 9 * * *"), channels=["email"]))
    journey = Journey(c, contact(tz="America/New_York", created_at=utc(2025, 3, 8)))
    sends = journey.run(utc(2025, 3, 8, 0), utc(2025, 3, 11, 0))
    assert [at for at, _, _ in sends] == [
        utc(2025, 3, 8, 14),  # 09:00 EST
        utc(2025, 3, 9, 13),  # 09:00 EDT, the day the clocks spring forward
        utc(2025, 3, 10, 13),
    ]


def test_daily_0900_fires_at_0900_local_on_both_sides_of_fall_back_in_lisbon() -> None:
    c = cadence(Step("digest", trigger=on_schedule("0 9 * * *"), channels=["email"]))
    sends = Journey(c, contact(tz="Europe/Lisbon", created_at=utc(2025, 10, 25))).run(
        utc(2025, 10, 25, 0), utc(2025, 10, 28)
    )
    assert [at for at, _, _ in sends] == [
        utc(2025, 10, 25, 8),  # 09:00 WEST (+01:00)
        utc(2025, 10, 26, 9),  # 09:00 WET (+00:00), the day the clocks fall back
        utc(2025, 10, 27, 9),
    ]


def test_at_time_in_a_spring_forward_gap_is_shifted_by_the_gap() -> None:
    c = cadence(Step("nudge", trigger=on_event("signed_up"), at=time(2, 30), channels=["email"]))
    who = contact(tz="America/New_York")
    events = [Event("c1", "signed_up", local(NEW_YORK, 2025, 3, 8, 22), id="s1")]
    result = plan(c, Snapshot(who, events), utc(2025, 3, 9, 4))
    # 02:30 does not exist on 2025-03-09 in New York: it becomes 03:30 EDT = 07:30Z.
    assert result.next_wakeup == utc(2025, 3, 9, 7, 30)
    assert [o.at for o in result.waiting] == [utc(2025, 3, 9, 7, 30)]


def test_sao_paulo_historic_dst_keeps_the_local_hour() -> None:
    # Brazil sprang forward at 00:00 on 2018-11-04 (-03:00 -> -02:00).
    c = cadence(
        Step("welcome", trigger=on_event("signed_up"), delay="1d", at=time(9), channels=["email"])
    )
    who = contact(tz="America/Sao_Paulo")
    events = [Event("c1", "signed_up", local(SAO_PAULO, 2018, 11, 3, 8), id="s1")]
    result = plan(c, Snapshot(who, events), local(SAO_PAULO, 2018, 11, 3, 8))
    assert result.next_wakeup == local(SAO_PAULO, 2018, 11, 4, 9) == utc(2018, 11, 4, 11)


def test_one_day_is_calendar_time_and_24h_is_elapsed_across_dst() -> None:
    trigger_at = local(NEW_YORK, 2025, 3, 8, 9)  # 14:00Z, the eve of spring forward
    events = [Event("c1", "signed_up", trigger_at, id="s1")]
    for delay, expected in (("1d", utc(2025, 3, 9, 13)), ("24h", utc(2025, 3, 9, 14))):
        c = cadence(Step("x", trigger=on_event("signed_up"), delay=delay, channels=["email"]))
        result = plan(c, Snapshot(contact(tz="America/New_York"), events), trigger_at)
        assert result.next_wakeup == expected, delay


def test_jan_31_plus_one_month_is_end_of_february() -> None:
    c = cadence(Step("renew", trigger=on_event("subscribed"), delay="1mo", channels=["email"]))
    for year, day in ((2025, 28), (2024, 29)):
        start = local(SAO_PAULO, year, 1, 31, 10)
        events = [Event("c1", "subscribed", start, id="s")]
        result = plan(c, Snapshot(contact(tz="America/Sao_Paulo"), events), start)
        assert result.next_wakeup == local(SAO_PAULO, year, 2, day, 10)


def _birthday_cadence(feb29: str = "feb28") -> object:
    return cadence(
        Step(
            "birthday",
            trigger=on_date("birth_date", every="year", feb29=feb29),  # type: ignore[arg-type]
            at=time(9),
            channels=["email"],
        )
    )


def test_feb_29_birthday_falls_on_feb_28_in_common_years_and_29_in_leap_years() -> None:
    c = _birthday_cadence()
    who = contact(tz="America/Sao_Paulo", created_at=utc(2026, 1, 1), birth_date="1992-02-29")
    sends = Journey(c, who).run(utc(2026, 1, 1), utc(2029, 1, 1))  # type: ignore[arg-type]
    assert [at for at, _, _ in sends] == [
        local(SAO_PAULO, 2026, 2, 28, 9),
        local(SAO_PAULO, 2027, 2, 28, 9),
        local(SAO_PAULO, 2028, 2, 29, 9),
    ]


def test_feb_29_birthday_can_fall_on_march_1() -> None:
    c = _birthday_cadence("mar1")
    who = contact(tz="America/Sao_Paulo", created_at=utc(2027, 1, 1), birth_date="1992-02-29")
    sends = Journey(c, who).run(utc(2027, 1, 1), utc(2027, 12, 1))  # type: ignore[arg-type]
    assert [at for at, _, _ in sends] == [local(SAO_PAULO, 2027, 3, 1, 9)]


def test_contacts_in_different_timezones_get_their_own_local_morning() -> None:
    c = _birthday_cadence()
    now = utc(2026, 6, 1)
    when = {}
    for tz in ("America/Sao_Paulo", "Europe/Lisbon", "Asia/Tokyo"):
        who = contact(tz=tz, created_at=now, birth_date="1990-06-15")
        when[tz] = plan(c, Snapshot(who), now).next_wakeup  # type: ignore[arg-type]
    assert when == {
        "America/Sao_Paulo": utc(2026, 6, 15, 12),
        "Europe/Lisbon": utc(2026, 6, 15, 8),
        "Asia/Tokyo": utc(2026, 6, 15, 0),
    }


def test_contact_without_timezone_uses_the_cadences() -> None:
    c = cadence(
        Step(
            "birthday", trigger=on_date("birth_date", every="year"), at=time(9), channels=["email"]
        ),
        timezone="Europe/Lisbon",
    )
    result = plan(
        c, Snapshot(contact(created_at=utc(2026, 1, 1), birth_date="1990-01-10")), utc(2026, 1, 1)
    )
    assert result.timezone == "Europe/Lisbon"
    assert result.next_wakeup == utc(2026, 1, 10, 9)


def test_daily_0130_fires_once_on_a_fall_back_night_while_hourly_fires_twice() -> None:
    start, end = utc(2025, 11, 2, 4), utc(2025, 11, 2, 7, 59)
    daily = cadence(Step("d", trigger=on_schedule("30 1 * * *"), channels=["email"]))
    hourly = cadence(Step("h", trigger=on_schedule("0 * * * *"), channels=["email"]))
    who = contact(tz="America/New_York", created_at=start)
    assert [at for at, _, _ in Journey(daily, who).run(start, end)] == [utc(2025, 11, 2, 5, 30)]
    assert [at for at, _, _ in Journey(hourly, who).run(start, end)] == [
        utc(2025, 11, 2, 4),  # 00:00 EDT
        utc(2025, 11, 2, 5),  # 01:00 EDT
        utc(2025, 11, 2, 6),  # 01:00 EST, the same wall time an hour later
        utc(2025, 11, 2, 7),  # 02:00 EST
    ]


def test_cron_with_day_of_month_and_day_of_week_fires_on_either() -> None:
    c = cadence(Step("p", trigger=on_schedule("0 9 13 * FRI"), channels=["email"]))
    # February 2026: the 13th is a Friday, so it fires once that day.
    who = contact(tz="UTC", created_at=utc(2026, 2, 1))
    sends = Journey(c, who).run(utc(2026, 2, 1), utc(2026, 3, 1))
    assert [at.day for at, _, _ in sends] == [6, 13, 20, 27]
    # April 2026: the 13th is a Monday, and it fires on it as well as on every Friday.
    who = contact(tz="UTC", created_at=utc(2026, 4, 1))
    sends = Journey(c, who).run(utc(2026, 4, 1), utc(2026, 4, 30))
    assert [at.day for at, _, _ in sends] == [3, 10, 13, 17, 24]


def test_quiet_hours_end_at_0800_local_on_spring_forward_day() -> None:
    c = cadence(
        Step("promo", trigger=on_event("browsed"), channels=["email"]),
        policy={"quiet_hours": QuietHours(start=time(21), end=time(8))},
    )
    who = contact(tz="America/New_York")
    at = utc(2025, 3, 9, 5)  # 00:00 EST on the day clocks spring forward
    result = plan(c, Snapshot(who, [Event("c1", "browsed", at, id="b")]), at)
    assert result.due == ()
    assert [(o.reason.value if o.reason else None, o.at) for o in result.waiting] == [
        ("quiet_hours", utc(2025, 3, 9, 12))  # 08:00 EDT, not 13:00Z
    ]


def test_lisbon_spring_forward_keeps_delays_in_wall_clock_days() -> None:
    c = cadence(Step("x", trigger=on_event("e"), delay="2d", channels=["email"]))
    start = local(LISBON, 2025, 3, 29, 12)
    result = plan(c, Snapshot(contact(tz="Europe/Lisbon"), [Event("c1", "e", start)]), start)
    assert result.next_wakeup == local(LISBON, 2025, 3, 31, 12) == utc(2025, 3, 31, 11)
