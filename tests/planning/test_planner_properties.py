"""Properties of the planner over random cadences, contacts and event histories.

Each property is checked on random single plans and, where it is about a contact's journey,
on a *driven run*: the contact is planned forward in time as the scheduler would do it (plan
at `now`, record every due action as sent at `now` and every closed occurrence with its
status, re-plan at the same instant until nothing changes, then jump to the next wake-up or
the next event). Engagement is simulated too: the contact opens (clicks) the deliveries of
the steps the scenario names, an hour (two hours) after they are sent.

Failures print the falsifying scenario (cadence, contact, events) and a
``@reproduce_failure(...)`` line that replays it exactly; hypothesis's example database in
``.hypothesis/`` replays it on the next run too, and ``--hypothesis-seed`` fixes the search.
``HYPOTHESIS_PROFILE=deep`` searches ten times deeper, ``dev`` ten times shallower
(tests/profiles.py); ``REGUA_PROPERTY_EXAMPLES`` sets an exact count instead.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    DueAction,
    Event,
    FrequencyCap,
    Plan,
    Snapshot,
    Step,
    after_step,
    attr,
    on_event,
    plan,
)
from regua.planning.calendar import in_quiet_hours
from regua.planning.planner import next_wakeup, settled, settled_once_sent
from regua.records import CLICKED, OPENED
from tests.planning.helpers import sent_as_planned
from tests.planning.strategies import (
    Scenario,
    capped_scenarios,
    clocks,
    scenarios,
    sends_around,
)
from tests.profiles import property_examples

# HYPOTHESIS_PROFILE=deep (or REGUA_PROPERTY_EXAMPLES=2000) runs a deeper search (e.g.
# nightly); the default profile keeps the whole file to about 10 s.
PROPERTY = settings(
    max_examples=property_examples(30),
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Check = Callable[[Plan, Snapshot], None]


# --- driving a contact forward --------------------------------------------------------------


@attrs.define
class Run:
    """What happened while driving one contact forward."""

    scenario: Scenario
    events: list[Event]
    deliveries: list[Delivery]
    sends: list[tuple[datetime, DueAction]] = attrs.field(factory=list)
    plans: int = 0

    def snapshot(self) -> Snapshot:
        return Snapshot(self.scenario.contact, self.events, self.deliveries)


def drive(
    scenario: Scenario,
    check: Check | None = None,
    until: datetime | None = None,
    clocks: Sequence[timedelta] = (timedelta(0),),
) -> Run:
    """Plan the scenario's contact forward from its start to `until` (default: its end).

    With several `clocks`, as many workers plan the contact in turn at each instant, each at
    the true instant plus its clock's error, stamping what it records with its own clock:
    each sees deliveries and events stamped after its `now`. (The application stamps the
    events, engagement included, with the true instant.)
    """
    cadence = scenario.cadence
    who = scenario.contact
    end = scenario.end if until is None else until
    run = Run(scenario, list(scenario.events), [])
    true_now = scenario.start
    same_instant = 0
    for _ in range(5_000):
        changed = False
        wakeups: list[datetime] = []
        for error in clocks:
            now = true_now + error
            snapshot = run.snapshot()
            result = plan(cadence, snapshot, now)
            run.plans += 1
            if check is not None:
                check(result, snapshot)
            for action in result.due:
                key = action.occurrence_key
                run.deliveries.append(sent_as_planned(action, now))
                run.sends.append((now, action))
                if action.step in scenario.opens:
                    run.events.append(
                        Event(
                            who.id, OPENED, true_now + timedelta(hours=1), id=f"open:{key}", ref=key
                        )
                    )
                if action.step in scenario.clicks:
                    run.events.append(
                        Event(
                            who.id,
                            CLICKED,
                            true_now + timedelta(hours=2),
                            id=f"click:{key}",
                            ref=key,
                        )
                    )
            run.deliveries.extend(occurrence.as_delivery() for occurrence in result.closed)
            if result.due or result.closed:
                changed = True
            elif result.next_wakeup is not None:
                wakeups.append(result.next_wakeup - error)  # on the true clock
        if changed:
            same_instant += 1
            assert same_instant < 50, f"the plans at {true_now} never settle: {result}"
            continue
        same_instant = 0
        upcoming = min((e.at for e in run.events if e.at > true_now), default=None)
        if upcoming is not None:
            wakeups.append(upcoming)
        if not wakeups or min(wakeups) > end:
            return run
        true_now = min(wakeups)
    raise AssertionError("the driven run did not reach its end in 5000 plans")


def local_zone(scenario: Scenario) -> ZoneInfo:
    return ZoneInfo(scenario.contact.timezone or scenario.cadence.timezone)


def single_plans(scenario: Scenario, offsets: Iterable[int]) -> Iterable[tuple[Plan, Snapshot]]:
    """Plans of the scenario without any recorded delivery, at instants within its period."""
    snapshot = Snapshot(scenario.contact, scenario.events)
    span = scenario.end - scenario.start
    for offset in offsets:
        now = scenario.start + span * (offset / 1000)
        yield plan(scenario.cadence, snapshot, now), snapshot


OFFSETS = st.lists(st.integers(0, 1000), min_size=1, max_size=4)


# --- 1. consent and addresses ------------------------------------------------------------------


def check_consent_and_address(cadence: Cadence) -> Check:
    def check(result: Plan, snapshot: Snapshot) -> None:
        who = snapshot.contact
        for action in result.due:
            for channel in action.channels:
                assert who.addresses.get(channel), f"{action} uses {channel} without address"
                if not action.transactional:
                    assert channel in who.consents, (
                        f"marketing {action.step} on {channel} without consent at {result.now}"
                    )
            assert action.address == who.addresses[action.channel]
            assert action.transactional is cadence.step(action.step).transactional

    return check


@pytest.mark.slow
@PROPERTY
@given(scenario=scenarios(), offsets=OFFSETS)
def test_marketing_needs_consent_and_every_channel_an_address(
    scenario: Scenario, offsets: list[int]
) -> None:
    check = check_consent_and_address(scenario.cadence)
    for result, snapshot in single_plans(scenario, offsets):
        check(result, snapshot)
    drive(scenario, check)


# --- 2. quiet hours ------------------------------------------------------------------------------


def check_quiet_hours(scenario: Scenario) -> Check:
    cadence = scenario.cadence
    tz = local_zone(scenario)

    def check(result: Plan, snapshot: Snapshot) -> None:
        assert result.timezone == tz.key
        for action in result.due:
            if action.transactional:
                continue
            for window in (cadence.policy.quiet_hours, cadence.channel(action.channel).quiet_hours):
                if window is not None:
                    assert not in_quiet_hours(result.now, window, tz), (
                        f"marketing {action.step} on {action.channel} due at "
                        f"{result.now.astimezone(tz)}, inside quiet hours {window}"
                    )

    return check


@pytest.mark.slow
@PROPERTY
@given(scenario=scenarios(), offsets=OFFSETS)
def test_no_marketing_is_due_inside_quiet_hours(scenario: Scenario, offsets: list[int]) -> None:
    check = check_quiet_hours(scenario)
    for result, snapshot in single_plans(scenario, offsets):
        check(result, snapshot)
    drive(scenario, check)


# --- 3. caps -------------------------------------------------------------------------------------


def assert_within_cap(times: list[datetime], cap: FrequencyCap, label: str) -> None:
    window = cap.per.approximate()
    times = sorted(times)
    for index, t in enumerate(times):
        inside = [s for s in times[: index + 1] if s > t - window]
        assert len(inside) <= cap.max, (
            f"{label} cap {cap.max} per {cap.per} exceeded: {len(inside)} marketing sends in "
            f"({t - window}, {t}]: {inside}"
        )


@pytest.mark.slow
@PROPERTY
@given(scenario=scenarios())
def test_caps_are_never_exceeded_when_every_due_action_is_sent(scenario: Scenario) -> None:
    run = drive(scenario)
    cadence = scenario.cadence
    marketing = [(at, action.channel) for at, action in run.sends if not action.transactional]
    for cap in cadence.policy.caps:
        assert_within_cap([at for at, _ in marketing], cap, "cadence")
    for channel in cadence.channels:
        for cap in channel.caps:
            times = [at for at, name in marketing if name == channel.name]
            assert_within_cap(times, cap, f"channel {channel.name}")


# --- 4. at most once ------------------------------------------------------------------------------


@pytest.mark.slow
@PROPERTY
@given(scenario=scenarios())
def test_an_occurrence_is_never_due_again_once_delivered(scenario: Scenario) -> None:
    sent: set[str] = set()

    def check(result: Plan, snapshot: Snapshot) -> None:
        keys = [action.occurrence_key for action in result.due]
        assert len(keys) == len(set(keys)), f"one plan has a key twice: {keys}"
        again = sent.intersection(keys)
        assert not again, f"delivered occurrences due again at {result.now}: {again}"
        sent.update(keys)

    run = drive(scenario, check)
    counts = Counter(action.occurrence_key for _, action in run.sends)
    assert all(n == 1 for n in counts.values()), counts
    snapshot = run.snapshot()
    for later in (timedelta(0), timedelta(hours=1), timedelta(days=1), timedelta(days=400)):
        result = plan(scenario.cadence, snapshot, scenario.end + later)
        assert not sent.intersection(a.occurrence_key for a in result.due)


# --- 5. determinism -------------------------------------------------------------------------------


def check_deterministic(cadence: Cadence, rnd: random.Random) -> Check:
    rebuilt = Cadence.from_json(cadence.to_json())

    def check(result: Plan, snapshot: Snapshot) -> None:
        now = result.now
        assert plan(cadence, snapshot, now) == result, "the same inputs gave another plan"
        events, deliveries = list(snapshot.events), list(snapshot.deliveries)
        rnd.shuffle(events)
        rnd.shuffle(deliveries)
        shuffled = Snapshot(snapshot.contact, events, deliveries)
        assert plan(cadence, shuffled, now) == result, "shuffled inputs gave another plan"
        # A cadence rebuilt from its serialised form plans the same.
        assert plan(rebuilt, snapshot, now) == result, "the JSON round trip gave another plan"

    return check


@pytest.mark.slow
@PROPERTY
@given(
    scenario=scenarios(),
    offsets=OFFSETS,
    cut=st.integers(0, 1000),
    later=st.integers(0, 60 * 24 * 60),
    rnd=st.randoms(use_true_random=False),
)
def test_plan_is_deterministic_and_ignores_input_order(
    scenario: Scenario, offsets: list[int], cut: int, later: int, rnd: random.Random
) -> None:
    check = check_deterministic(scenario.cadence, rnd)
    # Catch-up plans, without deliveries: many occurrences close in one plan.
    for result, snapshot in single_plans(scenario, offsets):
        check(result, snapshot)
    # Every plan of a run cut short, then one plan well after the cut.
    until = scenario.start + (scenario.end - scenario.start) * (cut / 1000)
    run = drive(scenario, check, until=until)
    snapshot = run.snapshot()
    check(plan(scenario.cadence, snapshot, until + timedelta(minutes=later)), snapshot)


# --- 5b. closures --------------------------------------------------------------------------------


def check_closures_change_nothing(cadence: Cadence) -> Check:
    """Recording the occurrences a settled plan closes, and planning again, says the same.

    The scheduler relies on it: it plans a contact again after recording the outcome of a
    dispatch, or the closures of a plan that is not `settled`, and only then.
    """

    def check(result: Plan, snapshot: Snapshot) -> None:
        if not result.closed or not settled(cadence, result):
            return
        recorded = [occurrence.as_delivery() for occurrence in result.closed]
        again = plan(
            cadence,
            attrs.evolve(snapshot, deliveries=(*snapshot.deliveries, *recorded)),
            result.now,
        )
        assert again.closed == (), f"closed only on the second plan: {again.closed}"
        assert again.due == result.due
        assert again.waiting == result.waiting
        assert again.next_wakeup == result.next_wakeup

    return check


@pytest.mark.slow
@PROPERTY
@given(scenario=scenarios(), offsets=OFFSETS, cut=st.integers(0, 1000))
def test_recording_a_plans_closures_changes_nothing_it_says(
    scenario: Scenario, offsets: list[int], cut: int
) -> None:
    check = check_closures_change_nothing(scenario.cadence)
    # Catch-up plans, without deliveries: many occurrences close in one plan.
    for result, snapshot in single_plans(scenario, offsets):
        check(result, snapshot)
    until = scenario.start + (scenario.end - scenario.start) * (cut / 1000)
    drive(scenario, check, until=until)


def check_sends_change_nothing_else(cadence: Cadence) -> Check:
    """Sending a plan's due actions, when `settled_once_sent` says so, changes nothing else.

    Nothing due, nothing closed, the same waiting occurrences, none sooner (a cap may defer
    one further), so that `next_wakeup` of the waiting occurrences is never late. The
    scheduler relies on it: it does not plan again a contact whose every due action was sent
    so, and stores that wake-up instead.
    """

    def check(result: Plan, snapshot: Snapshot) -> None:
        if not result.due or not settled_once_sent(cadence, result):
            return
        recorded = [occurrence.as_delivery() for occurrence in result.closed]
        recorded += [sent_as_planned(action, result.now) for action in result.due]
        again = plan(
            cadence,
            attrs.evolve(snapshot, deliveries=(*snapshot.deliveries, *recorded)),
            result.now,
        )
        assert again.closed == (), f"closed only once sent: {again.closed}"
        assert again.due == ()
        before = {o.key: o.at for o in result.waiting}
        assert {o.key: o for o in again.waiting}.keys() == before.keys()
        assert all(o.at >= before[o.key] for o in again.waiting)
        wake = next_wakeup(result.waiting, ())
        assert again.next_wakeup is None or (wake is not None and wake <= again.next_wakeup)

    return check


@pytest.mark.slow
@PROPERTY
@given(scenario=scenarios(), offsets=OFFSETS, cut=st.integers(0, 1000))
def test_sending_a_settled_plans_due_actions_changes_nothing_else(
    scenario: Scenario, offsets: list[int], cut: int
) -> None:
    check = check_sends_change_nothing_else(scenario.cadence)
    for result, snapshot in single_plans(scenario, offsets):
        check(result, snapshot)
    until = scenario.start + (scenario.end - scenario.start) * (cut / 1000)
    drive(scenario, check, until=until)


# --- 6. next_wakeup -------------------------------------------------------------------------------


def check_wakeup(result: Plan, snapshot: Snapshot) -> None:
    now = result.now
    assert result.next_wakeup is None or result.next_wakeup > now, (
        f"next_wakeup {result.next_wakeup} is not after now {now} (due: {len(result.due)})"
    )
    for occurrence in result.waiting:
        assert occurrence.at > now, f"waiting occurrence not after now {now}: {occurrence}"
        assert result.next_wakeup is not None
        assert result.next_wakeup <= occurrence.at


@pytest.mark.slow
@PROPERTY
@given(scenario=scenarios(), offsets=OFFSETS)
def test_next_wakeup_is_never_in_the_past(scenario: Scenario, offsets: list[int]) -> None:
    for result, snapshot in single_plans(scenario, offsets):
        check_wakeup(result, snapshot)
    drive(scenario, check_wakeup)


# --- 7. reasons -----------------------------------------------------------------------------------


def check_reasons(result: Plan, snapshot: Snapshot) -> None:
    for occurrence in result.closed:
        assert occurrence.closed, occurrence
        assert occurrence.reason is not None, f"closed without a reason: {occurrence}"
    for occurrence in result.waiting:
        assert not occurrence.closed, occurrence
        assert occurrence.reason is not None, f"waiting without a reason: {occurrence}"


@pytest.mark.slow
@PROPERTY
@given(scenario=scenarios(), offsets=OFFSETS)
def test_every_closed_and_waiting_occurrence_has_a_reason(
    scenario: Scenario, offsets: list[int]
) -> None:
    for result, snapshot in single_plans(scenario, offsets):
        check_reasons(result, snapshot)
    drive(scenario, check_reasons)


# --- 8. clocks that drift -------------------------------------------------------------------------


def check_caps_count_every_send(cadence: Cadence) -> Check:
    """No plan exceeds a cap counting every send recorded after now - window, later ones too.

    A send recorded after `now` was made by a worker whose clock is ahead: sending now as
    well would put both in one window (t - window, t] at some later t.
    """
    transactional = {step.name for step in cadence.steps if step.transactional}
    windows = [(cap, None) for cap in cadence.policy.caps] + [
        (cap, channel.name) for channel in cadence.channels for cap in channel.caps
    ]

    def check(result: Plan, snapshot: Snapshot) -> None:
        now = result.now
        for cap, channel in windows:
            adding = [a for a in result.due if not a.transactional and channel in (None, a.channel)]
            if not adding:
                continue
            since = now - cap.per.approximate()
            recorded = [
                d.at
                for d in snapshot.deliveries
                if d.status is DeliveryStatus.SENT
                and d.cadence == cadence.name
                and d.step not in transactional
                and channel in (None, d.channel)
                and d.at > since
            ]
            assert len(recorded) + len(adding) <= cap.max, (
                f"{'cadence' if channel is None else channel} cap {cap.max} per {cap.per} "
                f"exceeded at {now}: sends recorded since {since} at {sorted(recorded)}, "
                f"{[a.step for a in adding]} due now"
            )

    return check


def check_later_events_bound_the_wakeup(cadence: Cadence) -> Check:
    """The earliest event stamped after `now` (not a copy of one by `now`) bounds the wake-up.

    The wake-up of the plan, and the one the scheduler stores when `settled_once_sent` lets
    it skip a second plan (that of the waiting occurrences).
    """

    def check(result: Plan, snapshot: Snapshot) -> None:
        now = result.now
        known = {(e.name, e.id) for e in snapshot.events if e.at <= now}
        later = [e.at for e in snapshot.events if e.at > now and (e.name, e.id) not in known]
        if not later:
            assert result.next_event_at is None
            return
        first = min(later)
        assert result.next_event_at == first
        assert result.next_wakeup is not None
        assert result.next_wakeup <= first, (
            f"next_wakeup {result.next_wakeup} is after the event stamped {first}"
        )
        if result.due and settled_once_sent(cadence, result):
            once_sent = next_wakeup(result.waiting, ())
            assert once_sent is not None
            assert once_sent <= first, (
                f"once sent, the wake-up {once_sent} is after the event stamped {first}"
            )

    return check


@pytest.mark.slow
@PROPERTY
@given(
    scenario=capped_scenarios(),
    offsets=OFFSETS,
    clocks=clocks(),
    data=st.data(),
)
def test_caps_hold_whatever_the_workers_clocks(
    scenario: Scenario, offsets: list[int], clocks: tuple[timedelta, ...], data: st.DataObject
) -> None:
    cadence = scenario.cadence
    check = check_caps_count_every_send(cadence)
    # Single plans over sends recorded around their instant, some stamped after it.
    for result, snapshot in single_plans(scenario, offsets):
        recorded = data.draw(sends_around(cadence, result.now), label="sends")
        again = attrs.evolve(snapshot, deliveries=recorded)
        check(plan(cadence, again, result.now), again)
    # Workers planning in turn, each on its own clock.
    run = drive(scenario, check, clocks=clocks)
    # Over the instants the sends were stamped with, whichever clock stamped them.
    marketing = [(at, action.channel) for at, action in run.sends if not action.transactional]
    for cap in cadence.policy.caps:
        assert_within_cap([at for at, _ in marketing], cap, "cadence")
    for channel in cadence.channels:
        for cap in channel.caps:
            times = [at for at, name in marketing if name == channel.name]
            assert_within_cap(times, cap, f"channel {channel.name}")


@pytest.mark.slow
@PROPERTY
@given(scenario=scenarios(), offsets=OFFSETS, cut=st.integers(0, 1000), clocks=clocks())
def test_plans_wake_in_time_for_what_is_stamped_after_now(
    scenario: Scenario, offsets: list[int], cut: int, clocks: tuple[timedelta, ...]
) -> None:
    # Single plans see the scenario's later events. Workers planning in turn on their own
    # clocks see events (engagement included) and sends stamped after their `now`; what
    # `settled` and `settled_once_sent` promise holds there too.
    cadence = scenario.cadence
    bound = check_later_events_bound_the_wakeup(cadence)
    closures = check_closures_change_nothing(cadence)
    sends = check_sends_change_nothing_else(cadence)
    for result, snapshot in single_plans(scenario, offsets):
        bound(result, snapshot)

    def check(result: Plan, snapshot: Snapshot) -> None:
        check_wakeup(result, snapshot)
        bound(result, snapshot)
        closures(result, snapshot)
        sends(result, snapshot)

    until = scenario.start + (scenario.end - scenario.start) * (cut / 1000)
    drive(scenario, check, until=until, clocks=clocks)


# --- regressions: the minimal examples the properties found ------------------------------------

T0 = datetime(2024, 9, 1, tzinfo=timezone.utc)


def _one_step_cadence(**step: Any) -> Cadence:
    return Cadence(
        "prop",
        channels=[Channel("email")],
        steps=[Step("s0", trigger=on_event("signed_up"), channels=["email"], **step)],
    )


def _reachable() -> Contact:
    return Contact("c1", consents={"email"}, addresses={"email": "c1@example.com"})


def test_an_event_ingested_twice_is_one_occurrence_due_once() -> None:
    # Found by test_an_occurrence_is_never_due_again_once_delivered: the same event (same
    # name and id) given twice made two due actions with one occurrence key.
    c = _one_step_cadence()
    twice = [Event("c1", "signed_up", T0, id="e0"), Event("c1", "signed_up", T0, id="e0")]
    result = plan(c, Snapshot(_reachable(), twice), T0)
    assert [a.occurrence_key for a in result.due] == ["prop:s0:c1:event=e0"]
    # Without ids, the derived id (name and instant) makes them the same event too.
    anonymous = [Event("c1", "signed_up", T0), Event("c1", "signed_up", T0)]
    assert len(plan(c, Snapshot(_reachable(), anonymous), T0).due) == 1


def test_events_at_one_instant_give_the_same_plan_in_any_order() -> None:
    # Found by test_plan_is_deterministic_and_ignores_input_order: two events of one name at
    # one instant, both expired: `closed` listed them in the order they were given.
    c = _one_step_cadence(expires_after="30m")
    events = [Event("c1", "signed_up", T0, id="e0"), Event("c1", "signed_up", T0, id="e1")]
    now = T0 + timedelta(hours=1)
    first = plan(c, Snapshot(_reachable(), events), now)
    assert [o.key for o in first.closed] == ["prop:s0:c1:event=e0", "prop:s0:c1:event=e1"]
    assert plan(c, Snapshot(_reachable(), events[::-1]), now) == first


def test_followers_give_the_same_plan_whatever_the_order_of_deliveries() -> None:
    # after_step followers were assessed in the order the deliveries were given.
    c = Cadence(
        "prop",
        channels=[Channel("email")],
        steps=[
            Step("s0", trigger=on_event("signed_up"), channels=["email"], transactional=True),
            Step("s1", trigger=after_step("s0"), channels=["email"], when=attr("tier") == "gold"),
        ],
    )
    events = [Event("c1", "signed_up", T0, id="a"), Event("c1", "signed_up", T0, id="b")]
    deliveries = [
        Delivery("prop", "s0", "c1", f"prop:s0:c1:event={e.id}", DeliveryStatus.SENT, T0)
        for e in events
    ]
    now = T0 + timedelta(hours=1)
    first = plan(c, Snapshot(_reachable(), events, deliveries), now)
    assert [o.key for o in first.closed] == [
        "prop:s1:c1:after=s0/event=a",
        "prop:s1:c1:after=s0/event=b",
    ]
    assert plan(c, Snapshot(_reachable(), events, deliveries[::-1]), now) == first
