"""Fault injection at scale: nothing lost, nothing doubled at a deduplicating provider.

A run of at least 10,000 occurrences (in memory; smaller on SQLite and PostgreSQL unless
``REGUA_RELIABILITY_SCALE`` says otherwise) with:

- senders that fail on 20% of calls (seeded): temporary failures, permanent failures, "hangs"
  (a timeout reported as a temporary failure with ``retry_after``) and unexpected exceptions;
- a repository that raises on some writes: ``record`` (before or after the write reached the
  store, like a commit whose acknowledgement is lost), ``defer``, ``claim`` and
  ``set_wakeups``. The tick fails for that batch; the next ticks must recover.

The figures (occurrences, faults injected, sends, duplicates without deduplication, effective
duplicates with it, losses) are printed (``pytest -s``) and asserted.

Also: downtime over an hourly schedule gives exactly the coalesced firing, and what is past
its expiry is recorded as expired.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    Event,
    InMemoryRepository,
    Message,
    PermanentFailure,
    RetryPolicy,
    Scheduler,
    Step,
    TemporaryFailure,
    on_event,
    on_schedule,
)
from regua.records import idempotency_key
from regua.testing import Simulation

# Ten thousand occurrences per run, through failing senders and stores.
pytestmark = pytest.mark.slow

SCALE = max(1, int(os.environ.get("REGUA_RELIABILITY_SCALE", "1")))
UTC = timezone.utc
T0 = datetime(2026, 5, 4, 15, tzinfo=UTC)
LEASE = timedelta(minutes=5)
STEP = timedelta(minutes=1)  # the virtual time between two ticks

CADENCE = Cadence(
    "shop",
    channels=[Channel("email", cost=0.001), Channel("sms", cost=0.05)],
    steps=[
        Step(
            "confirm",
            trigger=on_event("order_placed"),
            channels=["email", "sms"],
            transactional=True,
        ),
        Step(
            "shipped",
            trigger=on_event("order_shipped"),
            channels=["sms", "email"],
            transactional=True,
        ),
    ],
)


class DatabaseWentAway(ConnectionError):
    """What a repository raises when its database connection drops mid-write."""


@attrs.define
class Figures:
    occurrences: int = 0
    sender_calls: int = 0
    sender_faults: Counter[str] = attrs.field(factory=Counter)
    repository_faults: Counter[str] = attrs.field(factory=Counter)
    failed_ticks: int = 0
    ticks: int = 0
    accepts: Counter[str] = attrs.field(factory=Counter)  # occurrence key -> raw accepts
    # (channel, idempotency key) pairs a deduplicating provider delivered, per occurrence.
    delivered: dict[str, set[tuple[str, str]]] = attrs.field(factory=dict)
    # Occurrences a provider accepted that are not recorded as sent (status recorded instead).
    accepted_not_recorded_sent: dict[str, Delivery] = attrs.field(factory=dict)

    @property
    def faults(self) -> int:
        return sum(self.sender_faults.values()) + sum(self.repository_faults.values())

    @property
    def duplicates_without_dedup(self) -> int:
        return sum(n - 1 for n in self.accepts.values() if n > 1)

    @property
    def effective_duplicates(self) -> int:
        return sum(len(pairs) - 1 for pairs in self.delivered.values() if len(pairs) > 1)

    @property
    def cross_channel_duplicates(self) -> int:
        return sum(
            1 for pairs in self.delivered.values() if len({channel for channel, _ in pairs}) > 1
        )


class FaultySender:
    """A provider on one channel: fails 20% of calls (seeded), deduplicates by idempotency key."""

    def __init__(self, channel: str, rng: random.Random, figures: Figures) -> None:
        self.channel = channel
        self.rng = rng
        self.figures = figures
        self.seen: set[str] = set()

    def send(self, message: Message) -> str | None:
        f = self.figures
        f.sender_calls += 1
        assert message.idempotency_key == idempotency_key(message.occurrence_key)
        roll = self.rng.random()
        if roll < 0.08:
            f.sender_faults["temporary"] += 1
            raise TemporaryFailure("503 Service Unavailable")
        # A provider that deduplicates answers a key it already accepted with that earlier
        # success, never with "this will never work": a permanent refusal is for new keys.
        if roll < 0.12 and message.idempotency_key not in self.seen:
            f.sender_faults["permanent"] += 1
            raise PermanentFailure("550 no such mailbox")
        if roll < 0.16:
            f.sender_faults["hang"] += 1
            raise TemporaryFailure("timed out after 30s", retry_after=timedelta(minutes=2))
        if roll < 0.20:
            f.sender_faults["unexpected"] += 1
            raise RuntimeError("KeyError in the provider's SDK")
        # Accepted: without deduplication the customer would get every one of these.
        f.accepts[message.occurrence_key] += 1
        if message.idempotency_key not in self.seen:  # the provider deduplicates
            self.seen.add(message.idempotency_key)
            f.delivered.setdefault(message.occurrence_key, set()).add(
                (self.channel, message.idempotency_key)
            )
        return f"{self.channel}:{message.idempotency_key}"


class FlakyRepository:
    """Delegates to a real repository; some writes raise (before or after reaching it)."""

    RATES = {"record": 0.10, "defer": 0.10, "claim": 0.05, "set_wakeups": 0.05}

    def __init__(self, inner: Any, rng: random.Random, figures: Figures) -> None:
        self.inner = inner
        self.rng = rng
        self.figures = figures
        self.armed = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _maybe_fail(self, name: str, call: Any, *args: Any) -> Any:
        rate = self.RATES[name] if self.armed else 0.0
        roll = self.rng.random()
        if roll < rate / 2:
            self.figures.repository_faults[f"{name} (lost)"] += 1
            raise DatabaseWentAway(f"{name}: connection reset before commit")
        result = call(*args)
        if roll < rate:
            # The write committed, but the acknowledgement was lost: the caller sees an error.
            self.figures.repository_faults[f"{name} (ack lost)"] += 1
            raise DatabaseWentAway(f"{name}: connection reset after commit")
        return result

    def record(self, deliveries: Sequence[Delivery]) -> None:
        self._maybe_fail("record", self.inner.record, deliveries)

    def defer(self, claims: Sequence[Any]) -> None:
        self._maybe_fail("defer", self.inner.defer, claims)

    def claim(self, actions: Sequence[Any], worker: str, now: datetime, lease: timedelta) -> Any:
        return self._maybe_fail("claim", self.inner.claim, actions, worker, now, lease)

    def set_wakeups(self, wakeups: Sequence[Any]) -> None:
        self._maybe_fail("set_wakeups", self.inner.set_wakeups, wakeups)


def _load(repository: Any, occurrences: int) -> set[str]:
    """Contacts with 5 orders/shipments each: one occurrence per event. Returns the keys."""
    keys: set[str] = set()
    per_contact = 5
    contacts = occurrences // per_contact
    for c in range(contacts):
        contact_id = f"c{c}"
        repository.upsert_contact(
            Contact(
                contact_id,
                addresses={"email": f"{contact_id}@example.com", "sms": f"+5511{c:09d}"},
                created_at=T0 - timedelta(days=1),
            )
        )
        for n in range(per_contact):
            name = "order_placed" if n % 2 == 0 else "order_shipped"
            step = "confirm" if name == "order_placed" else "shipped"
            event_id = f"{contact_id}-e{n}"
            repository.record_event(Event(contact_id, name, T0 - timedelta(minutes=n), id=event_id))
            keys.add(f"shop:{step}:{contact_id}:event={event_id}")
    return keys


def _recorded(repository: Any, keys: set[str]) -> dict[str, Delivery]:
    found: dict[str, Delivery] = {}
    for contact_id in {key.split(":")[2] for key in keys}:
        for item in repository.history(contact_id):
            if isinstance(item, Delivery):
                found[item.occurrence_key] = item
    return found


def run_with_faults(inner: Any, occurrences: int, seed: int) -> Figures:
    figures = Figures()
    keys = _load(inner, occurrences)
    figures.occurrences = len(keys)
    rng = random.Random(seed)
    repository = FlakyRepository(inner, rng, figures)
    senders = {c: FaultySender(c, rng, figures) for c in ("email", "sms")}
    scheduler = Scheduler(
        CADENCE,
        repository=repository,  # type: ignore[arg-type]
        senders=senders,
        worker="faulty",
        batch_size=50,  # many batches, so many repository calls to fail
        lease=LEASE,
        retry=RetryPolicy(
            max_attempts=4, initial=timedelta(seconds=30), max_delay=timedelta(minutes=5)
        ),
    )
    now = T0
    idle = 0
    for _ in range(5000):
        figures.ticks += 1
        try:
            report = scheduler.tick(now)
        except DatabaseWentAway:
            figures.failed_ticks += 1
            idle = 0
        else:
            assert not report.errors, report.errors
            wakeup = inner.next_wakeup()
            # Done when nothing is due and no lease or retry is pending any more.
            idle = idle + 1 if wakeup is None else 0
            if idle >= 2:
                break
        now += STEP
    else:  # pragma: no cover - a run that never settles
        pytest.fail(f"the run did not settle after {figures.ticks} ticks")

    recorded = _recorded(inner, keys)
    lost = keys - set(recorded)
    status = Counter(d.status.value for d in recorded.values())
    sent = {k for k, d in recorded.items() if d.status is DeliveryStatus.SENT}
    accepted_not_sent = {k: recorded[k] for k in set(figures.accepts) - sent}
    print(
        f"\n[reliability] repository={type(inner).__name__} seed={seed}\n"
        f"  occurrences:                      {figures.occurrences}\n"
        f"  ticks (failed):                   {figures.ticks} ({figures.failed_ticks})\n"
        f"  sender calls:                     {figures.sender_calls}\n"
        f"  faults injected:                  {figures.faults}\n"
        f"    at the senders:                 {dict(sorted(figures.sender_faults.items()))}\n"
        f"    at the repository:              {dict(sorted(figures.repository_faults.items()))}\n"
        f"  outcomes recorded:                {dict(sorted(status.items()))}\n"
        f"  duplicates without dedup:         {figures.duplicates_without_dedup}\n"
        f"  effective duplicates with dedup:  {figures.effective_duplicates}"
        f" (of which across channels: {figures.cross_channel_duplicates})\n"
        f"  accepted, then recorded failed:   {len(accepted_not_sent)}"
        " (outcome lost, same channel kept failing; reason says: may have been delivered)\n"
        f"  losses:                           {len(lost)}"
    )
    # Nothing lost: every occurrence is recorded, failed ones with a reason.
    assert not lost, f"{len(lost)} occurrences never recorded, e.g. {sorted(lost)[:5]}"
    for delivery in recorded.values():
        assert delivery.status in (DeliveryStatus.SENT, DeliveryStatus.FAILED), delivery
        if delivery.status is DeliveryStatus.FAILED:
            assert delivery.reason, delivery
    # What is recorded sent was accepted by a provider; what a provider accepted is recorded
    # sent (a later failure on another channel must not overwrite the first outcome).
    assert sent <= set(figures.accepts)
    figures.accepted_not_recorded_sent = accepted_not_sent
    # Faults were really injected, at the advertised rate.
    assert 0.15 < sum(figures.sender_faults.values()) / figures.sender_calls < 0.25
    assert figures.failed_ticks > 0
    return figures


def _assert_no_effective_duplicates(figures: Figures) -> None:
    # Each provider sees each idempotency key at most once after dedup, by construction;
    # the real question is whether one occurrence reached the customer through two providers.
    assert figures.effective_duplicates == 0, (
        f"{figures.effective_duplicates} effective duplicates "
        f"({figures.cross_channel_duplicates} across channels)"
    )
    # Accepted but not recorded sent: only when the acceptance was never recorded and the
    # same channel then kept failing; the record says the message may have been delivered.
    for delivery in figures.accepted_not_recorded_sent.values():
        assert delivery.status is DeliveryStatus.FAILED, delivery
        assert "may have been delivered" in (delivery.reason or ""), delivery


def test_ten_thousand_occurrences_in_memory() -> None:
    started = time.perf_counter()
    figures = run_with_faults(InMemoryRepository(), 10_000 * SCALE, seed=8)
    print(f"  elapsed:                          {time.perf_counter() - started:.1f}s")
    assert figures.occurrences >= 10_000
    # At-least-once towards the senders: some occurrences were accepted more than once
    # (the ack of a record was lost, or the tick failed after the send).
    assert figures.duplicates_without_dedup > 0
    # Same provider, same key: deduplicated. The same channel never delivers twice.
    same_channel = {
        key: pairs
        for key, pairs in figures.delivered.items()
        if len(pairs) > len({c for c, _ in pairs})
    }
    assert not same_channel


def test_no_effective_duplicate_across_channels() -> None:
    """A provider accepted, the outcome was lost, then that channel kept failing: the
    occurrence taken over is unsettled, so it is never moved to a second provider."""
    figures = run_with_faults(InMemoryRepository(), 10_000 * SCALE, seed=8)
    _assert_no_effective_duplicates(figures)


class _Provider:
    """Deduplicates by idempotency key; the first `fail_permanently` calls are refused."""

    def __init__(self, channel: str, delivered: list[str], fail_permanently: int = 0) -> None:
        self.channel, self.delivered, self.refuse = channel, delivered, fail_permanently
        self.seen: set[str] = set()

    def send(self, message: Message) -> str | None:
        if self.refuse:
            self.refuse -= 1
            raise PermanentFailure("550 mailbox temporarily disabled")
        if message.idempotency_key not in self.seen:
            self.seen.add(message.idempotency_key)
            self.delivered.append(self.channel)
        return None


def test_retaken_claim_resumes_on_the_channel_that_was_tried() -> None:
    """Minimal reproduction: e-mail refuses, SMS accepts, the record is lost; after the lease
    the occurrence is taken over from the e-mail channel again, which now accepts."""
    delivered: list[str] = []
    inner = InMemoryRepository()
    inner.upsert_contact(Contact("ana", addresses={"email": "a@example.com", "sms": "+551"}))
    inner.record_event(Event("ana", "order_placed", T0, id="o1"))

    class LoseFirstRecord(FlakyRepository):
        def record(self, deliveries: Sequence[Delivery]) -> None:
            if self.armed:
                self.armed = False
                raise DatabaseWentAway("record: connection reset before commit")
            self.inner.record(deliveries)

    repository = LoseFirstRecord(inner, random.Random(0), Figures())
    scheduler = Scheduler(
        CADENCE,
        repository=repository,  # type: ignore[arg-type]
        senders={
            "email": _Provider("email", delivered, fail_permanently=1),
            "sms": _Provider("sms", delivered),
        },
        lease=LEASE,
    )
    with pytest.raises(DatabaseWentAway):
        scheduler.tick(T0)  # email: 550, sms: accepted, record: lost
    scheduler.tick(T0 + LEASE + timedelta(seconds=1))  # the claim expired: taken over
    assert delivered == ["sms"], f"the customer got the confirmation on {delivered}"


def test_sqlite_with_faults(sqlite_repository: Any) -> None:
    figures = run_with_faults(sqlite_repository, 1_000 * SCALE, seed=11)
    assert figures.occurrences >= 1_000


def test_postgres_with_faults(postgres_repository: Any) -> None:
    figures = run_with_faults(postgres_repository, 1_000 * SCALE, seed=12)
    assert figures.occurrences >= 1_000


# --- downtime and expiry -----------------------------------------------------------------------


def _hourly(expires_after: str) -> Cadence:
    return Cadence(
        "news",
        channels=[Channel("email")],
        timezone="UTC",
        steps=[
            Step(
                "hourly",
                trigger=on_schedule("0 * * * *"),
                channels=["email"],
                expires_after=expires_after,
            )
        ],
    )


def test_downtime_coalesces_missed_hourly_firings() -> None:
    sim = Simulation(_hourly("2h"), start=datetime(2026, 5, 4, 9, 30, tzinfo=UTC))
    sim.add_contact("ana", created_at=datetime(2026, 5, 1, tzinfo=UTC))
    sim.advance("1h")  # 10:00 sent on time
    sim.assert_sent("hourly", to="ana", times=1, at=datetime(2026, 5, 4, 10, tzinfo=UTC))
    sim.downtime("3h")  # 10:30 -> 13:30: 11:00, 12:00 and 13:00 missed
    sent = sim.advance("1m")
    # Exactly one catch-up message: the latest missed firing (13:00), at the restart.
    assert [(s.occurrence_key, s.at) for s in sent] == [
        ("news:hourly:ana:at=20260504T130000Z", datetime(2026, 5, 4, 13, 30, tzinfo=UTC))
    ]
    sim.advance("40m")  # 14:00 on time again
    assert [s.occurrence_key.rpartition("=")[2] for s in sim.sent("hourly")] == [
        "20260504T090000Z",  # at the start: the latest firing since created_at, caught up
        "20260504T100000Z",
        "20260504T130000Z",  # 11:00 and 12:00 coalesced into 13:00: one message, not three
        "20260504T140000Z",
    ]


def test_downtime_past_expiry_is_recorded_expired() -> None:
    sim = Simulation(_hourly("20m"), start=datetime(2026, 5, 4, 9, 30, tzinfo=UTC))
    sim.add_contact("ana", created_at=datetime(2026, 5, 1, tzinfo=UTC))
    sim.advance("1h")
    sim.downtime("3h")  # restart at 13:30: the 13:00 firing expired at 13:20
    assert sim.advance("1m") == []
    closed = {d.occurrence_key: d for d in sim.deliveries("ana")}
    expired = closed["news:hourly:ana:at=20260504T130000Z"]
    assert expired.status is DeliveryStatus.EXPIRED
    assert expired.reason
    sim.advance("40m")
    sim.assert_sent("hourly", to="ana", at=datetime(2026, 5, 4, 14, tzinfo=UTC))
