"""Service recovery: win back the customer's trust after something went wrong.

When an incident is opened for a customer (a late delivery, a wrong charge, a service outage),
the company has little time to react, and how it reacts decides whether the customer stays:

* **Acknowledge at once.** "We know, and we are on it", by SMS or e-mail as soon as the
  incident is opened. An acknowledgement hours late is no acknowledgement: it expires after
  an hour, and the apology covers for it.
* **Apologise within four hours.** An hour later, once the team knows what happened, an
  apology that admits the error and says what is being changed so it does not happen again.
  It must go out within four hours of the incident.
* **Escalate when that promise is missed.** If the apology did not reach the customer, their
  account manager gets a task to call them the same day. An apology that did not get through
  either missed its deadline (expired) or failed on every channel (failed): a mailbox that
  does not exist, or a provider down for longer than the retries last, ends it failed within
  minutes, hours before the deadline. The escalation follows both outcomes.
* **Compensate valuable customers.** Right after the apology, gold and platinum customers, and
  anyone who has spent 2,000 or more with us, receive a voucher that shows the apology is
  meant.
* **Keep the customer informed.** If the incident is still open a day later, an update.
* **Keep the promise, and show it.** When the incident is resolved, a notice saying so and what
  changed; a week later, a check that everything is still working as promised, unless a new
  incident has been opened meanwhile.

Everything the customer receives about their own incident is a service message
(``transactional=True``): it needs no marketing consent, only an address, and no cap or quiet
hours hold it back. The one exception is the follow-up a week after the resolution, which is
relationship marketing and follows the policy (quiet hours 21:00-08:00, the customer's consent).

The cadence reads two customer attributes, ``tier`` and ``lifetime_value``, both to decide who
is compensated.
"""

from __future__ import annotations

from datetime import time

from regua import (
    Cadence,
    Channel,
    Policy,
    QuietHours,
    Step,
    after_step,
    attr,
    on_event,
)

VALUABLE = attr("tier").in_(["gold", "platinum"]) | (attr("lifetime_value") >= 2000)

cadence = Cadence(
    "service_recovery",
    description="Acknowledge, apologise, compensate and follow up after an incident.",
    timezone="America/Sao_Paulo",
    channels=[
        Channel("email", cost=0.001),
        Channel("sms", cost=0.05),
        Channel(
            "phone",
            cost=2.0,
            kind="task",
            description="A call from the customer's account manager.",
        ),
    ],
    # No frequency caps: a customer in the middle of an incident must never miss a recovery
    # message because of a cap, and the service messages bypass the policy anyway.
    policy=Policy(quiet_hours=QuietHours(start=time(21), end=time(8))),
    steps=[
        Step(
            "acknowledgement",
            trigger=on_event("incident_opened"),
            message="recovery.we_are_on_it",
            channels=["sms", "email"],
            transactional=True,
            deadline="1h",
            # Resolved before we could even acknowledge it: the resolution notice says it all.
            cancel_on=["incident_resolved"],
            description="Tells the customer at once that we know about the problem.",
        ),
        Step(
            "apology",
            trigger=on_event("incident_opened"),
            # An hour for the team to understand what happened, so that the apology can say
            # what is being changed; four hours at most, or it is escalated.
            delay="1h",
            deadline="4h",
            message="recovery.apology",
            channels=["email", "sms"],
            transactional=True,
            description="Admits the error without excuses and says what will change.",
        ),
        Step(
            "escalation_call",
            # Not delivered, however it ended: one escalation per apology either way.
            trigger=after_step("apology", outcome=["expired", "failed"]),
            message="recovery.manager_call",
            channels=["phone"],
            # A task for the account manager, not a message to the customer: it goes straight
            # to their queue, whatever the hour, ahead of other work.
            transactional=True,
            priority=100,
            payload={"due": "same_business_day", "offer_voucher_brl": 50},
            description="The apology did not get through: the account manager calls instead.",
        ),
        Step(
            "compensation",
            trigger=after_step("apology"),
            when=VALUABLE,
            message="recovery.voucher",
            channels=["email"],
            transactional=True,
            payload={"voucher_brl": 50, "valid_days": 60},
            description="A voucher for valuable customers, sent right after the apology.",
        ),
        Step(
            "status_update",
            trigger=on_event("incident_opened"),
            delay="1d",
            message="recovery.status_update",
            channels=["email"],
            transactional=True,
            cancel_on=["incident_resolved"],
            description="Still open a day later: what we are doing and when we expect to finish.",
        ),
        Step(
            "resolution_notice",
            trigger=on_event("incident_resolved"),
            message="recovery.resolved",
            channels=["email", "sms"],
            transactional=True,
            description="The problem is solved; what we changed so that it does not happen again.",
        ),
        Step(
            "promise_kept_follow_up",
            trigger=on_event("incident_resolved"),
            delay="7d",
            at=time(10),
            message="recovery.promise_kept",
            channels=["email"],
            # A new incident in the meantime would make "we kept our promise" ring hollow.
            cancel_on=["incident_opened"],
            expires_after="3d",
            description="A week later: is everything still working as we promised?",
        ),
    ],
)
