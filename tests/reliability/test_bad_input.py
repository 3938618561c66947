"""A bad-input corpus through the public APIs: a clear error, or a per-contact failure.

Each bad input either raises at the boundary with an error that names what is wrong, or,
inside a tick, is recorded against its contact (`TickReport.errors`, `Repository.errors`)
while the rest of the tick completes for the other contacts. Personal data (addresses,
attribute values) must stay out of error messages and log records.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pydantic
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    Event,
    InMemoryRepository,
    Message,
    Scheduler,
    Step,
    on_date,
    on_event,
)
from regua.errors import InvalidRecordError
from regua.loading import LoadError, load_cadences
from regua.ports import UnknownContactError
from regua.records import MAX_DATA_BYTES, MAX_DATA_DEPTH
from regua.repositories.sql import SQLRepository
from tests.repositories.raw import nested_object, write_around

UTC = timezone.utc
NOW = datetime(2026, 5, 4, 12, tzinfo=UTC)
HUGE = "9" * (10 * 1024 * 1024)  # 10 MB

CADENCE = Cadence(
    "bd",
    channels=[Channel("email")],
    timezone="UTC",
    steps=[
        Step(
            "birthday",
            trigger=on_date("birth_date", every="year"),
            at=time(9),
            channels=["email"],
        ),
        Step("confirm", trigger=on_event("order_placed"), channels=["email"], transactional=True),
    ],
)

GARBAGE = {
    "feb31": "31/02/1990",
    "emoji": "\U0001f382\U0001f389 1990",
    "long": "9" * 60_000,  # under MAX_DATA_BYTES: stored, and unusable as a date
    "number": 19900504,
    "mapping": {"day": 4, "month": 5},
    "naive": datetime(1990, 5, 4, 9),
}


class Outbox:
    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, message: Message) -> str | None:
        self.sent.append(message)
        return None


def _address(contact_id: str) -> str:
    return f"{contact_id}.private@secret-mail.example"


def _world() -> tuple[InMemoryRepository, Scheduler, Outbox]:
    repository = InMemoryRepository()
    outbox = Outbox()
    scheduler = Scheduler(CADENCE, repository=repository, senders={"email": outbox})
    contacts: dict[str, Any] = {"good": "1990-05-04", "missing": None, **GARBAGE}
    for contact_id, birth_date in contacts.items():
        attributes = {} if birth_date is None else {"birth_date": birth_date}
        repository.upsert_contact(
            Contact(
                contact_id,
                attributes=attributes,
                consents={"email"},
                addresses={"email": _address(contact_id)},
                created_at=NOW - timedelta(days=400),
            )
        )
        repository.record_event(Event(contact_id, "order_placed", NOW, id=f"order-{contact_id}"))
    return repository, scheduler, outbox


# --- definitions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "name: [unclosed",
        "name: shop\nsteps:\n  - name: a\n   trigger: x",  # bad indentation
        "\t- tab",
        "",
    ],
)
def test_malformed_yaml_is_a_clear_error(text: str, tmp_path: Path) -> None:
    with pytest.raises((yaml.YAMLError, pydantic.ValidationError, ValueError)):
        Cadence.from_yaml(text)
    path = tmp_path / "shop.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LoadError) as raised:
        load_cadences(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize(
    "data",
    [
        {"name": 5, "steps": "x"},
        {"name": "shop", "steps": [{"name": "a", "trigger": 42}]},
        {"name": "shop", "channels": [{"name": "email", "cost": "cheap"}], "steps": []},
        {"name": "shop", "timezone": "Mars/Olympus_Mons", "steps": []},
        ["not", "a", "mapping"],
        None,
    ],
)
def test_wrong_types_in_definitions_raise_validation_errors(data: Any) -> None:
    with pytest.raises((pydantic.ValidationError, ValueError, TypeError)):
        Cadence.from_dict(data)


def test_unknown_timezones_are_refused_where_they_enter() -> None:
    with pytest.raises(InvalidRecordError, match="unknown timezone 'Mars/Olympus'"):
        Contact("x", timezone="Mars/Olympus")
    with pytest.raises(pydantic.ValidationError, match="unknown timezone"):
        Cadence("c", channels=[Channel("email")], timezone="Nowhere/Land", steps=[])


def test_naive_datetimes_are_errors_never_guesses() -> None:
    naive = datetime(2026, 5, 4, 12)
    with pytest.raises(InvalidRecordError, match="naive datetime"):
        Event("x", "login", naive)
    with pytest.raises(InvalidRecordError, match="naive datetime"):
        Contact("x", created_at=naive)
    _, scheduler, _ = _world()
    with pytest.raises(ValueError, match="timezone-aware"):
        scheduler.tick(naive)
    with pytest.raises(InvalidRecordError):
        Event("x", "login", "2026-05-04T12:00:00Z")  # type: ignore[arg-type]


def test_empty_identifiers_are_refused() -> None:
    with pytest.raises(InvalidRecordError):
        Contact("")
    with pytest.raises(InvalidRecordError):
        Event("x", "", NOW)


# --- events --------------------------------------------------------------------------------------


def test_events_for_unknown_contacts_and_duplicate_ids() -> None:
    repository, _, _ = _world()
    with pytest.raises(UnknownContactError, match="nobody"):
        repository.record_event(Event("nobody", "login", NOW, id="x"))
    with pytest.raises(UnknownContactError):
        repository.set_consent("nobody", "email", True)
    assert repository.record_event(Event("good", "login", NOW, id="dup")) is True
    assert repository.record_event(Event("good", "login", NOW, id="dup")) is False


def test_same_event_id_under_another_name_is_another_event() -> None:
    repository, _, _ = _world()
    assert repository.record_event(Event("good", "order_placed", NOW, id="A-1")) is True
    assert repository.record_event(Event("good", "order_shipped", NOW, id="A-1")) is True


def test_events_far_in_the_future_or_before_1970_do_not_break_ticks() -> None:
    repository, scheduler, outbox = _world()
    repository.record_event(Event("good", "order_placed", datetime(9999, 1, 1, tzinfo=UTC), id="f"))
    repository.record_event(Event("good", "order_placed", datetime(1960, 1, 1, tzinfo=UTC), id="p"))
    report = scheduler.tick(NOW)
    assert "good" not in report.errors
    keys = {m.occurrence_key for m in outbox.sent if m.contact.id == "good"}
    # The pre-1970 order is in the past: confirmed (transactional, no expiry); the one in
    # year 9999 is not due yet.
    assert "bd:confirm:good:event=p" in keys
    assert "bd:confirm:good:event=f" not in keys


# --- contacts with garbage attributes -----------------------------------------------------------


def test_garbage_attributes_are_per_contact_failures_and_the_tick_completes() -> None:
    repository, scheduler, outbox = _world()
    report = scheduler.tick(NOW)
    assert set(report.errors) == set(GARBAGE)
    for contact_id in GARBAGE:
        recorded = repository.errors(contact_id)
        assert len(recorded) == 1
        assert "birth_date" in recorded[0].error  # names the attribute
        assert "InvalidRecordError" in recorded[0].error
    # The others completed: the good contact got its confirmation and birthday, the one
    # without a birth date its confirmation.
    sent = sorted((m.contact.id, m.step) for m in outbox.sent)
    assert sent == [("good", "birthday"), ("good", "confirm"), ("missing", "confirm")]
    # Bad data is not retried every tick...
    assert scheduler.tick(NOW + timedelta(minutes=1)).errors == {}
    # ...until the application fixes the contact, which wakes it.
    fixed = repository.get_contact("feb31")
    assert fixed is not None
    repository.upsert_contact(
        Contact(
            "feb31",
            attributes={"birth_date": "1990-02-28"},
            consents=fixed.consents,
            addresses=fixed.addresses,
            created_at=fixed.created_at,
        )
    )
    report = scheduler.tick(NOW + timedelta(minutes=2))
    assert report.errors == {}
    assert ("feb31", "confirm") in {(m.contact.id, m.step) for m in outbox.sent}


def test_emoji_and_large_values_survive_elsewhere() -> None:
    # Non-date attributes the cadence does not read as dates are just data.
    repository = InMemoryRepository()
    outbox = Outbox()
    scheduler = Scheduler(CADENCE, repository=repository, senders={"email": outbox})
    repository.upsert_contact(
        Contact(
            "\U0001f600",
            attributes={"nickname": "\U0001f600" * 1000, "notes": "9" * 60_000, "tier": None},
            consents={"email"},
            addresses={"email": "emoji@example.com"},
        )
    )
    repository.record_event(Event("\U0001f600", "order_placed", NOW, id="o"))
    assert scheduler.tick(NOW).errors == {}
    assert [m.contact.id for m in outbox.sent] == ["\U0001f600"]


# --- personal data -------------------------------------------------------------------------------


def _leaks(text: str) -> list[str]:
    found = [cid for cid in (*GARBAGE, "good", "missing") if _address(cid) in text]
    found += [
        f"{cid}={value!r:.20}"
        for cid, value in GARBAGE.items()
        if isinstance(value, str) and value[:12] in text
    ]
    if "19900504" in text:
        found.append("number=19900504")
    return found


def test_bad_contact_errors_and_logs_carry_no_personal_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="regua")
    repository, scheduler, _ = _world()
    report = scheduler.tick(NOW)
    texts = [r.getMessage() for r in caplog.records]
    texts += [str(r.exc_info[1]) for r in caplog.records if r.exc_info]
    texts += list(report.errors.values())
    texts += [e.error for e in repository.errors()]
    leaks = [leak for text in texts for leak in _leaks(text)]
    assert not leaks, f"personal data in errors/logs: {sorted(set(leaks))}"


def test_errors_about_huge_values_are_bounded() -> None:
    repository, scheduler, _ = _world()
    report = scheduler.tick(NOW)
    assert len(report.errors["long"]) < 1000
    assert all(len(e.error) < 1000 for e in repository.errors())
    with pytest.raises(InvalidRecordError) as raised:
        Contact("huge", attributes={"birth_date": HUGE})
    assert len(str(raised.value)) < 1000
    assert "999999999999" not in str(raised.value)


def test_addresses_never_appear_in_logs_of_failed_sends(caplog: pytest.LogCaptureFixture) -> None:
    """Sender failures are logged with the occurrence key and the error, not the address."""
    from regua import PermanentFailure

    class Refuses:
        def send(self, message: Message) -> str | None:
            raise PermanentFailure("rejected")

    caplog.set_level(logging.DEBUG, logger="regua")
    repository = InMemoryRepository()
    scheduler = Scheduler(CADENCE, repository=repository, senders={"email": Refuses()})
    repository.upsert_contact(Contact("ana", addresses={"email": _address("ana")}))
    repository.record_event(Event("ana", "order_placed", NOW, id="o"))
    report = scheduler.tick(NOW)
    assert len(report.failed) == 1
    assert all(_address("ana") not in r.getMessage() for r in caplog.records)
    assert _address("ana") not in (repository.failed_deliveries()[0].reason or "")


# --- nesting and size limits on records ----------------------------------------------------------


def _deep(levels: int, container: str = "dict") -> Any:
    """A value of `levels` nested containers (dicts or lists) around the number 1."""
    value: Any = 1
    for _ in range(levels):
        value = {"a": value} if container == "dict" else [value]
    return value


def _self_containing() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["again"] = loop
    return loop


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Contact("x", attributes=_deep(500)), r"Contact 'x'\.attributes: nested more"),
        (
            lambda: Contact("x", attributes={"a": _deep(499, "list")}),
            r"Contact 'x'\.attributes: nested more",
        ),
        (lambda: Contact("x", addresses={"email": _deep(40)}), r"Contact 'x'\.addresses: nested"),
        (
            lambda: Event("x", "order_placed", NOW, data=_deep(10_000)),
            r"Event 'order_placed' of contact 'x'\.data: nested more",
        ),
        (lambda: Contact("x", attributes=_self_containing()), r"Contact 'x'\.attributes: nested"),
        (
            lambda: attrs.evolve(Contact("x"), attributes=_deep(33)),
            r"Contact 'x'\.attributes: nested more",
        ),
    ],
    ids=["dicts", "lists", "addresses", "event data", "a cycle", "evolve"],
)
def test_data_nested_past_the_limit_is_refused_where_it_enters(
    build: Callable[[], object], message: str
) -> None:
    with pytest.raises(InvalidRecordError, match=message) as raised:
        build()
    assert f"{MAX_DATA_DEPTH} levels deep" in str(raised.value)


@pytest.mark.slow
@given(
    levels=st.integers(min_value=1, max_value=MAX_DATA_DEPTH + 8),
    containers=st.lists(st.sampled_from(["dict", "list", "tuple", "set"]), min_size=48),
)
def test_the_depth_limit_counts_every_container(levels: int, containers: list[str]) -> None:
    """The field's mapping is level 1; any mix of containers inside adds one level each."""
    value: Any = "leaf"
    for container in containers[: levels - 1]:
        if container == "dict":
            value = {"k": value}
        elif container == "list":
            value = [value, 2]
        elif container == "tuple":
            value = (value,)
        else:
            try:
                value = frozenset({value})
            except TypeError:  # what it holds is not hashable
                value = [value]
    if levels <= MAX_DATA_DEPTH:
        assert Contact("x", attributes={"v": value}).attributes == {"v": value}
        assert Event("x", "e", NOW, data={"v": value}).data == {"v": value}
    else:
        with pytest.raises(InvalidRecordError, match="nested more than"):
            Contact("x", attributes={"v": value})
        with pytest.raises(InvalidRecordError, match="nested more than"):
            Event("x", "e", NOW, data={"v": value})


