"""The whole relationship of an online shop with its customers, from sign-up to win-back.

Each stage of the relationship has its message:

* **Sign-up.** "We confirm your registration and thank you for choosing us", at once; two to
  three days later, at 10:00 local time, a welcome e-mail presenting the shop and its products.
* **Purchase.** The order confirmation when the order is placed and the shipping notice (SMS
  first, since the customer is waiting for it, or e-mail) when it ships. These are
  transactional: they go at any hour, need no marketing consent and count against no cap.
* **Birthday.** A greeting every year at 09:00 local time on the customer's birthday. The
  channel follows the customer's value: the account manager calls gold customers, silver
  customers get an SMS, everyone else an e-mail (also the fallback for anyone who cannot be
  reached on the richer channel). A greeting is pointless the next day, so it expires if it
  cannot go out the same day.
* **Abandoned cart.** A reminder two hours after the cart is abandoned, explaining how to finish
  the purchase, and a second one a day later with free shipping. Buying cancels whatever is
  still pending.
* **Post-sale.** "How was it?" three days after each delivery; once the customer has received
  three orders, a satisfaction survey about the shop and its service, asked once.
* **Inactivity.** After 60 days without logging in, visiting the site or buying: "we have news
  for you" by e-mail, and an SMS three days later if that e-mail was not opened.
* **Win-back.** At 90 days, a short survey asking why the customer left; at 180 days, an offer
  to come back (a call from the account manager for gold customers). Lapsed customers are never
  dropped from the base: every quarter they keep receiving the shop's news.

Marketing messages respect quiet hours (21:00-08:00 in the customer's time; SMS has a stricter
window of its own) and caps of three messages a week and one a day.

The cadence reads two customer attributes, ``tier`` and ``birth_date``, and nothing else:
``cadence.attributes_used()`` says so.
"""

from __future__ import annotations

from datetime import datetime, time, timezone

from regua import (
    Cadence,
    Channel,
    FrequencyCap,
    Policy,
    QuietHours,
    Step,
    after_step,
    attr,
    event_count,
    has_event,
    on_date,
    on_event,
    on_inactivity,
    on_schedule,
    opened,
)

# What counts as the customer being active: any of these events re-arms the inactivity ladder
# and cancels a win-back message that has not gone out yet.
ACTIVITY = ["login", "order_placed", "site_visit"]

GOLD = attr("tier") == "gold"
SILVER = attr("tier") == "silver"

# No activity at all in the last 180 days.
LAPSED = (
    ~has_event("login", within="180d")
    & ~has_event("order_placed", within="180d")
    & ~has_event("site_visit", within="180d")
)

