"""What the shop says, and when: confirm each order, then ask for a review a week later."""

from datetime import time

from regua import Cadence, Channel, Step, on_event

shop = Cadence(
    "loja_bonita",
    timezone="America/Sao_Paulo",
    channels=[Channel("email")],
    steps=[
        Step(
            "order_confirmation",
            trigger=on_event("order_placed"),
            channels=["email"],
            transactional=True,
        ),
        Step(
            "review_request",
            trigger=on_event("order_placed"),
            delay="7d",
            at=time(10),
            channels=["email"],
            expires_after="2d",
        ),
    ],
)
cadences = [shop]