@pytest.mark.parametrize(
    "build",
    [
        lambda: Contact("x", attributes={"notes": HUGE}),
        lambda: Contact("x", attributes={"notes": "\u00e9" * 40_000}),  # 80,000 UTF-8 bytes
        lambda: Contact("x", attributes={"photo": b"\xff" * 70_000}),
        lambda: Contact("x", attributes={f"k{n}": n for n in range(10_000)}),
        lambda: Contact("x", addresses={"email": "a" * 70_000}),
        lambda: Event("x", "order_placed", NOW, data={"items": [{"sku": "A" * 100}] * 1_000}),
    ],
    ids=["text", "non-ascii text", "bytes", "many keys", "addresses", "event data"],
)
def test_data_larger_than_the_limit_is_refused_where_it_enters(
    build: Callable[[], object],
) -> None:
    with pytest.raises(InvalidRecordError, match=r"over the limit of 65,536") as raised:
        build()
    assert len(str(raised.value)) < 400  # the size, never the value
    assert "aaaa" not in str(raised.value)


def test_data_up_to_the_limits_is_accepted() -> None:
    under = {"notes": "9" * (MAX_DATA_BYTES - 100), "tier": "gold"}
    assert Contact("x", attributes=under).attributes == under
    assert Contact("x", attributes={"notes": "e" * 40_000}).attributes["notes"] == "e" * 40_000
    assert Event("x", "e", NOW, data=_deep(MAX_DATA_DEPTH)).data == _deep(MAX_DATA_DEPTH)


