"""`regua.forecast`: counts, cost, days, peak, top contacts, sources, assumptions, errors."""

from __future__ import annotations

import json
import logging
import re
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import attrs
import pytest

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    Event,
    InMemoryRepository,
    Snapshot,
    Step,
    forecast,
    on_event,
    on_schedule,
)
from regua.forecasting import Assumptions, ChannelFailure, EventRate

UTC = timezone.utc
START = datetime(2026, 3, 2, 12, tzinfo=UTC)  # a Monday, 09:00 in Sao Paulo

NEWS = Cadence(
    "news",
    timezone="America/Sao_Paulo",
    channels=[Channel("email", cost=0.01), Channel("sms", cost=0.25)],
    steps=[
        # Mondays 09:00 local; gold customers get an SMS, the rest an e-mail.
        Step("weekly", trigger=on_schedule("0 9 * * MON"), channels=["email"]),
        Step(
            "thanks",
            trigger=on_event("order_placed"),
            channels=["sms", "email"],
            transactional=True,
        ),
    ],
)


def person(contact_id: str, *, sms: bool = False, **extra: object) -> Contact:
    addresses = {"email": f"{contact_id}@example.com"}
    if sms:
        addresses["sms"] = "+5511999990000"
    return Contact(
        contact_id,
        consents={"email", "sms"},
        addresses=addresses,
        created_at=START - timedelta(days=1),
        **extra,  # type: ignore[arg-type]
    )


def test_counts_cost_days_and_peak() -> None:
    people = [person("ana"), person("bia"), person("caio", sms=True)]
    history = Snapshot(
        people[2], [Event("caio", "order_placed", START - timedelta(hours=1), id="o1")]
    )
    result = forecast(NEWS, [people[0], people[1], history], START, "14d")

    # Mondays 2, 9 and 16 March at 09:00 local; the period ends on the 16th at 09:00 local,
    # excluded, so two newsletters each; caio's order (before the start, never confirmed)
    # is caught up at once, by SMS.
    assert result.messages == 7
    assert result.totals() == {"email": (6, pytest.approx(0.06)), "sms": (1, 0.25)}
    assert result.totals("step") == {"thanks": (1, 0.25), "weekly": (6, pytest.approx(0.06))}
    assert result.cost == pytest.approx(0.31)
    # Local dates from Monday 2 March 09:00 to Monday 16 March 09:00: 15, the last partial.
    assert result.days()[0] == date(2026, 3, 2)
    assert len(result.days()) == 15
    assert result.daily()["email"][0] == 3
    assert result.daily()["email"][7] == 3
    assert sum(result.daily()["email"]) == 6
    assert result.cumulative_cost()[-1] == pytest.approx(0.31)
    peak = result.peak_day
    assert peak is not None
    assert (peak.day, peak.messages) == (date(2026, 3, 2), 4)
    assert result.top_contacts(1) == [("caio", 3)]
    assert dict(result.messages_per_contact) == {"ana": 2, "bia": 2, "caio": 3}


def test_days_are_local_dates_in_the_chosen_timezone() -> None:
    # 09:00 in Sao Paulo is 12:00Z, and 21:00 the same day in Tokyo.
    late = Cadence(
        "late",
        timezone="America/Sao_Paulo",
        channels=[Channel("email")],
        steps=[Step("daily", trigger=on_schedule("0 23 * * *"), channels=["email"])],
    )
    ana = attrs.evolve(person("ana"), created_at=START)
    sao_paulo = forecast(late, [ana], START, "3d")
    utc = forecast(late, [ana], START, "3d", timezone="UTC")
    assert [r.day for r in sao_paulo.rows] == [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]
    # 23:00 in Sao Paulo is 02:00Z the next day.
    assert [r.day for r in utc.rows] == [date(2026, 3, 3), date(2026, 3, 4), date(2026, 3, 5)]


def test_json_holds_the_same_numbers() -> None:
    result = forecast(NEWS, [person("ana"), person("bia", sms=True)], START, "21d")
    data = json.loads(result.to_json())
    assert data["messages"] == result.messages == sum(r["messages"] for r in data["rows"])
    assert data["by_channel"]["email"]["messages"] == sum(data["daily"]["email"])
    assert len(data["days"]) == len(data["daily"]["email"]) == 22  # 21 days and a bit
    assert data["start"] == "2026-03-02T12:00:00Z"


