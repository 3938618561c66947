"""Senders and stores that misbehave: nothing lost, nothing sent twice, nothing stops the rest.

Each test names the failure it reproduces: a NUL byte in a provider's reply, an outcome the
repository refuses, a sender that hangs, a lease that ends while sending, an exception whose
text cannot be read, a `BaseException` out of a sender, a worker that died after claiming,
and an order placed between the planning and the sending of a cart reminder. They run on
the in-memory repository, SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from regua import (
    AsyncScheduler,
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    DueAction,
    Event,
    InMemoryRepository,
    Message,
    PermanentFailure,
    RetryPolicy,
    Scheduler,
    Step,
    on_event,
)
from regua.ports import Claim

UTC = timezone.utc
T0 = datetime(2026, 5, 4, 15, tzinfo=UTC)
LEASE = timedelta(minutes=5)

CONFIRM = Cadence(
    "shop",
    channels=[Channel("email"), Channel("sms")],
    steps=[
        Step(
            "confirm",
            trigger=on_event("order_placed"),
            channels=["email", "sms"],
            transactional=True,
        )
    ],
)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def repository(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh repository of each kind (PostgreSQL's leases on the caller's clock)."""
    if request.param == "memory":
        yield InMemoryRepository()
    else:
        yield request.getfixturevalue(f"{request.param}_repository")


class Provider:
    """One channel's provider: deduplicates by idempotency key, as a real one would.

    `refuse(message)` may return the text of a permanent refusal (for keys it never
    accepted); `calls` counts every call by occurrence key; `delivered` what reached people.
    """

    def __init__(self, channel: str, refuse: Any = None) -> None:
        self.channel = channel
        self.refuse = refuse or (lambda message: None)
        self.calls: Counter[str] = Counter()
        self.accepted: set[str] = set()
        self.delivered: list[str] = []

    def send(self, message: Message) -> str | None:
        self.calls[message.occurrence_key] += 1
        if message.idempotency_key in self.accepted:
            return f"{self.channel}-{message.idempotency_key}"
        refusal = self.refuse(message)
        if refusal is not None:
            raise PermanentFailure(refusal)
        self.accepted.add(message.idempotency_key)
        self.delivered.append(message.contact.id)
        return f"{self.channel}-{message.idempotency_key}"


def _orders(repository: Any, count: int, *, sms: bool = True) -> list[str]:
    ids = []
    for n in range(count):
        contact_id = f"c{n}"
        addresses = {"email": f"{contact_id}@example.com"}
        if sms:
            addresses["sms"] = f"+55119{n:08d}"
        repository.upsert_contact(Contact(contact_id, addresses=addresses))
        repository.record_event(Event(contact_id, "order_placed", T0, id=f"o{n}"))
        ids.append(contact_id)
    return ids


def _statuses(repository: Any, contact_ids: Sequence[str]) -> dict[str, Delivery]:
    found = {}
    for contact_id in contact_ids:
        for item in repository.history(contact_id):
            if isinstance(item, Delivery):
                found[contact_id] = item
    return found


def _tick_until_settled(scheduler: Scheduler, start: datetime, ticks: int = 12) -> None:
    """Tick past every lease and retry, tolerating ticks that fail."""
    now = start
    for _ in range(ticks):
        with contextlib.suppress(Exception):
            scheduler.tick(now)
        now += LEASE + timedelta(seconds=1)


# --- a NUL byte in a provider's reply ----------------------------------------------------------


