"""A marketplace that batches its notifications instead of sending one per event.

A marketplace customer often buys from several sellers at once, and each seller ships on its
own: five parcels can leave within the hour. Customers want to know, not to be buzzed five
times. Each kind of notification is a digest:

* **Shipping updates.** Every parcel shipped within two hours of the first one goes into one
  message (SMS first, or e-mail), which lists the parcels. A service message: it goes at any
  hour and needs no marketing consent.
* **Price drops on watched items.** A daily summary at 18:00 local time of the items on the
  customer's watch list whose price dropped since the last summary. Marketing: it needs
  consent, respects the quiet hours, the caps and expires if it cannot go out the same
  evening.
* **Seller messages.** Replies from sellers are gathered for 30 minutes, so that a
  conversation of several messages makes one e-mail.
* **Review request.** Five days after each shipping update, at 10:00, one request to review
  the purchases it listed (one per digest, not one per parcel).

The cadence reads no customer attribute: ``cadence.attributes_used()`` is empty. A week of
it: ``regua simulate examples/marketplace_digests.py:cadence --scenario
examples/scenarios/marketplace_week.yaml``.
"""

from __future__ import annotations

from datetime import time

from regua import Cadence, Channel, FrequencyCap, Policy, QuietHours, Step, after_step, on_event
from regua.definitions import Digest

cadence = Cadence(
    "marketplace_digests",
    description="A marketplace's notifications, batched into digests.",
    timezone="America/Sao_Paulo",
    channels=[Channel("email", cost=0.001), Channel("sms", cost=0.05)],
    policy=Policy(
        quiet_hours=QuietHours(start=time(21), end=time(8)),
        caps=[FrequencyCap(max=2, per="1d")],
    ),
    steps=[
        Step(
            "shipping_updates",
            trigger=on_event("order_shipped"),
            digest=Digest("2h"),
            message="shipping.parcels_on_their_way",
            channels=["sms", "email"],
            transactional=True,
            description="One message for the parcels shipped within two hours of the first.",
        ),
        Step(
            "price_drop_summary",
            trigger=on_event("price_dropped", where={"watched": True}),
            digest=Digest(until=time(18)),
            message="marketing.price_drops_today",
            channels=["email"],
            # Tomorrow there is a new summary: an unsent one is worth nothing.
            expires_after="3h",
            payload={"utm_campaign": "price_drops"},
            description="The day's price drops on watched items, at 18:00 local time.",
        ),
        Step(
            "seller_messages",
            trigger=on_event("seller_message"),
            digest=Digest("30m"),
            message="messages.from_sellers",
            channels=["email"],
            transactional=True,
            description="Sellers' replies, gathered for half an hour into one e-mail.",
        ),
        Step(
            "review_request",
            trigger=after_step("shipping_updates"),
            delay="5d",
            at=time(10),
            message="reviews.rate_your_purchases",
            channels=["email"],
            expires_after="2d",
            description="Asks for a review of the parcels one shipping update listed.",
        ),
    ],
)
