"""Service steps: no marketing consent needed, outside caps and goals, but never in quiet hours.

The delivery-window SMS of a shop: booked at 23:00 it waits until quiet hours end at 08:00;
booked at 15:00 it goes at 15:00, to a customer who never agreed to marketing by SMS.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
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
    InMemoryRepository,
    Message,
    OutboxSender,
    Policy,
    QuietHours,
    Scheduler,
    Snapshot,
    Step,
    on_event,
    plan,
)
from regua.definitions import Goal
from regua.planning.occurrences import Reason
from tests.profiles import examples

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
SHOP = Cadence(
    "shop",
    timezone="America/Sao_Paulo",
    channels=[Channel("sms"), Channel("email")],
    policy=Policy(
        quiet_hours=QuietHours(start=time(21), end=time(8)),
        caps=[FrequencyCap(max=1, per="1d")],
    ),
    goal=Goal("order_placed", within="7d"),
    steps=[
        Step(
            "delivery_window",
            trigger=on_event("delivery_booked"),
            channels=["sms"],
            service=True,
            expires_after="12h",
        ),
        Step("offer", trigger=on_event("browsed"), channels=["email"], expires_after="2d"),
        Step(
            "receipt",
            trigger=on_event("order_paid"),
            channels=["sms"],
            transactional=True,
        ),
    ],
)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 5, day, hour, minute, tzinfo=SAO_PAULO).astimezone(timezone.utc)


def customer(*, consents: frozenset[str] = frozenset()) -> Contact:
    return Contact(
        "ana",
        timezone="America/Sao_Paulo",
        consents=consents,
        addresses={"sms": "+5531990000001", "email": "ana@example.com"},
    )


def snapshot(*events: Event, consents: frozenset[str] = frozenset()) -> Snapshot:
    return Snapshot(customer(consents=consents), events, ())


def test_booked_at_23h_it_waits_until_quiet_hours_end_without_marketing_consent() -> None:
    booked = Event("ana", "delivery_booked", local(4, 23), id="b-1")
    result = plan(SHOP, snapshot(booked), local(4, 23))
    assert result.due == ()
    [waiting] = result.waiting
    assert (waiting.step, waiting.at, waiting.reason) == (
        "delivery_window",
        local(5, 8),
        Reason.QUIET_HOURS,
    )
    [due] = plan(SHOP, snapshot(booked), local(5, 8)).due
    assert (due.step, due.channel, due.transactional) == ("delivery_window", "sms", True)


def test_booked_at_15h_it_goes_at_15h() -> None:
    booked = Event("ana", "delivery_booked", local(4, 15), id="b-1")
    [due] = plan(SHOP, snapshot(booked), local(4, 15)).due
    assert (due.step, due.due_at) == ("delivery_window", local(4, 15))


def test_a_service_message_neither_counts_toward_nor_is_held_by_caps() -> None:
    events = (
        Event("ana", "browsed", local(4, 10), id="v-1"),
        Event("ana", "delivery_booked", local(4, 10), id="b-1"),
    )
    due = plan(SHOP, snapshot(*events, consents=frozenset({"email"})), local(4, 10)).due
    assert sorted(action.step for action in due) == ["delivery_window", "offer"]


def test_the_goal_ends_marketing_but_not_a_service_message() -> None:
    browsed = Event("ana", "browsed", local(4, 10), id="v-1")
    [offer] = plan(SHOP, snapshot(browsed, consents=frozenset({"email"})), local(4, 10)).due
    sent = Delivery(
        "shop", "offer", "ana", offer.occurrence_key, DeliveryStatus.SENT, local(4, 10), "email"
    )
    events = (
        browsed,
        Event("ana", "browsed", local(4, 11), id="v-2"),
        Event("ana", "delivery_booked", local(4, 11), id="b-1"),
        Event("ana", "order_placed", local(4, 12), id="o-1"),  # the goal, after the offer
    )
    contact = customer(consents=frozenset({"email"}))
    result = plan(SHOP, Snapshot(contact, events, (sent,)), local(4, 12, 30))
    assert [action.step for action in result.due] == ["delivery_window"]
    assert [(o.step, o.reason) for o in result.closed] == [("offer", Reason.GOAL_REACHED)]


def test_a_step_cannot_be_both_transactional_and_service() -> None:
    with pytest.raises(ValueError, match="transactional or service, not both"):
        Step("x", trigger=on_event("e"), channels=["sms"], transactional=True, service=True)


def test_a_service_step_cannot_hold_contacts_out() -> None:
    with pytest.raises(ValueError, match="a transactional or service step cannot hold"):
        Step(
            "x",
            trigger=on_event("e"),
            channels=["sms"],
            service=True,
            variants={"a": 1, "b": 1},
            holdout="b",
        )


def test_the_scheduler_sends_it_without_consent_and_tells_the_sender() -> None:
    repository = InMemoryRepository()
    repository.upsert_contact(customer())
    repository.record_event(Event("ana", "delivery_booked", local(4, 23), id="b-1"))
    outbox = OutboxSender()
    scheduler = Scheduler(SHOP, repository=repository, senders={"sms": outbox, "email": outbox})
    assert scheduler.tick(local(4, 23)).sent == ()
    [sent] = scheduler.tick(local(5, 8)).sent
    assert (sent.step, sent.status) == ("delivery_window", DeliveryStatus.SENT)
    [message] = outbox.outbox
    assert isinstance(message, Message)
    assert message.transactional  # not marketing: no unsubscribe link


@settings(max_examples=examples(200), deadline=None)
@given(
    booked=st.datetimes(
        min_value=datetime(2026, 1, 1),
        max_value=datetime(2027, 12, 31),
        timezones=st.just(SAO_PAULO),
    ),
    consents=st.sets(st.sampled_from(["sms", "email"])).map(frozenset),
    has_address=st.booleans(),
)
def test_a_service_message_is_due_only_outside_quiet_hours_and_only_with_an_address(
    booked: datetime, consents: frozenset[str], has_address: bool
) -> None:
    contact = Contact(
        "ana",
        timezone="America/Sao_Paulo",
        consents=consents,
        addresses={"sms": "+5531990000001"} if has_address else {},
    )
    event = Event("ana", "delivery_booked", booked, id="b-1")
    for now in (booked, booked + timedelta(hours=6), booked + timedelta(hours=11)):
        for _ in plan(SHOP, Snapshot(contact, (event,), ()), now).due:
            assert has_address
            hour = now.astimezone(SAO_PAULO).time()
            assert time(8) <= hour < time(21), (booked, now)