def test_a_nul_byte_in_a_failure_text_loses_nothing_and_resends_nothing(repository: Any) -> None:
    """PostgreSQL refuses NUL in text: the refusal is stored readable, the chunk recorded once."""
    ids = _orders(repository, 9, sms=False)
    email = Provider("email", refuse=lambda m: "550\x00 rejected" if m.contact.id == "c4" else None)
    scheduler = Scheduler(CONFIRM, repository=repository, senders={"email": email}, lease=LEASE)
    for n in range(3):
        scheduler.tick(T0 + n * (LEASE + timedelta(seconds=1)))
    assert sum(email.calls.values()) == 9, email.calls  # each key once, none again
    statuses = _statuses(repository, ids)
    assert {c: d.status for c, d in statuses.items()} == {
        c: DeliveryStatus.FAILED if c == "c4" else DeliveryStatus.SENT for c in ids
    }
    reason = statuses["c4"].reason or ""
    assert "\x00" not in reason, reason
    assert "rejected" in reason, reason


# --- an outcome the repository refuses ---------------------------------------------------------


class RefusingRecords:
    """A repository that refuses, every time, any record holding one contact's outcome."""

    def __init__(self, inner: Any, poison: str) -> None:
        self.inner, self.poison = inner, poison

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def record(self, deliveries: Sequence[Delivery]) -> None:
        if any(d.contact_id == self.poison for d in deliveries):
            raise ValueError(f"cannot store the outcome of {self.poison}")
        self.inner.record(deliveries)


def test_one_outcome_refused_does_not_lose_the_others(repository: Any) -> None:
    ids = _orders(repository, 6, sms=False)
    email = Provider("email")
    scheduler = Scheduler(
        CONFIRM,
        repository=RefusingRecords(repository, "c2"),  # type: ignore[arg-type]
        senders={"email": email},
        lease=LEASE,
    )
    with pytest.raises(ValueError, match="cannot store the outcome of c2"):
        scheduler.tick(T0)
    recorded = _statuses(repository, ids)
    assert sorted(recorded) == ["c0", "c1", "c3", "c4", "c5"]
    assert all(d.status is DeliveryStatus.SENT for d in recorded.values())
    # Later ticks never send the recorded ones again; c2 is retried (same key) and refused.
    _tick_until_settled(scheduler, T0 + LEASE + timedelta(seconds=1), ticks=3)
    assert {c: n for c, n in email.calls.items() if n > 1} == {"shop:confirm:c2:event=o2": 4}, (
        email.calls
    )
    assert email.delivered.count("c2") == 1  # the provider deduplicated the retries


# --- senders that hang -------------------------------------------------------------------------


class Hanging(Provider):
    """Hangs (until released) on the first call for one contact; a provider otherwise."""

    def __init__(self, channel: str, contact_id: str) -> None:
        super().__init__(channel)
        self.contact_id = contact_id
        self.release = threading.Event()
        self.hung = 0

    def send(self, message: Message) -> str | None:
        if message.contact.id == self.contact_id and not self.hung:
            self.hung += 1
            self.release.wait()  # as long as the test wants: the provider never answers
            raise TimeoutError("the connection was dropped")
        return super().send(message)


@pytest.mark.slow
def test_a_hanging_send_is_abandoned_and_retried_on_its_channel_only(repository: Any) -> None:
    ids = _orders(repository, 5)
    email, sms = Hanging("email", "c1"), Provider("sms")
    scheduler = Scheduler(
        CONFIRM,
        repository=repository,
        senders={"email": email, "sms": sms},
        lease=LEASE,
        # What c1's hung send costs the tick; every other send answers at once, well within
        # it even on a loaded machine.
        send_timeout=timedelta(seconds=2),
        retry=RetryPolicy(max_attempts=2, initial=timedelta(minutes=1)),
    )
    try:
        report = scheduler.tick(T0)
        assert email.hung == 1
        # The tick went on: the others were sent; c1's outcome is unknown, so it waits.
        assert sorted(d.contact_id for d in report.sent) == ["c0", "c2", "c3", "c4"]
        assert [c.contact_id for c in report.deferred] == ["c1"]
        assert report.deferred[0].unsettled
        assert "outcome is unknown" in str(report.deferred[0].last_error)
        _tick_until_settled(scheduler, T0 + timedelta(minutes=10), ticks=3)
    finally:
        email.release.set()
    statuses = _statuses(repository, ids)
    assert {c: (d.status, d.channel) for c, d in statuses.items()} == dict.fromkeys(
        ids, (DeliveryStatus.SENT, "email")
    )
    assert not sms.calls  # never a second channel while the first may have delivered


