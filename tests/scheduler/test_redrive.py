"""A dead letter redriven after a fix is planned again: sent once, or expired if too late."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

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
    Scheduler,
    Step,
    on_event,
)
from regua.repositories.sql import SQLRepository

T0 = datetime(2026, 5, 4, 15, tzinfo=timezone.utc)
CADENCE = Cadence(
    "shop",
    channels=[Channel("email")],
    steps=[
        Step(
            "confirm",
            trigger=on_event("order_placed"),
            channels=["email"],
            transactional=True,
            expires_after="3d",
        )
    ],
)


class Provider:
    """Refuses every message until `fixed` (a template missing at the provider, say)."""

    def __init__(self) -> None:
        self.fixed = False
        self.accepted: list[Message] = []

    def send(self, message: Message) -> str | None:
        if not self.fixed:
            raise PermanentFailure("template 'order-confirmation' not found")
        self.accepted.append(message)
        return f"m-{len(self.accepted)}"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def repository(request: pytest.FixtureRequest) -> InMemoryRepository | SQLRepository:
    if request.param == "memory":
        return InMemoryRepository()
    sql: SQLRepository = request.getfixturevalue(f"{request.param}_repository")
    return sql


def dead_letter(
    repository: InMemoryRepository | SQLRepository,
) -> tuple[Scheduler, Provider, Delivery]:
    repository.upsert_contact(
        Contact("ana", consents={"email"}, addresses={"email": "ana@example.com"})
    )
    repository.record_event(Event("ana", "order_placed", T0, id="o-1"))
    provider = Provider()
    scheduler = Scheduler(CADENCE, repository=repository, senders={"email": provider})
    scheduler.tick(T0)
    (failed,) = repository.failed_deliveries()
    assert failed.reason == "email: template 'order-confirmation' not found"
    assert scheduler.tick(T0 + timedelta(hours=1)).sent == ()  # a dead letter stays dead
    return scheduler, provider, failed


def test_a_redriven_dead_letter_is_sent_once_with_its_key(
    repository: InMemoryRepository | SQLRepository,
) -> None:
    scheduler, provider, failed = dead_letter(repository)
    provider.fixed = True
    assert repository.redrive([failed.occurrence_key]) == [failed]
    report = scheduler.tick(T0 + timedelta(hours=2))
    assert [(d.occurrence_key, d.status, d.message_id) for d in report.sent] == [
        (failed.occurrence_key, DeliveryStatus.SENT, "m-1")
    ]
    (message,) = provider.accepted
    assert message.occurrence_key == failed.occurrence_key
    assert scheduler.tick(T0 + timedelta(hours=3)).sent == ()
    assert repository.redrive([failed.occurrence_key]) == []  # sent: not a dead letter
    assert scheduler.tick(T0 + timedelta(hours=4)).sent == ()
    assert len(provider.accepted) == 1
    assert repository.failed_deliveries() == []


def test_a_dead_letter_redriven_past_its_expiry_expires_unsent(
    repository: InMemoryRepository | SQLRepository,
) -> None:
    scheduler, provider, failed = dead_letter(repository)
    provider.fixed = True
    assert repository.redrive([failed.occurrence_key]) == [failed]
    scheduler.tick(T0 + timedelta(days=4))
    assert provider.accepted == []
    outcomes = [d for d in repository.history("ana") if isinstance(d, Delivery)]
    assert [(d.occurrence_key, d.status) for d in outcomes] == [
        (failed.occurrence_key, DeliveryStatus.EXPIRED)
    ]
