"""Consent per topic: "e-mail, but only the newsletter" is a consent a contact can give."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regua import (
    Cadence,
    Channel,
    Contact,
    Event,
    InMemoryRepository,
    OutboxSender,
    Scheduler,
    Snapshot,
    Step,
    on_event,
    plan,
)
from regua.planning.occurrences import Reason
from tests.profiles import examples

T0 = datetime(2026, 5, 4, 15, tzinfo=timezone.utc)
SHOP = Cadence(
    "shop",
    channels=[Channel("email"), Channel("sms")],
    steps=[
        Step("newsletter", trigger=on_event("news"), channels=["email"], topic="newsletter"),
        Step("offer", trigger=on_event("sale"), channels=["email", "sms"], topic="offers"),
        Step("untopical", trigger=on_event("misc"), channels=["email"]),
        Step("receipt", trigger=on_event("paid"), channels=["email"], transactional=True),
    ],
)
EVENTS = [Event("ana", name, T0, id=f"{name}-1") for name in ("news", "sale", "misc", "paid")]


def contact(*consents: str) -> Contact:
    return Contact(
        "ana",
        consents=consents,
        addresses={"email": "ana@example.com", "sms": "+5511990000001"},
    )


def test_consent_to_one_topic_allows_that_topic_only() -> None:
    result = plan(SHOP, Snapshot(contact("email:newsletter"), EVENTS), T0)
    assert sorted((a.step, a.channel, a.topic) for a in result.due) == [
        ("newsletter", "email", "newsletter"),
        ("receipt", "email", None),
    ]
    closed = {o.step: (o.reason, o.detail) for o in result.closed}
    assert closed["offer"] == (
        Reason.NO_CHANNEL,
        "no reachable channel (email: no consent, to it or to topic 'offers' on it, "
        "sms: no consent, to it or to topic 'offers' on it)",
    )
    assert closed["untopical"] == (Reason.NO_CHANNEL, "no reachable channel (email: no consent)")


def test_consent_to_a_channel_covers_every_topic_on_it() -> None:
    result = plan(SHOP, Snapshot(contact("email"), EVENTS), T0)
    assert sorted(a.step for a in result.due) == ["newsletter", "offer", "receipt", "untopical"]


def test_a_topic_consent_on_another_channel_routes_there() -> None:
    result = plan(SHOP, Snapshot(contact("sms:offers"), EVENTS), T0)
    assert [(a.step, a.channel) for a in result.due if a.step == "offer"] == [("offer", "sms")]


def test_withdrawing_a_topic_before_sending_stops_that_message_only() -> None:
    repository = InMemoryRepository()
    repository.upsert_contact(contact("email:newsletter", "email:offers"))
    for event in EVENTS:
        repository.record_event(event)
    outbox = OutboxSender()
    scheduler = Scheduler(SHOP, repository=repository, senders={"email": outbox, "sms": outbox})
    due = {a.step for a in scheduler.preview(T0, contact_ids=["ana"])}
    assert due == {"newsletter", "offer", "receipt"}
    repository.set_consent("ana", "email:offers", False)  # between planning and sending
    scheduler.tick(T0 + timedelta(minutes=1))
    assert sorted(m.step for m in outbox.outbox) == ["newsletter", "receipt"]


def test_a_transactional_or_service_step_has_no_topic() -> None:
    for kind in ("transactional", "service"):
        with pytest.raises(ValueError, match="has no topic"):
            Step("x", trigger=on_event("e"), channels=["email"], topic="offers", **{kind: True})


CONSENTS = st.sets(
    st.sampled_from(["email", "sms", "email:offers", "sms:offers", "email:newsletter", "x:y"])
)


@settings(max_examples=examples(200), deadline=None)
@given(consents=CONSENTS)
def test_a_marketing_message_goes_only_where_the_channel_or_its_topic_is_consented(
    consents: set[str],
) -> None:
    result = plan(SHOP, Snapshot(contact(*consents), EVENTS), T0)
    for action in result.due:
        step = SHOP.step(action.step)
        if not step.marketing:
            continue
        allowed = {c for c in action.channels if c in consents}
        if step.topic is not None:
            allowed |= {c for c in action.channels if f"{c}:{step.topic}" in consents}
        assert set(action.channels) == allowed, (action.step, consents)
