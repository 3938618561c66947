"""Occurrence keys: one key per occurrence, whatever characters the ids hold.

A key is ``<cadence>:<step>:<contact>:<source>``; the cadence, step and contact parts are
escaped (``%``, ``:`` and ``/`` percent-encoded), so that a contact id or an event id
holding a ``:`` cannot make two occurrences share a key (and an idempotency key), while a
key of ordinary ids stays what it always was.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

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
    InMemoryRepository,
    OutboxSender,
    Scheduler,
    Snapshot,
    Step,
    after_step,
    on_event,
    on_inactivity,
    on_schedule,
    plan,
)
from regua.definitions import Digest
from regua.planning.keys import (
    after_source,
    current_key,
    key_part,
    occurrence_key,
    parse_after_source,
    split_occurrence_key,
    unquote_key_part,
)
from regua.records import idempotency_key
from tests.profiles import examples

UTC = timezone.utc
T0 = datetime(2026, 5, 4, 15, tzinfo=UTC)


def shop(*extra: Step) -> Cadence:
    return Cadence(
        "shop",
        channels=[Channel("email")],
        steps=[
            Step(
                "order_confirmation",
                trigger=on_event("order_placed"),
                channels=["email"],
                transactional=True,
            ),
            *extra,
        ],
    )


def person(contact_id: str) -> Contact:
    return Contact(contact_id, consents={"email"}, addresses={"email": "someone@example.com"})


def snapshot(contact_id: str, *event_ids: str, deliveries: tuple[Delivery, ...] = ()) -> Snapshot:
    events = [Event(contact_id, "order_placed", T0, id=event_id) for event_id in event_ids]
    return Snapshot(person(contact_id), events, deliveries)


def due_keys(cadence: Cadence, snap: Snapshot, now: datetime = T0) -> list[str]:
    return [action.occurrence_key for action in plan(cadence, snap, now).due]


# --- the collision ---------------------------------------------------------------------------


def test_a_colon_in_a_contact_id_cannot_make_two_occurrences_share_a_key() -> None:
    # Written without escaping, both would be "shop:order_confirmation:acme:event=1:event=2".
    [first] = plan(shop(), snapshot("acme:event=1", "2"), T0).due
    [second] = plan(shop(), snapshot("acme", "1:event=2"), T0).due

    assert first.occurrence_key == "shop:order_confirmation:acme%3Aevent=1:event=2"
    assert second.occurrence_key == "shop:order_confirmation:acme:event=1:event=2"
    assert first.idempotency_key != second.idempotency_key


def test_both_contacts_of_the_collision_get_their_message_from_the_scheduler() -> None:
    repo = InMemoryRepository()
    outbox = OutboxSender()
    scheduler = Scheduler(shop(), repository=repo, senders={"email": outbox}, worker="w1")
    for contact_id, event_id in (("acme:event=1", "2"), ("acme", "1:event=2")):
        repo.upsert_contact(person(contact_id))
        repo.record_event(Event(contact_id, "order_placed", T0, id=event_id))

    scheduler.tick(T0)
    scheduler.tick(T0 + timedelta(hours=1))  # nothing left over for a second tick either

    assert sorted(message.contact.id for message in outbox.outbox) == ["acme", "acme:event=1"]
    assert len(set(outbox.keys())) == 2
    for contact_id in ("acme", "acme:event=1"):
        statuses = [d.status for d in repo.history(contact_id) if isinstance(d, Delivery)]
        assert statuses == [DeliveryStatus.SENT]
    assert repo.errors() == []


def test_a_follower_of_an_escaped_contact_follows_its_own_occurrence() -> None:
    cadence = shop(Step("thanks", trigger=after_step("order_confirmation"), channels=["email"]))
    contact_id = "tenant:7/50%"
    [action] = plan(cadence, snapshot(contact_id, "o:1"), T0).due
    assert action.occurrence_key == "shop:order_confirmation:tenant%3A7%2F50%25:event=o:1"

    sent = Delivery(
        "shop",
        action.step,
        contact_id,
        action.occurrence_key,
        DeliveryStatus.SENT,
        T0,
        channel="email",
    )
    later = plan(cadence, snapshot(contact_id, "o:1", deliveries=(sent,)), T0)
    assert [a.occurrence_key for a in later.due] == [
        "shop:thanks:tenant%3A7%2F50%25:after=order_confirmation/event=o:1"
    ]


def test_a_key_recorded_before_escaping_still_closes_its_occurrence() -> None:
    # Recorded by a version that wrote the contact id as it is: the same occurrence.
    cadence = shop(Step("thanks", trigger=after_step("order_confirmation"), channels=["email"]))
    old = Delivery(
        "shop",
        "order_confirmation",
        "tenant:7",
        "shop:order_confirmation:tenant:7:event=o1",
        DeliveryStatus.SENT,
        T0,
        channel="email",
    )
    result = plan(cadence, snapshot("tenant:7", "o1", deliveries=(old,)), T0)
    # Not sent again; its follower follows it, under today's key.
    assert [a.occurrence_key for a in result.due] == [
        "shop:thanks:tenant%3A7:after=order_confirmation/event=o1"
    ]
    followed = Delivery(
        "shop",
        "thanks",
        "tenant:7",
        "shop:thanks:tenant:7:after=order_confirmation/event=o1",
        DeliveryStatus.SENT,
        T0,
        channel="email",
    )
    assert plan(cadence, snapshot("tenant:7", "o1", deliveries=(old, followed)), T0).due == ()


# --- ordinary ids: keys as they always were --------------------------------------------------


def test_keys_of_ordinary_ids_are_unchanged() -> None:
    cadence = shop(
        Step("follow_up", trigger=after_step("order_confirmation"), channels=["email"]),
        Step("weekly", trigger=on_schedule("0 12 * * MON"), channels=["email"]),
        Step("winback", trigger=on_inactivity("30d"), channels=["email"]),
        Step(
            "shipping",
            trigger=on_event("order_shipped"),
            channels=["email"],
            digest=Digest("2h"),
        ),
    )
    who = "ana.maria_s-1@example.com"
    events = [
        Event(who, "order_placed", T0, id="A-1001_x.y@z"),
        Event(who, "order_shipped", T0 - timedelta(hours=3), id="ship-1"),
    ]
    first = plan(cadence, Snapshot(person(who), events), T0)
    assert sorted(a.occurrence_key for a in first.due) == [
        "shop:order_confirmation:ana.maria_s-1@example.com:event=A-1001_x.y@z",
        "shop:shipping:ana.maria_s-1@example.com:digest=ship-1",
        "shop:weekly:ana.maria_s-1@example.com:at=20260504T120000Z",
    ]
    assert sorted(o.key for o in first.waiting) == [
        "shop:weekly:ana.maria_s-1@example.com:at=20260511T120000Z",
        "shop:winback:ana.maria_s-1@example.com:inactive=20260504T150000Z",
    ]
    confirmation = next(a for a in first.due if a.step == "order_confirmation")
    record = Delivery(
        "shop",
        "order_confirmation",
        who,
        confirmation.occurrence_key,
        DeliveryStatus.SENT,
        T0,
        channel="email",
    )
    second = plan(cadence, Snapshot(person(who), events, [record]), T0)
    [follow_up] = [a for a in second.due if a.step == "follow_up"]
    assert follow_up.occurrence_key == (
        "shop:follow_up:ana.maria_s-1@example.com:after=order_confirmation/event=A-1001_x.y@z"
    )
    # The idempotency keys providers have already seen for these keys.
    assert follow_up.idempotency_key == "e4e504a8ef3e11b8173fe5db0a480cd0"
    assert idempotency_key("shop:order_confirmation:ana:event=o1") == (
        "a9ab22f2badc581705ee24ea922c81d3"
    )


ORDINARY = st.text("abcXYZ019_-.@", min_size=1, max_size=8)


@settings(max_examples=examples(200), deadline=None)
@given(ORDINARY, ORDINARY, ORDINARY, st.text(max_size=12))
def test_ordinary_parts_are_written_as_they_are(
    cadence: str, step: str, contact_id: str, source: str
) -> None:
    assert occurrence_key(cadence, step, contact_id, source) == (
        f"{cadence}:{step}:{contact_id}:{source}"
    )
    assert after_source(step, source) == f"after={step}/{source}"


# --- distinct occurrences, distinct keys -----------------------------------------------------

# Text rich in the characters that delimit a key.
PART = st.text(st.sampled_from("a1:%/=@.2F3A5"), max_size=6)


def sources() -> st.SearchStrategy[str]:
    """Sources as the planner writes them, after_step ones nested."""
    leaves = st.one_of(
        PART.map(lambda event_id: f"event={event_id}"),
        PART.map(lambda event_id: f"digest={event_id}"),
        st.integers(1900, 2100).map(lambda year: f"year={year}"),
        st.sampled_from(["at=20260504T120000Z", "inactive=20260301T101500Z", "date=2026-05-01"]),
    )
    return st.recursive(leaves, lambda inner: st.builds(after_source, PART, inner), max_leaves=4)


OCCURRENCE = st.tuples(PART, PART, PART, sources())


@pytest.mark.slow
@settings(max_examples=examples(500), deadline=None)
@given(OCCURRENCE, OCCURRENCE)
def test_distinct_occurrences_have_distinct_keys_and_idempotency_keys(
    a: tuple[str, str, str, str], b: tuple[str, str, str, str]
) -> None:
    key_a, key_b = occurrence_key(*a), occurrence_key(*b)
    assert (key_a == key_b) == (a == b)
    assert (idempotency_key(key_a) == idempotency_key(key_b)) == (a == b)


@pytest.mark.slow
@settings(max_examples=examples(300), deadline=None)
@given(OCCURRENCE)
def test_a_key_reads_back_as_its_parts(occurrence: tuple[str, str, str, str]) -> None:
    cadence, step, contact_id, source = occurrence
    assert split_occurrence_key(occurrence_key(*occurrence)) == occurrence
    assert unquote_key_part(key_part(contact_id)) == contact_id
    assert parse_after_source(after_source(step, source)) == (step, source)
    assert current_key(occurrence_key(*occurrence), cadence, step, contact_id) == (
        occurrence_key(*occurrence)
    )


@settings(max_examples=examples(100), deadline=None)
@given(st.tuples(PART.filter(bool), PART), st.tuples(PART.filter(bool), PART))
def test_distinct_contacts_and_events_get_distinct_keys_from_the_planner(
    a: tuple[str, str], b: tuple[str, str]
) -> None:
    (contact_a, event_a), (contact_b, event_b) = a, b
    keys_a = due_keys(shop(), snapshot(contact_a, event_a))
    keys_b = due_keys(shop(), snapshot(contact_b, event_b))
    assert len(keys_a) == len(keys_b) == 1
    assert (keys_a == keys_b) == (a == b)
    assert split_occurrence_key(keys_a[0]) == (
        "shop",
        "order_confirmation",
        contact_a,
        f"event={event_a}",
    )
