"""A folded history plans exactly as the whole history does (`regua.fold`).

The full-history planner is the oracle. A scenario is driven forward as a scheduler would
(events ingested at their instants, opens an hour after some sends, every due action
recorded as sent and every closed occurrence recorded), folded at an instant F, and driven
on; at instants from F - margin onwards, the folded snapshot plus what was recorded after F
must give the same plan as the whole history: the same due actions, waiting and closed
occurrences, wake-up. A plan that cannot tell raises `FoldTooShallow`, never a wrong answer.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from datetime import datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from regua import (
    Cadence,
    Channel,
    Delivery,
    Event,
    Plan,
    Snapshot,
    Step,
    on_event,
    plan,
)
from regua.errors import FoldTooShallow
from regua.folding import FOLD_MARGIN, fold
from regua.loading import load_cadences
from regua.records import OPENED, Contact
from tests.planning.helpers import sent_as_planned
from tests.planning.strategies import CONTACT_ID, EVENT_NAMES, Scenario, scenarios


@attrs.define
class Timeline:
    """Records in the order they reach the repository, each with the instant it arrived."""

    contact: Contact
    events: list[Event] = attrs.field(factory=list)
    event_arrivals: list[datetime] = attrs.field(factory=list)
    deliveries: list[Delivery] = attrs.field(factory=list)
    delivery_arrivals: list[datetime] = attrs.field(factory=list)

    def add_event(self, now: datetime, event: Event) -> None:
        self.events.append(event)
        self.event_arrivals.append(now)

    def add_delivery(self, now: datetime, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        self.delivery_arrivals.append(now)

    def snapshot(self, through: datetime, after: datetime | None = None) -> Snapshot:
        """The records that arrived in (after, through] (arrivals are in order)."""
        low_e = 0 if after is None else bisect_right(self.event_arrivals, after)
        low_d = 0 if after is None else bisect_right(self.delivery_arrivals, after)
        return Snapshot(
            self.contact,
            self.events[low_e : bisect_right(self.event_arrivals, through)],
            self.deliveries[low_d : bisect_right(self.delivery_arrivals, through)],
        )


def drive(scenario: Scenario, cad: Cadence, end: datetime) -> Timeline:
    """Run `cad` for the scenario's contact until `end`, as a scheduler that records all."""
    timeline = Timeline(scenario.contact)
    pending = sorted(scenario.events, key=lambda e: e.at)
    now = scenario.start
    for _ in range(5_000):
        while pending and pending[0].at <= now:
            timeline.add_event(now, pending.pop(0))
        result = plan(cad, Snapshot(scenario.contact, timeline.events, timeline.deliveries), now)
        for action in result.due:
            timeline.add_delivery(now, sent_as_planned(action, now))
            if action.step in scenario.opens:
                opened = Event(
                    action.contact_id, OPENED, now + timedelta(hours=1), ref=action.occurrence_key
                )
                insort(pending, opened, key=lambda e: e.at)
        for closed in result.closed:
            timeline.add_delivery(now, closed.as_delivery())
        if result.due or result.closed:
            continue
        wakeups = [t for t in (result.next_wakeup, pending[0].at if pending else None) if t]
        if not wakeups or min(wakeups) > end:
            return timeline
        now = max(min(wakeups), now + timedelta(seconds=1))
    raise AssertionError("the scenario did not settle")


def summary(result: Plan) -> tuple[object, ...]:
    return (
        [(a.occurrence_key, a.channel, a.fallbacks, a.due_at, a.variant) for a in result.due],
        [(o.key, o.state, o.at, o.reason) for o in result.waiting],
        sorted((o.key, o.state, o.at, o.reason) for o in result.closed),
        result.next_wakeup,
        result.next_event_at,
    )


def check_folded_plans(
    scenario: Scenario, cad: Cadence, fold_at: datetime, checks: list[int]
) -> None:
    timeline = drive(scenario, cad, max(scenario.end, fold_at + timedelta(days=2)))
    folded = fold([cad], timeline.snapshot(fold_at), fold_at)
    assert folded.fold is not None
    before = timeline.snapshot(fold_at)
    dropped = (
        len(before.events) + len(before.deliveries) - len(folded.events) - len(folded.deliveries)
    )
    event("folded away some records" if dropped else "folded away nothing")
    for hours in checks:
        now = fold_at - FOLD_MARGIN + timedelta(hours=hours)
        through = max(now, fold_at)
        whole = plan(cad, timeline.snapshot(through), now)
        tail = timeline.snapshot(through, after=fold_at)
        partial = Snapshot(
            scenario.contact,
            [*folded.events, *tail.events],
            [*folded.deliveries, *tail.deliveries],
            fold=folded.fold,
        )
        try:
            answer = plan(cad, partial, now)
        except FoldTooShallow:
            event("fell back to the whole history")
            continue
        assert summary(answer) == summary(whole), (now, fold_at)


