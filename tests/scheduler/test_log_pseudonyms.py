"""`log_key`: log records name a contact by a keyed pseudonym, never by its id."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, time, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regua import (
    AsyncScheduler,
    Cadence,
    Channel,
    Contact,
    Event,
    InMemoryRepository,
    Message,
    PermanentFailure,
    Scheduler,
    Step,
    on_date,
    on_event,
)
from regua.redaction import pseudonym

T0 = datetime(2026, 5, 4, 15, tzinfo=timezone.utc)
KEY = "loja-bonita: the log key"
# Ids that are personal data themselves: what the logs must not hold.
ANA = "ana.silva@example.com"
BIA = "bia.souza@example.com"
CADENCE = Cadence(
    "shop",
    channels=[Channel("email"), Channel("sms")],
    steps=[
        Step("confirm", trigger=on_event("order_placed"), channels=["email", "sms"]),
        Step(
            "birthday", trigger=on_date("birth_date", every="year"), at=time(9), channels=["email"]
        ),
    ],
)


class RefusingSms:
    def send(self, message: Message) -> str | None:
        raise PermanentFailure("number unreachable")


def populate() -> InMemoryRepository:
    repository = InMemoryRepository()
    repository.upsert_contact(
        Contact(ANA, consents={"email", "sms"}, addresses={"email": ANA, "sms": "+5511990000001"})
    )
    repository.record_event(Event(ANA, "order_placed", T0, id="o-1"))
    # A birth date that is not a date: the contact cannot be evaluated.
    repository.upsert_contact(
        Contact(
            BIA, attributes={"birth_date": "in May"}, consents={"email"}, addresses={"email": BIA}
        )
    )
    return repository


class EmailFirstDown:
    """E-mail refuses, so the message falls back to SMS, which works."""

    def __init__(self) -> None:
        self.email = RefusingSms()

    def send(self, message: Message) -> str | None:
        return "m-1"


def senders() -> dict[str, object]:
    return {"email": RefusingSms(), "sms": EmailFirstDown()}


def records_about_contacts(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("regua")]


def assert_pseudonymous(records: list[logging.LogRecord]) -> None:
    for record in records:
        text = record.getMessage() + repr(vars(record))
        assert ANA not in text, record.getMessage()
        assert BIA not in text, record.getMessage()
    by_outcome = {getattr(r, "regua_outcome", None): r for r in records}
    for outcome, contact in (("permanent_failure", ANA), ("sent", ANA), ("error", BIA)):
        assert by_outcome[outcome].regua_contact == pseudonym(contact, KEY), outcome  # type: ignore[attr-defined]
    assert pseudonym(BIA, KEY) in by_outcome["error"].getMessage()


def test_with_a_log_key_records_name_contacts_by_pseudonym(
    caplog: pytest.LogCaptureFixture,
) -> None:
    repository = populate()
    scheduler = Scheduler(CADENCE, repository=repository, senders=senders(), log_key=KEY)  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG, logger="regua"):
        scheduler.tick(T0)
    assert_pseudonymous(records_about_contacts(caplog))


def test_the_async_scheduler_takes_the_same_key(caplog: pytest.LogCaptureFixture) -> None:
    repository = populate()

    async def main() -> None:
        async with AsyncScheduler(
            CADENCE,
            repository=repository,
            senders=senders(),  # type: ignore[arg-type]
            log_key=KEY.encode("utf-8"),
        ) as scheduler:
            await scheduler.tick(T0)

    with caplog.at_level(logging.DEBUG, logger="regua"):
        asyncio.run(main())
    assert_pseudonymous(records_about_contacts(caplog))


def test_without_a_key_records_carry_no_contact_field(caplog: pytest.LogCaptureFixture) -> None:
    scheduler = Scheduler(CADENCE, repository=populate(), senders=senders())  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="regua"):
        scheduler.tick(T0)
    sent = [r for r in caplog.records if getattr(r, "regua_outcome", None) == "sent"]
    assert [r.regua_contact for r in sent] == [None]  # type: ignore[attr-defined]


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="log_key must not be empty"):
        Scheduler(CADENCE, repository=InMemoryRepository(), senders={}, log_key="")
    with pytest.raises(ValueError, match="must not be empty"):
        pseudonym(ANA, b"")


@given(st.text(), st.text(), st.binary(min_size=1))
def test_pseudonyms_are_stable_keyed_and_tell_ids_apart(a: str, b: str, key: bytes) -> None:
    first = pseudonym(a, key)
    assert first == pseudonym(a, key)
    assert first.startswith("c-")
    assert len(first) == 22
    assert int(first[2:], 16) >= 0
    if a != b:
        assert first != pseudonym(b, key)
    assert first != pseudonym(a, key + b"x")
