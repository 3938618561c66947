"""`bulk_load`: many records at once, the same outcome as loading them one by one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from functools import partial

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regua import Contact, Delivery, DeliveryStatus, Event, InMemoryRepository
from regua.ports import UnknownContactError, Wakeup
from regua.repositories import sql as sql_module
from regua.repositories.sql import SQLRepository
from tests.profiles import examples

T0 = datetime(2026, 3, 2, 15, tzinfo=timezone.utc)
LATER = T0 + timedelta(days=30)

Repo = InMemoryRepository | SQLRepository


@pytest.fixture(params=["memory", "memory-compact", "sqlite", "postgres"])
def repository(request: pytest.FixtureRequest) -> Repo:
    if request.param.startswith("memory"):
        return InMemoryRepository(compact=request.param == "memory-compact")
    found: Repo = request.getfixturevalue(f"{request.param}_repository")
    return found


def contact(contact_id: str, tier: str = "gold") -> Contact:
    return Contact(
        contact_id,
        attributes={"tier": tier, "birth_date": T0.date()},
        timezone="Europe/Lisbon",
        consents={"email"},
        addresses={"email": f"{contact_id}@example.com"},
        created_at=T0,
    )


def event(contact_id: str, n: int, name: str = "order_placed") -> Event:
    return Event(contact_id, name, T0 + timedelta(hours=n), id=f"{contact_id}-{n}", data={"n": n})


def delivery(contact_id: str, step: str) -> Delivery:
    return Delivery(
        "c", step, contact_id, f"c:{step}:{contact_id}", DeliveryStatus.SENT, T0, channel="email"
    )


def test_loads_contacts_events_and_deliveries(repository: Repo) -> None:
    contacts = [contact(f"k{i}") for i in range(5)]
    events = [event(f"k{i}", n) for i in range(5) for n in range(3)]
    stored = repository.bulk_load(contacts, events, [delivery("k1", "welcome")])
    assert stored == 15
    assert repository.get_contact("k3") == contacts[3]
    history = repository.history("k1")
    assert [item.id for item in history if isinstance(item, Event)] == ["k1-0", "k1-1", "k1-2"]
    assert [item.occurrence_key for item in history if isinstance(item, Delivery)] == [
        "c:welcome:k1"
    ]
    snapshot = repository.load_snapshots(["k2"])["k2"]
    assert list(snapshot.events) == [event("k2", n) for n in range(3)]


def test_duplicates_are_skipped_and_not_counted(repository: Repo) -> None:
    repository.bulk_load([contact("ana")], [event("ana", 1)])
    stored = repository.bulk_load([], [event("ana", 1), event("ana", 2), event("ana", 2)])
    assert stored == 1
    assert [e.id for e in repository.load_snapshots(["ana"])["ana"].events] == ["ana-1", "ana-2"]
    # The same id under another event name is another event, as in record_event.
    assert repository.bulk_load([], [event("ana", 1, name="login")]) == 1


def test_record_event_after_bulk_load_refuses_the_loaded_ids(repository: Repo) -> None:
    repository.bulk_load([contact("ana")], [event("ana", 1), event("ana", 2)])
    assert repository.record_event(event("ana", 2)) is False
    assert repository.record_event(event("ana", 3)) is True
    # And a later bulk load sees both the loaded and the recorded ids.
    assert repository.bulk_load([], [event("ana", 1), event("ana", 3), event("ana", 4)]) == 1
    events = repository.load_snapshots(["ana"])["ana"].events
    assert [e.id for e in events] == ["ana-1", "ana-2", "ana-3", "ana-4"]


def test_loaded_contacts_are_due_and_stale_wakeups_are_ignored(repository: Repo) -> None:
    repository.bulk_load([contact("ana"), contact("bia")])
    assert sorted(repository.due_contact_ids(T0, 10)) == ["ana", "bia"]
    versions = {k: s.version for k, s in repository.load_snapshots(["ana", "bia"]).items()}
    repository.set_wakeups([Wakeup(k, LATER, v) for k, v in versions.items()])
    assert repository.due_contact_ids(T0, 10) == []
    # A new event wakes its contact and changes its version, as record_event does.
    assert repository.bulk_load([], [event("bia", 1)]) == 1
    assert repository.due_contact_ids(T0, 10) == ["bia"]
    repository.set_wakeups([Wakeup("bia", LATER, versions["bia"])])  # computed before: stale
    assert repository.due_contact_ids(T0, 10) == ["bia"]
    # A duplicate wakes nobody.
    snapshot = repository.load_snapshots(["bia"])["bia"]
    repository.set_wakeups([Wakeup("bia", LATER, snapshot.version)])
    assert repository.bulk_load([], [event("bia", 1)]) == 0
    assert repository.due_contact_ids(T0, 10) == []
    assert repository.next_wakeup() == LATER


def test_an_event_of_an_unknown_contact_stores_nothing(repository: Repo) -> None:
    repository.bulk_load([contact("ana")])
    with pytest.raises(UnknownContactError, match="'zoe'"):
        repository.bulk_load([contact("bia")], [event("bia", 1), event("zoe", 1)])
    assert repository.get_contact("bia") is None
    assert repository.history("ana") == []


def test_replacing_contacts_keeps_their_events(repository: Repo) -> None:
    repository.bulk_load([contact("ana")], [event("ana", 1)])
    repository.bulk_load([contact("ana", tier="bronze"), contact("ana", tier="silver")])
    found = repository.get_contact("ana")
    assert found is not None
    assert found.attributes["tier"] == "silver"
    assert len(repository.history("ana")) == 1


def test_sql_reads_generators_in_batches(
    sqlite_repository: SQLRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_module, "_BULK_ROWS", 3)
    read: list[int] = []

    def events() -> Iterator[Event]:
        for n in range(10):
            read.append(n)
            yield event(f"k{n % 4}", n)

    statements: list[str] = []
    import sqlalchemy as sa

    sa.event.listen(
        sqlite_repository.engine,
        "before_cursor_execute",
        lambda *args: statements.append(args[2]),
    )
    stored = sqlite_repository.bulk_load((contact(f"k{i}") for i in range(4)), events())
    assert stored == 10
    assert read == list(range(10))
    assert len(sqlite_repository.history("k1")) == 3  # events 1, 5, 9
    inserts = [s for s in statements if s.startswith("INSERT INTO regua_events")]
    assert len(inserts) == 4  # ceil(10 / 3) batches, not one statement per event


def _one_by_one(repository: Repo, contacts: list[Contact], events: list[Event]) -> None:
    for c in contacts:
        repository.upsert_contact(c)
    for e in events:
        repository.record_event(e)


def _state(repository: Repo, ids: list[str]) -> tuple[object, ...]:
    snapshots = repository.load_snapshots(ids)
    return (
        {k: (s.contact, list(s.events)) for k, s in snapshots.items()},
        sorted(repository.due_contact_ids(T0, 1000)),
    )


ids = st.sampled_from(["a", "b", "c", "d"])


@pytest.mark.slow
@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    contacts=st.lists(st.builds(contact, ids, st.sampled_from(["gold", "silver"])), max_size=6),
    events=st.lists(
        st.builds(event, ids, st.integers(0, 3), st.sampled_from(["login", "order_placed"])),
        max_size=12,
    ),
    kind=st.sampled_from(["memory", "memory-compact", "sqlite"]),
)
def test_same_outcome_as_one_by_one(
    contacts: list[Contact], events: list[Event], kind: str
) -> None:
    known = {c.id for c in contacts}
    events = [e for e in events if e.contact_id in known]
    make: Callable[[], Repo] = {
        "memory": InMemoryRepository,
        "memory-compact": partial(InMemoryRepository, compact=True),
    }.get(kind, _sqlite)
    bulk, single = make(), make()
    bulk.bulk_load(contacts, events)
    _one_by_one(single, contacts, events)
    everybody = sorted(known)
    assert _state(bulk, everybody) == _state(single, everybody)
    for repository in (bulk, single):
        snapshots = repository.load_snapshots(everybody)
        repository.set_wakeups([Wakeup(k, LATER, s.version) for k, s in snapshots.items()])
        assert repository.next_wakeup() in (None, LATER)


def _sqlite() -> SQLRepository:
    return SQLRepository("sqlite://")


def test_a_load_that_grows_a_table_by_a_tenth_analyzes_it_on_postgresql(
    postgres_repository: SQLRepository, postgres_engine: sa.Engine, postgres_schema: str
) -> None:
    """PostgreSQL plans a batch's reads with the indexes only once it has statistics."""

    def counted(table: str) -> float:
        """The rows PostgreSQL's statistics count in `table` (-1: never analyzed)."""
        with postgres_engine.connect() as conn:
            found = conn.execute(
                sa.text("SELECT reltuples FROM pg_class WHERE oid = CAST(:name AS regclass)"),
                {"name": f'"{postgres_schema}".{table}'},
            ).scalar_one()
        return float(found)

    repository = postgres_repository
    repository.bulk_load([contact("k0")], [event("k0", n) for n in range(100)])
    assert (counted("regua_contacts"), counted("regua_events")) == (1, 100)
    assert counted("regua_deliveries") < 0  # nothing loaded there: not analyzed
    repository.bulk_load((), [event("k0", n) for n in range(100, 159)])  # 59 < 50 + 10%
    assert counted("regua_events") == 100
    repository.bulk_load((), [event("k0", n) for n in range(159, 300)])
    assert counted("regua_events") == 300