@settings(max_examples=150, deadline=None)
@given(
    scenario=scenarios(days=120),
    fold_day=st.one_of(st.integers(0, 130), st.integers(130, 600)),
    checks=st.lists(st.integers(0, 24 * 60), min_size=1, max_size=4),
)
def test_a_folded_history_plans_as_the_whole_history(
    scenario: Scenario, fold_day: int, checks: list[int]
) -> None:
    fold_at = scenario.start + timedelta(days=fold_day)
    check_folded_plans(scenario, scenario.cadence, fold_at, sorted(checks))


@settings(max_examples=100, deadline=None)
@given(
    scenario=scenarios(days=120),
    fold_day=st.integers(0, 130),
    late=st.lists(st.tuples(st.integers(0, 125), st.integers(0, 3)), max_size=3),
    hours=st.integers(0, 24 * 60),
)
def test_records_arriving_late_are_planned_exactly_or_refused(
    scenario: Scenario, fold_day: int, late: list[tuple[int, int]], hours: int
) -> None:
    # After the fold, some records arrive that are stamped long before it: an event replayed
    # (the same copy again), or a new event from the past. (A replay under another instant
    # never reaches a snapshot: repositories keep the first copy of a name and id.)
    fold_at = scenario.start + timedelta(days=fold_day)
    timeline = drive(scenario, scenario.cadence, fold_at)
    folded = fold([scenario.cadence], timeline.snapshot(fold_at), fold_at)
    known = timeline.snapshot(fold_at).events
    extra: list[Event] = []
    for day, kind in late:
        at = scenario.start + timedelta(days=day)
        if kind == 0 and known:
            extra.append(known[day % len(known)])  # the same copy again
        else:
            extra.append(
                Event(CONTACT_ID, EVENT_NAMES[kind % len(EVENT_NAMES)], at, id=f"late{day}")
            )
    now = fold_at - FOLD_MARGIN + timedelta(hours=hours)
    whole = plan(
        scenario.cadence,
        Snapshot(scenario.contact, [*known, *extra], timeline.snapshot(fold_at).deliveries),
        now,
    )
    partial = Snapshot(
        scenario.contact, [*folded.events, *extra], folded.deliveries, fold=folded.fold
    )
    try:
        answer = plan(scenario.cadence, partial, now)
    except FoldTooShallow:
        event("refused: plan the whole history")
        return
    event("planned from the fold")
    assert summary(answer) == summary(whole)


def _shop() -> Cadence:
    [shop] = load_cadences("examples/ecommerce_lifecycle.py:cadence")
    return shop


def _two_years(shop: Cadence) -> tuple[Scenario, datetime]:
    """A customer of two years: a login a day, an order a month, sometimes a cart."""
    start = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    customer = Contact(
        CONTACT_ID,
        attributes={"tier": "silver", "birth_date": "1990-03-14"},
        timezone="America/Sao_Paulo",
        consents={"email", "sms", "whatsapp", "phone"},
        addresses={"email": "ana@example.com", "sms": "+5511999990000"},
        created_at=start,
    )
    events = [Event(CONTACT_ID, "signed_up", start, id="signup")]
    for day in range(1, 730):
        at = start + timedelta(days=day, hours=day % 7)
        events.append(Event(CONTACT_ID, "login", at, id=f"login-{day}"))
        if day % 30 == 0:
            events.append(Event(CONTACT_ID, "order_placed", at, id=f"order-{day}"))
            events.append(
                Event(CONTACT_ID, "order_shipped", at + timedelta(days=1), id=f"ship-{day}")
            )
            events.append(
                Event(CONTACT_ID, "order_delivered", at + timedelta(days=3), id=f"deliv-{day}")
            )
        if day % 45 == 0:
            events.append(Event(CONTACT_ID, "cart_abandoned", at, id=f"cart-{day}"))
    end = start + timedelta(days=735)
    scenario = Scenario(shop, customer, tuple(events), start, end, opens=frozenset({"welcome"}))
    return scenario, end


