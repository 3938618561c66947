"""A hard bounce drops the address; a complaint withdraws the consent: later sends obey."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from regua import (
    Cadence,
    Channel,
    Contact,
    DeliveryStatus,
    Event,
    InMemoryRepository,
    Message,
    OutboxSender,
    PermanentFailure,
    Scheduler,
    Step,
    on_event,
)
from regua.metrics import InMemoryMetrics
from regua.repositories.sql import SQLRepository

T0 = datetime(2026, 5, 4, 15, tzinfo=timezone.utc)
SHOP = Cadence(
    "shop",
    channels=[Channel("email"), Channel("sms")],
    steps=[
        Step("news", trigger=on_event("news"), channels=["email", "sms"], expires_after="7d"),
        Step("receipt", trigger=on_event("paid"), channels=["email", "sms"], transactional=True),
    ],
)
EMAIL = "ana@example.com"


class Refusing:
    """Refuses every message with one `PermanentFailure` (a bounce, a complaint)."""

    def __init__(self, suppress: str | None) -> None:
        self.suppress = suppress
        self.calls: list[Message] = []

    def send(self, message: Message) -> str | None:
        self.calls.append(message)
        raise PermanentFailure("550 5.1.1 no such mailbox", suppress=self.suppress)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def repository(request: pytest.FixtureRequest) -> InMemoryRepository | SQLRepository:
    if request.param == "memory":
        return InMemoryRepository()
    sql: SQLRepository = request.getfixturevalue(f"{request.param}_repository")
    return sql


def populate(repository: InMemoryRepository | SQLRepository) -> None:
    repository.upsert_contact(
        Contact("ana", consents={"email", "sms"}, addresses={"email": EMAIL, "sms": "+551199"})
    )
    repository.record_event(Event("ana", "news", T0, id="n-1"))


def test_a_hard_bounce_removes_the_address_and_later_messages_skip_the_channel(
    repository: InMemoryRepository | SQLRepository,
) -> None:
    populate(repository)
    email, sms = Refusing("address"), OutboxSender()
    metrics = InMemoryMetrics()
    scheduler = Scheduler(
        SHOP, repository=repository, senders={"email": email, "sms": sms}, metrics=metrics
    )
    [sent] = scheduler.tick(T0).sent
    assert metrics.count("regua.contacts.suppressed", channel="email", kind="address") == 1
    assert sent.channel == "sms"  # the fallback, at once
    contact = repository.get_contact("ana")
    assert contact is not None
    assert "email" not in contact.addresses
    assert contact.consents == {"email", "sms"}  # the consent is the customer's, untouched
    repository.record_event(Event("ana", "paid", T0 + timedelta(hours=1), id="p-1"))
    scheduler.tick(T0 + timedelta(hours=1))
    assert len(email.calls) == 1  # not tried again
    assert [m.step for m in sms.outbox] == ["news", "receipt"]


def test_a_new_address_given_meanwhile_is_kept(
    repository: InMemoryRepository | SQLRepository,
) -> None:
    populate(repository)
    assert repository.suppress_address("ana", "email", "old@example.com") is False
    assert repository.suppress_address("nobody", "email", EMAIL) is False
    contact = repository.get_contact("ana")
    assert contact is not None
    assert contact.addresses["email"] == EMAIL


def test_a_complaint_withdraws_marketing_consent_only(
    repository: InMemoryRepository | SQLRepository,
) -> None:
    populate(repository)
    complaints = Refusing("consent")
    sms = OutboxSender()
    metrics = InMemoryMetrics()
    scheduler = Scheduler(
        SHOP, repository=repository, senders={"email": complaints, "sms": sms}, metrics=metrics
    )
    scheduler.tick(T0)
    assert metrics.count("regua.contacts.suppressed", channel="email", kind="consent") == 1
    contact = repository.get_contact("ana")
    assert contact is not None
    assert contact.consents == {"sms"}
    assert contact.addresses["email"] == EMAIL
    repository.record_event(Event("ana", "news", T0 + timedelta(hours=1), id="n-2"))
    repository.record_event(Event("ana", "paid", T0 + timedelta(hours=1), id="p-1"))
    report = scheduler.tick(T0 + timedelta(hours=1))
    assert sorted((d.step, d.channel, d.status) for d in report.sent) == [
        ("news", "sms", DeliveryStatus.SENT),  # marketing: no longer by e-mail
        ("receipt", "sms", DeliveryStatus.SENT),  # after the e-mail refused it too
    ]
    assert [m.step for m in complaints.calls] == ["news", "receipt"]


def test_suppress_takes_address_consent_or_nothing() -> None:
    assert PermanentFailure("x").suppress is None
    with pytest.raises(ValueError, match="suppress must be 'address', 'consent' or None"):
        PermanentFailure("x", suppress="everything")  # type: ignore[arg-type]
