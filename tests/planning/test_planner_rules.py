"""The planner's rules: triggers, cancellation, conditions, channels, policy, live changes."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from regua import (
    Delivery,
    DeliveryStatus,
    Event,
    FrequencyCap,
    Policy,
    Snapshot,
    Step,
    after_step,
    attr,
    event_count,
    explain,
    has_event,
    on_date,
    on_event,
    on_inactivity,
    on_schedule,
    opened,
    plan,
)
from regua.errors import InvalidRecordError
from regua.planning import OccurrenceState, Reason
from regua.records import CLICKED, OPENED, idempotency_key
from tests.planning.helpers import SAO_PAULO, Journey, cadence, contact, local, sent, utc

T0 = utc(2026, 5, 4, 15)  # a Monday, 12:00 in Sao Paulo


# --- events, delay, keys ---------------------------------------------------------------------


def test_event_trigger_gives_one_occurrence_per_event_with_deterministic_keys() -> None:
    c = cadence(
        Step(
            "confirm",
            trigger=on_event("order_placed"),
            channels=["email"],
            transactional=True,
            payload={"brand": "Loja"},
        )
    )
    events = [
        Event("c1", "order_placed", T0, id="o1", data={"order": 1}),
        Event("c1", "order_placed", T0 + timedelta(minutes=5), id="o2", data={"order": 2}),
    ]
    result = plan(c, Snapshot(contact(), events), T0 + timedelta(minutes=5))
    assert [a.occurrence_key for a in result.due] == [
        "test:confirm:c1:event=o1",
        "test:confirm:c1:event=o2",
    ]
    first = result.due[0]
    assert first.idempotency_key == idempotency_key("test:confirm:c1:event=o1")
    assert len(first.idempotency_key) == 32
    assert first.payload == {"brand": "Loja", "order": 1}
    assert first.address == "c1@example.com"
    assert first.message == "confirm"
    # The same inputs, in any order, give the same plan.
    again = plan(c, Snapshot(contact(), events[::-1]), T0 + timedelta(minutes=5))
    assert again == result


def test_event_filter_on_data() -> None:
    c = cadence(
        Step(
            "thanks",
            trigger=on_event("order_status", where={"status": "delivered"}),
            channels=["email"],
        )
    )
    events = [
        Event("c1", "order_status", T0, id="a", data={"status": "shipped"}),
        Event("c1", "order_status", T0, id="b", data={"status": "delivered"}),
    ]
    result = plan(c, Snapshot(contact(), events), T0)
    assert [a.occurrence_key for a in result.due] == ["test:thanks:c1:event=b"]


def test_delivered_occurrence_is_never_due_again() -> None:
    c = cadence(Step("welcome", trigger=on_event("signed_up"), channels=["email"]))
    events = [Event("c1", "signed_up", T0, id="s")]
    key = plan(c, Snapshot(contact(), events), T0).due[0].occurrence_key
    for status in DeliveryStatus:
        record = Delivery("test", "welcome", "c1", key, status, T0)
        later = plan(c, Snapshot(contact(), events, [record]), T0 + timedelta(days=400))
        assert later.due == ()
        assert later.waiting == ()


def test_future_events_are_ignored_and_naive_now_is_rejected() -> None:
    c = cadence(Step("welcome", trigger=on_event("signed_up"), channels=["email"]))
    events = [Event("c1", "signed_up", T0 + timedelta(hours=1))]
    assert plan(c, Snapshot(contact(), events), T0).due == ()
    with pytest.raises(ValueError, match="timezone-aware"):
        plan(c, Snapshot(contact()), T0.replace(tzinfo=None))


# --- cancel_on ---------------------------------------------------------------------------------


def test_cart_reminder_cancelled_by_a_purchase_one_minute_before_it_was_due() -> None:
    c = cadence(
        Step(
            "cart_1",
            trigger=on_event("cart_abandoned"),
            delay="2h",
            channels=["email"],
            cancel_on=["order_placed"],
        ),
        Step(
            "cart_2",
            trigger=after_step("cart_1"),
            delay="1d",
            channels=["email"],
            cancel_on=["order_placed"],
        ),
    )
    journey = Journey(c, contact())
    journey.emit("cart_abandoned", T0)
    journey.emit("order_placed", T0 + timedelta(hours=2) - timedelta(minutes=1))
    assert journey.run(T0, T0 + timedelta(days=5)) == []
    cancelled = [d for d in journey.deliveries if d.status is DeliveryStatus.CANCELLED]
    assert [(d.step, d.at) for d in cancelled] == [("cart_1", T0 + timedelta(minutes=119))]


def test_cart_reminders_go_out_when_nobody_buys() -> None:
    c = cadence(
        Step(
            "cart_1",
            trigger=on_event("cart_abandoned"),
            delay="2h",
            channels=["email"],
            cancel_on=["order_placed"],
        ),
        Step(
            "cart_2",
            trigger=after_step("cart_1"),
            delay="1d",
            channels=["email"],
            cancel_on=["order_placed"],
        ),
    )
    journey = Journey(c, contact())
    journey.emit("cart_abandoned", T0)
    sends = journey.run(T0, T0 + timedelta(days=5))
    assert [(at, step) for at, step, _ in sends] == [
        (T0 + timedelta(hours=2), "cart_1"),
        (T0 + timedelta(days=1, hours=2), "cart_2"),
    ]
    keys = [d.occurrence_key for d in journey.deliveries]
    assert keys[1] == "test:cart_2:c1:after=cart_1/" + keys[0].split(":", 3)[3]


def test_purchase_before_the_trigger_does_not_cancel() -> None:
    c = cadence(
        Step(
            "cart_1",
            trigger=on_event("cart_abandoned"),
            channels=["email"],
            cancel_on=["order_placed"],
        )
    )
    events = [
        Event("c1", "order_placed", T0 - timedelta(days=1)),
        Event("c1", "cart_abandoned", T0),
    ]
    assert len(plan(c, Snapshot(contact(), events), T0).due) == 1


# --- conditions, engagement ------------------------------------------------------------------


def test_survey_after_the_third_delivered_order_only() -> None:
    c = cadence(
        Step(
            "survey",
            trigger=on_event("order_delivered"),
            delay="1d",
            when=event_count("order_delivered") == 3,
            channels=["email"],
        )
    )
    journey = Journey(c, contact())
    for day in range(4):
        journey.emit("order_delivered", T0 + timedelta(days=10 * day))
    # Planned once, long after all four deliveries: conditions are evaluated as of each
    # occurrence's due instant, so only the third delivery's survey is due.
    result = journey.plan(T0 + timedelta(days=60))
    assert [a.occurrence_key.rsplit("=", 1)[0] for a in result.due] == ["test:survey:c1:event"]
    skipped = [o for o in result.closed if o.reason is Reason.CONDITION_FALSE]
    assert len(skipped) == 3


def test_no_open_in_three_days_tries_sms() -> None:
    c = cadence(
        Step("welcome", trigger=on_event("signed_up"), channels=["email"]),
        Step(
            "welcome_sms",
            trigger=after_step("welcome"),
            delay="3d",
            when=~opened("welcome"),
            channels=["sms"],
        ),
    )
    silent = Journey(c, contact("quiet"))
    silent.emit("signed_up", T0)
    assert [s for _, s, _ in silent.run(T0, T0 + timedelta(days=10))] == ["welcome", "welcome_sms"]

    reader = Journey(c, contact("reader"))
    reader.emit("signed_up", T0)
    reader.run(T0, T0 + timedelta(hours=1))
    welcome_key = reader.deliveries[0].occurrence_key
    reader.events.append(Event("reader", OPENED, T0 + timedelta(days=1), ref=welcome_key))
    assert reader.run(T0 + timedelta(days=1), T0 + timedelta(days=10)) == []


def test_clicked_and_has_event_conditions() -> None:
    c = cadence(
        Step("promo", trigger=on_event("campaign"), channels=["email"]),
        Step(
            "offer",
            trigger=after_step("promo"),
            delay="1d",
            when=clicked_promo() & ~has_event("order_placed", within="7d"),
            channels=["email"],
        ),
    )
    journey = Journey(c, contact())
    journey.emit("campaign", T0)
    journey.run(T0, T0)
    journey.events.append(
        Event("c1", CLICKED, T0 + timedelta(hours=1), ref=journey.deliveries[0].occurrence_key)
    )
    assert [s for _, s, _ in journey.run(T0, T0 + timedelta(days=3))] == ["offer"]


def clicked_promo() -> object:
    from regua import clicked

    return clicked("promo")


def test_bad_attribute_type_raises_an_error_naming_contact_and_attribute() -> None:
    c = cadence(Step("vip", trigger=on_event("e"), when=attr("score") > 10, channels=["email"]))
    who = contact("bad", score="lots")
    with pytest.raises(InvalidRecordError, match=r"'bad'.*'score'"):
        plan(c, Snapshot(who, [Event("bad", "e", T0)]), T0)


# --- channels ------------------------------------------------------------------------------------


def _birthday(**kwargs: object) -> Step:
    return Step(
        "birthday",
        trigger=on_date("birth_date", every="year"),
        at=time(9),
        channels=["email"],
        route=[(attr("tier") == "gold", ["phone"]), (attr("tier") == "silver", ["sms", "email"])],
        **kwargs,
    )


@pytest.mark.parametrize(
    ("tier", "channel"), [("gold", "phone"), ("silver", "sms"), ("bronze", "email")]
)
def test_birthday_channel_by_customer_value(tier: str, channel: str) -> None:
    c = cadence(_birthday(), timezone="America/Sao_Paulo")
    who = contact(tier=tier, birth_date="1990-05-04", created_at=utc(2026, 1, 1))
    result = plan(c, Snapshot(who), local(SAO_PAULO, 2026, 5, 4, 9))
    assert [a.channel for a in result.due] == [channel]


def test_consent_preferences_and_fallbacks() -> None:
    c = cadence(Step("news", trigger=on_event("e"), channels=["email", "sms", "phone"]))
    who = contact(consents={"email", "sms"})
    who = type(who)(who.id, consents=who.consents, addresses=who.addresses, preferences=["sms"])
    action = plan(c, Snapshot(who, [Event("c1", "e", T0)]), T0).due[0]
    assert (action.channel, action.fallbacks) == ("sms", ("email",))  # phone: no consent


def test_prefer_cheapest_orders_by_cost() -> None:
    c = cadence(
        Step("news", trigger=on_event("e"), channels=["phone", "sms", "email"], prefer="cheapest")
    )
    action = plan(c, Snapshot(contact(), [Event("c1", "e", T0)]), T0).due[0]
    assert action.channels == ("email", "sms", "phone")


def test_marketing_without_consent_is_skipped_but_transactional_needs_only_an_address() -> None:
    steps = [
        Step("promo", trigger=on_event("e"), channels=["email"]),
        Step("receipt", trigger=on_event("e"), channels=["email"], transactional=True),
    ]
    result = plan(cadence(*steps), Snapshot(contact(consents=()), [Event("c1", "e", T0)]), T0)
    assert [a.step for a in result.due] == ["receipt"]
    assert [(o.step, o.reason) for o in result.closed] == [("promo", Reason.NO_CHANNEL)]
    assert "no consent" in result.closed[0].detail


# --- policy ---------------------------------------------------------------------------------


def test_frequency_cap_defers_until_a_slot_frees_up_and_priority_wins_the_slot() -> None:
    c = cadence(
        Step("low", trigger=on_event("e"), channels=["email"]),
        Step("high", trigger=on_event("e"), channels=["email"], priority=5),
        policy=Policy(caps=[FrequencyCap(max=1, per="1d")]),
    )
    result = plan(c, Snapshot(contact(), [Event("c1", "e", T0)]), T0)
    assert [a.step for a in result.due] == ["high"]
    assert [(o.step, o.reason, o.at) for o in result.waiting] == [
        ("low", Reason.FREQUENCY_CAP, T0 + timedelta(days=1))
    ]


def test_frequency_cap_counts_past_sends_and_can_skip() -> None:
    c = cadence(
        Step("promo", trigger=on_event("e"), channels=["email"], on_cap="skip"),
        policy=Policy(caps=[FrequencyCap(max=2, per="7d")]),
    )
    history = [sent(c, "old", "c1", f"k{i}", T0 - timedelta(days=i + 1)) for i in range(2)]
    result = plan(c, Snapshot(contact(), [Event("c1", "e", T0)], history), T0)
    assert result.due == ()
    assert [(o.state, o.reason) for o in result.closed] == [
        (OccurrenceState.SKIPPED, Reason.FREQUENCY_CAP)
    ]


def test_transactional_bypasses_quiet_hours_and_caps() -> None:
    c = cadence(
        Step("receipt", trigger=on_event("order_placed"), channels=["email"], transactional=True),
        policy=Policy(
            quiet_hours={"start": "21:00", "end": "08:00"}, caps=[FrequencyCap(max=1, per="1d")]
        ),
        timezone="America/Sao_Paulo",
    )
    night = local(SAO_PAULO, 2026, 5, 4, 23)
    events = [Event("c1", "order_placed", night, id=f"o{i}") for i in range(3)]
    assert len(plan(c, Snapshot(contact(), events), night).due) == 3


def test_channel_quiet_hours_apply_to_that_channel() -> None:
    c = cadence(
        Step("promo", trigger=on_event("e"), channels=["sms"]),
        channels=[{"name": "sms", "quiet_hours": {"start": "20:00", "end": "10:00"}}],
        timezone="America/Sao_Paulo",
    )
    evening = local(SAO_PAULO, 2026, 5, 4, 20, 30)
    result = plan(c, Snapshot(contact(), [Event("c1", "e", evening)]), evening)
    assert [o.at for o in result.waiting] == [local(SAO_PAULO, 2026, 5, 5, 10)]


def test_repeat_once_and_cooldown() -> None:
    once = cadence(
        Step("first_order", trigger=on_event("order_placed"), channels=["email"], repeat="once")
    )
    journey = Journey(once, contact())
    for day in range(3):
        journey.emit("order_placed", T0 + timedelta(days=day))
    assert [s for _, s, _ in journey.run(T0, T0 + timedelta(days=5))] == ["first_order"]

    cool = cadence(Step("browse", trigger=on_event("viewed"), channels=["email"], cooldown="7d"))
    journey = Journey(cool, contact())
    for day in (0, 2, 8):
        journey.emit("viewed", T0 + timedelta(days=day))
    sends = journey.run(T0, T0 + timedelta(days=10))
    assert [at for at, _, _ in sends] == [T0, T0 + timedelta(days=8)]


def test_expires_after_and_deadline_close_as_expired_with_reasons() -> None:
    c = cadence(
        Step("flash", trigger=on_event("e"), channels=["email"], expires_after="2h"),
        Step(
            "apology", trigger=on_event("incident"), delay="1h", deadline="4h", channels=["email"]
        ),
    )
    events = [Event("c1", "e", T0), Event("c1", "incident", T0)]
    result = plan(c, Snapshot(contact(), events), T0 + timedelta(hours=5))
    assert result.due == ()
    assert sorted((o.step, o.reason, o.at) for o in result.closed) == [
        ("apology", Reason.DEADLINE, T0 + timedelta(hours=4)),
        ("flash", Reason.EXPIRED, T0 + timedelta(hours=2)),
    ]


def test_missed_apology_deadline_escalates_to_a_manager_task() -> None:
    c = cadence(
        Step(
            "apology",
            trigger=on_event("incident_opened"),
            delay="30m",
            deadline="4h",
            channels=["email"],
        ),
        Step(
            "escalate",
            trigger=after_step("apology", outcome="expired"),
            channels=["phone"],
            transactional=True,
        ),
    )
    events = [Event("c1", "incident_opened", T0, id="inc-7")]
    # Nothing was sent (say, the workers were down): at the deadline it expires and escalates.
    result = plan(c, Snapshot(contact(), events), T0 + timedelta(hours=4))
    assert [(o.step, o.reason) for o in result.closed] == [("apology", Reason.DEADLINE)]
    assert [(a.step, a.channel, a.occurrence_key) for a in result.due] == [
        ("escalate", "phone", "test:escalate:c1:after=apology/event=inc-7")
    ]
    # Before the deadline, the escalation is not due and the contact wakes at the deadline.
    early = plan(c, Snapshot(contact(), events), T0 + timedelta(hours=1))
    assert [a.step for a in early.due] == ["apology"]
    assert early.next_wakeup == T0 + timedelta(hours=4)


# --- inactivity -----------------------------------------------------------------------------


def test_inactivity_ladder_is_rearmed_by_a_login() -> None:
    c = cadence(
        Step("miss_you", trigger=on_inactivity("60d", activity=["login"]), channels=["email"]),
        Step("win_back", trigger=on_inactivity("90d", activity=["login"]), channels=["email"]),
        Step("last_call", trigger=on_inactivity("180d", activity=["login"]), channels=["email"]),
    )
    journey = Journey(c, contact())
    journey.emit("login", T0)
    sends = journey.run(T0, T0 + timedelta(days=95))
    assert [(at, s) for at, s, _ in sends] == [
        (T0 + timedelta(days=60), "miss_you"),
        (T0 + timedelta(days=90), "win_back"),
    ]
    relogin = T0 + timedelta(days=100)
    journey.emit("login", relogin)
    sends = journey.run(relogin, relogin + timedelta(days=200))
    assert [(at, s) for at, s, _ in sends] == [
        (relogin + timedelta(days=60), "miss_you"),
        (relogin + timedelta(days=90), "win_back"),
        (relogin + timedelta(days=180), "last_call"),
    ]


# --- live changes, active_from -------------------------------------------------------------------


def test_new_step_with_active_from_ignores_three_years_of_history() -> None:
    introduced = utc(2026, 5, 1)
    history = [
        Event("c1", "order_delivered", introduced - timedelta(days=10 * i), id=f"old{i}")
        for i in range(1, 110)
    ]
    new_order = Event("c1", "order_delivered", introduced + timedelta(days=2), id="new")
    step = Step(
        "review",
        trigger=on_event("order_delivered"),
        delay="1d",
        channels=["email"],
        active_from=introduced,
    )
    c = cadence(step)
    result = plan(c, Snapshot(contact(), [*history, new_order]), introduced + timedelta(days=5))
    assert [a.occurrence_key for a in result.due] == ["test:review:c1:event=new"]
    # Without active_from, every old delivery would fire the new step.
    naive = cadence(step.model_copy(update={"active_from": None}))
    assert len(plan(naive, Snapshot(contact(), history), introduced).due) == 109


def test_shortened_delay_applies_at_once_and_removed_step_sends_nothing() -> None:
    events = [Event("c1", "signed_up", T0, id="s")]
    slow = cadence(Step("welcome", trigger=on_event("signed_up"), delay="3d", channels=["email"]))
    fast = cadence(Step("welcome", trigger=on_event("signed_up"), delay="1d", channels=["email"]))
    now = T0 + timedelta(days=2)
    assert plan(slow, Snapshot(contact(), events), now).due == ()
    assert len(plan(fast, Snapshot(contact(), events), now).due) == 1


# --- next_wakeup and explain ---------------------------------------------------------------------


def test_next_wakeup_is_the_earliest_change_or_none() -> None:
    c = cadence(Step("welcome", trigger=on_event("signed_up"), delay="2d", channels=["email"]))
    assert plan(c, Snapshot(contact()), T0).next_wakeup is None
    result = plan(c, Snapshot(contact(), [Event("c1", "signed_up", T0)]), T0)
    assert result.next_wakeup == T0 + timedelta(days=2)
    assert [o.reason for o in result.waiting] == [Reason.NOT_YET_DUE]


def test_explain_accounts_for_every_occurrence() -> None:
    c = cadence(
        Step(
            "cart",
            trigger=on_event("cart_abandoned"),
            delay="2h",
            channels=["email"],
            cancel_on=["order_placed"],
        ),
        timezone="America/Sao_Paulo",
    )
    events = [
        Event("c1", "cart_abandoned", T0, id="a"),
        Event("c1", "order_placed", T0 + timedelta(hours=1), id="o"),
        Event("c1", "cart_abandoned", T0 + timedelta(hours=3), id="b"),
    ]
    history = [sent(c, "cart", "c1", "test:cart:c1:event=x", T0 - timedelta(days=3))]
    events.insert(0, Event("c1", "cart_abandoned", T0 - timedelta(days=3, hours=2), id="x"))
    report = explain(c, Snapshot(contact(), events, history), "cart", T0 + timedelta(hours=4))
    assert [(o.source, o.state) for o in report.occurrences] == [
        ("event=x", OccurrenceState.SENT),
        ("event=a", OccurrenceState.CANCELLED),
        ("event=b", OccurrenceState.WAITING),
    ]
    assert report.timezone == "America/Sao_Paulo"
    assert report.timezone_source == "cadence"
    text = str(report)
    assert "cancel_event" in text
    assert "order_placed" in text
    assert "each 'cart_abandoned' event" in text
    with pytest.raises(KeyError, match="no step 'nope'"):
        explain(c, Snapshot(contact()), "nope", T0)


def test_closed_occurrences_become_deliveries_and_open_ones_cannot() -> None:
    c = cadence(
        Step("flash", trigger=on_event("e"), channels=["email"], expires_after="1h"),
        Step("later", trigger=on_event("e"), delay="1d", channels=["email"]),
    )
    result = plan(c, Snapshot(contact(), [Event("c1", "e", T0, id="e1")]), T0 + timedelta(hours=2))
    [expired] = result.closed
    assert expired.as_delivery() == Delivery(
        "test",
        "flash",
        "c1",
        "test:flash:c1:event=e1",
        DeliveryStatus.EXPIRED,
        T0 + timedelta(hours=1),
        reason="expired",
        detail=f"due {T0.isoformat()}, not sent by {(T0 + timedelta(hours=1)).isoformat()}",
    )
    [waiting] = result.waiting
    with pytest.raises(ValueError, match="waiting, not closed"):
        waiting.as_delivery()


# --- open claims ---------------------------------------------------------------------------------


def test_claimed_schedule_occurrence_is_planned_again_although_a_later_firing_exists() -> None:
    # A digest at 12:00Z failed temporarily and was deferred; no tick came before 18:00Z.
    c = cadence(
        Step(
            "digest",
            trigger=on_schedule("0 */6 * * *"),
            channels=["email"],
            expires_after="8h",
        ),
        timezone="UTC",
    )
    claimed = "test:digest:c1:at=20260504T120000Z"
    snapshot = Snapshot(contact(), claimed={claimed, "test:digest:c1:at=garbage"})
    later = "test:digest:c1:at=20260504T180000Z"
    # Catch-up alone yields only the 18:00 firing: the 12:00 one would be forgotten.
    assert [
        a.occurrence_key for a in plan(c, Snapshot(contact()), utc(2026, 5, 4, 18, 30)).due
    ] == [later]
    # Before its expiry, the claimed occurrence is due again (the claim says when to retry).
    result = plan(c, snapshot, utc(2026, 5, 4, 18, 30))
    assert sorted(a.occurrence_key for a in result.due) == [claimed, later]
    # Past its expiry (12:00 + 8h), it is closed as expired, with its reason.
    result = plan(c, snapshot, utc(2026, 5, 4, 20, 30))
    assert [a.occurrence_key for a in result.due] == [later]
    assert [(o.key, o.state, o.reason, o.at) for o in result.closed] == [
        (claimed, OccurrenceState.EXPIRED, Reason.EXPIRED, utc(2026, 5, 4, 20))
    ]
    # Once recorded, the claim is gone and nothing is rebuilt.
    expired = result.closed[0].as_delivery()
    done = Snapshot(contact(), deliveries=[expired], claimed={claimed})
    assert plan(c, done, utc(2026, 5, 4, 20, 30)).closed == ()


def test_claimed_date_and_inactivity_occurrences_are_rebuilt_from_their_keys() -> None:
    c = cadence(
        Step("birthday", trigger=on_date("birth_date", every="year"), channels=["email"]),
        Step("renewal", trigger=on_date("renews_on"), channels=["email"]),
        Step("miss_you", trigger=on_inactivity("30d", activity=["login"]), channels=["email"]),
        timezone="UTC",
    )
    now = utc(2026, 5, 4, 15)
    who = contact(birth_date="1990-03-10", renews_on="2026-06-01")
    keys = {
        "test:birthday:c1:year=2025",
        "test:renewal:c1:date=2026-04-01",
        "test:miss_you:c1:inactive=20260301T000000Z",
        "other:birthday:c1:year=2024",  # another cadence's claim
    }
    events = [Event("c1", "login", utc(2026, 4, 20), id="l2")]
    result = plan(c, Snapshot(who, events, claimed=keys), now)
    due = {a.occurrence_key: a.due_at for a in result.due}
    assert due == {
        "test:birthday:c1:year=2026": utc(2026, 3, 10),
        "test:birthday:c1:year=2025": utc(2025, 3, 10),
        "test:renewal:c1:date=2026-04-01": utc(2026, 4, 1),
        "test:miss_you:c1:inactive=20260301T000000Z": utc(2026, 3, 31),
    }
