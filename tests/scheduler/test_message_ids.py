"""The id a sender returns for a send is recorded with the delivery, on every driver."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

import pytest

from regua import (
    AsyncScheduler,
    Cadence,
    Channel,
    Contact,
    DeliveryStatus,
    Event,
    InMemoryRepository,
    Message,
    Scheduler,
    Step,
    on_event,
)
from regua.repositories.sql import SQLRepository

T0 = datetime(2026, 5, 4, 15, tzinfo=timezone.utc)
CADENCE = Cadence(
    "shop",
    channels=[Channel("email")],
    steps=[Step("confirm", trigger=on_event("order_placed"), channels=["email"])],
)

ANSWERS: dict[str, object] = {
    "ana": "<0f3a@mail.loja.com.br>",
    "bia": 48213,  # a provider that numbers its messages
    "caio": None,
    "duda": "",
    "eva": {"id": "x"},  # breaks the Sender contract: sent all the same, without an id
}
RECORDED = {
    "ana": "<0f3a@mail.loja.com.br>",
    "bia": "48213",
    "caio": None,
    "duda": None,
    "eva": None,
}


class Answering:
    """Returns each contact's answer from `ANSWERS` (not in process: runs on a send thread)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, message: Message) -> str | None:
        self.sent.append(message.contact.id)
        return ANSWERS[message.contact.id]  # type: ignore[return-value]


class AsyncAnswering(Answering):
    async def send(self, message: Message) -> str | None:  # type: ignore[override]
        self.sent.append(message.contact.id)
        return ANSWERS[message.contact.id]  # type: ignore[return-value]


def populate(repository: InMemoryRepository | SQLRepository) -> None:
    for name in ANSWERS:
        repository.upsert_contact(
            Contact(name, consents={"email"}, addresses={"email": f"{name}@example.com"})
        )
        repository.record_event(Event(name, "order_placed", T0, id=f"o-{name}"))


def message_ids(repository: InMemoryRepository | SQLRepository) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in ANSWERS:
        (delivery,) = [d for d in repository.history(name) if not isinstance(d, Event)]
        assert delivery.status is DeliveryStatus.SENT, (name, delivery)
        found[name] = delivery.message_id
    return found


@pytest.mark.parametrize("send_timeout", [None, "default"], ids=["tick thread", "send thread"])
def test_the_scheduler_records_the_id_each_send_returned(
    send_timeout: object, caplog: pytest.LogCaptureFixture
) -> None:
    repository = InMemoryRepository()
    populate(repository)
    sender = Answering()
    options = {} if send_timeout == "default" else {"send_timeout": None}
    scheduler = Scheduler(CADENCE, repository=repository, senders={"email": sender}, **options)  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="regua.scheduler"):
        report = scheduler.tick(T0)
    assert sorted(sender.sent) == sorted(ANSWERS)
    assert {d.contact_id: d.message_id for d in report.sent} == RECORDED
    assert message_ids(repository) == RECORDED
    logged = {
        r.regua_message_id  # type: ignore[attr-defined]
        for r in caplog.records
        if getattr(r, "regua_outcome", None) == "sent"
    }
    assert logged == set(RECORDED.values())
    (warning,) = [r for r in caplog.records if "not a message id" in r.getMessage()]
    assert "returned a dict" in warning.getMessage()
    assert "Answering" in warning.getMessage()


def test_the_async_scheduler_records_the_id_each_send_returned() -> None:
    repository = InMemoryRepository()
    populate(repository)
    sender = AsyncAnswering()

    async def main() -> None:
        async with AsyncScheduler(CADENCE, repository=repository, senders={"email": sender}) as s:
            await s.tick(T0)

    asyncio.run(main())
    assert message_ids(repository) == RECORDED


def test_message_ids_survive_the_sql_repository(sql_repository: SQLRepository) -> None:
    populate(sql_repository)
    Scheduler(CADENCE, repository=sql_repository, senders={"email": Answering()}).tick(T0)
    assert message_ids(sql_repository) == RECORDED
