"""Exit on goal: reaching a journey's goal ends its remaining steps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from regua import (
    Cadence,
    Channel,
    DeliveryStatus,
    Event,
    Snapshot,
    Step,
    after_step,
    on_event,
    plan,
)
from regua.definitions import Goal
from regua.planning import Reason
from regua.testing import Simulation

START = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)


def cart_journey(**cadence_fields: object) -> Cadence:
    return Cadence(
        "shop",
        channels=[Channel("email")],
        steps=[
            Step("cart_1", trigger=on_event("cart_abandoned"), delay="1h", channels=["email"]),
            Step("cart_2", trigger=after_step("cart_1"), delay="1d", channels=["email"]),
            Step("cart_3", trigger=after_step("cart_2"), delay="2d", channels=["email"]),
            Step(
                "receipt",
                trigger=on_event("order_placed"),
                delay="1h",
                channels=["email"],
                transactional=True,
            ),
        ],
        **cadence_fields,  # type: ignore[arg-type]
    )


ORDER_GOAL = Goal("order_placed", within="7d")


def test_exit_on_goal_stops_later_steps() -> None:
    sim = Simulation(cart_journey(goal=ORDER_GOAL), start=START)
    sim.add_contact("ana")
    sim.add_contact("bob")
    sim.emit("ana", "cart_abandoned")
    sim.emit("bob", "cart_abandoned")
    sim.advance("2h")
    sim.assert_sent("cart_1", to="ana")
    sim.emit("ana", "order_placed", total=120)
    sim.advance("5d")
    # ana reached the goal: the rest of her cart journey ends; bob's goes on.
    assert [s.step for s in sim.sent(to="ana")] == ["cart_1", "receipt"]
    assert [s.step for s in sim.sent(to="bob")] == ["cart_1", "cart_2", "cart_3"]
    (cancelled,) = [d for d in sim.deliveries("ana") if d.step == "cart_2"]
    assert cancelled.status is DeliveryStatus.CANCELLED
    assert cancelled.reason == Reason.GOAL_REACHED.value
    text = str(sim.explain("ana", "cart_2"))
    assert "goal 'order_placed' within 7d of each message" in text
    assert "an event 'order_placed' ends the journey" in text
    assert "cancelled at" in text
    assert "goal_reached" in text
    # No step after cart_2 was even triggered (cart_3 follows a *sent* cart_2).
    assert [d.step for d in sim.deliveries("ana") if d.step == "cart_3"] == []


def test_a_goal_reached_before_the_first_message_ends_it_too() -> None:
    sim = Simulation(cart_journey(goal=ORDER_GOAL), start=START)
    sim.add_contact("ana")
    sim.emit("ana", "cart_abandoned")
    sim.advance("30m")
    sim.emit("ana", "order_placed")
    sim.advance("5d")
    assert [s.step for s in sim.sent(to="ana")] == ["receipt"]
    explanation = sim.explain("ana", "cart_1")
    (occurrence,) = explanation.occurrences
    assert occurrence.detail == (
        "goal_reached, goal 'order_placed' within 7d reached: order_placed at "
        "2026-03-02T12:30:00+00:00"
    )
    planned = plan(
        cart_journey(goal=ORDER_GOAL),
        Snapshot(
            sim.repository.get_contact("ana"),  # type: ignore[arg-type]
            [
                Event("ana", "cart_abandoned", START, id="c1"),
                Event("ana", "order_placed", START + timedelta(minutes=30), id="o1"),
            ],
        ),
        START + timedelta(minutes=40),
    )
    (closed,) = planned.closed
    assert closed.reason is Reason.GOAL_REACHED
    assert closed.at == START + timedelta(minutes=30)
    assert "order_placed at 2026-03-02T12:30:00+00:00" in closed.detail


def test_a_measure_only_goal_ends_nothing() -> None:
    sim = Simulation(cart_journey(goal=Goal("order_placed", within="7d", exit=False)), start=START)
    sim.add_contact("ana")
    sim.emit("ana", "cart_abandoned")
    sim.advance("2h")
    sim.emit("ana", "order_placed")
    sim.advance("5d")
    assert [s.step for s in sim.sent(to="ana")] == ["cart_1", "receipt", "cart_2", "cart_3"]


def test_the_goal_event_that_triggered_the_journey_does_not_end_it() -> None:
    # A post-sale journey fired by an order, in a cadence whose goal is an order.
    cadence = Cadence(
        "shop",
        channels=[Channel("email")],
        goal=ORDER_GOAL,
        steps=[
            Step("review", trigger=on_event("order_placed"), delay="3d", channels=["email"]),
        ],
    )
    sim = Simulation(cadence, start=START)
    sim.add_contact("ana")
    sim.emit("ana", "order_placed")
    sim.advance("4d")
    sim.assert_sent("review", to="ana", times=1)


def test_a_cadence_goal_never_ends_a_transactional_step() -> None:
    cadence = Cadence(
        "shop",
        channels=[Channel("email")],
        goal=Goal("refund_requested", within="7d"),
        steps=[
            Step(
                "shipping_notice",
                trigger=on_event("order_placed"),
                delay="1d",
                channels=["email"],
                transactional=True,
            ),
        ],
    )
    sim = Simulation(cadence, start=START)
    sim.add_contact("ana", consents=[])
    sim.emit("ana", "order_placed")
    sim.advance("1h")
    sim.emit("ana", "refund_requested")
    sim.advance("2d")
    sim.assert_sent("shipping_notice", to="ana")


def test_a_step_goal_governs_the_steps_after_it_only() -> None:
    cadence = Cadence(
        "shop",
        channels=[Channel("email")],
        steps=[
            Step("intro", trigger=on_event("signed_up"), channels=["email"]),
            Step(
                "offer",
                trigger=after_step("intro"),
                delay="1d",
                channels=["email"],
                goal=Goal("order_placed", within="3d", where={"coupon": "WELCOME"}),
            ),
            Step("reminder", trigger=after_step("offer"), delay="2d", channels=["email"]),
        ],
    )
    sim = Simulation(cadence, start=START)
    for who in ("ana", "bob", "cid"):
        sim.add_contact(who)
        sim.emit(who, "signed_up")
    sim.advance("1h")
    sim.emit("ana", "order_placed", coupon="WELCOME")  # before the offer: ends offer and after
    sim.emit("bob", "order_placed", coupon="OTHER")  # not the goal: nothing ends
    sim.advance("1d")
    sim.emit("cid", "order_placed", coupon="WELCOME")  # after the offer: ends the reminder
    sim.advance("5d")
    assert [s.step for s in sim.sent(to="ana")] == ["intro"]
    assert [s.step for s in sim.sent(to="bob")] == ["intro", "offer", "reminder"]
    assert [s.step for s in sim.sent(to="cid")] == ["intro", "offer"]


def test_an_earlier_cancel_on_event_keeps_its_own_reason() -> None:
    cadence = Cadence(
        "shop",
        channels=[Channel("email")],
        goal=ORDER_GOAL,
        steps=[
            Step(
                "cart_1",
                trigger=on_event("cart_abandoned"),
                delay="1d",
                channels=["email"],
                cancel_on=["cart_emptied"],
            ),
        ],
    )
    events = [
        Event("ana", "cart_abandoned", START, id="c1"),
        Event("ana", "cart_emptied", START + timedelta(hours=1), id="e1"),
        Event("ana", "order_placed", START + timedelta(hours=2), id="o1"),
    ]
    sim = Simulation(cadence, start=START)
    contact = sim.add_contact("ana")
    result = plan(cadence, Snapshot(contact, events), START + timedelta(hours=3))
    (closed,) = result.closed
    assert closed.reason is Reason.CANCEL_EVENT
    swapped = [events[0], attrs_evolve_at(events[2], hours=1), attrs_evolve_at(events[1], hours=2)]
    (closed,) = plan(cadence, Snapshot(contact, swapped), START + timedelta(hours=3)).closed
    assert closed.reason is Reason.GOAL_REACHED


def attrs_evolve_at(event: Event, *, hours: int) -> Event:
    return Event(event.contact_id, event.name, START + timedelta(hours=hours), id=event.id)