class Sleepy(Provider):
    """Takes `seconds` for its first send, then answers at once."""

    def __init__(self, channel: str, seconds: float) -> None:
        super().__init__(channel)
        self.seconds = seconds

    def send(self, message: Message) -> str | None:
        if not self.calls:
            time.sleep(self.seconds)
        return super().send(message)


@pytest.mark.slow
def test_no_send_starts_once_the_claims_lease_is_ending(
    repository: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker whose lease ran out while sending stops: another may already hold its claims."""
    ids = _orders(repository, 20, sms=False)
    lease = timedelta(seconds=2)
    # The first send outlasts the whole lease, which began before it: once it returns, the
    # lease is over however long the tick took to get there.
    email = Sleepy("email", seconds=lease.total_seconds())
    scheduler = Scheduler(
        CONFIRM,
        repository=repository,
        senders={"email": email},
        lease=lease,
        send_timeout=None,
    )
    with caplog.at_level(logging.WARNING, logger="regua"):
        report = scheduler.tick(T0)
    # The first send (unless a loaded machine took the whole lease to reach it); none
    # started after it.
    assert sum(email.calls.values()) <= 1
    # The operator is told once why the tick stopped, and what to change.
    stops = [r for r in caplog.records if "stops sending" in r.getMessage()]
    assert len(stops) == 1
    assert "lease of its claims (0:00:02" in stops[0].getMessage()
    assert "longer lease" in stops[0].getMessage()
    assert len(report.sent) == sum(email.calls.values())
    # What was not sent is due again once the claims expire, and is sent once.
    scheduler.tick(T0 + 2 * lease)
    assert sorted(email.calls.values()) == [1] * 20
    assert all(d.status is DeliveryStatus.SENT for d in _statuses(repository, ids).values())


class Stalled(Provider):
    """Its first send stalls until released (a provider slow to answer); then it delivers."""

    def __init__(self, channel: str, accepted: set[str]) -> None:
        super().__init__(channel)
        self.accepted = accepted  # shared with the other worker's provider: one provider
        self.stalled = threading.Event()
        self.release = threading.Event()

    def send(self, message: Message) -> str | None:
        if not self.calls:
            self.stalled.set()
            self.release.wait()
        return super().send(message)


@pytest.fixture(params=["memory", "sqlite", "postgres-database-clock"])
def shared(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A repository two workers share; on PostgreSQL, leases on the database's clock."""
    if request.param == "memory":
        yield InMemoryRepository()
    elif request.param == "sqlite":
        yield request.getfixturevalue("sqlite_repository")
    else:
        from regua.repositories.sql import SQLRepository

        engine = request.getfixturevalue("postgres_engine")
        repository = SQLRepository(engine, schema=request.getfixturevalue("postgres_schema"))
        assert repository.lease_clock == "database"
        yield repository


@pytest.mark.slow
def test_a_worker_whose_lease_ran_out_sends_nothing_more(shared: Any) -> None:
    """Worker A stalls on its first send past its lease; B takes the claims over and sends.
    When A's provider answers at last, A sends nothing else: each message reaches the
    provider once (the stalled one twice, with one key, delivered once)."""
    ids = _orders(shared, 20, sms=False)
    lease = timedelta(seconds=1)
    accepted: set[str] = set()
    slow, fast = Stalled("email", accepted), Provider("email")
    fast.accepted = accepted
    # No send timeout for A: its send runs past the lease (with one, the timeout would end
    # it within the lease, and the occurrence would wait, unsettled, for its retry).
    a = Scheduler(
        CONFIRM,
        repository=shared,
        senders={"email": slow},
        lease=lease,
        worker="a",
        send_timeout=None,
    )
    b = Scheduler(CONFIRM, repository=shared, senders={"email": fast}, lease=lease, worker="b")
    worker_a = threading.Thread(target=a.tick, args=(T0,))
    worker_a.start()
    try:
        assert slow.stalled.wait(120)
        time.sleep(1.5 * lease.total_seconds())  # A's lease is over, on every clock
        b.tick(T0 + 2 * lease)
    finally:
        slow.release.set()
        worker_a.join(120)
    assert not worker_a.is_alive()
    calls = slow.calls + fast.calls
    assert sorted(calls.values()) == [1] * 19 + [2], calls  # never another send by A
    assert len(accepted) == 20
    b.tick(T0 + 4 * lease)
    assert all(d.status is DeliveryStatus.SENT for d in _statuses(shared, ids).values())


# --- exceptions that misbehave -----------------------------------------------------------------


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken")


class Interrupt(BaseException):
    """What a library's own cancellation looks like: not an `Exception`."""


class Raising(Provider):
    """Raises `error` for one contact, the first time; a provider otherwise."""

    def __init__(self, channel: str, contact_id: str, error: BaseException) -> None:
        super().__init__(channel)
        self.contact_id, self.error = contact_id, error
        self.raised = False

    def send(self, message: Message) -> str | None:
        if message.contact.id == self.contact_id and not self.raised:
            self.calls[message.occurrence_key] += 1
            self.raised = True
            raise self.error
        return super().send(message)


def test_an_exception_with_a_broken_str_fails_one_attempt_only(repository: Any) -> None:
    ids = _orders(repository, 6, sms=False)
    email = Raising("email", "c2", Unprintable())
    scheduler = Scheduler(CONFIRM, repository=repository, senders={"email": email}, lease=LEASE)
    report = scheduler.tick(T0)
    assert len(report.sent) == 5
    assert [c.last_error for c in report.deferred] == [
        "email: Unprintable: (its text could not be read)"
    ]
    _tick_until_settled(scheduler, T0 + timedelta(minutes=1), ticks=3)
    assert sorted(email.calls.values()) == [1, 1, 1, 1, 1, 2]  # c2: the failure, then sent
    assert all(d.status is DeliveryStatus.SENT for d in _statuses(repository, ids).values())


def test_a_base_exception_stops_the_tick_after_recording_what_was_sent(
    repository: Any,
) -> None:
    ids = _orders(repository, 6)
    email, sms = Raising("email", "c2", Interrupt()), Provider("sms")
    scheduler = Scheduler(
        CONFIRM,
        repository=repository,
        senders={"email": email, "sms": sms},
        lease=LEASE,
        batch_size=6,
        send_timeout=None,
    )
    with pytest.raises(Interrupt):
        scheduler.tick(T0)
    # c0 and c1 were sent before it: recorded, so never sent again; nothing after it was tried.
    assert sorted(_statuses(repository, ids)) == ["c0", "c1"]
    assert sum(email.calls.values()) == 3
    _tick_until_settled(scheduler, T0 + timedelta(minutes=1), ticks=4)
    statuses = _statuses(repository, ids)
    assert {c: (d.status, d.channel) for c, d in statuses.items()} == dict.fromkeys(
        ids, (DeliveryStatus.SENT, "email")
    )
    assert email.calls["shop:confirm:c0:event=o0"] == 1
    assert email.calls["shop:confirm:c2:event=o2"] == 2  # interrupted (unknown), then again
    assert not sms.calls  # c2's outcome was unknown: its fallback was never used


# --- a worker died after claiming ---------------------------------------------------------------


def _claimed_by_a_dead_worker(repository: Any, contact_id: str) -> None:
    snapshot = repository.load_snapshots([contact_id])[contact_id]
    from regua import plan

    due: list[DueAction] = plan(CONFIRM, snapshot, T0).due
    granted: dict[str, Claim] = repository.claim(due, "dead", T0, LEASE)
    assert len(granted) == 1
    assert next(iter(granted.values())).sending


def test_a_taken_over_claim_falls_back_when_its_channel_refuses(repository: Any) -> None:
    """The dead worker may have sent on e-mail; e-mail refuses the key: SMS, once."""
    _orders(repository, 1)
    _claimed_by_a_dead_worker(repository, "c0")
    email = Provider("email", refuse=lambda m: "550 mailbox disabled")
    sms = Provider("sms")
    scheduler = Scheduler(
        CONFIRM, repository=repository, senders={"email": email, "sms": sms}, lease=LEASE
    )
    scheduler.tick(T0 + LEASE + timedelta(seconds=1))
    delivery = _statuses(repository, ["c0"])["c0"]
    assert (delivery.status, delivery.channel) == (DeliveryStatus.SENT, "sms")
    assert sms.delivered == ["c0"]
    assert not email.delivered


def test_a_taken_over_claim_that_was_delivered_stays_on_its_channel(repository: Any) -> None:
    """The dead worker's e-mail was accepted (the provider knows the key): no SMS too."""
    _orders(repository, 1)
    _claimed_by_a_dead_worker(repository, "c0")
    email, sms = Provider("email"), Provider("sms")
    snapshot = repository.load_snapshots(["c0"])["c0"]
    from regua import plan

    email.accepted.add(plan(CONFIRM, snapshot, T0).due[0].idempotency_key)  # its lost success
    scheduler = Scheduler(
        CONFIRM, repository=repository, senders={"email": email, "sms": sms}, lease=LEASE
    )
    scheduler.tick(T0 + LEASE + timedelta(seconds=1))
    delivery = _statuses(repository, ["c0"])["c0"]
    assert (delivery.status, delivery.channel) == (DeliveryStatus.SENT, "email")
    assert not sms.calls


# --- cancel_on after the claim ------------------------------------------------------------------


CART = Cadence(
    "shop",
    channels=[Channel("email")],
    steps=[
        Step(
            "cart_reminder",
            trigger=on_event("cart_abandoned"),
            delay="2h",
            channels=["email"],
            cancel_on=["order_placed"],
        )
    ],
)


class BuysWhileClaiming:
    """The customer buys between the planning and the sending of the reminder."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def claim(self, actions: Sequence[DueAction], *args: Any) -> dict[str, Claim]:
        for action in actions:
            self.inner.record_event(
                Event(action.contact_id, "order_placed", T0 + timedelta(hours=2), id="o1")
            )
        granted: dict[str, Claim] = self.inner.claim(actions, *args)
        return granted


def test_a_purchase_recorded_after_planning_cancels_the_claimed_reminder(repository: Any) -> None:
    repository.upsert_contact(
        Contact("ana", consents={"email"}, addresses={"email": "ana@example.com"})
    )
    repository.record_event(Event("ana", "cart_abandoned", T0, id="k1"))
    email = Provider("email")
    scheduler = Scheduler(
        CART,
        repository=BuysWhileClaiming(repository),  # type: ignore[arg-type]
        senders={"email": email},
        lease=LEASE,
    )
    report = scheduler.tick(T0 + timedelta(hours=2))
    assert not email.calls
    assert not report.sent
    delivery = _statuses(repository, ["ana"])["ana"]
    assert delivery.status is DeliveryStatus.CANCELLED, delivery
    scheduler.tick(T0 + timedelta(days=2))
    assert not email.calls


# --- the same on AsyncScheduler ----------------------------------------------------------------


class AsyncHanging:
    """An `AsyncSender` that never answers for one contact, the first time; delivers else."""

    def __init__(self, provider: Provider, contact_id: str, error: BaseException | None = None):
        self.provider, self.contact_id, self.error = provider, contact_id, error
        self.hung = False

    async def send(self, message: Message) -> str | None:
        if message.contact.id == self.contact_id and not self.hung:
            self.hung = True
            if self.error is not None:
                raise self.error
            await asyncio.Event().wait()  # forever, unless cancelled
        return self.provider.send(message)


@pytest.mark.slow
def test_async_a_hanging_send_is_cancelled_and_retried_on_its_channel_only() -> None:
    repository = InMemoryRepository()
    ids = _orders(repository, 5)
    email, sms = Provider("email"), Provider("sms")
    scheduler = AsyncScheduler(
        CONFIRM,
        repository=repository,
        senders={"email": AsyncHanging(email, "c1"), "sms": sms},
        lease=LEASE,
        send_timeout=timedelta(seconds=1),
        retry=RetryPolicy(max_attempts=2, initial=timedelta(minutes=1)),
    )
    report = asyncio.run(scheduler.tick(T0))
    assert sorted(d.contact_id for d in report.sent) == ["c0", "c2", "c3", "c4"]
    assert [c.contact_id for c in report.deferred] == ["c1"]
    assert report.deferred[0].unsettled
    asyncio.run(scheduler.tick(T0 + timedelta(minutes=10)))
    statuses = _statuses(repository, ids)
    assert {c: (d.status, d.channel) for c, d in statuses.items()} == dict.fromkeys(
        ids, (DeliveryStatus.SENT, "email")
    )
    assert not sms.calls


def test_async_a_base_exception_stops_the_tick_after_recording_what_was_sent() -> None:
    repository = InMemoryRepository()
    ids = _orders(repository, 6)
    email, sms = Provider("email"), Provider("sms")
    scheduler = AsyncScheduler(
        CONFIRM,
        repository=repository,
        senders={"email": AsyncHanging(email, "c2", Interrupt()), "sms": sms},
        lease=LEASE,
        concurrency=1,  # one send at a time: c0 and c1 go out before c2 is interrupted
    )
    with pytest.raises(Interrupt):
        asyncio.run(scheduler.tick(T0))
    assert sorted(_statuses(repository, ids)) == ["c0", "c1"]
    for n in range(1, 5):
        asyncio.run(scheduler.tick(T0 + n * (LEASE + timedelta(seconds=1))))
    statuses = _statuses(repository, ids)
    assert {c: (d.status, d.channel) for c, d in statuses.items()} == dict.fromkeys(
        ids, (DeliveryStatus.SENT, "email")
    )
    assert max(email.calls.values()) == 1  # c2's interrupted attempt never reached it
    assert not sms.calls


# --- a claim resumes on its channel by name -------------------------------------------------------


class LosesFirstRecord:
    """The first record of a sent outcome is lost: the worker died after the provider took it."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.lose = inner, True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def record(self, deliveries: Sequence[Delivery]) -> None:
        if self.lose and any(d.status is DeliveryStatus.SENT for d in deliveries):
            self.lose = False
            raise ConnectionError("the database went away")
        self.inner.record(deliveries)


def test_a_preference_changed_after_a_lost_outcome_does_not_move_it(repository: Any) -> None:
    """E-mail took it, the record was lost; the customer then prefers SMS. The channels are
    planned anew ([sms, email]), yet the claim resumes on e-mail, by name: no SMS too."""
    addresses = {"email": "ana@example.com", "sms": "+5511999990000"}
    repository.upsert_contact(Contact("ana", addresses=addresses))
    repository.record_event(Event("ana", "order_placed", T0, id="o1"))
    email, sms = Provider("email"), Provider("sms")
    store = LosesFirstRecord(repository)
    scheduler = Scheduler(
        CONFIRM, repository=store, senders={"email": email, "sms": sms}, lease=LEASE
    )  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        scheduler.tick(T0)
    repository.upsert_contact(Contact("ana", addresses=addresses, preferences=["sms", "email"]))
    scheduler.tick(T0 + LEASE + timedelta(seconds=1))
    delivery = _statuses(repository, ["ana"])["ana"]
    assert (delivery.status, delivery.channel) == (DeliveryStatus.SENT, "email")
    assert not sms.calls


def test_a_fallback_survives_the_first_channel_leaving_the_list(repository: Any) -> None:
    """E-mail refused, the move to SMS was stored, the worker died; the bounced address is
    then removed, so the step's channels are just [sms]: the claim resumes on SMS."""
    repository.upsert_contact(
        Contact("ana", addresses={"email": "ana@example.com", "sms": "+5511999990000"})
    )
    repository.record_event(Event("ana", "order_placed", T0, id="o1"))
    email = Provider("email", refuse=lambda m: "550 no such user")
    sms = Provider("sms", refuse=lambda m: None)

    class DiesWhileSendingSms(Provider):
        def send(self, message: Message) -> str | None:
            raise Interrupt()  # the worker is killed in the middle of the SMS send

    dying = Scheduler(
        CONFIRM,
        repository=repository,
        senders={"email": email, "sms": DiesWhileSendingSms("sms")},
        lease=LEASE,
        send_timeout=None,
    )
    with pytest.raises(Interrupt):
        dying.tick(T0)
    repository.upsert_contact(Contact("ana", addresses={"sms": "+5511999990000"}))
    scheduler = Scheduler(
        CONFIRM, repository=repository, senders={"email": email, "sms": sms}, lease=LEASE
    )
    scheduler.tick(T0 + timedelta(hours=1))
    delivery = _statuses(repository, ["ana"])["ana"]
    assert (delivery.status, delivery.channel) == (DeliveryStatus.SENT, "sms")
    assert sms.delivered == ["ana"]


# --- a shipped sender whose provider may have taken the message ---------------------------------


@pytest.mark.slow
def test_a_webhook_that_times_out_after_taking_the_message_is_never_doubled() -> None:
    """The endpoint takes the message, then answers too late: the sender's read timeout is
    an unknown outcome (`OutcomeUnknown`), so the occurrence never moves on to SMS."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from regua.senders.webhook import WebhookSender

    taken: list[str] = []
    answer = threading.Event()

    class TakesThenStalls(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            taken.append(self.headers["Idempotency-Key"])
            answer.wait(120)  # the answer comes only when the test is over
            with contextlib.suppress(OSError):
                self.send_response(200)
                self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), TakesThenStalls)
    server.daemon_threads = False  # server_close() joins the handlers: no socket left open
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    cadence = Cadence(
        "shop",
        channels=[Channel("push"), Channel("sms")],
        steps=[
            Step(
                "confirm",
                trigger=on_event("order_placed"),
                channels=["push", "sms"],
                transactional=True,
            )
        ],
    )
    repository = InMemoryRepository()
    repository.upsert_contact(Contact("ana", addresses={"push": "device-1", "sms": "+5511999"}))
    repository.record_event(Event("ana", "order_placed", T0, id="o1"))
    sms = Provider("sms")
    push = WebhookSender(f"http://127.0.0.1:{server.server_address[1]}/", secret="s", timeout=0.2)
    scheduler = Scheduler(
        cadence,
        repository=repository,
        senders={"push": push, "sms": sms},
        retry=RetryPolicy(max_attempts=2, initial=timedelta(seconds=1), jitter=0),
    )
    try:
        for minute in range(4):
            scheduler.tick(T0 + timedelta(minutes=minute))
    finally:
        answer.set()
        push.close()
        server.shutdown()
        server.server_close()
        serving.join(120)
    assert len(taken) >= 1
    assert not sms.calls  # never a second channel while push may have delivered
    delivery = _statuses(repository, ["ana"])["ana"]
    assert delivery.status is DeliveryStatus.FAILED
    assert "may have been delivered" in (delivery.reason or "")
