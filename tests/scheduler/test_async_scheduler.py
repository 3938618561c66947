"""AsyncScheduler: Scheduler's tick with concurrent sends, against real and fake providers."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regua import (
    AsyncScheduler,
    Cadence,
    Channel,
    Contact,
    DeliveryStatus,
    Event,
    InMemoryRepository,
    Message,
    OutboxSender,
    PermanentFailure,
    RetryPolicy,
    Scheduler,
    Step,
    TemporaryFailure,
    TickReport,
    after_step,
    on_event,
)
from regua.senders.webhook import AsyncWebhookSender
from tests.profiles import examples
from tests.senders.test_webhook import SECRET, Loopback, Received

UTC = timezone.utc
T0 = datetime(2026, 5, 4, 15, tzinfo=UTC)

SHOP = Cadence(
    "shop",
    channels=[Channel("email"), Channel("sms"), Channel("phone", kind="task")],
    steps=[
        Step("confirm", trigger=on_event("order_placed"), channels=["sms", "email"]),
        Step("thanks", trigger=after_step("confirm"), channels=["email", "phone"]),
    ],
)


def customer(number: int) -> Contact:
    return Contact(
        f"c{number:04d}",
        consents={"email", "sms", "phone"},
        addresses={
            "email": f"c{number}@example.com",
            "sms": f"+55119{number:08d}",
            "phone": f"+55118{number:08d}",
        },
    )


def populate(repository: InMemoryRepository, count: int) -> None:
    for number in range(count):
        repository.upsert_contact(customer(number))
        repository.record_event(Event(f"c{number:04d}", "order_placed", T0, id=f"o{number}"))


class SlowLoopback(Loopback):
    """The loopback webhook, answering after `delay` seconds and counting requests in flight.

    The first requests are held until `overlap` of them are in flight at once (or 60 s have
    passed, which fails the test's check): how far sends overlap then depends on the
    scheduler alone, not on how fast a loaded machine issues them.
    """

    def __init__(self, delay: float, overlap: int = 0) -> None:
        super().__init__()
        self.delay = delay
        self.overlap = overlap
        self.in_flight = 0
        self.peak = 0
        self._flight = threading.Condition()
        self.respond = self._slowly

    def _slowly(self, request: Received, number: int) -> tuple[int, dict[str, str], bytes]:
        with self._flight:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self._flight.notify_all()
            self._flight.wait_for(lambda: self.peak >= self.overlap, timeout=60)
        time.sleep(self.delay)
        with self._flight:
            self.in_flight -= 1
        return 200, {"Content-Type": "application/json"}, json.dumps({"id": number}).encode()


CONCURRENCY = 12


@pytest.fixture
def slow_loopback() -> Iterator[SlowLoopback]:
    server = SlowLoopback(delay=0.05, overlap=CONCURRENCY // 2)
    yield server
    server.close()


@pytest.mark.slow
def test_every_message_once_over_a_real_webhook_with_bounded_concurrency(
    slow_loopback: SlowLoopback,
) -> None:
    repository = InMemoryRepository()
    populate(repository, 150)
    concurrency = CONCURRENCY

    async def main() -> list[int]:
        # Requests are held until they overlap: a timeout far beyond that, never reached.
        async with AsyncWebhookSender(slow_loopback.url, secret=SECRET, timeout=120) as sender:
            scheduler = AsyncScheduler(
                [SHOP],
                repository=repository,
                senders={"sms": sender, "email": sender, "phone": sender},
                concurrency=concurrency,
                batch_size=100,
            )
            async with scheduler:
                reports = [await scheduler.tick(T0), await scheduler.tick(T0 + timedelta(1))]
        return [len(report.sent) for report in reports]

    # Each contact gets "confirm" then, in the same tick's next round, "thanks": 300 sends.
    assert asyncio.run(main()) == [300, 0]
    bodies = [request.json() for request in slow_loopback.received]
    steps = Counter((body["step"], body["channel"]) for body in bodies)
    assert steps == {("confirm", "sms"): 150, ("thanks", "email"): 150}
    keys = slow_loopback.keys()
    assert len(keys) == len(set(keys)) == 300, "every message once"
    sent = [
        delivery
        for number in range(150)
        for delivery in repository.history(f"c{number:04d}")
        if not isinstance(delivery, Event)
    ]
    assert Counter(d.status for d in sent) == {DeliveryStatus.SENT: 300}
    assert slow_loopback.peak <= concurrency, "never more sends at once than the bound"
    assert slow_loopback.peak >= concurrency // 2, "sends did overlap"


# --- the same semantics as Scheduler ------------------------------------------------------------


class ScriptedSender:
    """A provider whose answer is a pure function of (seed, channel, key, attempt)."""

    def __init__(self, seed: int, channel: str) -> None:
        self.seed = seed
        self.channel = channel
        self.accepted: list[str] = []
        self._lock = threading.Lock()

    def answer(self, message: Message) -> str:
        text = f"{self.seed}:{self.channel}:{message.idempotency_key}:{message.attempt}"
        roll = hashlib.blake2b(text.encode(), digest_size=2).digest()[0] % 10
        return "permanent" if roll == 0 else "temporary" if roll < 4 else "accept"

    def send(self, message: Message) -> str | None:
        answer = self.answer(message)
        if answer == "permanent":
            raise PermanentFailure(f"{self.channel} refuses")
        if answer == "temporary":
            raise TemporaryFailure(f"{self.channel} busy", retry_after=timedelta(seconds=90))
        with self._lock:
            self.accepted.append(message.idempotency_key)
        return None


class AsyncScriptedSender(ScriptedSender):
    async def send(self, message: Message) -> str | None:  # type: ignore[override]
        await asyncio.sleep(0)  # let other sends interleave
        return ScriptedSender.send(self, message)


def records(repository: InMemoryRepository, count: int) -> list[object]:
    return [
        (item.occurrence_key, item.status, item.at, item.channel, item.reason)
        for number in range(count)
        for item in repository.history(f"c{number:04d}")
        if not isinstance(item, Event)
    ]


@settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), count=st.integers(1, 25), withdraw=st.integers(0, 24))
def test_async_and_sync_schedulers_record_the_same_outcomes(
    seed: int, count: int, withdraw: int
) -> None:
    retry = RetryPolicy(max_attempts=2, initial=timedelta(minutes=1))
    instants = [T0 + timedelta(minutes=3 * n) for n in range(8)]

    sync_repository, async_repository = InMemoryRepository(), InMemoryRepository()
    for repository in (sync_repository, async_repository):
        populate(repository, count)
        repository.set_consent(f"c{withdraw % count:04d}", "email", False)
    sync_senders = {c: ScriptedSender(seed, c) for c in ("email", "sms", "phone")}
    async_senders = {c: AsyncScriptedSender(seed, c) for c in ("email", "sms")}
    mixed: dict[str, ScriptedSender] = {**async_senders, "phone": ScriptedSender(seed, "phone")}

    scheduler = Scheduler([SHOP], repository=sync_repository, senders=sync_senders, retry=retry)
    sync_reports = [scheduler.tick(now) for now in instants]

    async def run_async() -> list[object]:
        async with AsyncScheduler(
            [SHOP],
            repository=async_repository,
            senders=mixed,
            retry=retry,
            concurrency=4,
            batch_size=7,
            claim_batch_size=3,
        ) as asynchronous:
            return [await asynchronous.tick(now) for now in instants]

    async_reports = asyncio.run(run_async())
    assert records(async_repository, count) == records(sync_repository, count)
    for channel, sender in sync_senders.items():
        assert Counter(mixed[channel].accepted) == Counter(sender.accepted), channel
    assert [len(r.sent) for r in async_reports] == [len(r.sent) for r in sync_reports]  # type: ignore[attr-defined]
    assert [len(r.deferred) for r in async_reports] == [len(r.deferred) for r in sync_reports]  # type: ignore[attr-defined]


def test_a_plain_sender_runs_in_a_thread_not_on_the_loop() -> None:
    repository = InMemoryRepository()
    populate(repository, 3)
    threads: list[str] = []

    class Recording(OutboxSender):
        def send(self, message: Message) -> str | None:
            threads.append(threading.current_thread().name)
            return super().send(message)

    outbox = Recording()

    async def main() -> int:
        async with AsyncScheduler(
            [SHOP], repository=repository, senders={"sms": outbox, "email": outbox}
        ) as scheduler:
            return len((await scheduler.tick(T0)).sent)

    assert asyncio.run(main()) == 6
    assert len(outbox.outbox) == 6
    assert threads
    assert all(name.startswith("regua-send") for name in threads)


def test_invalid_configuration_is_refused_with_the_reason() -> None:
    repository = InMemoryRepository()
    with pytest.raises(ValueError, match="concurrency must be at least 1, got 0"):
        AsyncScheduler([SHOP], repository=repository, senders={}, concurrency=0)
    with pytest.raises(TypeError, match="sender of channel 'sms' has no send"):
        AsyncScheduler([SHOP], repository=repository, senders={"sms": object()})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="cadence names must be unique"):
        AsyncScheduler([SHOP, SHOP], repository=repository, senders={})
    with pytest.raises(ValueError, match="timezone-aware"):
        asyncio.run(
            AsyncScheduler([SHOP], repository=repository, senders={}).tick(datetime(2026, 1, 1))
        )


def test_preview_explain_and_run_until_stopped() -> None:
    repository = InMemoryRepository()
    populate(repository, 2)
    outbox = OutboxSender()
    clock_now = [T0]
    scheduler = AsyncScheduler(
        [SHOP],
        repository=repository,
        senders={"sms": outbox, "email": outbox},
        clock=lambda: clock_now[0],
    )

    async def main() -> list[int]:
        due = await scheduler.preview()
        assert sorted(a.contact_id for a in due) == ["c0000", "c0001"]
        explanation = await scheduler.explain("c0000", "shop", "confirm")
        assert explanation.step == "confirm"
        sent: list[int] = []

        async def on_tick(report: object) -> None:
            sent.append(len(report.sent))  # type: ignore[attr-defined]
            if len(sent) == 2:
                scheduler.stop()

        await asyncio.wait_for(scheduler.run(0.01, on_tick=on_tick), timeout=120)
        await scheduler.aclose()
        return sent

    assert asyncio.run(main()) == [4, 0]
    assert len(outbox.outbox) == 4


def test_cancelling_a_tick_loses_nothing_and_sends_nothing_twice() -> None:
    repository = InMemoryRepository()
    populate(repository, 20)
    started = asyncio.Event()
    accepted: list[str] = []

    class Hanging:
        async def send(self, message: Message) -> str | None:
            started.set()
            await asyncio.sleep(3600)
            return None

    class Accepting:
        async def send(self, message: Message) -> str | None:
            accepted.append(message.idempotency_key)
            return None

    lease = timedelta(minutes=5)

    async def main() -> None:
        hanging = AsyncScheduler(
            [SHOP], repository=repository, senders={"sms": Hanging()}, lease=lease
        )
        task = asyncio.create_task(hanging.tick(T0))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        after = AsyncScheduler(
            [SHOP],
            repository=repository,
            senders={"sms": Accepting(), "email": Accepting()},
            lease=lease,
        )
        report = await after.tick(T0 + timedelta(minutes=1))
        assert report.sent == (), "the claims and leases of the cancelled tick still hold"
        await after.tick(T0 + lease + timedelta(minutes=2))

    asyncio.run(main())
    assert len(accepted) == len(set(accepted)) == 40


def test_a_fallback_move_is_stored_before_sending_so_a_cancelled_tick_resumes_there() -> None:
    cadence = Cadence(
        "shop",
        channels=[Channel("email"), Channel("sms")],
        steps=[Step("confirm", trigger=on_event("order_placed"), channels=["email", "sms"])],
    )
    repository = InMemoryRepository()
    populate(repository, 1)
    calls: list[str] = []
    sending = asyncio.Event()

    class Refusing:
        async def send(self, message: Message) -> str | None:
            calls.append(f"refused {message.channel}")
            raise PermanentFailure("no such mailbox")

    class Hanging:
        async def send(self, message: Message) -> str | None:
            calls.append(f"hanging {message.channel}")
            sending.set()
            await asyncio.sleep(3600)
            return None

    class Accepting:
        async def send(self, message: Message) -> str | None:
            calls.append(f"accepted {message.channel} attempt {message.attempt}")
            return None

    async def main() -> TickReport:
        first = AsyncScheduler(
            [cadence], repository=repository, senders={"email": Refusing(), "sms": Hanging()}
        )
        task = asyncio.create_task(first.tick(T0))
        await sending.wait()
        task.cancel()  # the worker dies while the fallback channel is sending
        with pytest.raises(asyncio.CancelledError):
            await task
        second = AsyncScheduler(
            [cadence], repository=repository, senders={"email": Accepting(), "sms": Accepting()}
        )
        return await second.tick(T0 + timedelta(minutes=6))  # the lease has ended

    report = asyncio.run(main())
    assert calls == ["refused email", "hanging sms", "accepted sms attempt 1"]
    assert [(d.step, d.channel) for d in report.sent] == [("confirm", "sms")]
