"""Stored rows the SQL repository cannot read fail alone: one contact's error, not the batch's.

Rows written around regua (by hand, by another program, by a machine whose tzdata knows
zones this one does not) may hold what no record accepts. Each case below writes one such
row for the contact ``bad`` among readable ones, straight into the table, and checks every
batch read: the others are read as usual, ``bad`` comes back with `Snapshot.unreadable`
naming the record and the field (or is left out of `get_contacts`), and the reads of that
one contact raise `InvalidRecordError` saying the same.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

import pytest
import sqlalchemy as sa

from regua import Contact, Delivery, DeliveryStatus, Event
from regua.errors import InvalidRecordError
from regua.repositories.sql import SQLRepository
from tests.repositories.raw import nested_list, nested_object, write_around

T0 = datetime(2024, 5, 6, 12, 0, tzinfo=timezone.utc)
LEASE = timedelta(minutes=5)
GOOD = [f"good-{n}" for n in range(5)]
IDS = [*GOOD, "bad"]


class Corruption(NamedTuple):
    table: str
    column: str
    value: str
    error: str  # a regular expression the error message matches
    json: bool = False  # the column is JSON: the value is JSON text
    sqlite_only: bool = False  # PostgreSQL's column types refuse the value


CORRUPTIONS = {
    "deep attributes": Corruption(
        "contacts",
        "attributes",
        nested_object(500),
        r"Contact 'bad'\.attributes: cannot be read as stored: nested more than 32 levels",
        json=True,
    ),
    "deep addresses": Corruption(
        "contacts",
        "addresses",
        '{"email": ' + nested_list(300) + "}",
        r"Contact 'bad'\.addresses: cannot be read as stored: nested more than 32 levels",
        json=True,
    ),
    "unknown timezone": Corruption(
        "contacts",
        "timezone",
        "Mars/Olympus",
        r"Contact 'bad'\.timezone: unknown timezone 'Mars/Olympus'.* \(as stored\)",
    ),
    "consents not a list": Corruption(
        "contacts",
        "consents",
        "5",
        r"Contact 'bad'\.consents: cannot be read as stored: TypeError",
        json=True,
    ),
    "attributes not JSON": Corruption(
        "contacts",
        "attributes",
        '{"tier": gold',
        r"Contact 'bad'\.attributes: cannot be read as stored: JSONDecodeError",
        sqlite_only=True,
    ),
    "garbage created_at": Corruption(
        "contacts",
        "created_at",
        "someday",
        r"Contact 'bad'\.created_at: cannot be read as stored: ValueError: a str of 7 "
        r"characters .* is not an ISO 8601 instant",
        sqlite_only=True,
    ),
    "deep event data": Corruption(
        "events",
        "data",
        nested_object(500),
        r"Event 'o-bad' of contact 'bad'\.data: cannot be read as stored: nested more than 32",
        json=True,
    ),
    "event data past the recursion limit": Corruption(
        "events",
        "data",
        '{"a": ' + nested_list(5000) + "}",
        r"Event 'o-bad' of contact 'bad'\.data: cannot be read as stored: RecursionError",
        json=True,
    ),
    "garbage event instant": Corruption(
        "events",
        "at",
        "yesterday",
        r"Event 'o-bad' of contact 'bad'\.at: cannot be read as stored: ValueError",
        sqlite_only=True,
    ),
    "unknown delivery status": Corruption(
        "deliveries",
        "status",
        "lost",
        r"Delivery 'k-bad' of contact 'bad'\.status: cannot be read as stored: ValueError",
    ),
}


def contact(contact_id: str) -> Contact:
    return Contact(
        contact_id,
        attributes={"tier": "gold"},
        timezone="America/Sao_Paulo",
        consents={"email"},
        addresses={"email": f"{contact_id}@example.com"},
        created_at=T0 - timedelta(days=30),
    )


def event(contact_id: str) -> Event:
    return Event(contact_id, "order_placed", T0, id=f"o-{contact_id}", data={"total": 9.9})


def delivery(contact_id: str) -> Delivery:
    return Delivery(
        "shop", "welcome", contact_id, f"k-{contact_id}", DeliveryStatus.SENT, T0, "email"
    )


def corrupt(repository: SQLRepository, corruption: Corruption, contact_id: str) -> None:
    """Write `corruption` into the row of `contact_id`, going around the repository."""
    table, column, value = corruption.table, corruption.column, corruption.value
    write_around(repository, table, column, value, contact_id, json=corruption.json)


def load(repository: SQLRepository) -> SQLRepository:
    """Readable contacts, each with an event and a delivery, and ``bad`` likewise."""
    repository.bulk_load(
        [contact(i) for i in IDS], [event(i) for i in IDS], [delivery(i) for i in IDS]
    )
    return repository


@pytest.fixture
def loaded(sql_repository: SQLRepository) -> SQLRepository:
    """`load` on SQLite and on PostgreSQL."""
    return load(sql_repository)


@pytest.mark.parametrize(
    ("backend", "case"),
    [
        (backend, case)
        for case, corruption in CORRUPTIONS.items()
        for backend in ("sqlite", "postgres")
        if backend == "sqlite" or not corruption.sqlite_only
    ],
)
def test_an_unreadable_row_fails_its_contact_alone(
    request: pytest.FixtureRequest, backend: str, case: str
) -> None:
    corruption = CORRUPTIONS[case]
    loaded = load(request.getfixturevalue(f"{backend}_repository"))
    version = loaded.load_snapshots(["bad"])["bad"].version
    corrupt(loaded, corruption, "bad")

    acquired = {s.contact.id: s for s in loaded.acquire_due("w1", T0, 100, LEASE)}
    for snapshots in (acquired, loaded.load_snapshots(IDS)):
        assert sorted(snapshots) == sorted(IDS)
        bad = snapshots["bad"]
        assert bad.unreadable is not None
        assert re.search(corruption.error, bad.unreadable), bad.unreadable
        assert len(bad.unreadable) <= 600  # bounded, however large the row
        assert bad.contact == Contact("bad")
        assert (bad.events, bad.deliveries, bad.version) == ((), (), version)
        for contact_id in GOOD:
            snapshot = snapshots[contact_id]
            assert snapshot.unreadable is None
            assert snapshot.contact == contact(contact_id)
            assert snapshot.events == (event(contact_id),)
            assert snapshot.deliveries == (delivery(contact_id),)
    # Every contact was leased, the unreadable one too: the tick records its error.
    assert loaded.acquire_due("w2", T0, 100, LEASE) == []

    # Read right before sending: an unreadable contact is left out, as a missing one is (a
    # contact with an unreadable event is readable itself).
    readable = GOOD if corruption.table == "contacts" else sorted(IDS)
    assert sorted(loaded.get_contacts(IDS)) == readable
    versioned = loaded.get_versioned_contacts(IDS)
    assert sorted(versioned) == readable
    assert versioned["good-0"] == (contact("good-0"), version)  # loaded alike: one version

    # The reads of that one contact say why.
    if corruption.table == "contacts":
        with pytest.raises(InvalidRecordError, match=corruption.error):
            loaded.get_contact("bad")
    else:
        assert loaded.get_contact("bad") == contact("bad")
        with pytest.raises(InvalidRecordError, match=corruption.error):
            loaded.history("bad")
    assert loaded.history("good-0") == [event("good-0"), delivery("good-0")]


def test_an_unreadable_failed_delivery_is_named(sqlite_repository: SQLRepository) -> None:
    sqlite_repository.upsert_contact(contact("bad"))
    failed = Delivery(
        "shop", "nudge", "bad", "k-failed", DeliveryStatus.FAILED, T0, "email", reason="bounced"
    )
    sqlite_repository.record([failed])
    assert sqlite_repository.failed_deliveries() == [failed]
    deliveries = sa.table("regua_deliveries", sa.column("occurrence_key"), sa.column("at"))
    with sqlite_repository.engine.begin() as conn:
        conn.execute(sa.update(deliveries).values(at="2024-13-45 99:00:00"))
    with pytest.raises(InvalidRecordError, match=r"Delivery 'k-failed' of contact 'bad'\.at"):
        sqlite_repository.failed_deliveries()


def test_instants_and_json_read_back_equal_through_the_raw_columns(
    loaded: SQLRepository,
) -> None:
    snapshot = loaded.load_snapshots(["good-1"])["good-1"]
    instants = [snapshot.contact.created_at, snapshot.events[0].at, snapshot.deliveries[0].at]
    assert instants == [T0 - timedelta(days=30), T0, T0]
    assert all(at is not None and at.tzinfo is timezone.utc for at in instants)
    digest = Delivery(
        "shop",
        "digest",
        "good-1",
        "k-digest",
        DeliveryStatus.SENT,
        T0,
        "email",
        collected=("o-1", "o-2"),
    )
    loaded.record([digest])
    assert loaded.load_snapshots(["good-1"])["good-1"].deliveries[-1] == digest
    assert loaded.history("good-1")[-1] == digest
