"""The shop's cadence: confirm each order, by e-mail."""

from regua import Cadence, Channel, Step, on_event

shop = Cadence(
    "shop",
    channels=[Channel("email")],
    steps=[
        Step(
            "order_confirmation",
            trigger=on_event("order_placed"),
            channels=["email"],
            transactional=True,
        )
    ],
)
cadences = [shop]

# A step on a channel nobody sends on: `regua_check` must fail on it.
broken = Cadence(
    "broken",
    channels=[Channel("email"), Channel("sms")],
    steps=[
        Step("text_them", trigger=on_event("order_placed"), channels=["sms"], transactional=True)
    ],
)

# A marketing step that may go out days late after downtime: a warning only.
warned = Cadence(
    "warned",
    channels=[Channel("email")],
    steps=[Step("thanks", trigger=on_event("order_placed"), channels=["email"])],
)
