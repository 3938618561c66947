"""The cadences this shop runs: an order confirmation and a review request a week later."""

from __future__ import annotations

from datetime import time

from regua import Cadence, Channel, Step, on_event

shop = Cadence(
    "shop",
    channels=[Channel("email", cost=0.001)],
    steps=[
        Step(
            "order_confirmation",
            trigger=on_event("order_placed"),
            message="order_confirmation",
            channels=["email"],
            transactional=True,
        ),
        Step(
            "review_request",
            trigger=on_event("order_delivered"),
            delay="7d",
            at=time(10),
            message="review_request",
            channels=["email"],
            cancel_on=["review_written"],
        ),
    ],
    timezone="America/Sao_Paulo",
)