def test_the_table_shows_steps_channels_totals_peak_and_top() -> None:
    result = forecast(NEWS, [person("ana"), person("bia")], START, "14d")
    text = result.table()
    assert re.search(r"^weekly +email +4 +0\.04$", text, re.MULTILINE)
    assert re.search(r"^total +4 +0\.04$", text, re.MULTILINE)
    assert "peak day: 2026-03-02, 2 messages" in text
    assert "most messaged contacts: ana (2), bia (2)" in text
    alone = forecast(NEWS, [person("ana")], START, "2d").table()
    assert ": 1 contact, 1 message, cost" in alone
    assert "peak day: 2026-03-02, 1 message, cost" in alone


def test_nothing_to_send() -> None:
    result = forecast(NEWS, [], START, "7d")
    assert result.messages == 0
    assert result.peak_day is None
    assert result.top_contacts() == []
    assert "(nothing would be sent)" in result.table()


def test_a_repository_is_projected_from_its_current_state() -> None:
    repository = InMemoryRepository()
    for contact in (person("ana", sms=True), person("bia", sms=True)):
        repository.upsert_contact(contact)
        repository.record_event(
            Event(contact.id, "order_placed", START - timedelta(hours=2), id="o1")
        )
    # ana's confirmation was already sent: only bia's is still due.
    repository.record(
        [
            Delivery(
                "news",
                "thanks",
                "ana",
                "news:thanks:ana:event=o1",
                DeliveryStatus.SENT,
                START - timedelta(hours=2),
                channel="sms",
            )
        ]
    )
    result = forecast(NEWS, repository, START, "1d")
    assert result.contacts == 2
    assert result.totals("step") == {"thanks": (1, 0.25), "weekly": (2, pytest.approx(0.02))}
    assert dict(result.messages_per_contact) == {"ana": 1, "bia": 2}
    only_ana = forecast(NEWS, repository, START, "1d", contact_ids=["ana"])
    assert (only_ana.contacts, only_ana.messages) == (1, 1)


def test_a_sql_repository_is_listed_and_projected(tmp_path: Path) -> None:
    from regua.repositories.sql import SQLRepository

    with SQLRepository(f"sqlite:///{tmp_path / 'regua.db'}") as repository:
        for name in ("ana", "bia", "caio"):
            repository.upsert_contact(person(name))
        result = forecast(NEWS, repository, START, "7d")
    assert (result.contacts, result.messages) == (3, 3)


@pytest.mark.slow
def test_assumptions_are_seeded_and_reproducible() -> None:
    people = [person(f"c{n}", sms=True) for n in range(200)]
    orders = Assumptions(events=[EventRate("order_placed", 0.1, every="1w")], seed=1)
    first = forecast(NEWS, people, START, "28d", assumptions=orders)
    again = forecast(NEWS, list(reversed(people)), START, "28d", assumptions=orders)
    other = forecast(
        NEWS, people, START, "28d", assumptions=Assumptions(events=orders.events, seed=2)
    )
    assert first.rows == again.rows
    assert first.rows != other.rows
    thanks = first.totals("step")["thanks"][0]
    # 200 contacts, 4 weeks, 10%: about 80 orders (the draw is fixed by the seed).
    assert 50 <= thanks <= 110


def test_scripted_failures_fall_back_to_the_next_channel() -> None:
    people = [person(f"c{n}", sms=True) for n in range(50)]
    orders = [EventRate("order_placed", 1.0, every="1w")]
    none_fail = forecast(NEWS, people, START, "7d", assumptions=Assumptions(events=orders))
    all_fail = forecast(
        NEWS,
        people,
        START,
        "7d",
        assumptions=Assumptions(events=orders, failures=[ChannelFailure("sms", 1.0)]),
    )
    assert none_fail.totals("step")["thanks"] == (50, pytest.approx(12.5))
    assert {r.channel for r in all_fail.rows if r.step == "thanks"} == {"email"}
    assert (all_fail.totals("step")["thanks"][0], all_fail.failed) == (50, 0)
    sms_only = Cadence(
        "sms_only",
        channels=[Channel("sms")],
        steps=[
            Step("thanks", trigger=on_event("order_placed"), channels=["sms"], transactional=True)
        ],
    )
    lost = forecast(
        sms_only,
        people,
        START,
        "7d",
        assumptions=Assumptions(events=orders, failures=[ChannelFailure("sms", 1.0)]),
    )
    assert (lost.messages, lost.failed) == (0, 50)


