"""Stateful testing with drifting clocks, several workers, crashes and hostile providers.

Hypothesis drives random interleavings of: contacts (consent, addresses), events stamped by
an application whose clock runs ahead of or behind real time, consent changes, the clock
advancing, ticks of two workers whose clocks disagree with real time and with each other (up
to an hour, either way; one may step back), workers that die after sending and before
recording (their claims expire and are taken over), and providers that refuse, fail, reply
with NUL bytes or personal data, or raise exceptions whose text cannot be read.

It checks, after every step, what docs/guarantees.md promises under clock skew:

- nothing reaches a provider without the consent stored at that moment, nor without an
  address;
- the frequency cap holds on the recorded instants: no two marketing deliveries of a contact
  recorded less than the cap's window apart, whichever worker (and clock) recorded them;
- each occurrence reaches people at most once: once per provider (providers deduplicate by
  idempotency key) and never on two channels;
- what is recorded sent was accepted by a provider; no stored text holds a NUL byte or the
  contact's address;

and at the end (``teardown``: real time runs days ahead, both workers tick at every wake-up
with every provider working), that nothing was lost: every order placed by a contact with
an address was confirmed, each cart reminder is recorded with a status, and every claim is
closed.

The same machine runs again on SQLite (`HostileRowsMachine`), where rows are also written
around the repository, unreadable (a timezone this machine's tzdata lacks, JSON nested 500
levels deep): such a contact is its own recorded error, every other contact is served, and
one the application writes again is served from then on.

The Hypothesis profile sets the number of examples (tests/profiles.py: ``ci`` by default,
``dev`` a tenth, ``deep`` ten times); ``REGUA_RELIABILITY_SCALE`` (default 1) multiplies it.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

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
    RetryPolicy,
    Scheduler,
    Step,
    TemporaryFailure,
    on_event,
)
from regua.repositories.sql import SQLRepository
from tests.profiles import examples
from tests.repositories.raw import nested_object, write_around

# A stateful search of many scheduler runs.
pytestmark = pytest.mark.slow

SCALE = max(1, int(os.environ.get("REGUA_RELIABILITY_SCALE", "1")))
UTC = timezone.utc
START = datetime(2026, 6, 1, 12, tzinfo=UTC)
LEASE = timedelta(minutes=5)
CAP = FrequencyCap(max=1, per="1d")
CAP_WINDOW = timedelta(days=1)
WORKERS = ("a", "b")
SKEWS = [timedelta(0), timedelta(seconds=1), -timedelta(seconds=1), timedelta(minutes=10)]
SKEWS += [-timedelta(minutes=10), timedelta(hours=1), -timedelta(hours=1)]

CADENCE = Cadence(
    "skew",
    channels=[Channel("email"), Channel("sms")],
    policy=Policy(caps=[CAP]),
    timezone="UTC",
    steps=[
        Step(
            "confirm",
            trigger=on_event("order_placed"),
            channels=["email", "sms"],
            transactional=True,
        ),
        Step(
            "reminder",
            trigger=on_event("cart_abandoned"),
            delay="1h",
            channels=["email", "sms"],
            cancel_on=["order_placed"],
        ),
        Step(
            "promo",
            trigger=on_event("browsed"),
            channels=["email"],
            expires_after="3d",
        ),
    ],
)
MARKETING = {"reminder", "promo"}
OUTCOMES = ("accept", "temporary", "permanent", "nul", "personal", "unprintable")


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken")


class Died(Exception):
    """The worker process died here: nothing after this point of its tick happened."""


class Watched:
    """Watches a repository: what is claimed; `doomed` makes the next `record` die first."""

    doomed = False
    claimed: set[str]

    def claim(self, actions, worker, now, lease):  # type: ignore[no-untyped-def]
        self.claimed.update(a.occurrence_key for a in actions)
        return super().claim(actions, worker, now, lease)  # type: ignore[misc]

    def record(self, deliveries: Sequence[Delivery]) -> None:
        if self.doomed and any(d.status is DeliveryStatus.SENT for d in deliveries):
            self.doomed = False
            raise Died("killed before recording")
        super().record(deliveries)  # type: ignore[misc]

    def outcomes(self, readable: Iterable[str]) -> dict[str, Delivery]:
        """The recorded outcomes of these contacts, by occurrence key."""
        return {
            item.occurrence_key: item
            for contact_id in readable
            for item in self.history(contact_id)  # type: ignore[attr-defined]
            if isinstance(item, Delivery)
        }


class MemoryStore(Watched, InMemoryRepository):
    def __init__(self) -> None:
        super().__init__()
        self.claimed = set()


class SQLiteStore(Watched, SQLRepository):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.claimed = set()


class Provider:
    """A channel's provider: deduplicates by idempotency key, follows the machine's script."""

    def __init__(self, machine: SkewMachine, channel: str) -> None:
        self.machine, self.channel = machine, channel
        self.accepted: set[str] = set()

    def send(self, message: Message) -> str | None:
        m = self.machine
        m.check_at_send(message)
        if message.idempotency_key in self.accepted:  # a retry of what it already has
            return f"{self.channel}-{message.idempotency_key}"
        outcome = m.script.pop(0) if m.script else "accept"
        if outcome == "temporary":
            raise TemporaryFailure("503 from the gateway")
        if outcome == "permanent":
            raise PermanentFailure("550 mailbox unavailable")
        if outcome == "nul":
            raise PermanentFailure("550\x00 rejected")
        if outcome == "personal":
            raise PermanentFailure(f"550 <{message.address}>: no such user")
        if outcome == "unprintable":
            raise Unprintable()
        self.accepted.add(message.idempotency_key)
        m.delivered.setdefault(message.occurrence_key, set()).add(self.channel)
        return f"{self.channel}-{message.idempotency_key}"


class SkewMachine(RuleBasedStateMachine):
    contacts = Bundle("contacts")

    def __init__(self) -> None:
        super().__init__()
        self.repository = self.store()
        self.unreadable: set[str] = set()  # contacts whose stored row cannot be read
        self.now = START  # real time
        self.app_skew = timedelta(0)
        self.skews = dict.fromkeys(WORKERS, timedelta(0))
        self.script: list[str] = []
        self.violations: list[str] = []
        self.delivered: dict[str, set[str]] = {}  # occurrence key -> channels it reached
        self.orders: list[tuple[str, str]] = []  # (contact, occurrence key) of each order
        self.events = 0
        providers = {c: Provider(self, c) for c in ("email", "sms")}
        self.schedulers = {
            w: Scheduler(
                CADENCE,
                repository=self.repository,
                senders=providers,
                worker=w,
                batch_size=2,
                lease=LEASE,
                retry=RetryPolicy(max_attempts=2, initial=timedelta(minutes=1)),
                send_timeout=None,
            )
            for w in WORKERS
        }

    def store(self) -> Watched:
        return MemoryStore()

    def readable(self) -> list[str]:
        return [c for c in self.repository.contact_ids() if c not in self.unreadable]  # type: ignore[attr-defined]

    # --- checked inside send() ---------------------------------------------------------------

    def check_at_send(self, message: Message) -> None:
        stored = self.repository.get_contact(message.contact.id)
        where = f"{message.occurrence_key} on {message.channel}"
        if stored is None or not message.address:
            self.violations.append(f"{where}: no contact or no address")
            return
        if message.step in MARKETING and message.channel not in stored.consents:
            self.violations.append(f"{where}: no consent (consents {sorted(stored.consents)})")

    # --- rules ---------------------------------------------------------------------------------

    @initialize(target=contacts)
    def first_contact(self) -> str:
        return self._add(frozenset({"email", "sms"}), frozenset({"email", "sms"}))

    @rule(
        target=contacts,
        consents=st.frozensets(st.sampled_from(["email", "sms"])),
        reachable=st.frozensets(st.sampled_from(["email", "sms"])),
    )
    def add_contact(self, consents: frozenset[str], reachable: frozenset[str]) -> str:
        return self._add(consents, reachable)

    def _add(self, consents: frozenset[str], reachable: frozenset[str]) -> str:
        contact_id = f"c{len(self.repository.contact_ids())}"
        addresses = {"email": f"{contact_id}@example.com", "sms": f"+5511{len(contact_id):08d}"}
        self.repository.upsert_contact(
            Contact(
                contact_id,
                consents=consents,
                addresses={c: addresses[c] for c in reachable},
                created_at=self.now - timedelta(days=1),
            )
        )
        return contact_id

    @rule(skew=st.sampled_from(SKEWS[:5]))
    def application_clock(self, skew: timedelta) -> None:
        self.app_skew = skew

    @rule(worker=st.sampled_from(WORKERS), skew=st.sampled_from(SKEWS))
    def worker_clock(self, worker: str, skew: timedelta) -> None:
        # A worker's clock drifts, or steps (back, too) when NTP corrects it.
        self.skews[worker] = skew

    @rule(contact=contacts, name=st.sampled_from(["order_placed", "cart_abandoned", "browsed"]))
    def emit(self, contact: str, name: str) -> None:
        self.events += 1
        event_id = f"e{self.events}"
        at = self.now + self.app_skew  # stamped by the application's clock
        self.repository.record_event(Event(contact, name, at, id=event_id))
        if name == "order_placed":
            self.orders.append((contact, f"skew:confirm:{contact}:event={event_id}"))

    @rule(contact=contacts, first=st.sampled_from(WORKERS))
    def browse_twice(self, contact: str, first: str) -> None:
        # Two promotions due for one contact, each picked up by another worker: with their
        # clocks apart, each sees the other's delivery ahead of or behind its own now.
        second = "b" if first == "a" else "a"
        for worker in (first, second):
            self.emit(contact, "browsed")
            self.tick(worker, dies=False)

    @rule(contact=contacts, channel=st.sampled_from(["email", "sms"]), granted=st.booleans())
    def set_consent(self, contact: str, channel: str, granted: bool) -> None:
        self.repository.set_consent(contact, channel, granted)

    @rule(outcomes=st.lists(st.sampled_from(OUTCOMES), min_size=1, max_size=4))
    def script_providers(self, outcomes: list[str]) -> None:
        self.script.extend(outcomes)

    @rule(minutes=st.sampled_from([0, 1, 5, 30, 61, 6 * 60, 25 * 60]))
    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(worker=st.sampled_from(WORKERS), dies=st.booleans())
    def tick(self, worker: str, dies: bool) -> None:
        self.repository.doomed = dies
        try:
            self.schedulers[worker].tick(self.now + self.skews[worker])
        except Died:
            pass  # its claims expire after the lease and are taken over
        finally:
            self.repository.doomed = False

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def nothing_forbidden_was_sent(self) -> None:
        assert not self.violations, "\n".join(self.violations)

    @invariant()
    def reaches_people_at_most_once(self) -> None:
        doubled = {k: c for k, c in self.delivered.items() if len(c) > 1}
        assert not doubled, f"delivered on two channels: {doubled}"

    @invariant()
    def the_cap_holds_on_recorded_instants(self) -> None:
        sent: dict[str, list[datetime]] = {}
        for delivery in self.repository.outcomes(self.readable()).values():
            if delivery.step in MARKETING and delivery.status is DeliveryStatus.SENT:
                sent.setdefault(delivery.contact_id, []).append(delivery.at)
        for contact_id, instants in sent.items():
            instants.sort()
            close = [(a, b) for a, b in itertools.pairwise(instants) if b - a < CAP_WINDOW]
            assert not close, f"{contact_id}: two marketing messages within the cap: {close}"

    @invariant()
    def records_are_true_and_clean(self) -> None:
        for key, delivery in self.repository.outcomes(self.readable()).items():
            if delivery.status is DeliveryStatus.SENT:
                assert delivery.channel in self.delivered.get(key, set()), delivery
            reason = delivery.reason or ""
            assert "\x00" not in reason, delivery
            assert "@example.com" not in reason, delivery

    def teardown(self) -> None:
        self.script.clear()
        self.skews = dict.fromkeys(WORKERS, timedelta(0))
        end = self.now + timedelta(days=5)
        for n in range(3000):
            wakeup = self.repository.next_wakeup()
            if wakeup is None or wakeup > end:
                break
            self.now = max(self.now, wakeup)
            self.tick(WORKERS[n % 2], dies=False)
        self.now = end
        self.tick("a", dies=False)
        outcomes = self.repository.outcomes(self.readable())
        addresses = {}
        for contact_id in self.readable():
            stored = self.repository.get_contact(contact_id)  # type: ignore[attr-defined]
            assert stored is not None
            addresses[contact_id] = stored.addresses
        for contact_id, key in self.orders:
            if addresses.get(contact_id):  # an unreadable contact gets nothing: by design
                assert key in outcomes, f"order {key} was never confirmed (lost)"
                assert outcomes[key].status is DeliveryStatus.SENT or (
                    outcomes[key].status is DeliveryStatus.FAILED and outcomes[key].reason
                ), outcomes[key]
        open_claims = sorted(
            k for k in self.repository.claimed - set(outcomes) if _contact_of(k) in addresses
        )
        assert not open_claims, f"claimed, never closed: {open_claims}"
        self.nothing_forbidden_was_sent()
        self.reaches_people_at_most_once()
        self.the_cap_holds_on_recorded_instants()
        self.records_are_true_and_clean()


class HostileRowsMachine(SkewMachine):
    """The same on SQLite, where the application (or another program) writes rows regua
    cannot read: a timezone this machine's tzdata lacks, JSON nested 500 levels deep. Such
    a contact is its own recorded error; every other contact is served as before, and a
    contact the application rewrites is served again."""

    def store(self) -> Watched:
        self._directory = tempfile.TemporaryDirectory()
        return SQLiteStore(f"sqlite:///{self._directory.name}/regua.db")

    @rule(contact=SkewMachine.contacts, how=st.sampled_from(["timezone", "deep"]))
    def corrupt(self, contact: str, how: str) -> None:
        assert isinstance(self.repository, SQLRepository)
        if how == "timezone":
            write_around(self.repository, "contacts", "timezone", "Mars/Olympus", contact)
        else:
            deep = nested_object(500)
            write_around(self.repository, "contacts", "attributes", deep, contact, json=True)
        self.unreadable.add(contact)
        self.emit(contact, "order_placed")  # due now: the next tick meets the row

    @rule(contact=SkewMachine.contacts)
    def rewrite(self, contact: str) -> None:
        # The application writes the contact again, readable: it is served from then on.
        if contact not in self.unreadable:
            return
        self.repository.upsert_contact(  # type: ignore[attr-defined]
            Contact(contact, consents={"email"}, addresses={"email": f"{contact}@example.com"})
        )
        self.unreadable.discard(contact)

    def teardown(self) -> None:
        try:
            super().teardown()
            errors = {e.contact_id for e in self.repository.errors()}  # type: ignore[attr-defined]
            missing = self.unreadable - errors
            assert not missing, f"unreadable, yet no error recorded: {sorted(missing)}"
        finally:
            self.repository.close()  # type: ignore[attr-defined]
            self._directory.cleanup()


def _contact_of(key: str) -> str:
    return key.split(":")[2]


SkewMachine.TestCase.settings = settings(
    max_examples=examples(60 * SCALE),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestSkew = SkewMachine.TestCase

HostileRowsMachine.TestCase.settings = settings(
    max_examples=examples(25 * SCALE),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestHostileRows = HostileRowsMachine.TestCase