def test_a_long_history_folds_to_what_is_open() -> None:
    shop = _shop()
    scenario, end = _two_years(shop)
    timeline = drive(scenario, shop, end)
    whole = timeline.snapshot(end)
    folded = fold([shop], whole, end)
    # Two years of events and outcomes fold to what the cadence's longest window reads (its
    # "lapsed" condition looks back 180 days), a few outcomes plans still read (the latest
    # send of each step...), and counts for the rest.
    assert len(whole.events) > 800
    assert len(whole.deliveries) > 100
    assert folded.fold is not None
    window = folded.fold.valid_from - timedelta(days=183)
    assert all(e.at >= window for e in folded.events if e.name == "login")
    assert len(folded.events) < len(whole.events) / 3
    assert len(folded.deliveries) < len(whole.deliveries) / 2
    assert folded.fold is not None
    assert (
        folded.fold.counts["order_placed"] + sum(e.name == "order_placed" for e in folded.events)
        == 24
    )
    for hours in (0, 1, 12, 24, 24 * 7, 24 * 40):
        now = end - FOLD_MARGIN + timedelta(hours=hours)
        assert summary(plan(shop, folded, now)) == summary(plan(shop, whole, now))


def test_a_folded_history_refuses_what_it_cannot_answer() -> None:
    shop = _shop()
    scenario, end = _two_years(shop)
    timeline = drive(scenario, shop, end)
    folded = fold([shop], timeline.snapshot(end), end)
    assert folded.fold is not None
    # Another definition of the cadence: the fold may have left out what it reads.
    changed = shop.model_copy(update={"description": "changed"})
    with pytest.raises(FoldTooShallow, match="not folded for cadence 'ecommerce_lifecycle'"):
        plan(changed, folded, end)
    # Earlier than the fold allows (a worker clock more than a day behind).
    with pytest.raises(FoldTooShallow, match="before the fold's"):
        plan(shop, folded, folded.fold.valid_from - timedelta(seconds=1))
    # An event stamped before the cutoff that arrives after the fold.
    old = Event(CONTACT_ID, "order_placed", folded.fold.cutoff - timedelta(days=1), id="late")
    late = attrs.evolve(folded, events=(*folded.events, old))
    with pytest.raises(FoldTooShallow, match="arrived after the fold"):
        plan(shop, late, end)
    # Folding again for another definition needs the whole history.
    with pytest.raises(FoldTooShallow, match="folded for other cadences"):
        fold([changed], folded, end)


def test_a_fold_can_be_folded_again_later() -> None:
    shop = _shop()
    scenario, end = _two_years(shop)
    timeline = drive(scenario, shop, end)
    middle = end - timedelta(days=300)
    first = fold([shop], timeline.snapshot(middle), middle)
    tail = timeline.snapshot(end, after=middle)
    assert first.fold is not None
    grown = Snapshot(
        scenario.contact,
        [*first.events, *tail.events],
        [*first.deliveries, *tail.deliveries],
        fold=first.fold,
    )
    again = fold([shop], grown, end)
    direct = fold([shop], timeline.snapshot(end), end)
    assert again.fold is not None
    assert direct.fold is not None
    assert again.fold.counts == direct.fold.counts
    for hours in (0, 5, 24 * 3):
        now = end - FOLD_MARGIN + timedelta(hours=hours)
        assert summary(plan(shop, again, now)) == summary(plan(shop, timeline.snapshot(end), now))


def test_once_and_cooldown_remember_sends_the_fold_left_behind() -> None:
    # A survey asked once, and a tip at most every 30 days, sent two years ago: a fold keeps
    # the latest send of each step, so neither goes out again.
    start = datetime(2023, 1, 2, 12, tzinfo=timezone.utc)
    shop = Cadence(
        "tips",
        channels=[Channel("email")],
        steps=[
            Step("survey", trigger=on_event("login"), channels=["email"], repeat="once"),
            Step("tip", trigger=on_event("login"), channels=["email"], cooldown="30d"),
        ],
    )
    customer = Contact(
        CONTACT_ID, addresses={"email": "ana@example.com"}, consents={"email"}, created_at=start
    )
    logins = tuple(
        Event(CONTACT_ID, "login", start + timedelta(days=d), id=f"l{d}") for d in range(3)
    )
    scenario = Scenario(shop, customer, logins, start, start + timedelta(days=10))
    end = start + timedelta(days=730)
    timeline = drive(scenario, shop, end)
    whole = timeline.snapshot(end)
    folded = fold([shop], whole, end)
    assert folded.fold is not None
    assert [d.step for d in folded.deliveries] == ["survey", "tip"]  # the latest of each
    login = Event(CONTACT_ID, "login", end, id="back")
    for snapshot in (whole, folded):
        again = attrs.evolve(snapshot, events=(*snapshot.events, login))
        result = plan(shop, again, end)
        assert [a.step for a in result.due] == ["tip"]  # the survey was asked already
        assert [o.reason.value for o in result.closed if o.reason] == ["repeat_once"]
