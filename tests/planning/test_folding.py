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
    DeliveryStatus,
    Event,
    Plan,
    Snapshot,
    Step,
    event_count,
    on_date,
    on_event,
    opened,
    plan,
)
from regua.errors import FoldTooShallow
from regua.folding import FOLD_MARGIN, fold
from regua.loading import load_cadences
from regua.records import OPENED, Contact
from tests.planning.helpers import sent_as_planned
from tests.planning.strategies import CONTACT_ID, EVENT_NAMES, Scenario, scenarios
from tests.profiles import examples


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
    try:
        folded = fold([cad], timeline.snapshot(fold_at), fold_at)
    except FoldTooShallow:  # engagement triggers: planned from whole histories
        assert any(getattr(step.trigger, "of_step", None) for step in cad.steps)
        event("refused to fold")
        return
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


@pytest.mark.slow
@settings(max_examples=examples(150), deadline=None)
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


@pytest.mark.slow
@settings(max_examples=examples(100), deadline=None)
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
    try:
        folded = fold([scenario.cadence], timeline.snapshot(fold_at), fold_at)
    except FoldTooShallow:  # engagement triggers: planned from whole histories
        assert any(getattr(step.trigger, "of_step", None) for step in scenario.cadence.steps)
        event("refused to fold")
        return
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


# --- cases that once planned differently from the whole history --------------------------------

F = datetime(2026, 6, 1, tzinfo=timezone.utc)
EMAIL_ONLY = [Channel("email")]


def _reachable(contact_id: str = CONTACT_ID, **attributes: object) -> Contact:
    return Contact(
        contact_id,
        attributes=attributes,
        consents={"email"},
        addresses={"email": "ana@example.com"},
        created_at=datetime(2023, 1, 1, tzinfo=timezone.utc),
    )


def _same_or_refused(cad: Cadence, whole: Snapshot, folded: Snapshot, now: datetime) -> None:
    try:
        answer = plan(cad, folded, now)
    except FoldTooShallow:
        return
    assert summary(answer) == summary(plan(cad, whole, now))


def test_an_open_of_a_folded_send_arriving_later_is_not_missed() -> None:
    cad = Cadence(
        "c",
        channels=EMAIL_ONLY,
        steps=[
            Step("newsletter", trigger=on_event("issue"), channels=["email"]),
            Step(
                "reminder", trigger=on_event("ping"), when=opened("newsletter"), channels=["email"]
            ),
        ],
    )
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    issues = tuple(
        Event(CONTACT_ID, "issue", start + timedelta(weeks=i), id=f"i{i}") for i in range(20)
    )
    scenario = Scenario(cad, _reachable(), issues, start, F)
    timeline = drive(scenario, cad, F)
    whole = timeline.snapshot(F)
    folded = fold([cad], whole, F)
    old_send = whole.deliveries[0].occurrence_key
    assert old_send not in {d.occurrence_key for d in folded.deliveries}
    late = [
        Event(CONTACT_ID, OPENED, F + timedelta(hours=1), ref=old_send, id="o1"),
        Event(CONTACT_ID, "ping", F + timedelta(hours=2), id="p1"),
    ]
    now = F + timedelta(hours=3)
    after = attrs.evolve(folded, events=(*folded.events, *late))
    with pytest.raises(FoldTooShallow, match="of a send the fold left out"):
        plan(cad, after, now)
    assert [
        a.step for a in plan(cad, attrs.evolve(whole, events=(*whole.events, *late)), now).due
    ] == ["reminder"]


def test_a_date_attribute_edited_after_the_fold_is_planned_as_the_whole_history() -> None:
    cad = Cadence(
        "c",
        channels=EMAIL_ONLY,
        steps=[Step("birthday", trigger=on_date("birth_date", every="year"), channels=["email"])],
    )
    ana = _reachable(birth_date="1990-03-10")
    deliveries = [
        Delivery("c", "birthday", CONTACT_ID, f"c:birthday:{CONTACT_ID}:year={year}", status, at)
        for year, status, at in (
            (2024, DeliveryStatus.SENT, datetime(2024, 3, 10, 3, tzinfo=timezone.utc)),
            (2025, DeliveryStatus.SKIPPED, datetime(2025, 3, 10, 3, tzinfo=timezone.utc)),
            (2026, DeliveryStatus.SENT, datetime(2026, 3, 10, 3, tzinfo=timezone.utc)),
        )
    ]
    whole = Snapshot(ana, (), deliveries)
    folded = fold([cad], whole, F)
    # The birth date is corrected: last November's birthday is one the whole history closed.
    corrected = attrs.evolve(ana, attributes={"birth_date": "1990-11-20"})
    now = F + timedelta(days=1)
    _same_or_refused(
        cad, attrs.evolve(whole, contact=corrected), attrs.evolve(folded, contact=corrected), now
    )
    assert plan(cad, attrs.evolve(folded, contact=corrected), now).due == ()


def test_outcomes_recorded_under_keys_from_before_escaping_are_kept() -> None:
    cad = Cadence(
        "c",
        channels=EMAIL_ONLY,
        steps=[
            Step("review", trigger=on_event("delivered"), channels=["email"]),
            Step(
                "loyal",
                trigger=on_event("x"),
                when=event_count("delivered", within="365d") >= 1,
                channels=["email"],
            ),
        ],
    )
    contact_id = "shop:42"  # a ":" that today's keys escape
    events = [
        Event(
            contact_id, "delivered", datetime(2026, month, 10, tzinfo=timezone.utc), id=f"d{month}"
        )
        for month in (1, 2)
    ]
    legacy = [
        Delivery(
            "c",
            "review",
            contact_id,
            f"c:review:{contact_id}:event={e.id}",
            DeliveryStatus.SENT,
            e.at,
        )
        for e in events
    ]
    whole = Snapshot(_reachable(contact_id), events, legacy)
    folded = fold([cad], whole, F)
    now = F + timedelta(hours=1)
    assert plan(cad, whole, now).due == ()
    assert summary(plan(cad, folded, now)) == summary(plan(cad, whole, now))


def test_the_assignment_is_the_first_variant_still_declared() -> None:
    cad = Cadence(
        "c",
        channels=EMAIL_ONLY,
        steps=[
            Step("promo", trigger=on_event("x"), variants={"a": 50, "c": 50}, channels=["email"])
        ],
    )
    start = datetime(2025, 2, 1, tzinfo=timezone.utc)
    events = [Event(CONTACT_ID, "x", start + timedelta(days=28 * i), id=f"e{i}") for i in range(2)]
    recorded = [
        # "b" is no longer declared: the assignment is "a", from the failed delivery after it.
        Delivery(
            "c",
            "promo",
            CONTACT_ID,
            f"c:promo:{CONTACT_ID}:event=e0",
            DeliveryStatus.SENT,
            events[0].at,
            channel="email",
            variant="b",
        ),
        Delivery(
            "c",
            "promo",
            CONTACT_ID,
            f"c:promo:{CONTACT_ID}:event=e1",
            DeliveryStatus.FAILED,
            events[1].at,
            channel="email",
            variant="a",
        ),
    ]
    whole = Snapshot(_reachable(), events, recorded)
    folded = fold([cad], whole, F)
    later = Event(CONTACT_ID, "x", F + timedelta(hours=1), id="e9")
    now = F + timedelta(hours=2)
    full = plan(cad, attrs.evolve(whole, events=(*events, later)), now)
    again = plan(cad, attrs.evolve(folded, events=(*folded.events, later)), now)
    assert [a.variant for a in full.due] == [a.variant for a in again.due] == ["a"]
