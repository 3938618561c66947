"""`on_click(step)`, `on_open(step)`: a click on *this* welcome leads on, once per message."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    Event,
    InMemoryRepository,
    OutboxSender,
    Scheduler,
    Snapshot,
    Step,
    explain,
    fold,
    on_click,
    on_event,
    on_open,
    plan,
)
from regua.errors import FoldTooShallow

T0 = datetime(2026, 5, 4, 12, tzinfo=timezone.utc)
SHOP = Cadence(
    "shop",
    channels=[Channel("email")],
    steps=[
        Step("welcome", trigger=on_event("signed_up"), channels=["email"]),
        Step("news", trigger=on_event("issue"), channels=["email"]),
        Step("next_tip", trigger=on_click("welcome"), delay="1d", channels=["email"]),
        Step("thanks_for_reading", trigger=on_open("news"), channels=["email"]),
    ],
)
ANA = Contact("ana", consents={"email"}, addresses={"email": "ana@example.com"})


def sent(step: str, source: str, at: datetime, cadence: str = "shop") -> Delivery:
    key = f"{cadence}:{step}:ana:{source}"
    return Delivery(cadence, step, "ana", key, DeliveryStatus.SENT, at, "email")


def engaged(kind: str, delivery: Delivery, at: datetime) -> Event:
    return Event(
        "ana", kind, at, id=f"{kind}:{delivery.occurrence_key}@{at}", ref=delivery.occurrence_key
    )


WELCOME = sent("welcome", "event=s1", T0)
NEWS = sent("news", "event=n1", T0)


def test_a_click_on_this_welcome_fires_once_however_many_clicks() -> None:
    clicks = [engaged("clicked", WELCOME, T0 + timedelta(hours=h)) for h in (1, 2, 5)]
    result = plan(SHOP, Snapshot(ANA, clicks, (WELCOME, NEWS)), T0 + timedelta(days=2))
    [due] = result.due
    assert due.step == "next_tip"
    assert due.occurrence_key == "shop:next_tip:ana:clicked=event=s1"
    assert due.due_at == T0 + timedelta(days=1, hours=1)  # a day after the first click


def test_a_click_on_another_message_or_an_open_fires_nothing() -> None:
    events = [
        engaged("clicked", NEWS, T0 + timedelta(hours=1)),  # another step's message
        engaged("opened", WELCOME, T0 + timedelta(hours=1)),  # opened, not clicked
    ]
    result = plan(SHOP, Snapshot(ANA, events, (WELCOME, NEWS)), T0 + timedelta(days=2))
    assert [a.step for a in result.due] == []


def test_a_message_of_another_cadence_with_the_same_step_name_fires_nothing() -> None:
    other = sent("welcome", "event=s1", T0, cadence="other")
    events = [engaged("clicked", other, T0 + timedelta(hours=1))]
    result = plan(SHOP, Snapshot(ANA, events, (other,)), T0 + timedelta(days=2))
    assert result.due == ()


def test_each_message_opened_fires_its_own_occurrence() -> None:
    second = sent("news", "event=n2", T0 + timedelta(days=7))
    events = [
        engaged("opened", NEWS, T0 + timedelta(hours=1)),
        engaged("opened", second, T0 + timedelta(days=7, hours=1)),
    ]
    result = plan(SHOP, Snapshot(ANA, events, (NEWS, second)), T0 + timedelta(days=8))
    assert sorted(a.occurrence_key for a in result.due) == [
        "shop:thanks_for_reading:ana:opened=event=n1",
        "shop:thanks_for_reading:ana:opened=event=n2",
    ]
    text = str(explain(SHOP, Snapshot(ANA, events, (NEWS, second)), "thanks_for_reading", T0))
    assert "fires the first 'opened' of each 'news' message" in text


def test_the_scheduler_follows_a_click_recorded_by_the_application() -> None:
    repository = InMemoryRepository()
    repository.upsert_contact(ANA)
    repository.record_event(Event("ana", "signed_up", T0, id="s1"))
    outbox = OutboxSender()
    scheduler = Scheduler(SHOP, repository=repository, senders={"email": outbox})
    scheduler.tick(T0)
    [welcome] = outbox.outbox
    repository.record_engagement(welcome.occurrence_key, "clicked", T0 + timedelta(hours=1))
    repository.record_engagement(welcome.occurrence_key, "clicked", T0 + timedelta(hours=3))
    scheduler.tick(T0 + timedelta(days=1, hours=1))
    scheduler.tick(T0 + timedelta(days=3))
    assert [m.step for m in outbox.outbox] == ["welcome", "next_tip"]


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        ({"event": "order_placed", "of_step": "welcome"}, "must be 'opened' or 'clicked'"),
    ],
)
def test_of_step_needs_an_engagement_event(trigger: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Step("x", trigger=trigger, channels=["email"])


def test_of_step_names_a_step_of_the_cadence() -> None:
    with pytest.raises(ValueError, match=r"trigger\.of_step: no step named 'welcom'"):
        Cadence(
            "shop",
            channels=[Channel("email")],
            steps=[Step("tip", trigger=on_click("welcom"), channels=["email"])],
        )


def test_yaml_round_trip_and_no_folding() -> None:
    pytest.importorskip("yaml")
    assert Cadence.from_yaml(SHOP.to_yaml()) == SHOP
    assert "of_step: welcome" in SHOP.to_yaml()
    with pytest.raises(FoldTooShallow, match="fires on engagements"):
        fold([SHOP], Snapshot(ANA, (), (WELCOME,)), T0)