# --- one unreadable contact among thousands ------------------------------------------------------

GOOD = [f"c{n:04d}" for n in range(2_000)]

CONFIRM = Cadence(
    "shop",
    channels=[Channel("email")],
    timezone="UTC",
    steps=[
        Step("confirm", trigger=on_event("order_placed"), channels=["email"], transactional=True)
    ],
)


def _customer(contact_id: str) -> Contact:
    return Contact(
        contact_id,
        attributes={"tier": "gold"},
        timezone="America/Sao_Paulo",
        consents={"email"},
        addresses={"email": f"{contact_id}@example.com"},
        created_at=NOW - timedelta(days=30),
    )


# id -> (table, column, JSON column?, stored value, what the error names); written with raw
# SQL, as a program other than regua could.
HOSTILE_ROWS: dict[str, tuple[str, str, bool, str, str]] = {
    "deep": ("contacts", "attributes", True, nested_object(500), "'deep'.attributes"),
    "mars": ("contacts", "timezone", False, "Mars/Olympus", "unknown timezone 'Mars/Olympus'"),
    "deep-event": ("events", "data", True, nested_object(500), "'deep-event'.data"),
    "status": ("deliveries", "status", False, "lost", "'status'.status"),
}
SQLITE_HOSTILE_ROWS = {  # PostgreSQL's column types refuse these
    "not-json": ("contacts", "attributes", False, '{"tier": gold', "JSONDecodeError"),
    "garbage-at": ("events", "at", False, "yesterday", "'garbage-at'.at"),
}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_one_unreadable_row_does_not_stop_the_tick_for_thousands(
    request: pytest.FixtureRequest, backend: str
) -> None:
    repository: SQLRepository = request.getfixturevalue(f"{backend}_repository")
    hostile = dict(HOSTILE_ROWS, **(SQLITE_HOSTILE_ROWS if backend == "sqlite" else {}))
    everyone = [*GOOD, *hostile]
    earlier = Delivery(
        "shop", "welcome", "status", "shop:welcome:status", DeliveryStatus.SENT, NOW, "email"
    )
    repository.bulk_load(
        [_customer(i) for i in everyone],
        [Event(i, "order_placed", NOW, id=f"o-{i}") for i in everyone],
        [earlier],
    )
    for contact_id, (table, column, json, value, _) in hostile.items():
        write_around(repository, table, column, value, contact_id, json=json)
    outbox = Outbox()
    scheduler = Scheduler(CONFIRM, repository=repository, senders={"email": outbox})

    report = scheduler.tick(NOW)

    assert sorted(m.contact.id for m in outbox.sent) == GOOD  # each once
    assert sorted(report.errors) == sorted(hostile)
    recorded = {e.contact_id: e.error for e in repository.errors()}
    assert sorted(recorded) == sorted(hostile)
    for contact_id, (*_, named) in hostile.items():
        assert recorded[contact_id].startswith("InvalidRecordError: ")
        assert named in recorded[contact_id]
    # Not evaluated again, tick after tick, until the application changes them.
    assert repository.due_contact_ids(NOW + timedelta(days=365), 10) == []
    assert scheduler.tick(NOW + timedelta(minutes=1)).evaluated == 0
    assert len(repository.errors()) == len(hostile)
    repository.upsert_contact(_customer("mars"))
    report = scheduler.tick(NOW + timedelta(minutes=2))
    assert (report.evaluated, report.errors) == (1, {})
    assert [m.contact.id for m in outbox.sent[len(GOOD) :]] == ["mars"]


