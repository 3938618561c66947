"""Days off: no marketing on Sundays or on listed holidays, in the contact's own calendar."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regua import (
    Cadence,
    Channel,
    Contact,
    DaysOff,
    Event,
    Policy,
    QuietHours,
    Snapshot,
    Step,
    on_event,
    plan,
)
from regua.definitions.policy import WEEKDAYS
from regua.planning.calendar import in_quiet_hours
from regua.planning.occurrences import Reason
from tests.profiles import examples

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
QUIET = QuietHours(start=time(21), end=time(8))
CHRISTMAS = date(2026, 12, 25)  # a Friday


def shop(days_off: DaysOff) -> Cadence:
    return Cadence(
        "shop",
        timezone="America/Sao_Paulo",
        channels=[Channel("email"), Channel("sms")],
        policy=Policy(quiet_hours=QUIET, days_off=days_off),
        steps=[
            Step("news", trigger=on_event("news"), channels=["email"], expires_after="30d"),
            Step("window", trigger=on_event("booked"), channels=["sms"], service=True),
            Step("receipt", trigger=on_event("paid"), channels=["email"], transactional=True),
        ],
    )


SHOP = shop(DaysOff(weekdays=["SUN"], dates=[CHRISTMAS]))
ANA = Contact(
    "ana",
    timezone="America/Sao_Paulo",
    consents={"email", "sms"},
    addresses={"email": "ana@example.com", "sms": "+5531990000001"},
)


def local(y: int, m: int, d: int, hour: int, minute: int = 0) -> datetime:
    return datetime(y, m, d, hour, minute, tzinfo=SAO_PAULO)


def waiting_for(name: str, at: datetime) -> tuple[datetime, Reason, str]:
    result = plan(SHOP, Snapshot(ANA, [Event("ana", name, at, id="e-1")]), at)
    assert result.due == ()
    [waiting] = result.waiting
    return waiting.at.astimezone(SAO_PAULO), waiting.reason, waiting.detail


def test_a_marketing_message_due_on_sunday_waits_for_monday_morning() -> None:
    at, reason, detail = waiting_for("news", local(2026, 5, 10, 10))  # a Sunday
    assert (at, reason) == (local(2026, 5, 11, 8), Reason.DAY_OFF)
    assert detail.startswith("no marketing on SUN 2026-05-10 (a day off); held until")


def test_saturday_night_then_sunday_then_monday_morning() -> None:
    at, reason, _ = waiting_for("news", local(2026, 5, 9, 22))
    assert (at, reason) == (local(2026, 5, 11, 8), Reason.DAY_OFF)


def test_a_holiday_before_a_weekend_day_off() -> None:
    at, _, detail = waiting_for("news", local(2026, 12, 25, 11))  # Friday, Christmas
    assert at == local(2026, 12, 26, 8)  # Saturday is on
    assert "FRI 2026-12-25" in detail


def test_service_and_transactional_messages_are_not_held_by_days_off() -> None:
    sunday = local(2026, 5, 10, 10)
    events = [Event("ana", "booked", sunday, id="b-1"), Event("ana", "paid", sunday, id="p-1")]
    due = plan(SHOP, Snapshot(ANA, events), sunday).due
    assert sorted(action.step for action in due) == ["receipt", "window"]
    at, reason, _ = waiting_for("booked", local(2026, 5, 10, 22))  # quiet hours still hold it
    assert (at, reason) == (local(2026, 5, 11, 8), Reason.QUIET_HOURS)


def test_every_weekday_off_is_refused() -> None:
    with pytest.raises(ValueError, match="every weekday is off"):
        DaysOff(weekdays=list(WEEKDAYS))


def test_days_off_read_from_yaml() -> None:
    pytest.importorskip("yaml")
    again = Cadence.from_yaml(SHOP.to_yaml())
    assert again.policy.days_off == DaysOff(weekdays=["SUN"], dates=[CHRISTMAS])
    assert again == SHOP


@pytest.mark.slow
@settings(max_examples=examples(300), deadline=None)
@given(
    weekdays=st.sets(st.sampled_from(WEEKDAYS), max_size=6),
    dates=st.lists(st.dates(date(2026, 1, 1), date(2026, 12, 31)), max_size=6),
    minutes=st.integers(0, 365 * 24 * 60),
)
def test_marketing_is_due_only_on_a_day_on_and_waits_for_the_first_instant_allowed(
    weekdays: set[str], dates: list[date], minutes: int
) -> None:
    days_off = DaysOff(weekdays=sorted(weekdays, key=WEEKDAYS.index), dates=dates)
    cadence = shop(days_off)
    now = (datetime(2026, 1, 1, tzinfo=SAO_PAULO) + timedelta(minutes=minutes)).astimezone(
        SAO_PAULO
    )

    def allowed(instant: datetime) -> bool:
        local_time = instant.astimezone(SAO_PAULO)
        return not days_off.covers(local_time.date()) and not in_quiet_hours(
            instant, QUIET, SAO_PAULO
        )

    result = plan(cadence, Snapshot(ANA, [Event("ana", "news", now, id="n-1")]), now)
    if result.due:
        assert allowed(now)
        return
    assert not allowed(now)
    [waiting] = result.waiting
    assert allowed(waiting.at)
    assert not allowed(waiting.at - timedelta(minutes=1))
