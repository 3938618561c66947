"""Stateful testing of the scheduler on the in-memory repository, with a faulty sender.

Hypothesis drives random interleavings of: new contacts (random timezone, consents,
addresses), events (new and replayed), consent changes, clock advances, ticks and scripted
sender faults (accept, temporary failure, permanent failure, an unexpected exception, a "hang"
reported as a timeout with ``retry_after``). After every step it checks the promises of
docs/guarantees.md:

- no marketing message reaches a sender without the contact's consent *as stored at that
  moment* (read from the repository inside ``send``), nor without an address;
- no marketing message reaches a sender inside the cadence's quiet hours, in the contact's
  local time;
- no marketing message reaches a sender beyond the frequency cap (rolling window ``(t - 1d, t]``),
  which the two cadences share (``scope="contact"``): it counts the messages of both;
- each occurrence is recorded at most once, and accepted by the senders at most once (there
  is no crash here, so at-least-once never has to resend);
- what senders accepted is exactly what is recorded as sent.

At the end (``teardown``), the clock runs days ahead with a sender that always accepts, and
every occurrence the scheduler ever claimed must be recorded with a status: nothing is
silently dropped.

The Hypothesis profile sets the number of examples (tests/profiles.py: ``ci`` by default,
``dev`` a tenth, ``deep`` ten times); ``REGUA_RELIABILITY_SCALE`` (default 1) multiplies it.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    Event,
    FrequencyCap,
    InMemoryRepository,
    Message,
    PermanentFailure,
    Policy,
    QuietHours,
    RetryPolicy,
    Scheduler,
    Step,
    TemporaryFailure,
    after_step,
    on_event,
    on_schedule,
)
from regua.records import DueAction
from tests.planning.strategies import TIMEZONES
from tests.profiles import examples

# A stateful search of many scheduler runs.
pytestmark = pytest.mark.slow

SCALE = max(1, int(os.environ.get("REGUA_RELIABILITY_SCALE", "1")))
UTC = timezone.utc
START = datetime(2026, 3, 7, 12, tzinfo=UTC)  # New York springs forward on 2026-03-08
QUIET = QuietHours(start=time(21), end=time(8))
CAP = FrequencyCap(max=2, per="1d", scope="contact")
CAP_WINDOW = timedelta(days=1)

CADENCE = Cadence(
    "rel",
    channels=[Channel("email", cost=0.001), Channel("sms", cost=0.05)],
    policy=Policy(quiet_hours=QUIET, caps=[CAP]),
    timezone="America/Sao_Paulo",
    steps=[
        # Transactional: bypasses consent, quiet hours and caps; needs only an address.
        Step(
            "confirm",
            trigger=on_event("order_placed"),
            channels=["email", "sms"],
            transactional=True,
        ),
        # Marketing, cancelled by a purchase, expires.
        Step(
            "reminder",
            trigger=on_event("cart_abandoned"),
            delay="2h",
            channels=["sms", "email"],
            cancel_on=["order_placed"],
            expires_after="1d",
        ),
        # Marketing follower of a transactional step, at a local time of day.
        Step(
            "thanks",
            trigger=after_step("confirm", outcome="sent"),
            delay="1d",
            at=time(10),
            channels=["email"],
            expires_after="2d",
        ),
    ],
)
# A second cadence under the same contact-wide cap: the two send two marketing messages a
# day between them.
NEWS = Cadence(
    "news",
    channels=[Channel("email", cost=0.001), Channel("sms", cost=0.05)],
    policy=Policy(quiet_hours=QUIET, caps=[CAP]),
    timezone="America/Sao_Paulo",
    steps=[
        # Marketing, recurring (coalesced catch-up), short expiry: caps make many expire.
        Step(
            "digest",
            trigger=on_schedule("0 */6 * * *"),
            channels=["email", "sms"],
            expires_after="3h",
        ),
        # Marketing, skipped (not deferred) over the cap.
        Step(
            "survey",
            trigger=on_event("order_delivered"),
            delay="1h",
            channels=["sms", "email"],
            on_cap="skip",
        ),
    ],
)
MARKETING = {s.name for c in (CADENCE, NEWS) for s in c.steps if not s.transactional}
EVENT_NAMES = ("order_placed", "cart_abandoned", "order_delivered", "login")
CHANNELS = ("email", "sms")
OUTCOMES = ("accept", "temporary", "permanent", "unexpected", "hang")


class WatchedRepository(InMemoryRepository):
    """The reference repository, watching what the scheduler claims and records."""

    def __init__(self) -> None:
        super().__init__()
        self.claimed: set[str] = set()
        self.recorded: Counter[str] = Counter()

    def claim(self, actions, worker, now, lease):  # type: ignore[no-untyped-def]
        self.claimed.update(a.occurrence_key for a in actions)
        return super().claim(actions, worker, now, lease)

    def record(self, deliveries):  # type: ignore[no-untyped-def]
        # Count each new outcome the scheduler hands over for a key already closed: with
        # one worker and no crash, the scheduler must never produce a second outcome.
        with self._lock:
            for d in deliveries:
                self.recorded[d.occurrence_key] += 1
        super().record(deliveries)

    def outcomes(self) -> dict[str, Delivery]:
        with self._lock:
            return dict(self._deliveries)


class FaultySender:
    """One provider per channel: follows a script of outcomes, checks every invariant at send.

    It deduplicates by idempotency key like a provider would: ``accepted`` counts the keys it
    accepted (a second accept of a key is a duplicate the customer would not see, but the
    scheduler must not produce it here: there is no crash).
    """

    def __init__(self, machine: SchedulerMachine, channel: str) -> None:
        self.machine = machine
        self.channel = channel

    def send(self, message: Message) -> str | None:
        m = self.machine
        m.calls += 1
        outcome = m.script.pop(0) if m.script else "accept"
        m.check_at_send(message)
        if outcome == "temporary":
            raise TemporaryFailure("503 from the gateway")
        if outcome == "permanent":
            raise PermanentFailure("mailbox does not exist")
        if outcome == "unexpected":
            raise RuntimeError("bug in the sender")
        if outcome == "hang":
            raise TemporaryFailure("timed out after 30s", retry_after=timedelta(minutes=20))
        m.accept(message)
        return f"{self.channel}-{message.idempotency_key}"


class SchedulerMachine(RuleBasedStateMachine):
    contacts = Bundle("contacts")

    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.repository = WatchedRepository()
        self.script: list[str] = []
        self.calls = 0
        self.violations: list[str] = []
        self.accepted: Counter[str] = Counter()  # occurrence key -> accepts
        self.sends: dict[str, list[datetime]] = {}  # contact -> marketing accept instants
        self.event_ids: dict[str, set[tuple[str, str]]] = {}
        self.event_count = 0
        self.scheduler = Scheduler(
            [CADENCE, NEWS],
            repository=self.repository,
            senders={c: FaultySender(self, c) for c in CHANNELS},
            worker="stateful",
            batch_size=3,  # several batches per tick
            lease=timedelta(minutes=5),
            retry=RetryPolicy(
                max_attempts=3, initial=timedelta(minutes=1), max_delay=timedelta(minutes=10)
            ),
        )

    # --- invariants checked inside send() ------------------------------------------------------

    def check_at_send(self, message: Message) -> None:
        stored = self.repository.get_contact(message.contact.id)
        where = f"{message.occurrence_key} on {message.channel} at {self.now.isoformat()}"
        if stored is None:
            self.violations.append(f"{where}: contact unknown")
            return
        if stored.addresses.get(message.channel) != message.address or not message.address:
            self.violations.append(f"{where}: address {message.address!r} is not the stored one")
        if message.step not in MARKETING:
            return
        if message.channel not in stored.consents:
            self.violations.append(f"{where}: no consent (consents {sorted(stored.consents)})")
        tz = ZoneInfo(stored.timezone or CADENCE.timezone)
        local = self.now.astimezone(tz).time()
        if local >= QUIET.start or local < QUIET.end:
            self.violations.append(f"{where}: local time {local} is inside quiet hours")
        recent = [t for t in self.sends.get(stored.id, []) if t > self.now - CAP_WINDOW]
        if len(recent) >= CAP.max:
            self.violations.append(f"{where}: cap exceeded, already sent at {recent}")

    def accept(self, message: Message) -> None:
        self.accepted[message.occurrence_key] += 1
        if message.step in MARKETING:
            self.sends.setdefault(message.contact.id, []).append(self.now)

    # --- rules ---------------------------------------------------------------------------------

    @initialize(target=contacts)
    def first_contact(self) -> str:
        return self._add("c0", None, frozenset(CHANNELS), frozenset(CHANNELS))

    @rule(
        target=contacts,
        tz=st.none() | st.sampled_from(TIMEZONES),
        consents=st.frozensets(st.sampled_from(CHANNELS)),
        reachable=st.frozensets(st.sampled_from(CHANNELS), min_size=1),
    )
    def add_contact(
        self, tz: str | None, consents: frozenset[str], reachable: frozenset[str]
    ) -> str:
        return self._add(f"c{len(self.event_ids)}", tz, consents, reachable)

    def _add(
        self, contact_id: str, tz: str | None, consents: frozenset[str], reachable: frozenset[str]
    ) -> str:
        addresses = {"email": f"{contact_id}@example.com", "sms": "+5511999990000"}
        self.repository.upsert_contact(
            Contact(
                contact_id,
                timezone=tz,
                consents=consents,
                addresses={c: addresses[c] for c in reachable},
                created_at=self.now,
            )
        )
        self.event_ids[contact_id] = set()
        return contact_id

    @rule(
        contact=contacts,
        name=st.sampled_from(EVENT_NAMES),
        late=st.sampled_from([0, 0, 0, 30, 180]),
        replay=st.booleans(),
    )
    def emit(self, contact: str, name: str, late: int, replay: bool) -> None:
        known = self.event_ids[contact]
        if replay and known:
            # An at-least-once event feed replays an event (same name and id): stored once,
            # False the second time.
            name, event_id = sorted(known)[0]
            stored = self.repository.record_event(Event(contact, name, self.now, id=event_id))
            assert stored is False
            return
        self.event_count += 1
        event_id = f"e{self.event_count}"
        at = self.now - timedelta(minutes=late)
        assert self.repository.record_event(Event(contact, name, at, id=event_id)) is True
        known.add((name, event_id))

    @rule(contact=contacts, channel=st.sampled_from(CHANNELS), granted=st.booleans())
    def set_consent(self, contact: str, channel: str, granted: bool) -> None:
        self.repository.set_consent(contact, channel, granted)

    @rule(contact=consumes(contacts), channel=st.sampled_from(CHANNELS))
    def drop_address(self, contact: str, channel: str) -> None:
        # The application changes the contact: one address is gone (the contact stays).
        stored = self.repository.get_contact(contact)
        assert stored is not None
        addresses = {c: a for c, a in stored.addresses.items() if c != channel}
        self.repository.upsert_contact(
            Contact(
                stored.id,
                attributes=stored.attributes,
                timezone=stored.timezone,
                consents=stored.consents,
                preferences=stored.preferences,
                addresses=addresses,
                created_at=stored.created_at,
            )
        )

    @rule(outcomes=st.lists(st.sampled_from(OUTCOMES), min_size=1, max_size=6))
    def script_sender(self, outcomes: list[str]) -> None:
        self.script.extend(outcomes)

    @rule(
        minutes=st.sampled_from([1, 5, 20, 60, 130, 6 * 60, 11 * 60, 24 * 60, 3 * 24 * 60]),
        tick=st.booleans(),
    )
    def advance(self, minutes: int, tick: bool) -> None:
        self.now += timedelta(minutes=minutes)
        if tick:
            self.tick()

    @rule()
    def tick(self) -> None:
        report = self.scheduler.tick(self.now)
        assert not report.errors, report.errors

    @precondition(lambda self: self.repository.next_wakeup() is not None)
    @rule()
    def tick_at_next_wakeup(self) -> None:
        # What a punctual worker does: tick when the earliest wake-up comes.
        wakeup = self.repository.next_wakeup()
        assert wakeup is not None
        self.now = max(self.now, wakeup)
        self.tick()

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def nothing_forbidden_was_sent(self) -> None:
        assert not self.violations, "\n".join(self.violations)

    @invariant()
    def at_most_once(self) -> None:
        twice = {k: n for k, n in self.accepted.items() if n > 1}
        assert not twice, f"accepted more than once: {twice}"
        recorded = {k: n for k, n in self.repository.recorded.items() if n > 1}
        assert not recorded, f"an outcome handed over more than once: {recorded}"

    @invariant()
    def accepted_is_recorded_sent(self) -> None:
        outcomes = self.repository.outcomes()
        sent = {k for k, d in outcomes.items() if d.status is DeliveryStatus.SENT}
        assert sent == set(self.accepted), (
            f"accepted but not recorded sent: {sorted(set(self.accepted) - sent)}; "
            f"recorded sent but never accepted: {sorted(sent - set(self.accepted))}"
        )

    def teardown(self) -> None:
        # The dust settles: the sender works again, the clock runs ahead past every expiry
        # and retry, ticking at every wake-up. Every occurrence ever claimed must be closed.
        self.script.clear()
        claimed_before = set(self.repository.claimed)
        end = self.now + timedelta(days=4)
        for _ in range(2000):
            wakeup = self.repository.next_wakeup()
            if wakeup is None or wakeup > end:
                break
            self.now = max(self.now, wakeup)
            self.tick()
        self.now = end
        self.tick()
        outcomes = self.repository.outcomes()
        open_keys = sorted(claimed_before - set(outcomes))
        assert not open_keys, f"claimed, never closed (silently dropped): {open_keys}"
        for key in claimed_before & set(outcomes):
            assert outcomes[key].status in set(DeliveryStatus)
            if outcomes[key].status is not DeliveryStatus.SENT:
                assert outcomes[key].reason, f"{key} closed without a reason: {outcomes[key]}"
        self.nothing_forbidden_was_sent()
        self.at_most_once()
        self.accepted_is_recorded_sent()


SchedulerMachine.TestCase.settings = settings(
    max_examples=examples(100 * SCALE),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestScheduler = SchedulerMachine.TestCase


def test_claimed_keys_come_from_due_actions() -> None:
    """The watcher sees every claim: a smoke check of the harness itself."""
    machine = SchedulerMachine()
    contact = machine.first_contact()
    machine.emit(contact, "order_placed", 0, False)
    machine.tick()
    assert len(machine.repository.claimed) == 1
    assert sum(machine.accepted.values()) == 1
    machine.teardown()
    assert isinstance(DueAction, type)


class _FailsOnce:
    def __init__(self) -> None:
        self.calls = 0

    def send(self, message: Message) -> str | None:
        self.calls += 1
        if self.calls == 1:
            raise TemporaryFailure("503 from the gateway")
        return None


def test_superseded_recurring_claim_is_closed() -> None:
    """A deferred schedule occurrence overtaken by the next firing is closed, not forgotten.

    The snapshot carries the open claim's key, and the planner rebuilds the occurrence.
    """
    cadence = Cadence(
        "rel",
        channels=[Channel("email")],
        timezone="UTC",
        steps=[
            Step(
                "digest",
                trigger=on_schedule("0 */6 * * *"),
                channels=["email"],
                expires_after="3h",
            )
        ],
    )
    repository = InMemoryRepository()
    scheduler = Scheduler(
        cadence,
        repository=repository,
        senders={"email": _FailsOnce()},
        retry=RetryPolicy(initial=timedelta(minutes=1)),
    )
    t0 = datetime(2026, 3, 9, 18, tzinfo=UTC)
    repository.upsert_contact(
        Contact("c0", consents={"email"}, addresses={"email": "a@example.com"}, created_at=t0)
    )
    assert len(scheduler.tick(t0).deferred) == 1  # 18:00 firing: 503, retry at ~18:01
    scheduler.tick(t0 + timedelta(hours=6))  # next tick at 00:00 (the 18:00 one expired at 21:00)
    scheduler.tick(t0 + timedelta(days=3))
    closed = {
        d.occurrence_key: d.status for d in repository.history("c0") if isinstance(d, Delivery)
    }
    # Expected: recorded expired (past its expiry) or failed, never forgotten.
    assert closed.get("rel:digest:c0:at=20260309T180000Z") in {
        DeliveryStatus.EXPIRED,
        DeliveryStatus.FAILED,
    }, closed
