"""Properties of exit on goal and holdouts over random journeys, driven as the scheduler would.

Random abandoned carts and orders for one contact; a three-step reminder journey per cart,
whose first step is an experiment with a holdout. The contact is planned forward in time
(tests.planning.helpers.Journey: every due action recorded as sent at once, closures
recorded, re-planned until nothing changes).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regua import Cadence, Channel, Event, Step, after_step, on_event
from regua.definitions import Goal
from regua.planning.experiments import assign_variant
from tests.planning.helpers import Journey, contact, utc
from tests.profiles import examples

START = utc(2026, 3, 2, 12)
VARIANTS = {"a": 50, "control": 50}


def journey_cadence(delays: tuple[int, int, int], exit: bool) -> Cadence:
    first, second, third = (f"{hours}h" for hours in delays)
    return Cadence(
        "shop",
        channels=[Channel("email")],
        goal=Goal("order_placed", within="7d", exit=exit),
        steps=[
            Step(
                "cart_1",
                trigger=on_event("cart_abandoned"),
                delay=first,
                channels=["email"],
                variants=VARIANTS,
                holdout="control",
            ),
            Step("cart_2", trigger=after_step("cart_1"), delay=second, channels=["email"]),
            Step("cart_3", trigger=after_step("cart_2"), delay=third, channels=["email"]),
        ],
    )


minutes = st.integers(0, 6 * 24 * 60)


@pytest.mark.slow
@settings(max_examples=examples(150), deadline=None)
@given(
    delays=st.tuples(st.integers(0, 30), st.integers(1, 48), st.integers(1, 48)),
    carts=st.lists(minutes, min_size=1, max_size=3, unique=True),
    orders=st.lists(minutes, max_size=3, unique=True),
    contact_id=st.sampled_from(["c1", "c2", "c3", "c4", "c5", "c6"]),
)
def test_no_message_of_a_journey_goes_out_after_its_goal_and_holdouts_get_none(
    delays: tuple[int, int, int], carts: list[int], orders: list[int], contact_id: str
) -> None:
    events = [
        Event(contact_id, "cart_abandoned", START + timedelta(minutes=m), id=f"cart-{n}")
        for n, m in enumerate(carts)
    ]
    events += [
        Event(contact_id, "order_placed", START + timedelta(minutes=m), id=f"order-{n}")
        for n, m in enumerate(orders)
    ]
    order_times = sorted(START + timedelta(minutes=m) for m in orders)
    journey = Journey(journey_cadence(delays, exit=True), contact(contact_id), events)
    journey.run(START, START + timedelta(days=20))

    held_out = assign_variant("shop", "cart_1", contact_id, VARIANTS) == "control"
    cart_at = {f"event=cart-{n}": START + timedelta(minutes=m) for n, m in enumerate(carts)}
    sent_by_cart: dict[str, list[str]] = {source: [] for source in cart_at}
    for delivery in journey.deliveries:
        if delivery.status.value != "sent":
            continue
        assert not held_out, f"a held-out contact got {delivery.step}"
        root = delivery.occurrence_key.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        began = cart_at[root]
        # Exit on goal: no order between the cart and this message.
        assert not any(began < t <= delivery.at for t in order_times), (
            f"{delivery.step} sent at {delivery.at} after an order following the cart at {began}"
        )
        sent_by_cart[root].append(delivery.step)
    for source, began in cart_at.items():
        if held_out:
            continue
        if not any(t > began for t in order_times):
            # No goal reached after this cart: the whole journey went out.
            assert sent_by_cart[source] == ["cart_1", "cart_2", "cart_3"], source
