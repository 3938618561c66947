"""Records stamped later than `now`: the clocks of the application and the workers drift.

An event stamped after the instant a plan is computed for is left out of that plan, but the
plan wakes the contact at its instant, so that a later plan acts on it. A delivery stamped
after `now` was made (by a worker whose clock is ahead): caps, cooldowns, ``repeat="once"``
and ``opened`` conditions count it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    Event,
    FrequencyCap,
    Policy,
    Snapshot,
    Step,
    on_event,
    on_inactivity,
    opened,
    plan,
)
from regua.definitions import Digest
from regua.planning import OccurrenceState, Reason
from regua.planning.planner import settled_once_sent

UTC = timezone.utc
NOW = datetime(2026, 5, 4, 12, tzinfo=UTC)
WEEK = timedelta(days=7)
ANA = Contact("ana", consents={"email"}, addresses={"email": "ana@example.com"})


def confirmation() -> Cadence:
    return Cadence(
        "shop",
        channels=[Channel("email")],
        steps=[
            Step(
                "confirm", trigger=on_event("order_placed"), channels=["email"], transactional=True
            )
        ],
    )


def promotions(*, capped: bool = True, **step: Any) -> Cadence:
    """A marketing step on "promo" events, under a cap of one message a week if `capped`."""
    return Cadence(
        "shop",
        channels=[Channel("email")],
        policy=Policy(caps=[FrequencyCap(max=1, per="7d")] if capped else []),
        steps=[Step("promo", trigger=on_event("promo"), channels=["email"], **step)],
    )


def promo_sent(event_id: str, at: datetime, step: str = "promo") -> Delivery:
    return Delivery(
        "shop", step, "ana", f"shop:{step}:ana:event={event_id}", DeliveryStatus.SENT, at, "email"
    )


# --- events stamped later than now ------------------------------------------------------------


def test_an_event_stamped_after_now_wakes_the_contact_at_its_instant_and_is_acted_on_then() -> None:
    at = NOW + timedelta(milliseconds=500)
    snapshot = Snapshot(ANA, [Event("ana", "order_placed", at, id="o1")])
    early = plan(confirmation(), snapshot, NOW)
    assert early.due == ()
    assert early.next_event_at == early.next_wakeup == at
    on_time = plan(confirmation(), snapshot, at)
    assert [a.occurrence_key for a in on_time.due] == ["shop:confirm:ana:event=o1"]
    assert on_time.next_event_at is None


def test_the_earliest_event_after_now_bounds_the_wakeup_of_what_waits_later() -> None:
    # The welcome waits two days; an order stamped ten minutes ahead comes first.
    cadence = Cadence(
        "shop",
        channels=[Channel("email")],
        steps=[
            *confirmation().steps,
            Step("welcome", trigger=on_event("signed_up"), delay="2d", channels=["email"]),
        ],
    )
    order = NOW + timedelta(minutes=10)
    events = [
        Event("ana", "signed_up", NOW - timedelta(hours=1), id="s1"),
        Event("ana", "order_placed", order, id="o1"),
        Event("ana", "order_placed", order + timedelta(minutes=5), id="o2"),
    ]
    result = plan(cadence, Snapshot(ANA, events), NOW)
    assert [o.key for o in result.waiting] == ["shop:welcome:ana:event=s1"]
    assert result.next_wakeup == order


def test_a_later_copy_of_an_event_already_recorded_does_not_wake_the_contact() -> None:
    # The same event (name and id) ingested twice, the second copy stamped by a clock ahead:
    # it is one event, the earliest copy, already planned for. Only the new order wakes.
    events = [
        Event("ana", "order_placed", NOW - timedelta(minutes=1), id="o1"),
        Event("ana", "order_placed", NOW + timedelta(minutes=9), id="o1"),
        Event("ana", "order_placed", NOW + timedelta(minutes=20), id="o2"),
    ]
    sent = Delivery(
        "shop",
        "confirm",
        "ana",
        "shop:confirm:ana:event=o1",
        DeliveryStatus.SENT,
        NOW - timedelta(minutes=1),
        "email",
    )
    result = plan(confirmation(), Snapshot(ANA, events, [sent]), NOW)
    assert result.next_wakeup == NOW + timedelta(minutes=20)


def test_an_event_after_now_opening_a_digest_wakes_the_contact_at_its_instant() -> None:
    cadence = Cadence(
        "shop",
        channels=[Channel("email")],
        steps=[
            Step(
                "shipping",
                trigger=on_event("order_shipped"),
                digest=Digest("2h"),
                channels=["email"],
                transactional=True,
            )
        ],
    )
    shipped = NOW + timedelta(minutes=3)
    snapshot = Snapshot(ANA, [Event("ana", "order_shipped", shipped, id="s1")])
    assert plan(cadence, snapshot, NOW).next_wakeup == shipped
    opened_window = plan(cadence, snapshot, shipped)
    assert [(o.key, o.at) for o in opened_window.waiting] == [
        ("shop:shipping:ana:digest=s1", shipped + timedelta(hours=2))
    ]


def test_activity_stamped_after_now_wakes_an_inactivity_step_to_restart_its_period() -> None:
    cadence = Cadence(
        "shop",
        channels=[Channel("email")],
        steps=[
            Step("miss_you", trigger=on_inactivity("30d", activity=["login"]), channels=["email"])
        ],
    )
    login = NOW + timedelta(minutes=10)
    events = [
        Event("ana", "login", NOW - timedelta(days=29), id="l1"),
        Event("ana", "login", login, id="l2"),
    ]
    result = plan(cadence, Snapshot(ANA, events), NOW)
    assert [o.at for o in result.waiting] == [NOW + timedelta(days=1)]
    assert result.next_wakeup == login
    later = plan(cadence, Snapshot(ANA, events), login)
    assert [o.at for o in later.waiting] == [login + timedelta(days=30)]


def test_a_contact_created_after_now_wakes_when_its_first_inactive_period_ends() -> None:
    cadence = Cadence(
        "shop",
        channels=[Channel("email")],
        steps=[Step("miss_you", trigger=on_inactivity("30d"), channels=["email"])],
    )
    created = NOW + timedelta(minutes=10)
    ana = Contact(
        "ana", consents={"email"}, addresses={"email": "ana@example.com"}, created_at=created
    )
    result = plan(cadence, Snapshot(ana), NOW)
    assert [(o.reason, o.at) for o in result.waiting] == [
        (Reason.NOT_YET_TRIGGERED, created + timedelta(days=30))
    ]
    assert result.next_wakeup == created + timedelta(days=30)


def test_sending_without_a_second_plan_is_refused_when_an_event_after_now_comes_first() -> None:
    # The due confirmation sent, what waits says nothing of the order stamped ahead: the
    # scheduler must plan the contact again rather than store the waiting occurrences' wake-up.
    events = [
        Event("ana", "order_placed", NOW, id="o1"),
        Event("ana", "order_placed", NOW + timedelta(seconds=1), id="o2"),
    ]
    result = plan(confirmation(), Snapshot(ANA, events), NOW)
    assert [a.occurrence_key for a in result.due] == ["shop:confirm:ana:event=o1"]
    assert result.waiting == ()
    assert not settled_once_sent(confirmation(), result)


# --- deliveries stamped later than now --------------------------------------------------------


@pytest.mark.parametrize("ahead", [timedelta(minutes=10), timedelta(hours=1)])
def test_a_cap_counts_a_send_stamped_after_now(ahead: timedelta) -> None:
    # Another worker, its clock `ahead`, sent p1; this worker plans p2 at NOW.
    events = [
        Event("ana", "promo", NOW - 2 * ahead, id="p1"),
        Event("ana", "promo", NOW - timedelta(minutes=1), id="p2"),
    ]
    snapshot = Snapshot(ANA, events, [promo_sent("p1", NOW + ahead)])
    result = plan(promotions(), snapshot, NOW)
    assert result.due == ()
    assert [(o.key, o.reason, o.at) for o in result.waiting] == [
        ("shop:promo:ana:event=p2", Reason.FREQUENCY_CAP, NOW + ahead + WEEK)
    ]


def test_a_channel_cap_counts_a_send_stamped_after_now() -> None:
    cadence = Cadence(
        "shop",
        channels=[Channel("email", caps=[FrequencyCap(max=1, per="1d")])],
        steps=[Step("promo", trigger=on_event("promo"), channels=["email"])],
    )
    events = [Event("ana", "promo", NOW - timedelta(hours=1), id=f"p{i}") for i in (1, 2)]
    snapshot = Snapshot(ANA, events, [promo_sent("p1", NOW + timedelta(minutes=10))])
    result = plan(cadence, snapshot, NOW)
    assert result.due == ()
    assert [o.at for o in result.waiting] == [NOW + timedelta(minutes=10, days=1)]


def test_a_cap_frees_its_slot_a_window_after_the_send_stamped_after_now() -> None:
    # Two sends in the window of a cap of one: the slot frees up when the later one leaves
    # it, a week after its instant (ten minutes ahead), not a week after the earlier one.
    events = [
        Event("ana", "promo", NOW - timedelta(days=6, hours=1), id=f"p{i}") for i in (1, 2, 3)
    ]
    deliveries = [
        promo_sent("p1", NOW - timedelta(days=6)),
        promo_sent("p2", NOW + timedelta(minutes=10)),
    ]
    result = plan(promotions(), Snapshot(ANA, events, deliveries), NOW)
    assert [(o.key, o.at) for o in result.waiting] == [
        ("shop:promo:ana:event=p3", NOW + timedelta(minutes=10) + WEEK)
    ]


def test_a_cap_allowing_two_takes_one_send_now_beside_one_stamped_after_it() -> None:
    # A cap of two a week, one send stamped ten minutes ahead: one more goes now, the next
    # waits until the send made now leaves the window (a week from now, the older of the two).
    cadence = Cadence(
        "shop",
        channels=[Channel("email")],
        policy=Policy(caps=[FrequencyCap(max=2, per="7d")]),
        steps=[Step("promo", trigger=on_event("promo"), channels=["email"])],
    )
    events = [Event("ana", "promo", NOW - timedelta(hours=i), id=f"p{i}") for i in (3, 2, 1)]
    snapshot = Snapshot(ANA, events, [promo_sent("p3", NOW + timedelta(minutes=10))])
    result = plan(cadence, snapshot, NOW)
    assert [a.occurrence_key for a in result.due] == ["shop:promo:ana:event=p2"]
    assert [(o.key, o.at) for o in result.waiting] == [("shop:promo:ana:event=p1", NOW + WEEK)]


def test_a_once_only_step_sent_by_a_worker_ahead_is_not_sent_again() -> None:
    events = [Event("ana", "promo", NOW - timedelta(hours=i), id=f"p{i}") for i in (2, 1)]
    snapshot = Snapshot(ANA, events, [promo_sent("p2", NOW + timedelta(minutes=10))])
    result = plan(promotions(capped=False, repeat="once"), snapshot, NOW)
    assert result.due == ()
    assert [(o.key, o.reason) for o in result.closed] == [
        ("shop:promo:ana:event=p1", Reason.REPEAT_ONCE)
    ]


def test_a_cooldown_counts_a_send_stamped_after_now() -> None:
    events = [Event("ana", "promo", NOW - timedelta(hours=i), id=f"p{i}") for i in (2, 1)]
    ahead = NOW + timedelta(minutes=10)
    snapshot = Snapshot(ANA, events, [promo_sent("p2", ahead)])
    cadence = promotions(capped=False, cooldown="3d")
    result = plan(cadence, snapshot, NOW)
    assert result.due == ()
    [closed] = result.closed
    assert (closed.key, closed.state, closed.reason) == (
        "shop:promo:ana:event=p1",
        OccurrenceState.SKIPPED,
        Reason.COOLDOWN,
    )
    assert ahead.isoformat() in closed.detail


def test_a_holdout_recorded_after_now_stands_for_a_send_of_a_once_only_step() -> None:
    cadence = promotions(
        capped=False, repeat="once", variants={"control": 1, "test": 0}, holdout="control"
    )
    events = [Event("ana", "promo", NOW - timedelta(hours=i), id=f"p{i}") for i in (2, 1)]
    held_out = Delivery(
        "shop",
        "promo",
        "ana",
        "shop:promo:ana:event=p2",
        DeliveryStatus.SKIPPED,
        NOW + timedelta(minutes=10),
        reason=Reason.HOLDOUT.value,
        variant="control",
    )
    result = plan(cadence, Snapshot(ANA, events, [held_out]), NOW)
    assert [(o.key, o.reason) for o in result.closed] == [
        ("shop:promo:ana:event=p1", Reason.REPEAT_ONCE)
    ]


def test_an_open_of_a_delivery_stamped_after_it_counts_for_opened() -> None:
    # The welcome went out from a worker ten minutes ahead; the application recorded its
    # open on its own clock, before that stamp. The open is a fact: opened("welcome") holds.
    cadence = Cadence(
        "shop",
        channels=[Channel("email")],
        steps=[
            Step("welcome", trigger=on_event("signed_up"), channels=["email"]),
            Step(
                "offer",
                trigger=on_event("browsed"),
                channels=["email"],
                when=opened("welcome"),
            ),
        ],
    )
    key = "shop:welcome:ana:event=s1"
    events = [
        Event("ana", "signed_up", NOW - timedelta(minutes=20), id="s1"),
        Event("ana", "opened", NOW - timedelta(minutes=5), id="open1", ref=key),
        Event("ana", "browsed", NOW - timedelta(minutes=1), id="b1"),
    ]
    welcome = Delivery(
        "shop", "welcome", "ana", key, DeliveryStatus.SENT, NOW + timedelta(minutes=10), "email"
    )
    result = plan(cadence, Snapshot(ANA, events, [welcome]), NOW)
    assert [a.occurrence_key for a in result.due] == ["shop:offer:ana:event=b1"]