def test_a_forecast_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """Projected messages are not sent: no "sent" or "failed" records of the scheduler."""
    caplog.set_level(logging.DEBUG, logger="regua")
    people = [person(f"c{n}", sms=True) for n in range(5)]
    failing = Assumptions(
        events=[EventRate("order_placed", 1.0, every="1w")], failures=[ChannelFailure("sms", 1.0)]
    )
    result = forecast(NEWS, people, START, "7d", assumptions=failing)
    assert result.messages > 0
    assert [r.getMessage() for r in caplog.records if r.name == "regua.scheduler"] == []


@pytest.mark.slow
def test_event_rates_draw_about_the_stated_share() -> None:
    rate = Assumptions(events=[EventRate("login", 0.02, every="1w")], seed=5)
    end = START + timedelta(weeks=10)
    events = [e for n in range(5000) for e in rate.events_for(f"c{n}", START, end)]
    # 5,000 contacts x 10 weeks x 2% = 1,000 expected.
    assert 900 <= len(events) <= 1100
    assert all(START <= e.at < end for e in events)
    per_week = {(e.contact_id, (e.at - START) // timedelta(weeks=1)) for e in events}
    assert len(per_week) == len(events)  # at most once per period


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: EventRate("order_placed", 1.5), "between 0 and 1"),
        (lambda: EventRate("order_placed", 0.1, every="0d"), "positive duration"),
        (lambda: EventRate.parse("order_placed"), "EVENT=RATE"),
        (lambda: EventRate.parse("order_placed=lots"), "is not a rate"),
        (lambda: ChannelFailure.parse("sms=200%"), "between 0 and 1"),
        (
            lambda: Assumptions(failures=[ChannelFailure("sms", 0.1), ChannelFailure("sms", 0.2)]),
            "repeated: sms",
        ),
    ],
)
def test_bad_assumptions_say_what_is_wrong(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


def test_bad_periods_and_inputs() -> None:
    with pytest.raises(ValueError, match="start must be a timezone-aware"):
        forecast(NEWS, [], datetime(2026, 3, 2), "7d")
    with pytest.raises(ValueError, match="is before start"):
        forecast(NEWS, [], START, START - timedelta(days=1))
    with pytest.raises(ValueError, match="duplicate contact id 'ana'"):
        forecast(NEWS, [person("ana"), person("ana")], START, "7d")
    with pytest.raises(TypeError, match=r"contacts\[0\]: expected a Contact or a Snapshot"):
        forecast(NEWS, ["ana"], START, "7d")  # type: ignore[list-item]
    with pytest.raises(ValueError, match="repeated: news"):
        forecast([NEWS, NEWS], [], START, "7d")


def test_progress_is_reported_per_contact() -> None:
    calls: list[tuple[int, int | None]] = []
    forecast(
        NEWS, [person("a"), person("b")], START, "1d", progress=lambda d, t: calls.append((d, t))
    )
    assert calls == [(1, 2), (2, 2)]


def test_quiet_hours_move_messages_to_the_next_local_morning() -> None:
    from regua import Policy, QuietHours

    night = Cadence(
        "night",
        timezone="UTC",
        channels=[Channel("email")],
        policy=Policy(quiet_hours=QuietHours(start=time(21), end=time(8))),
        steps=[Step("hello", trigger=on_event("signed_up"), channels=["email"])],
    )
    # Signed up at 23:00 UTC, before the start: due at once, deferred to 08:00 the next day.
    ana = Snapshot(
        person("ana"), [Event("ana", "signed_up", datetime(2026, 3, 2, 23, tzinfo=UTC), id="s")]
    )
    result = forecast(night, [ana], datetime(2026, 3, 2, 23, 30, tzinfo=UTC), "1d")
    assert [(r.day, r.messages) for r in result.rows] == [(date(2026, 3, 3), 1)]


class _PagedRepository(InMemoryRepository):
    """A repository that lists its contacts a page at a time, as `contact_ids` pages."""

    def __init__(self) -> None:
        super().__init__()
        self.pages = 0

    def contact_ids(self, after: str | None = None, limit: int = 1000) -> list[str]:
        self.pages += 1
        ids = sorted(c for c in self._rows if after is None or c > after)
        return ids[:limit]


def test_a_repository_that_pages_its_contacts_is_read_page_by_page() -> None:
    repository = _PagedRepository()
    for n in range(2100):
        repository.upsert_contact(person(f"c{n:04d}"))
    result = forecast(NEWS, repository, START, "1d")
    assert result.contacts == 2100
    assert result.messages == 2100  # Monday's newsletter, once each
    assert repository.pages == 3
