"""The checks an occurrence goes through (`regua.planning.checks`) and the trace of a plan.

A traced plan must be the plan itself (a trace only watches), must report each occurrence
once with the check that concluded about it, and the order of the checks is the one the
module's docstring lists.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    Event,
    FrequencyCap,
    Plan,
    Policy,
    QuietHours,
    Snapshot,
    Step,
    after_step,
    attr,
    explain,
    on_date,
    on_event,
    plan,
    plan_contact,
)
from regua.definitions.triggers import EventTrigger
from regua.errors import UnknownStepError
from regua.planning import Check, Occurrence, OccurrenceState, Reason, checks, checks_of
from regua.planning.keys import occurrence_prefix
from tests.planning.strategies import Scenario, capped_scenarios, scenarios
from tests.planning.test_planner_properties import drive
from tests.profiles import property_examples

UTC = timezone.utc
T = datetime(2026, 5, 4, 12, tzinfo=UTC)  # a Monday, 09:00 in Sao Paulo

# The reasons each check may give the occurrences it concludes about.
REASONS: dict[Check | None, set[Reason | None]] = {
    Check.RECORDED: {Reason.RECORDED},
    Check.NOT_YET_TRIGGERED: {Reason.NOT_YET_TRIGGERED},
    Check.JOURNEY: {Reason.HOLDOUT, Reason.GOAL_REACHED},
    Check.CANCEL_ON: {Reason.CANCEL_EVENT},
    Check.NOT_YET_DUE: {Reason.NOT_YET_DUE},
    Check.EXPIRY: {Reason.EXPIRED, Reason.DEADLINE},
    Check.CONDITION: {Reason.CONDITION_FALSE},
    Check.CHANNELS: {Reason.NO_CHANNEL},
    Check.QUIET_HOURS: {Reason.QUIET_HOURS, Reason.DAY_OFF},
    Check.REPEAT: {Reason.REPEAT_ONCE},
    Check.COOLDOWN: {Reason.COOLDOWN},
    Check.FREQUENCY_CAP: {Reason.FREQUENCY_CAP},
    Check.HOLDOUT: {Reason.HOLDOUT},
    None: {None},
}


class Recorder:
    """A trace that keeps what it is told."""

    def __init__(self) -> None:
        self.seen: list[tuple[Occurrence, Check | None]] = []

    def __call__(self, occurrence: Occurrence, check: Check | None) -> None:
        self.seen.append((occurrence, check))

    def checks(self) -> dict[str, Check | None]:
        """Occurrence key -> the check reported for it (each reported once)."""
        keys = [occurrence.key for occurrence, _ in self.seen]
        assert len(keys) == len(set(keys)), f"an occurrence reported twice: {self.seen}"
        return {occurrence.key: check for occurrence, check in self.seen}


def ana(**fields: object) -> Contact:
    return Contact(
        "ana",
        consents={"email"},
        addresses={"email": "ana@example.com"},
        timezone="America/Sao_Paulo",
        **fields,  # type: ignore[arg-type]
    )


# --- the order ------------------------------------------------------------------------------


ORDER = [
    "recorded",
    "not_yet_triggered",
    "journey",
    "cancel_on",
    "not_yet_due",
    "expiry",
    "condition",
    "channels",
    "quiet_hours",
    "repeat",
    "cooldown",
    "frequency_cap",
    "holdout",
]


def test_the_module_lists_every_check_in_the_order_they_run() -> None:
    assert [check.value for check in Check] == ORDER
    assert checks.__doc__ is not None
    listed = re.findall(r"^(\d+)\. ``(\w+)``:", checks.__doc__, flags=re.MULTILINE)
    assert [int(number) for number, _ in listed] == list(range(1, len(Check) + 1))
    assert [name for _, name in listed] == [check.value for check in Check]
    assert [check for check, _, _ in checks._APPLIES] == list(Check)


def test_a_step_goes_through_the_checks_that_can_conclude_about_it() -> None:
    cadence = Cadence(
        "shop",
        channels=[Channel("email")],
        policy=Policy(
            caps=[FrequencyCap(max=1, per="1d")],
            quiet_hours=QuietHours(start=time(22), end=time(8)),
        ),
        steps=[
            Step("receipt", trigger=on_event("order_placed"), channels=["email"],
                 transactional=True),
            Step("cart", trigger=on_event("cart_abandoned"), channels=["email"], delay="1h",
                 cancel_on=["order_placed"], when=attr("tier") == "gold", expires_after="1d",
                 repeat="once", cooldown="7d"),
            Step("tips", trigger=after_step("cart"), channels=["email"],
                 variants={"a": 1, "control": 1}, holdout="control"),
        ],
    )  # fmt: skip
    assert checks_of(cadence, "receipt") == (
        Check.RECORDED,
        Check.NOT_YET_TRIGGERED,
        Check.NOT_YET_DUE,
        Check.CHANNELS,
    )
    assert [check.value for check in checks_of(cadence, "cart")] == [
        name for name in ORDER if name not in ("journey", "holdout")
    ]
    assert checks_of(cadence, "tips") == (
        Check.RECORDED,
        Check.NOT_YET_TRIGGERED,
        Check.JOURNEY,
        Check.NOT_YET_DUE,
        Check.CHANNELS,
        Check.QUIET_HOURS,
        Check.FREQUENCY_CAP,
        Check.HOLDOUT,
    )
    with pytest.raises(UnknownStepError, match="nope"):
        checks_of(cadence, "nope")


# --- each check, as a trace reports it ------------------------------------------------------

EMAIL = [Channel("email")]


def traced(cadence: Cadence, snapshot: Snapshot, now: datetime) -> tuple[Plan, Recorder]:
    recorder = Recorder()
    result = plan(cadence, snapshot, now, trace=recorder)
    assert result == plan(cadence, snapshot, now)
    return result, recorder


def test_a_trace_names_the_check_that_concluded_about_each_occurrence() -> None:
    cadence = Cadence(
        "shop",
        timezone="America/Sao_Paulo",
        channels=[Channel("email"), Channel("sms")],
        policy=Policy(quiet_hours=QuietHours(start=time(8, 30), end=time(10))),
        steps=[
            Step("receipt", trigger=on_event("order_placed"), channels=["email"],
                 transactional=True),
            Step("review", trigger=on_event("order_placed"), channels=["email"], delay="7d"),
            Step("cart", trigger=on_event("cart_abandoned"), channels=["email"],
                 cancel_on=["order_placed"]),
            Step("vip", trigger=on_event("order_placed"), channels=["email"],
                 when=attr("tier") == "gold"),
            Step("text", trigger=on_event("order_placed"), channels=["sms"]),
            Step("late", trigger=on_event("signed_up"), channels=["email"],
                 expires_after="1d"),
            Step("promo", trigger=on_event("order_placed"), channels=["email"]),
        ],
    )  # fmt: skip
    events = [
        Event("ana", "signed_up", T - timedelta(days=3), id="s1"),
        Event("ana", "cart_abandoned", T - timedelta(hours=2), id="c1"),
        Event("ana", "order_placed", T - timedelta(hours=1), id="o1"),
        Event("ana", "order_placed", T - timedelta(hours=1), id="o0"),
    ]
    sent = Delivery("shop", "receipt", "ana", "shop:receipt:ana:event=o0", "sent", T)
    result, recorder = traced(cadence, Snapshot(ana(), events, [sent]), T)
    assert recorder.checks() == {
        "shop:receipt:ana:event=o0": Check.RECORDED,
        "shop:receipt:ana:event=o1": None,
        "shop:review:ana:event=o0": Check.NOT_YET_DUE,
        "shop:review:ana:event=o1": Check.NOT_YET_DUE,
        "shop:cart:ana:event=c1": Check.CANCEL_ON,
        "shop:vip:ana:event=o0": Check.CONDITION,
        "shop:vip:ana:event=o1": Check.CONDITION,
        "shop:text:ana:event=o0": Check.CHANNELS,
        "shop:text:ana:event=o1": Check.CHANNELS,
        "shop:late:ana:event=s1": Check.EXPIRY,
        "shop:promo:ana:event=o0": Check.QUIET_HOURS,
        "shop:promo:ana:event=o1": Check.QUIET_HOURS,
    }
    [due] = [occurrence for occurrence, check in recorder.seen if check is None]
    assert (due.state, due.detail) == (OccurrenceState.DUE, "channels email")
    assert [a.occurrence_key for a in result.due] == [due.key]


def test_a_trace_names_the_checks_of_the_caps_pass() -> None:
    cadence = Cadence(
        "shop",
        channels=EMAIL,
        policy=Policy(caps=[FrequencyCap(max=1, per="1d")]),
        steps=[
            Step("welcome", trigger=on_event("signed_up"), channels=["email"], priority=9),
            # skipped by its condition before the caps pass: it takes no slot from welcome
            Step("vip", trigger=on_event("signed_up"), channels=["email"], priority=20,
                 when=attr("tier") == "gold"),
            Step("once", trigger=on_event("visited"), channels=["email"], repeat="once",
                 priority=8),
            Step("cool", trigger=on_event("searched"), channels=["email"], cooldown="7d",
                 priority=7),
            Step("cart", trigger=on_event("cart_abandoned"), channels=["email"]),
            Step("test", trigger=on_event("signed_up"), channels=["email"], priority=10,
                 variants={"a": 1, "control": 1}, holdout="control"),
        ],
    )  # fmt: skip
    before = T - timedelta(days=1)
    events = [
        Event("ana", "signed_up", T, id="s1"),
        Event("ana", "visited", T, id="v1"),
        Event("ana", "searched", T, id="q1"),
        Event("ana", "cart_abandoned", T, id="c1"),
    ]
    deliveries = [
        Delivery("shop", "once", "ana", "shop:once:ana:event=v0", "sent", before),
        Delivery("shop", "cool", "ana", "shop:cool:ana:event=q0", "sent", before),
        # Ana is in the experiment's holdout (no event fires this one again: no trace).
        Delivery("shop", "test", "ana", "shop:test:ana:event=s0", "skipped", before,
                 reason="holdout", variant="control"),
    ]  # fmt: skip
    _, recorder = traced(cadence, Snapshot(ana(), events, deliveries), T)
    assert recorder.checks() == {
        "shop:test:ana:event=s1": Check.HOLDOUT,
        "shop:welcome:ana:event=s1": None,
        "shop:vip:ana:event=s1": Check.CONDITION,
        "shop:once:ana:event=v1": Check.REPEAT,
        "shop:cool:ana:event=q1": Check.COOLDOWN,
        "shop:cart:ana:event=c1": Check.FREQUENCY_CAP,
    }


def test_a_trace_names_the_journey_and_what_a_trigger_has_not_fired_yet() -> None:
    cadence = Cadence(
        "shop",
        channels=EMAIL,
        steps=[
            Step("birthday", trigger=on_event("order_placed"), channels=["email"],
                 variants={"a": 1, "control": 1}, holdout="control"),
            Step("follow", trigger=after_step("birthday", outcome="skipped"),
                 channels=["email"]),
        ],
    )  # fmt: skip
    held = Delivery(
        "shop", "birthday", "ana", "shop:birthday:ana:event=o1", "skipped", T,
        reason="holdout", variant="control",
    )  # fmt: skip
    ahead = Delivery(
        "shop", "birthday", "ana", "shop:birthday:ana:event=o2", "skipped",
        T + timedelta(minutes=5), reason="holdout", variant="control",
    )  # fmt: skip
    events = [
        Event("ana", "order_placed", T - timedelta(hours=1), id="o1"),
        Event("ana", "order_placed", T - timedelta(hours=1), id="o2"),
    ]
    _, recorder = traced(cadence, Snapshot(ana(), events, [held, ahead]), T)
    checks_by_key = recorder.checks()
    assert checks_by_key["shop:follow:ana:after=birthday/event=o1"] is Check.JOURNEY
    assert checks_by_key["shop:follow:ana:after=birthday/event=o2"] is Check.NOT_YET_TRIGGERED


def test_the_first_of_two_checks_an_occurrence_fails_concludes() -> None:
    """Each step fails two checks next to each other in the order: the first one decides."""
    cadence = Cadence(
        "shop",
        timezone="America/Sao_Paulo",
        channels=[Channel("email"), Channel("sms")],
        policy=Policy(caps=[FrequencyCap(max=1, per="1d")]),
        steps=[
            # recorded, and its trigger fires later (recorded by a worker whose clock is ahead)
            Step("birthday", trigger=on_date("birth_date", every="year"), channels=["email"],
                 transactional=True),
            # cancelled, and past its expiry
            Step("basket", trigger=on_event("cart_abandoned"), channels=["email"],
                 expires_after="30m", cancel_on=["order_placed"], transactional=True),
            # cancelled, and not yet due
            Step("cart", trigger=on_event("cart_abandoned"), channels=["email"], delay="1d",
                 cancel_on=["order_placed"], transactional=True),
            # not yet due (at 20:00), and past its deadline
            Step("review", trigger=on_event("order_delivered"), channels=["email"],
                 at=time(20), deadline="2h", transactional=True),
            # past its expiry, and its condition is false
            Step("vip", trigger=on_event("signed_up"), channels=["email"], expires_after="1h",
                 when=attr("tier") == "gold", transactional=True),
            # its condition is false, and no channel reaches the contact
            Step("text", trigger=on_event("visited"), channels=["sms"],
                 when=attr("tier") == "gold", transactional=True),
            # sent once already, and within its cooldown
            Step("once", trigger=on_event("searched"), channels=["email"], repeat="once",
                 cooldown="7d", transactional=True),
            # over the cap, and held out (the priority takes the slot first)
            Step("first", trigger=on_event("visited"), channels=["email"], priority=9),
            Step("test", trigger=on_event("visited"), channels=["email"],
                 variants={"a": 1, "control": 1}, holdout="control"),
        ],
    )  # fmt: skip
    this_year = datetime(2026, 8, 1, 12, tzinfo=UTC)
    events = [
        Event("ana", "cart_abandoned", T - timedelta(hours=2), id="c1"),
        Event("ana", "order_placed", T - timedelta(hours=1), id="o1"),
        Event("ana", "signed_up", T - timedelta(hours=3), id="s1"),
        Event("ana", "order_delivered", T - timedelta(hours=3), id="d1"),
        Event("ana", "visited", T, id="v1"),
        Event("ana", "searched", T, id="q1"),
    ]
    deliveries = [
        Delivery("shop", "birthday", "ana", "shop:birthday:ana:year=2026", "sent", this_year),
        Delivery("shop", "once", "ana", "shop:once:ana:event=q0", "sent", T - timedelta(days=1)),
        Delivery("shop", "test", "ana", "shop:test:ana:event=v0", "skipped",
                 T - timedelta(days=3), reason="holdout", variant="control"),
    ]  # fmt: skip
    contact = ana(
        attributes={"tier": "bronze", "birth_date": date(1990, 8, 1)},
        created_at=T - timedelta(days=30),
    )
    _, recorder = traced(cadence, Snapshot(contact, events, deliveries), T)
    assert recorder.checks() == {
        "shop:birthday:ana:year=2026": Check.RECORDED,
        "shop:cart:ana:event=c1": Check.CANCEL_ON,
        "shop:basket:ana:event=c1": Check.CANCEL_ON,
        "shop:review:ana:event=d1": Check.NOT_YET_DUE,
        "shop:vip:ana:event=s1": Check.EXPIRY,
        "shop:text:ana:event=v1": Check.CONDITION,
        "shop:once:ana:event=q1": Check.REPEAT,
        "shop:first:ana:event=v1": None,
        "shop:test:ana:event=v1": Check.FREQUENCY_CAP,
    }


def test_explain_plans_the_first_cadence_of_its_name_in_place_of_it_and_no_other() -> None:
    def cadence(delay: str) -> Cadence:
        step = Step("review", trigger=on_event("order_placed"), channels=["email"], delay=delay)
        return Cadence("shop", channels=EMAIL, steps=[step])

    other = Cadence(
        "news",
        channels=EMAIL,
        steps=[Step("news", trigger=on_event("order_placed"), channels=["email"])],
    )
    snapshot = Snapshot(ana(), [Event("ana", "order_placed", T, id="o1")])
    explained = explain(
        cadence("7d"), snapshot, "review", T, cadences=[other, cadence("1d"), cadence("2d")]
    )
    [occurrence] = explained.occurrences
    assert (occurrence.key, occurrence.at) == ("shop:review:ana:event=o1", T + timedelta(days=7))


def test_trace_steps_keeps_the_trace_to_the_steps_named() -> None:
    cadence = Cadence(
        "shop",
        channels=EMAIL,
        steps=[
            Step("receipt", trigger=on_event("order_placed"), channels=["email"],
                 transactional=True),
            Step("review", trigger=on_event("order_placed"), channels=["email"], delay="7d"),
        ],
    )  # fmt: skip
    orders = [Event("ana", "order_placed", T, id=n) for n in ("o1", "o2")]
    sent = Delivery("shop", "receipt", "ana", "shop:receipt:ana:event=o1", "sent", T)
    snapshot = Snapshot(ana(), orders, [sent])
    recorder = Recorder()
    result = plan(cadence, snapshot, T, trace=recorder, trace_steps=["review", "no such step"])
    assert result == plan(cadence, snapshot, T)
    assert recorder.checks() == {
        "shop:review:ana:event=o1": Check.NOT_YET_DUE,
        "shop:review:ana:event=o2": Check.NOT_YET_DUE,
    }


def test_plan_contact_traces_every_cadence_and_an_error_in_the_trace_stops_the_plan() -> None:
    shared = Policy(caps=[FrequencyCap(max=1, per="1d", scope="contact")])

    def cadence(name: str, priority: int) -> Cadence:
        step = Step(name, trigger=on_event("signed_up"), channels=["email"], priority=priority)
        return Cadence(name, channels=EMAIL, policy=shared, steps=[step])

    cadences = [cadence("a", 0), cadence("b", 1)]
    snapshot = Snapshot(ana(), [Event("ana", "signed_up", T, id="s1")])
    recorder = Recorder()
    plans = plan_contact(cadences, snapshot, T, trace=recorder)
    assert plans == plan_contact(cadences, snapshot, T)
    assert [(o.cadence, check) for o, check in recorder.seen] == [
        ("b", None),
        ("a", Check.FREQUENCY_CAP),
    ]

    def fail(occurrence: Occurrence, check: Check | None) -> None:
        raise RuntimeError(f"no thanks: {occurrence.key}")

    with pytest.raises(RuntimeError, match="no thanks: a:a:ana:event=s1"):
        plan(cadence("a", 0), snapshot, T, trace=fail)


# --- the property ---------------------------------------------------------------------------


def check_trace(scenario: Scenario) -> None:
    cadence = scenario.cadence

    def check(result: Plan, snapshot: Snapshot) -> None:
        recorder = Recorder()
        assert plan(cadence, snapshot, result.now, trace=recorder) == result
        keys = Counter(occurrence.key for occurrence, _ in recorder.seen)
        assert not [key for key, count in keys.items() if count > 1], recorder.seen
        recorded = {d.occurrence_key for d in snapshot.deliveries}
        concluded: list[Occurrence] = []
        for occurrence, check in recorder.seen:
            assert occurrence.reason in REASONS[check], (occurrence, check)
            if check is None:
                assert occurrence.state is OccurrenceState.DUE
            else:
                assert check in checks_of(cadence, occurrence.step), (occurrence, check)
            if check is Check.RECORDED:
                assert occurrence.key in recorded, occurrence
            elif check is not None:
                concluded.append(occurrence)
        assert sorted(concluded, key=lambda o: o.key) == sorted(
            (*result.waiting, *result.closed), key=lambda o: o.key
        )
        due = sorted(o.key for o, check in recorder.seen if check is None)
        assert due == sorted(action.occurrence_key for action in result.due)
        # Every recorded occurrence of an event the history holds is reported (for steps
        # whose every event of a name fires, from their first day).
        reported = {o.key for o, check in recorder.seen if check is Check.RECORDED}
        for step in cadence.steps:
            trigger = step.trigger
            if not (
                isinstance(trigger, EventTrigger)
                and not trigger.where
                and trigger.of_step is None
                and step.digest is None
                and step.active_from is None
            ):
                continue
            prefix = occurrence_prefix(cadence.name, step.name, snapshot.contact.id)
            fired = {
                prefix + f"event={event.id}"
                for event in snapshot.events
                if event.name == trigger.event and event.at <= result.now
            }
            assert fired & recorded <= reported, (step.name, fired & recorded - reported)

    drive(scenario, check)


@pytest.mark.slow
@settings(
    max_examples=property_examples(30),
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenario=scenarios() | capped_scenarios())
def test_a_traced_plan_is_the_plan_and_reports_each_occurrence_once(scenario: Scenario) -> None:
    check_trace(scenario)
