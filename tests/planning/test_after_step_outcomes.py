"""``after_step`` following several outcomes: an escalation whatever way the message failed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from regua import (
    Delivery,
    DeliveryStatus,
    Event,
    Snapshot,
    Step,
    after_step,
    explain,
    on_event,
    plan,
)
from regua.planning import Reason
from tests.planning.helpers import cadence, contact, utc
from tests.profiles import examples

T0 = utc(2026, 5, 4, 15)  # a Monday, 12:00 in Sao Paulo
OUTCOMES = ("sent", "failed", "expired", "skipped")


def recovery(outcome: Any = ("expired", "failed")) -> Any:
    return cadence(
        Step(
            "apology",
            trigger=on_event("incident_opened"),
            delay="30m",
            deadline="4h",
            channels=["email"],
            transactional=True,
        ),
        Step(
            "escalate",
            trigger=after_step("apology", outcome=outcome),
            channels=["phone"],
            transactional=True,
        ),
    )


def apology_ended(
    status: str, at: Any, incident: str = "inc-7", reason: str | None = None
) -> Delivery:
    return Delivery(
        "test",
        "apology",
        "c1",
        f"test:apology:c1:event={incident}",
        DeliveryStatus(status),
        at,
        channel="email" if status in ("sent", "failed") else None,
        reason=reason,
    )


INCIDENT = Event("c1", "incident_opened", T0, id="inc-7")
ESCALATION_KEY = "test:escalate:c1:after=apology/event=inc-7"


def test_fires_after_an_apology_that_failed_long_before_its_deadline() -> None:
    failed_at = T0 + timedelta(minutes=38)  # every channel failed, retries ran out
    history = [apology_ended("failed", failed_at, reason="email: no such mailbox")]
    result = plan(recovery(), Snapshot(contact(), [INCIDENT], history), failed_at)
    assert [(a.step, a.channel, a.occurrence_key) for a in result.due] == [
        ("escalate", "phone", ESCALATION_KEY)
    ]
    assert result.due[0].due_at == failed_at


def test_fires_after_an_apology_that_expired_at_its_deadline() -> None:
    # Nothing was sent (the workers were down): the planner closes it as expired, and the
    # follower fires in the same plan.
    deadline = T0 + timedelta(hours=4)
    result = plan(recovery(), Snapshot(contact(), [INCIDENT]), deadline)
    assert [(o.step, o.reason) for o in result.closed] == [("apology", Reason.DEADLINE)]
    assert [(a.step, a.occurrence_key) for a in result.due] == [("escalate", ESCALATION_KEY)]
    # The expiry recorded, planned again: the same occurrence, due still.
    recorded = [apology_ended("expired", deadline, reason="deadline")]
    again = plan(recovery(), Snapshot(contact(), [INCIDENT], recorded), deadline)
    assert [(a.step, a.occurrence_key) for a in again.due] == [("escalate", ESCALATION_KEY)]


def test_does_not_fire_after_an_apology_that_was_sent_or_skipped() -> None:
    at = T0 + timedelta(minutes=30)
    for status in ("sent", "skipped"):
        history = [apology_ended(status, at)]
        result = plan(recovery(), Snapshot(contact(), [INCIDENT], history), at)
        assert result.due == (), status
        assert result.next_wakeup is None, status


def test_one_escalation_per_incident_whichever_way_each_apology_ended() -> None:
    events = [INCIDENT, Event("c1", "incident_opened", T0 + timedelta(hours=1), id="inc-8")]
    history = [
        apology_ended("failed", T0 + timedelta(minutes=31), "inc-7", "email: bounced"),
        apology_ended("expired", T0 + timedelta(hours=5), "inc-8", "deadline"),
    ]
    result = plan(recovery(), Snapshot(contact(), events, history), T0 + timedelta(hours=5))
    assert [a.occurrence_key for a in result.due] == [
        ESCALATION_KEY,
        "test:escalate:c1:after=apology/event=inc-8",
    ]


def test_the_key_is_the_source_delivery_alone_so_stored_escalations_still_close_it() -> None:
    # An escalation recorded while the step followed `expired` alone closes the same
    # occurrence once it follows both: no second call to the customer.
    deadline = T0 + timedelta(hours=4)
    expired = [apology_ended("expired", deadline, reason="deadline")]
    before = plan(recovery("expired"), Snapshot(contact(), [INCIDENT], expired), deadline)
    after = plan(recovery(), Snapshot(contact(), [INCIDENT], expired), deadline)
    assert [a.occurrence_key for a in before.due] == [a.occurrence_key for a in after.due]
    assert [a.occurrence_key for a in after.due] == [ESCALATION_KEY]
    stored = Delivery(
        "test", "escalate", "c1", ESCALATION_KEY, DeliveryStatus.SENT, deadline, channel="phone"
    )
    later = plan(
        recovery(), Snapshot(contact(), [INCIDENT], [*expired, stored]), deadline + timedelta(1)
    )
    assert (later.due, later.waiting, later.closed) == ((), (), ())


def test_explain_names_every_outcome_followed() -> None:
    failed_at = T0 + timedelta(minutes=38)
    history = [apology_ended("failed", failed_at, reason="email: no such mailbox")]
    explanation = explain(
        recovery(), Snapshot(contact(), [INCIDENT], history), "escalate", failed_at
    )
    assert explanation.trigger == "when an occurrence of 'apology' ends expired or failed"
    assert [o.key for o in explanation.occurrences] == [ESCALATION_KEY]


@settings(max_examples=examples(60), deadline=None)
@given(
    ends=st.lists(st.sampled_from(OUTCOMES), min_size=1, max_size=5),
    followed=st.lists(st.sampled_from(OUTCOMES), min_size=1, max_size=4, unique=True),
)
def test_following_several_outcomes_is_the_union_of_following_each(
    ends: list[str], followed: list[str]
) -> None:
    """The follower fires once per source occurrence that ended in one of its outcomes, with
    the key a single-outcome follower gives it: never twice, never a new key."""
    events = [
        Event("c1", "incident_opened", T0 + timedelta(minutes=i), id=f"inc-{i}")
        for i in range(len(ends))
    ]
    at = T0 + timedelta(hours=5)
    history = [
        apology_ended(status, at, f"inc-{i}", "deadline" if status == "expired" else None)
        for i, status in enumerate(ends)
    ]
    snapshot = Snapshot(contact(), events, history)
    together = [a.occurrence_key for a in plan(recovery(followed), snapshot, at).due]
    apart = sorted(
        a.occurrence_key for outcome in followed for a in plan(recovery(outcome), snapshot, at).due
    )
    assert sorted(together) == apart
    assert len(together) == len(set(together)) == sum(status in followed for status in ends)
