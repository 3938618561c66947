"""Calendar caps: "one a day" per local date, the slot freeing at the contact's midnight."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    Event,
    FrequencyCap,
    Plan,
    Policy,
    Snapshot,
    Step,
    on_event,
    plan,
)
from regua.planning.occurrences import Reason
from tests.profiles import examples

NEW_YORK = ZoneInfo("America/New_York")


def shop(cap: FrequencyCap) -> Cadence:
    return Cadence(
        "shop",
        channels=[Channel("email")],
        policy=Policy(caps=[cap]),
        steps=[Step("promo", trigger=on_event("promo"), channels=["email"], expires_after="60d")],
    )


def contact() -> Contact:
    return Contact(
        "ana", timezone="America/New_York", consents={"email"}, addresses={"email": "a@x.com"}
    )


def sent(at: datetime, n: int = 0) -> Delivery:
    return Delivery(
        "shop", "promo", "ana", f"shop:promo:ana:old-{n}", DeliveryStatus.SENT, at, "email"
    )


def local(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(d, time(hour, minute), NEW_YORK)


def promo_at(cadence: Cadence, history: list[Delivery], now: datetime) -> Plan:
    events = [Event("ana", "promo", now, id="p-now")]
    return plan(cadence, Snapshot(contact(), events, tuple(history)), now)


DAILY = shop(FrequencyCap(max=1, per="1d", calendar=True))
ROLLING = shop(FrequencyCap(max=1, per="1d"))
TUESDAY = date(2026, 5, 5)


def test_one_a_day_frees_at_local_midnight_not_24_hours_later() -> None:
    history = [sent(local(TUESDAY, 23, 30))]
    after_midnight = local(TUESDAY + timedelta(days=1), 0, 10)
    assert [a.step for a in promo_at(DAILY, history, after_midnight).due] == ["promo"]
    [waiting] = promo_at(ROLLING, history, after_midnight).waiting
    assert waiting.at == local(TUESDAY + timedelta(days=1), 23, 30)  # rolling: 24 h later


def test_a_second_message_the_same_day_waits_for_local_midnight() -> None:
    history = [sent(local(TUESDAY, 9))]
    [waiting] = promo_at(DAILY, history, local(TUESDAY, 22)).waiting
    assert (waiting.reason, waiting.at) == (
        Reason.FREQUENCY_CAP,
        local(TUESDAY + timedelta(days=1), 0),
    )


def test_a_week_runs_monday_to_sunday_and_a_month_to_its_end() -> None:
    weekly = shop(FrequencyCap(max=1, per="7d", calendar=True))
    history = [sent(local(date(2026, 5, 4), 10))]  # a Monday
    [waiting] = promo_at(weekly, history, local(date(2026, 5, 10), 20)).waiting  # Sunday
    assert waiting.at == local(date(2026, 5, 11), 0)
    monthly = shop(FrequencyCap(max=2, per="1mo", calendar=True))
    history = [sent(local(date(2026, 2, 1), 10), 1), sent(local(date(2026, 2, 27), 10), 2)]
    [waiting] = promo_at(monthly, history, local(date(2026, 2, 28), 10)).waiting
    assert waiting.at == local(date(2026, 3, 1), 0)


def test_the_day_follows_daylight_saving() -> None:
    spring = date(2026, 3, 8)  # New York springs forward: a day of 23 hours
    history = [sent(local(spring, 1))]
    [waiting] = promo_at(DAILY, history, local(spring, 23)).waiting
    assert waiting.at == datetime(2026, 3, 9, 4, tzinfo=timezone.utc)  # 00:00 EDT


def test_only_a_day_a_week_or_a_month_is_a_calendar_period() -> None:
    with pytest.raises(ValueError, match="not per 2d"):
        FrequencyCap(max=1, per="2d", calendar=True)


@pytest.mark.slow
@settings(max_examples=examples(300), deadline=None)
@given(
    sends=st.lists(st.integers(0, 10 * 24 * 60), max_size=6),
    now=st.integers(0, 10 * 24 * 60),
    limit=st.integers(1, 3),
)
def test_the_cap_counts_the_local_date_of_now(sends: list[int], now: int, limit: int) -> None:
    start = datetime(2026, 3, 1, tzinfo=NEW_YORK)  # across the spring-forward night
    cadence = shop(FrequencyCap(max=limit, per="1d", calendar=True))
    moment = (start + timedelta(minutes=now)).astimezone(timezone.utc)
    history = [
        sent((start + timedelta(minutes=m)).astimezone(timezone.utc), n)
        for n, m in enumerate(sends)
    ]
    today = moment.astimezone(NEW_YORK).date()
    same_day = sum(1 for d in history if d.at.astimezone(NEW_YORK).date() == today)
    result = promo_at(cadence, history, moment)
    if same_day < limit:
        assert [a.step for a in result.due] == ["promo"]
    else:
        [waiting] = result.waiting
        midnight = datetime.combine(today + timedelta(days=1), time(), NEW_YORK)
        assert waiting.at == midnight.astimezone(timezone.utc)
