"""What operators see: metrics, structured log records and health, from both schedulers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from regua import (
    AsyncScheduler,
    Cadence,
    Channel,
    Contact,
    Event,
    InMemoryRepository,
    Message,
    OutboxSender,
    PermanentFailure,
    Repository,
    Scheduler,
    Step,
    TemporaryFailure,
    TickReport,
    on_event,
)
from regua.metrics import InMemoryMetrics
from regua.records import idempotency_key

UTC = timezone.utc
T0 = datetime(2026, 5, 4, 15, tzinfo=UTC)

CADENCE = Cadence(
    "shop",
    channels=[Channel("email"), Channel("sms")],
    steps=[
        Step("confirm", trigger=on_event("order_placed"), channels=["email", "sms"]),
        Step("welcome", trigger=on_event("signed_up"), delay="2d", channels=["email"]),
    ],
)


def contact(contact_id: str, consents: set[str] | None = None) -> Contact:
    return Contact(
        contact_id,
        consents={"email", "sms"} if consents is None else consents,
        addresses={"email": f"{contact_id}@secret.example", "sms": "+5511987654321"},
    )


class Provider:
    """Accepts, except for the contacts it was told to refuse or to delay."""

    def __init__(self, permanent: set[str], temporary: set[str]) -> None:
        self.permanent, self.temporary = permanent, temporary
        self.outbox = OutboxSender()

    def send(self, message: Message) -> str | None:
        if message.contact.id in self.permanent:
            raise PermanentFailure("recipient refused")
        if message.contact.id in self.temporary:
            raise TemporaryFailure("busy")
        return self.outbox.send(message)


def tick(kind: str, scheduler_args: dict[str, object], now: datetime) -> TickReport:
    if kind == "sync":
        return Scheduler([CADENCE], **scheduler_args).tick(now)  # type: ignore[arg-type]

    async def main() -> TickReport:
        async with AsyncScheduler([CADENCE], **scheduler_args) as scheduler:  # type: ignore[arg-type]
            return await scheduler.tick(now)

    return asyncio.run(main())


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_metrics_and_log_fields_describe_every_outcome(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    repository = InMemoryRepository()
    for name, consents in [("ok", None), ("later", None), ("never", None), ("quiet", set())]:
        repository.upsert_contact(contact(name, consents))
        repository.record_event(Event(name, "order_placed", T0, id=f"o-{name}"))
    provider = Provider(permanent={"never"}, temporary={"later"})
    metrics = InMemoryMetrics()
    caplog.set_level(logging.INFO, logger="regua")
    args = {
        "repository": repository,
        "senders": {"email": provider, "sms": provider},
        "metrics": metrics,
    }
    report = tick(kind, args, T0)
    assert (len(report.sent), len(report.deferred), len(report.failed), len(report.skipped)) == (
        1,
        1,
        1,
        1,
    )

    assert metrics.count("regua.messages.sent", channel="email", step="confirm") == 1
    assert metrics.count("regua.messages.deferred", channel="email") == 1
    assert metrics.count("regua.messages.failed", outcome="failed", cadence="shop") == 1
    assert metrics.count("regua.messages.skipped", outcome="skipped") == 1
    # "never" failed permanently on email, then on sms; "later" once, temporarily.
    assert metrics.count("regua.attempts.permanent_failure") == 2
    assert metrics.count("regua.attempts.permanent_failure", channel="sms") == 1
    assert metrics.count("regua.attempts.temporary_failure") == 1
    assert metrics.count("regua.contacts.evaluated") == report.evaluated
    assert len(metrics.values("regua.send.duration")) == 4
    assert metrics.values("regua.tick.due") == [3]  # "quiet" has no channel: never due
    (duration,) = metrics.values("regua.tick.duration")
    assert duration > 0

    by_outcome: dict[str, list[logging.LogRecord]] = {}
    for record in caplog.records:
        by_outcome.setdefault(getattr(record, "regua_outcome", "-"), []).append(record)
    (sent,) = by_outcome["sent"]
    key = idempotency_key(report.sent[0].occurrence_key)
    assert (sent.regua_cadence, sent.regua_step, sent.regua_channel) == ("shop", "confirm", "email")  # type: ignore[attr-defined]
    assert sent.regua_idempotency_key == key  # type: ignore[attr-defined]
    assert sent.regua_attempt == 1  # type: ignore[attr-defined]
    assert sent.levelno == logging.INFO
    assert [r.regua_channel for r in by_outcome["permanent_failure"]] == ["email", "sms"]  # type: ignore[attr-defined]
    assert [r.levelno for r in by_outcome["temporary_failure"]] == [logging.WARNING]
    assert [r.regua_step for r in by_outcome["failed"]] == ["confirm"]  # type: ignore[attr-defined]
    assert [r.regua_step for r in by_outcome["skipped"]] == ["confirm"]  # type: ignore[attr-defined]
    (summary,) = by_outcome["tick"]
    assert (summary.regua_sent, summary.regua_deferred, summary.regua_due) == (1, 1, 3)  # type: ignore[attr-defined]

    # No personal data in any message or field, at INFO.
    for record in caplog.records:
        text = record.getMessage() + " " + " ".join(str(v) for v in vars(record).values())
        assert "secret.example" not in text
        assert "987654321" not in text


class Broken:
    def add(self, name: str, amount: int, attributes: object = None) -> None:
        raise RuntimeError("metrics backend down")

    def record(self, name: str, value: float, attributes: object = None) -> None:
        raise RuntimeError("metrics backend down")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_failing_metrics_backend_never_loses_a_sent_record(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    repository = InMemoryRepository()
    repository.upsert_contact(contact("ana"))
    repository.record_event(Event("ana", "order_placed", T0, id="o1"))
    outbox = OutboxSender()
    args = {"repository": repository, "senders": {"email": outbox}, "metrics": Broken()}
    report = tick(kind, args, T0)
    assert len(report.sent) == 1
    assert [d.status.value for d in repository.history("ana") if not isinstance(d, Event)] == [
        "sent"
    ]
    assert any("metrics backend down" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


# --- health --------------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def repository(request: pytest.FixtureRequest) -> Iterator[Repository]:
    if request.param == "memory":
        yield InMemoryRepository()
        return
    from regua.repositories.sql import SQLRepository

    if request.param == "sqlite":
        sql = SQLRepository(request.getfixturevalue("sqlite_url"))
    else:
        sql = SQLRepository(
            request.getfixturevalue("postgres_engine"),
            schema=request.getfixturevalue("postgres_schema"),
        )
    yield sql
    sql.close()


def test_health_reports_backlog_oldest_overdue_and_last_tick(repository: Repository) -> None:
    scheduler = Scheduler([CADENCE], repository=repository, senders={"email": OutboxSender()})
    for number in range(5):
        repository.upsert_contact(contact(f"c{number}"))
        repository.record_event(Event(f"c{number}", "signed_up", T0, id=f"s{number}"))

    health = scheduler.health(T0)
    assert (health.backlog, health.changed, health.oldest_overdue) == (5, 5, None)
    assert health.last_tick is None
    assert health.last_tick_duration is None

    scheduler.tick(T0)
    health = scheduler.health(T0)
    assert (health.backlog, health.changed, health.oldest_due) == (0, 0, None)
    assert health.last_tick == T0
    assert health.last_tick_duration is not None
    assert health.last_tick_duration > 0

    # The welcomes are due two days later; nobody ticked since: they are overdue.
    due_at = T0 + timedelta(days=2)
    late = scheduler.health(due_at + timedelta(hours=3))
    assert (late.backlog, late.changed, late.oldest_due) == (5, 0, due_at)
    assert late.oldest_overdue == timedelta(hours=3)
    assert scheduler.health(due_at - timedelta(seconds=1)).backlog == 0

    repository.record_event(Event("c0", "order_placed", T0, id="o0"))  # c0 changed
    mixed = scheduler.health(due_at + timedelta(hours=3))
    assert (mixed.backlog, mixed.changed, mixed.oldest_overdue) == (5, 1, timedelta(hours=3))
    assert "5 due (1 changed), oldest overdue by 3:00:00" in str(mixed)


def test_async_scheduler_health_is_the_same() -> None:
    repository = InMemoryRepository()
    repository.upsert_contact(contact("ana"))
    repository.record_event(Event("ana", "signed_up", T0, id="s1"))

    async def main() -> tuple[int, int, datetime | None]:
        async with AsyncScheduler(
            [CADENCE], repository=repository, senders={"email": OutboxSender()}
        ) as scheduler:
            before = await scheduler.health(T0)
            await scheduler.tick(T0)
            after = await scheduler.health(T0 + timedelta(days=3))
        return before.backlog, after.backlog, after.last_tick

    assert asyncio.run(main()) == (1, 1, T0)