cadence = Cadence(
    "ecommerce_lifecycle",
    description="An online shop's relationship with its customers, from sign-up to win-back.",
    timezone="America/Sao_Paulo",
    channels=[
        Channel("email", cost=0.001),
        Channel(
            "sms",
            cost=0.05,
            # A text message buzzes a phone: keep it to daytime, stricter than the policy.
            quiet_hours=QuietHours(start=time(20), end=time(9)),
        ),
        Channel("whatsapp", cost=0.03),
        Channel(
            "phone",
            cost=2.0,
            kind="task",
            description="A call from the customer's account manager.",
        ),
    ],
    policy=Policy(
        quiet_hours=QuietHours(start=time(21), end=time(8)),
        caps=[FrequencyCap(max=3, per="7d"), FrequencyCap(max=1, per="1d")],
    ),
    steps=[
        # --- sign-up ---------------------------------------------------------------------------
        Step(
            "signup_confirmation",
            trigger=on_event("signed_up"),
            message="signup.confirmation",
            channels=["email"],
            transactional=True,
            description="Confirms the registration and thanks the customer for choosing us.",
        ),
        Step(
            "welcome",
            trigger=on_event("signed_up"),
            # Due two days after sign-up, then moved to the next 10:00 local: two to three
            # days later, always in the morning.
            delay="2d",
            at=time(10),
            message="welcome.about_us",
            channels=["email"],
            payload={"utm_campaign": "welcome"},
            description="Presents the company and its products a few days after sign-up.",
        ),
        # --- purchase --------------------------------------------------------------------------
        Step(
            "order_confirmation",
            trigger=on_event("order_placed"),
            message="order.confirmation",
            channels=["email"],
            transactional=True,
            description="Confirms the order: items, payment and the delivery estimate.",
        ),
        Step(
            "shipping_notice",
            trigger=on_event("order_shipped"),
            message="order.shipped",
            channels=["sms", "email"],
            transactional=True,
            description="Tells the customer the order is on its way, with the tracking link.",
        ),
        # --- birthday --------------------------------------------------------------------------
        Step(
            "birthday",
            trigger=on_date("birth_date", every="year"),
            at=time(9),
            message="birthday.greeting",
            # The channel follows the customer's value. E-mail stays as a fallback on every
            # route, for a customer without a phone number or consent for the richer channel.
            route=[(GOLD, ["phone", "email"]), (SILVER, ["sms", "email"])],
            channels=["email"],
            expires_after="12h",
            priority=5,
            payload={"gift": "birthday_coupon"},
            description="A birthday greeting; the account manager calls gold customers.",
        ),
        # --- abandoned cart --------------------------------------------------------------------
        Step(
            "cart_reminder",
            trigger=on_event("cart_abandoned"),
            delay="2h",
            message="cart.reminder",
            channels=["email"],
            cancel_on=["order_placed"],
            # A customer who abandons carts every day hears about it at most every three days.
            cooldown="3d",
            expires_after="1d",
            # Recovers a sale: goes first when the caps leave room for one message only.
            priority=10,
            description="Reminds the customer of the cart and explains how to finish the order.",
        ),
        Step(
            "cart_second_reminder",
            trigger=after_step("cart_reminder"),
            delay="24h",
            message="cart.second_reminder",
            channels=["email"],
            cancel_on=["order_placed"],
            expires_after="1d",
            priority=10,
            payload={"offer": "free_shipping"},
            description="A second reminder a day later, with free shipping.",
        ),
        # --- post-sale -------------------------------------------------------------------------
        Step(
            "post_sale_feedback",
            trigger=on_event("order_delivered"),
            delay="3d",
            at=time(10),
            message="post_sale.how_was_it",
            channels=["email"],
            expires_after="4d",
            description="Asks how the purchase went, a few days after the delivery.",
        ),
        # Every delivery is a chance to ask, and the condition is read when the survey is due,
        # a week later. `== 3` would lose the survey for a customer whose fourth order arrives
        # within that week (the count is then 4 for both occurrences); `>= 3` with
        # repeat="once" asks exactly once, as soon as the customer has three deliveries, and
        # also asks long-standing customers at their next delivery.
        Step(
            "satisfaction_survey",
            trigger=on_event("order_delivered"),
            when=event_count("order_delivered") >= 3,
            repeat="once",
            delay="7d",
            at=time(10),
            message="survey.satisfaction",
            channels=["email"],
            # Deliveries from before the survey existed do not trigger it.
            active_from=datetime(2025, 3, 1, tzinfo=timezone.utc),
            payload={"survey": "nps_and_service"},
            description="A satisfaction survey about the shop and its service, asked once.",
        ),
        # --- inactivity ------------------------------------------------------------------------
        Step(
            "inactive_news",
            trigger=on_inactivity("60d", activity=ACTIVITY),
            at=time(10),
            message="inactivity.news_for_you",
            channels=["email"],
            cancel_on=ACTIVITY,
            description='"We have news for you": invites the customer back to the site.',
        ),
        Step(
            "inactive_news_sms",
            trigger=after_step("inactive_news"),
            # The opening of the e-mail that triggered this step is the one that counts.
            when=~opened("inactive_news"),
            delay="3d",
            message="inactivity.news_for_you_sms",
            # SMS, or WhatsApp for a customer who prefers it or only consented to it.
            channels=["sms", "whatsapp"],
            cancel_on=ACTIVITY,
            description="No open in three days: try a text message instead.",
        ),
        # --- win-back --------------------------------------------------------------------------
        Step(
            "winback_why_did_you_leave",
            trigger=on_inactivity("90d", activity=ACTIVITY),
            at=time(10),
            message="winback.why_did_you_leave",
            channels=["email"],
            cancel_on=ACTIVITY,
            payload={"survey": "churn_reasons"},
            description="Asks a lost customer why they left: products, delivery or service.",
        ),
        Step(
            "winback_offer",
            trigger=on_inactivity("180d", activity=ACTIVITY),
            at=time(10),
            message="winback.come_back_offer",
            route=[(GOLD, ["phone", "email"])],
            channels=["email"],
            cancel_on=ACTIVITY,
            payload={"coupon": "VOLTE15", "discount_percent": 15},
            description="Offers a way back; the account manager calls gold customers.",
        ),
        Step(
            "lapsed_newsletter",
            # 10:00 on the first day of January, April, July and October, local time.
            trigger=on_schedule("0 10 1 */3 *"),
            # Customers who signed up recently are not lapsed, even before their first login.
            when=LAPSED & ~has_event("signed_up", within="180d"),
            message="winback.quarterly_news",
            channels=["email"],
            expires_after="7d",
            description="Keeps lapsed customers in the base: the shop's news every quarter.",
        ),
    ],
)
