"""When the scheduler must plan a contact again within a tick, on cases random cadences miss.

`settled` and `settled_once_sent` say when recording a plan's closures, or sending its due
actions, needs no second plan; `tests/planning/test_planner_properties.py` checks them over
random cadences. These are the cases where a second plan does see something new, built by
hand: each function must then say False (or, for a cap, the second plan may only defer).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import attrs

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    Event,
    FrequencyCap,
    InMemoryRepository,
    OutboxSender,
    Plan,
    Policy,
    QuietHours,
    Scheduler,
    Snapshot,
    Step,
    has_event,
    on_event,
    opened,
    plan,
)
from regua.planning import Reason
from regua.planning.planner import next_wakeup, settled, settled_once_sent
from tests.planning.helpers import sent_as_planned

UTC = timezone.utc
NOW = datetime(2026, 5, 4, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)
ANA = Contact("ana", consents={"email", "sms"}, addresses={"email": "ana@example.com", "sms": "+1"})


def again(cadence: Cadence, snapshot: Snapshot, result: Plan, *, send: bool) -> Plan:
    """Plan again at the same instant with the closures (and, if `send`, the sends) recorded."""
    recorded = [occurrence.as_delivery() for occurrence in result.closed]
    if send:
        recorded += [sent_as_planned(action, result.now) for action in result.due]
    deliveries = (*snapshot.deliveries, *recorded)
    return plan(cadence, attrs.evolve(snapshot, deliveries=deliveries), result.now)


def news_sent_3h_ago() -> Delivery:
    return Delivery(
        "c", "news", "ana", "c:news:ana:event=n1", DeliveryStatus.SENT, NOW - 3 * HOUR, "email"
    )


def promo_history() -> Snapshot:
    """An email promo waits for the email cap; a later one goes by SMS (a VIP) and is due."""
    events = [
        Event("ana", "n", NOW - 3 * HOUR, id="n1"),
        Event("ana", "p", NOW - 2 * HOUR, id="p1"),
        Event("ana", "vip", NOW - HOUR, id="v1"),
        Event("ana", "p", NOW, id="p2"),
    ]
    return Snapshot(ANA, events, [news_sent_3h_ago()])


def promo_cadence(**promo: object) -> Cadence:
    return Cadence(
        "c",
        channels=[Channel("email", caps=[FrequencyCap(max=1, per="1d")]), Channel("sms")],
        steps=[
            Step("news", trigger=on_event("n"), channels=["email"]),
            Step(
                "promo",
                trigger=on_event("p"),
                channels=["email"],
                route=[(has_event("vip"), ["sms"])],
                **promo,
            ),
        ],
    )


def test_a_sent_once_only_step_with_an_occurrence_waiting_needs_a_second_plan() -> None:
    cadence = promo_cadence(repeat="once")
    snapshot = promo_history()
    result = plan(cadence, snapshot, NOW)
    assert [a.occurrence_key for a in result.due] == ["c:promo:ana:event=p2"]
    assert [o.key for o in result.waiting] == ["c:promo:ana:event=p1"]  # capped, assessed first

    assert not settled_once_sent(cadence, result)
    second = again(cadence, snapshot, result, send=True)
    assert [(o.key, o.reason) for o in second.closed] == [
        ("c:promo:ana:event=p1", Reason.REPEAT_ONCE)
    ]


def test_a_holdout_of_a_sent_once_only_step_with_an_occurrence_waiting_is_not_settled() -> None:
    cadence = promo_cadence(repeat="once", variants={"control": 1, "test": 0}, holdout="control")
    snapshot = promo_history()
    result = plan(cadence, snapshot, NOW)
    assert [(o.key, o.reason) for o in result.closed] == [("c:promo:ana:event=p2", Reason.HOLDOUT)]

    assert not settled(cadence, result)
    second = again(cadence, snapshot, result, send=False)
    assert [(o.key, o.reason) for o in second.closed] == [
        ("c:promo:ana:event=p1", Reason.REPEAT_ONCE)
    ]


def test_a_send_taking_a_cadence_wide_cap_slot_only_defers_what_waits() -> None:
    # "hi" waits for the SMS cap; sending "lo" takes the last cadence-wide slot, which the
    # caps pass counts only for what it assesses after "lo". The second plan defers "hi"
    # further: waking the contact at the first plan's instant is early, never late.
    cadence = Cadence(
        "c",
        channels=[Channel("email"), Channel("sms", caps=[FrequencyCap(max=1, per="1d")])],
        policy=Policy(caps=[FrequencyCap(max=2, per="2d")]),
        steps=[
            Step("hi", trigger=on_event("a"), channels=["sms"], priority=5),
            Step("lo", trigger=on_event("b"), channels=["email"], priority=1),
        ],
    )
    earlier = NOW - 23 * HOUR
    events = [
        Event("ana", "a", earlier, id="a1"),
        Event("ana", "a", NOW, id="a2"),
        Event("ana", "b", NOW, id="b1"),
    ]
    sms = Delivery("c", "hi", "ana", "c:hi:ana:event=a1", DeliveryStatus.SENT, earlier, "sms")
    snapshot = Snapshot(ANA, events, [sms])
    result = plan(cadence, snapshot, NOW)
    assert [a.step for a in result.due] == ["lo"]
    assert settled_once_sent(cadence, result)

    second = again(cadence, snapshot, result, send=True)
    assert second.due == ()
    assert second.closed == ()
    assert [o.key for o in second.waiting] == [o.key for o in result.waiting]
    wake = next_wakeup(result.waiting, ())
    assert wake == earlier + timedelta(days=1)
    assert second.next_wakeup is not None
    assert wake < second.next_wakeup


def test_an_engagement_recorded_before_its_delivery_counts_once_the_delivery_is() -> None:
    # The welcome was delivered by an attempt whose outcome was never recorded, and opened;
    # the retry now records it. The offer goes by email to who opened the welcome, else by
    # SMS, which is in quiet hours at 23:00: only a second plan sees the open and sends it now.
    cadence = Cadence(
        "c",
        channels=[
            Channel("email"),
            Channel("sms", quiet_hours=QuietHours(start=time(21), end=time(8))),
        ],
        steps=[
            Step("welcome", trigger=on_event("signed_up"), channels=["email"]),
            Step(
                "offer",
                trigger=on_event("o"),
                channels=["sms"],
                route=[(opened("welcome"), ["email"])],
            ),
        ],
    )
    late = datetime(2026, 5, 4, 23, tzinfo=UTC)
    repository, outbox = InMemoryRepository(), OutboxSender()
    repository.upsert_contact(ANA)
    for event in (
        Event("ana", "signed_up", late, id="s1"),
        Event("ana", "o", late, id="o1"),
        Event("ana", "opened", late, id="op1", ref="c:welcome:ana:event=s1"),
    ):
        repository.record_event(event)
    result = plan(cadence, repository.load_snapshots(["ana"])["ana"], late)
    assert [a.step for a in result.due] == ["welcome"]
    assert not settled_once_sent(cadence, result)

    scheduler = Scheduler(cadence, repository=repository, senders={"email": outbox, "sms": outbox})
    scheduler.tick(late)
    assert [(m.step, m.channel) for m in outbox.outbox] == [
        ("welcome", "email"),
        ("offer", "email"),
    ]
