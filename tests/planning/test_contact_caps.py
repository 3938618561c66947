"""Frequency caps over a contact's cadences (``FrequencyCap(scope="contact")``).

`plan_contact` plans one contact's cadences together: a contact-wide cap counts the marketing
messages of all of them, and their due occurrences compete for its slots by step priority.
The property at the end runs random cadences on the real scheduler (`Simulation`) and checks
that no window ever holds more marketing messages than the caps they share allow.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    Event,
    FrequencyCap,
    InMemoryRepository,
    Plan,
    Policy,
    QuietHours,
    Snapshot,
    Step,
    explain,
    on_event,
    plan,
    plan_contact,
)
from regua.errors import FoldTooShallow
from regua.folding import fold
from regua.inspection import inspect_contact
from regua.planning.occurrences import OccurrenceState, Reason
from regua.testing import Simulation
from tests.planning.helpers import contact, utc
from tests.profiles import property_examples

DAILY = FrequencyCap(max=1, per="1d", scope="contact")
T = utc(2026, 5, 4, 15)


def journey(
    name: str,
    event: str,
    *,
    priority: int = 0,
    caps: tuple[FrequencyCap, ...] = (DAILY,),
    channel_caps: tuple[FrequencyCap, ...] = (),
    **step: object,
) -> Cadence:
    """A one-step marketing cadence fired by `event`, on e-mail and SMS."""
    return Cadence(
        name,
        channels=[Channel("email"), Channel("sms", caps=list(channel_caps))],
        policy=Policy(caps=list(caps)),
        timezone="America/Sao_Paulo",
        steps=[
            Step(
                name,
                trigger=on_event(event),
                channels=step.pop("channels", ["email"]),  # type: ignore[arg-type]
                priority=priority,
                **step,  # type: ignore[arg-type]
            )
        ],
    )


def sent(cadence: Cadence, contact_id: str, at: datetime, channel: str = "email") -> Delivery:
    step = cadence.steps[0].name
    key = f"{cadence.name}:{step}:{contact_id}:event=old-{at.isoformat()}"
    return Delivery(cadence.name, step, contact_id, key, DeliveryStatus.SENT, at, channel=channel)


def events(*names: str, at: datetime = T) -> list[Event]:
    return [Event("c1", name, at, id=f"{name}-1") for name in names]


WELCOME = journey("welcome", "signed_up")
CART = journey("cart_recovery", "cart_abandoned", priority=10)
NEWSLETTER = journey("newsletter", "subscribed", priority=5)


def test_two_cadences_send_one_message_a_day_between_them_highest_priority_first() -> None:
    snapshot = Snapshot(contact(), events("signed_up", "cart_abandoned", "subscribed"))
    welcome, cart, news = plan_contact([WELCOME, CART, NEWSLETTER], snapshot, T)
    assert [a.step for a in cart.due] == ["cart_recovery"]
    assert welcome.due == ()
    assert news.due == ()
    for held in (welcome, news):
        [waiting] = held.waiting
        assert waiting.reason is Reason.FREQUENCY_CAP
        assert waiting.at == T + timedelta(days=1)  # a day after the send that takes the slot
        assert "the contact's frequency cap reached" in waiting.detail


def test_planned_alone_each_cadence_counts_only_its_own_messages() -> None:
    snapshot = Snapshot(contact(), events("signed_up", "cart_abandoned"))
    assert [a.step for a in plan(WELCOME, snapshot, T).due] == ["welcome"]
    assert [a.step for a in plan(CART, snapshot, T).due] == ["cart_recovery"]


def test_a_message_of_another_cadence_earlier_that_day_holds_the_next_one() -> None:
    earlier = T - timedelta(hours=5)
    snapshot = Snapshot(contact(), events("signed_up"), [sent(CART, "c1", earlier)])
    [welcome] = plan_contact([WELCOME, CART], snapshot, T)[:1]
    [waiting] = welcome.waiting
    assert (waiting.reason, waiting.at) == (Reason.FREQUENCY_CAP, earlier + timedelta(days=1))
    # The same send, a cadence-wide cap: another cadence's message does not count.
    own = journey("welcome", "signed_up", caps=(FrequencyCap(max=1, per="1d"),))
    assert [a.step for a in plan_contact([own, CART], snapshot, T)[0].due] == ["welcome"]


def test_a_cadence_without_the_cap_is_not_held_but_its_messages_count() -> None:
    free = journey("newsletter", "subscribed", caps=())
    snapshot = Snapshot(contact(), events("signed_up", "subscribed"))
    welcome, news = plan_contact([WELCOME, free], snapshot, T)
    assert [a.step for a in news.due] == ["newsletter"]
    assert [a.step for a in welcome.due] == ["welcome"]  # the newsletter came second
    # Once the newsletter went out, the capped cadence's next message waits for a slot.
    later = Snapshot(
        contact(), events("signed_up", at=T), [sent(free, "c1", T - timedelta(hours=1))]
    )
    [waiting] = plan_contact([WELCOME, free], later, T)[0].waiting
    assert waiting.reason is Reason.FREQUENCY_CAP


def test_transactional_and_service_messages_of_other_cadences_do_not_count() -> None:
    shop = Cadence(
        "shop",
        channels=[Channel("email")],
        steps=[
            Step(
                "confirmation",
                trigger=on_event("order_placed"),
                channels=["email"],
                transactional=True,
            ),
            Step(
                "delivery_window",
                trigger=on_event("order_shipped"),
                channels=["email"],
                service=True,
            ),
        ],
    )
    records = [
        Delivery("shop", step, "c1", f"shop:{step}:c1:event=x", DeliveryStatus.SENT, T, "email")
        for step in ("confirmation", "delivery_window")
    ]
    snapshot = Snapshot(contact(), events("signed_up"), records)
    assert [a.step for a in plan_contact([WELCOME, shop], snapshot, T)[0].due] == ["welcome"]


def test_a_channel_cap_across_cadences_counts_that_channel_only() -> None:
    weekly_sms = (FrequencyCap(max=1, per="7d", scope="contact"),)
    promo = journey(
        "promo", "coupon_issued", caps=(), channel_caps=weekly_sms, channels=["sms", "email"]
    )
    birthday = journey(
        "birthday",
        "birthday",
        caps=(),
        channel_caps=weekly_sms,
        channels=["sms", "email"],
        priority=3,
    )
    snapshot = Snapshot(contact(), events("coupon_issued", "birthday"))
    promo_plan, birthday_plan = plan_contact([promo, birthday], snapshot, T)
    assert [(a.step, a.channel) for a in birthday_plan.due] == [("birthday", "sms")]
    [waiting] = promo_plan.waiting  # its first channel is held: it waits, as a cap makes it
    assert (waiting.reason, waiting.at) == (Reason.FREQUENCY_CAP, T + timedelta(days=7))
    # An e-mail of another cadence takes no SMS slot.
    emailed = Snapshot(contact(), events("coupon_issued"), [sent(birthday, "c1", T, "email")])
    assert [a.channel for a in plan_contact([promo, birthday], emailed, T)[0].due] == ["sms"]


def test_a_calendar_cap_across_cadences_frees_at_the_contacts_next_midnight() -> None:
    per_date = (FrequencyCap(max=1, per="1d", calendar=True, scope="contact"),)
    welcome = journey("welcome", "signed_up", caps=per_date)
    cart = journey("cart_recovery", "cart_abandoned", caps=per_date, priority=1)
    snapshot = Snapshot(contact(tz="America/Sao_Paulo"), events("signed_up", "cart_abandoned"))
    held, _ = plan_contact([welcome, cart], snapshot, T)
    [waiting] = held.waiting
    assert waiting.at == utc(2026, 5, 5, 3)  # 00:00 on 5 May in São Paulo (UTC-3)


def test_a_step_that_skips_over_a_cap_skips_over_the_contacts_cap_too() -> None:
    survey = journey("survey", "order_delivered", on_cap="skip")
    snapshot = Snapshot(contact(), events("order_delivered"), [sent(CART, "c1", T)])
    [closed] = plan_contact([survey, CART], snapshot, T)[0].closed
    assert (closed.state, closed.reason) == (OccurrenceState.SKIPPED, Reason.FREQUENCY_CAP)
    assert closed.detail.startswith("the contact's frequency cap reached")


def test_explain_names_the_contacts_cap_that_held_a_message_until_it_expired() -> None:
    short = journey("welcome", "signed_up", expires_after="2h")
    snapshot = Snapshot(contact(), events("signed_up"), [sent(CART, "c1", T - timedelta(hours=1))])
    now = T + timedelta(hours=3)
    explanation = explain(short, snapshot, "welcome", now, cadences=[short, CART])
    [occurrence] = explanation.occurrences
    assert occurrence.state is OccurrenceState.EXPIRED
    assert "when due, the contact's frequency cap of 1 per 1d was full" in occurrence.detail
    # Alone, the cadence does not see the other cadence's message: nothing held it.
    [alone] = explain(short, snapshot, "welcome", now).occurrences
    assert "frequency cap" not in alone.detail


def test_the_scheduler_plans_its_cadences_together() -> None:
    sim = Simulation([WELCOME, CART, NEWSLETTER], start=T)
    sim.add_contact(
        "ana",
        timezone="America/Sao_Paulo",
        consents={"email"},
        addresses={"email": "ana@example.com"},
    )
    for name in ("signed_up", "cart_abandoned", "subscribed"):
        sim.emit("ana", name)
    first = sim.advance("1h")
    assert [m.step for m in first] == ["cart_recovery"]
    assert [m.step for m in sim.advance("1d")] == ["newsletter"]  # priority 5 before 0
    assert [m.step for m in sim.advance("1d")] == ["welcome"]
    explanation = sim.explain("ana", "welcome")
    assert [o.state for o in explanation.occurrences] == [OccurrenceState.SENT]


def test_preview_plans_the_cadences_together() -> None:
    sim = Simulation([WELCOME, CART], start=T)
    sim.add_contact("ana", consents={"email"}, addresses={"email": "ana@example.com"})
    sim.emit("ana", "signed_up")
    sim.emit("ana", "cart_abandoned")
    assert [a.step for a in sim.scheduler.preview(T)] == ["cart_recovery"]


def test_a_contact_report_shows_the_wait_the_contacts_cap_makes() -> None:
    repository = InMemoryRepository()
    repository.upsert_contact(
        Contact("ana", consents={"email"}, addresses={"email": "ana@example.com"})
    )
    for name in ("signed_up", "cart_abandoned"):
        repository.record_event(Event("ana", name, T, id=f"{name}-1"))
    report = inspect_contact(repository, [WELCOME, CART], "ana", T)
    pending = {(p.step, p.state, p.reason) for p in report.pending}
    assert pending == {
        ("cart_recovery", OccurrenceState.DUE, None),
        ("welcome", OccurrenceState.WAITING, Reason.FREQUENCY_CAP),
    }
    [welcome] = [p for p in report.pending if p.step == "welcome"]
    assert welcome.expected_at == T + timedelta(days=1)  # once the cart reminder's slot frees


def test_scope_must_be_cadence_or_contact() -> None:
    with pytest.raises(ValueError, match="scope"):
        FrequencyCap(max=1, per="1d", scope="account")  # type: ignore[arg-type]


# --- property: the caps every cadence shares hold over all of them -------------------------------

EXAMPLES = property_examples(30)
EVENT_NAMES = ("signed_up", "cart_abandoned", "subscribed", "order_placed")
START = utc(2026, 3, 6, 12)  # New York springs forward on 2026-03-08


@st.composite
def shared_caps(draw: st.DrawFn) -> tuple[list[FrequencyCap], list[FrequencyCap]]:
    """The contact-wide caps every cadence declares: on the policy, and on SMS."""
    rolling = st.builds(
        FrequencyCap,
        max=st.integers(1, 2),
        per=st.sampled_from(["6h", "1d", "2d"]),
        scope=st.just("contact"),
    )
    calendar = st.builds(
        FrequencyCap,
        max=st.integers(1, 2),
        per=st.sampled_from(["1d", "7d"]),
        calendar=st.just(True),
        scope=st.just("contact"),
    )
    policy = draw(st.lists(rolling | calendar, min_size=1, max_size=2))
    sms = draw(st.lists(rolling, max_size=1))
    return policy, sms


@st.composite
def programs(draw: st.DrawFn) -> tuple[list[Cadence], list[FrequencyCap], list[FrequencyCap]]:
    """Two or three cadences sharing contact-wide caps, and one transactional cadence."""
    policy, sms = draw(shared_caps())
    cadences = []
    for index in range(draw(st.integers(2, 3))):
        steps = []
        for n in range(draw(st.integers(1, 2))):
            timing = {
                "delay": draw(st.sampled_from([None, "30m", "3h", "1d"])),
                "expires_after": draw(st.sampled_from([None, None, "12h", "2d"])),
            }
            steps.append(
                Step(
                    f"m{index}{n}",
                    trigger=on_event(draw(st.sampled_from(EVENT_NAMES))),
                    channels=draw(
                        st.lists(
                            st.sampled_from(["email", "sms"]), min_size=1, max_size=2, unique=True
                        )
                    ),
                    priority=draw(st.integers(0, 2)),
                    on_cap=draw(st.sampled_from(["defer", "defer", "skip"])),
                    **{k: v for k, v in timing.items() if v is not None},
                )
            )
        cadences.append(
            Cadence(
                f"c{index}",
                channels=[Channel("email"), Channel("sms", caps=sms)],
                policy=Policy(
                    caps=policy,
                    quiet_hours=draw(
                        st.sampled_from([None, QuietHours(start=time(22), end=time(8))])
                    ),
                ),
                timezone="America/Sao_Paulo",
                steps=steps,
            )
        )
    cadences.append(
        Cadence(
            "shop",
            channels=[Channel("email"), Channel("sms")],
            steps=[
                Step(
                    "confirmation",
                    trigger=on_event("order_placed"),
                    channels=["sms"],
                    transactional=True,
                )
            ],
        )
    )
    return cadences, policy, sms


def within(times: list[datetime], cap: FrequencyCap, tz: str, label: str) -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    for t in times:
        if cap.calendar:
            local = t.astimezone(zone).date()
            if cap.per.days == 7:
                same = [
                    s
                    for s in times
                    if s.astimezone(zone).isocalendar()[:2] == local.isocalendar()[:2]
                ]
            else:
                same = [s for s in times if s.astimezone(zone).date() == local]
        else:
            window = cap.per.approximate()
            same = [s for s in times if t - window < s <= t]
        assert len(same) <= cap.max, f"{label}: {len(same)} messages around {t} under {cap}"


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    program=programs(),
    timezone=st.sampled_from(["America/Sao_Paulo", "America/New_York", "Asia/Kolkata"]),
    emitted=st.lists(
        st.tuples(st.integers(0, 4 * 24 * 60), st.sampled_from(EVENT_NAMES)),
        min_size=3,
        max_size=14,
    ),
)
def test_caps_shared_by_every_cadence_hold_over_all_of_them(
    program: tuple[list[Cadence], list[FrequencyCap], list[FrequencyCap]],
    timezone: str,
    emitted: list[tuple[int, str]],
) -> None:
    cadences, policy, sms = program
    sim = Simulation(cadences, start=START)
    sim.add_contact(
        "ana",
        timezone=timezone,
        consents={"email", "sms"},
        addresses={"email": "ana@example.com", "sms": "+5511999990000"},
    )
    for minute, name in sorted(emitted):
        sim.advance_to(START + timedelta(minutes=minute))
        sim.emit("ana", name)
    sim.advance("5d")
    marketing = [m for m in sim.outbox if m.cadence != "shop"]
    assert any(m.cadence == "shop" for m in sim.outbox) == any(
        name == "order_placed" for _, name in emitted
    )
    times = sorted(m.at for m in marketing)
    for cap in policy:
        within(times, cap, timezone, "all marketing")
    for cap in sms:
        within(sorted(m.at for m in marketing if m.channel == "sms"), cap, timezone, "sms")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    program=programs(),
    emitted=st.lists(
        st.tuples(st.integers(0, 6 * 24 * 60), st.sampled_from(EVENT_NAMES)),
        min_size=3,
        max_size=14,
    ),
    fold_minute=st.integers(0, 6 * 24 * 60) | st.integers(9 * 24 * 60, 20 * 24 * 60),
    later=st.integers(0, 3 * 24 * 60),
)
def test_a_folded_history_plans_the_cadences_together_as_the_whole_history(
    program: tuple[list[Cadence], list[FrequencyCap], list[FrequencyCap]],
    emitted: list[tuple[int, str]],
    fold_minute: int,
    later: int,
) -> None:
    cadences = program[0]
    sim = Simulation(cadences, start=START)
    sim.add_contact(
        "ana",
        timezone="America/New_York",
        consents={"email", "sms"},
        addresses={"email": "ana@example.com", "sms": "+5511999990000"},
    )
    pending = sorted(emitted)
    fold_at = START + timedelta(minutes=fold_minute)
    end = fold_at + timedelta(minutes=later)
    folded: Snapshot | None = None
    seen: Snapshot | None = None
    for instant in sorted({*(START + timedelta(minutes=m) for m, _ in pending), fold_at, end}):
        sim.advance_to(instant)
        for minute, name in pending:
            if START + timedelta(minutes=minute) == instant:
                sim.emit("ana", name)
        if instant == fold_at:
            seen = sim.repository.load_snapshots(["ana"])["ana"]
            folded = fold(cadences, seen, fold_at)
            kept = len(folded.events) + len(folded.deliveries)
            event(
                "folded away some records"
                if kept < len(seen.events) + len(seen.deliveries)
                else "folded away nothing"
            )
            assert summaries(plan_contact(cadences, folded, fold_at)) == summaries(
                plan_contact(cadences, seen, fold_at)
            )
    assert folded is not None
    assert seen is not None
    whole = sim.repository.load_snapshots(["ana"])["ana"]
    partial = Snapshot(
        whole.contact,
        [*folded.events, *(e for e in whole.events if e not in seen.events)],
        [*folded.deliveries, *(d for d in whole.deliveries if d not in seen.deliveries)],
        fold=folded.fold,
    )
    try:
        answer = plan_contact(cadences, partial, end)
    except FoldTooShallow:
        event("fell back to the whole history")
        return
    assert summaries(answer) == summaries(plan_contact(cadences, whole, end))


def summaries(plans: tuple[Plan, ...]) -> list[tuple[object, ...]]:
    return [
        (
            [(a.occurrence_key, a.channel, a.due_at) for a in result.due],
            [(o.key, o.at, o.reason) for o in result.waiting],
            sorted((o.key, o.state, o.at, o.reason) for o in result.closed),
            result.next_wakeup,
        )
        for result in plans
    ]