def test_records_changed_around_validation_in_memory_do_not_stop_the_tick() -> None:
    """In memory, records changed in place after validation are one contact's problem only."""
    repository = InMemoryRepository()
    ids = [*GOOD, "mars", "deep", "deep-event"]
    repository.bulk_load(
        [_customer(i) for i in ids], [Event(i, "order_placed", NOW, id=f"o-{i}") for i in ids]
    )
    stored = {i: repository.get_contact(i) for i in ids}
    object.__setattr__(stored["mars"], "timezone", "Mars/Olympus")
    object.__setattr__(stored["deep"], "attributes", _deep(5_000))
    (event,) = [e for e in repository.history("deep-event") if isinstance(e, Event)]
    object.__setattr__(event, "data", _deep(5_000))
    outbox = Outbox()
    scheduler = Scheduler(CONFIRM, repository=repository, senders={"email": outbox})

    report = scheduler.tick(NOW)

    assert sorted(report.errors) == ["mars"]
    assert [e.contact_id for e in repository.errors()] == ["mars"]
    # Data nobody reads is no obstacle: the deep ones are sent their confirmation too.
    assert sorted(m.contact.id for m in outbox.sent) == sorted([*GOOD, "deep", "deep-event"])
    assert scheduler.tick(NOW + timedelta(minutes=1)).evaluated == 0
