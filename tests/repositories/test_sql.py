"""What only the SQL repository has: a schema, migrations, storage formats, batching.

The behaviour it shares with every repository is checked by the contract suite
(test_contracts.py); these tests run on SQLite and PostgreSQL alike through `sql_repository`,
unless their name says which.
"""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest
import sqlalchemy as sa

import regua.repositories.sql as sql_module
from regua import Contact, Delivery, DeliveryStatus, DueAction, Event
from regua.errors import InvalidRecordError, MissingDependencyError, ReguaError
from regua.ports import Claim, ContactError, Repository, Wakeup
from regua.records import idempotency_key
from regua.repositories.sql import SCHEMA_VERSION, SchemaVersionError, SQLRepository
from regua.sharding import Shard, bucket_of
from tests.repositories.conftest import POSTGRES_URL

T0 = datetime(2024, 5, 6, 12, 0, tzinfo=timezone.utc)
LEASE = timedelta(minutes=5)
_R = TypeVar("_R")


def reopen(repository: SQLRepository, **options: Any) -> SQLRepository:
    """Another repository on the same database (and schema) as `repository`."""
    options.setdefault("lease_clock", repository.lease_clock)
    return SQLRepository(repository.engine, schema=repository.schema, **options)


def contact(contact_id: str, **attributes: Any) -> Contact:
    return Contact(
        contact_id,
        attributes=attributes,
        timezone="America/Sao_Paulo",
        consents={"email"},
        addresses={"email": f"{contact_id}@example.com"},
    )


def action(contact_id: str, number: int = 1) -> DueAction:
    key = f"shop:reminder:{contact_id}:{number}"
    return DueAction(
        cadence="shop",
        step="reminder",
        contact_id=contact_id,
        occurrence_key=key,
        idempotency_key=idempotency_key(key),
        due_at=T0,
        channel="email",
        fallbacks=(),
        message="reminder",
        payload={},
    )


def stored_version(repository: SQLRepository) -> list[int]:
    table = sa.table("regua_schema_version", sa.column("version"), schema=repository.schema)
    with repository.engine.connect() as conn:
        return list(conn.execute(sa.select(table.c.version)).scalars())


def set_stored_version(repository: SQLRepository, version: int) -> None:
    table = sa.table("regua_schema_version", sa.column("version"), schema=repository.schema)
    with repository.engine.begin() as conn:
        conn.execute(sa.update(table).values(version=version))


# --- schema and migrations ---------------------------------------------------------------------


def test_schema_has_the_prefixed_tables_and_a_version_row(sql_repository: SQLRepository) -> None:
    tables = set(sa.inspect(sql_repository.engine).get_table_names(schema=sql_repository.schema))
    assert tables == {
        "regua_schema_version",
        "regua_folds",
        "regua_contacts",
        "regua_events",
        "regua_deliveries",
        "regua_claims",
        "regua_errors",
    }
    assert stored_version(sql_repository) == [SCHEMA_VERSION] == [9]
    indexes = sa.inspect(sql_repository.engine).get_indexes(
        "regua_contacts", schema=sql_repository.schema
    )
    found = [{"name": index["name"], "columns": index["column_names"]} for index in indexes]
    assert {"name": "regua_contacts_wakeup", "columns": ["wakeup_at", "id"]} in found
    sharded = {"name": "regua_contacts_shard_wakeup", "columns": ["wakeup_at", "bucket", "id"]}
    assert sharded in found


def test_reopening_an_up_to_date_schema_changes_nothing(sql_repository: SQLRepository) -> None:
    sql_repository.upsert_contact(contact("ana"))
    reopened = reopen(sql_repository)
    assert reopened.get_contact("ana") == contact("ana")
    assert stored_version(sql_repository) == [SCHEMA_VERSION]
    assert reopen(sql_repository, create=False).get_contact("ana") == contact("ana")


def test_a_newer_schema_version_is_refused(sql_repository: SQLRepository) -> None:
    sql_repository.upsert_contact(contact("ana"))
    set_stored_version(sql_repository, SCHEMA_VERSION + 1)
    newer = rf"schema version {SCHEMA_VERSION + 1}, newer than version {SCHEMA_VERSION}"
    with pytest.raises(SchemaVersionError, match=newer):
        reopen(sql_repository)
    with pytest.raises(SchemaVersionError, match="upgrade regua"):
        reopen(sql_repository, create=False)
    assert issubclass(SchemaVersionError, ReguaError)
    assert stored_version(sql_repository) == [SCHEMA_VERSION + 1]  # untouched


def test_create_false_refuses_a_database_without_the_schema(tmp_path: Path) -> None:
    with pytest.raises(SchemaVersionError, match="holds no regua schema; open it with create"):
        SQLRepository(f"sqlite:///{tmp_path / 'empty.db'}", create=False)


def test_an_older_schema_is_migrated_in_order_once(
    sql_repository: SQLRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    sql_repository.upsert_contact(contact("ana"))
    applied: list[int] = []

    def migration(target: int) -> Callable[[sa.Connection, str | None], None]:
        def migrate(conn: sa.Connection, schema: str | None) -> None:
            applied.append(target)
            table = f"{schema}.regua_notes_{target}" if schema else f"regua_notes_{target}"
            conn.execute(sa.text(f"CREATE TABLE {table} (note TEXT)"))

        return migrate

    now, a, b = SCHEMA_VERSION, SCHEMA_VERSION + 1, SCHEMA_VERSION + 2
    monkeypatch.setattr(sql_module, "SCHEMA_VERSION", b)
    monkeypatch.setattr(sql_module, "_MIGRATIONS", {b: migration(b), a: migration(a)})
    with pytest.raises(SchemaVersionError, match=f"version {now}, older than {b}; open it with"):
        reopen(sql_repository, create=False)
    migrated = reopen(sql_repository)
    assert applied == [a, b]
    assert stored_version(sql_repository) == [b]
    assert migrated.get_contact("ana") == contact("ana")
    names = sa.inspect(sql_repository.engine).get_table_names(schema=sql_repository.schema)
    assert {f"regua_notes_{a}", f"regua_notes_{b}"} <= set(names)
    reopen(sql_repository)
    assert applied == [a, b]


def test_a_missing_migration_changes_nothing(
    sql_repository: SQLRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(sql_module, "_MIGRATIONS", {})
    missing = f"no migration to regua schema version {SCHEMA_VERSION + 1}"
    with pytest.raises(SchemaVersionError, match=missing):
        reopen(sql_repository)
    assert stored_version(sql_repository) == [SCHEMA_VERSION]


def _as_version_1(repository: SQLRepository) -> None:
    """Turn a fresh database back into the version 1 layout: drop what later versions added."""
    schema = f"{repository.schema}." if repository.schema else ""
    added = {
        "claims": ("sending", "unsettled", "channel"),
        "deliveries": ("collected", "variant", "message_id", "detail"),
        "contacts": ("bucket",),
    }
    with repository.engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {schema}regua_folds"))
        for index in (
            "events_contact_serial",
            "deliveries_contact_serial",
            "deliveries_contact_at",
        ):
            conn.execute(sa.text(f"DROP INDEX {schema}regua_{index}"))
        conn.execute(sa.text(f"DROP INDEX {schema}regua_contacts_shard_wakeup"))
        for table, columns in added.items():
            for column in columns:
                conn.execute(sa.text(f"ALTER TABLE {schema}regua_{table} DROP COLUMN {column}"))
    set_stored_version(repository, 1)


def test_version_1_claims_migrate_as_possibly_sending(sql_repository: SQLRepository) -> None:
    """A claim stored before version 2 may belong to a worker that was sending: after the
    migration, whoever takes it over finds it unsettled; new claims work as usual."""
    sql_repository.upsert_contact(contact("ana"))
    sql_repository.claim([action("ana", 1)], "w1", T0, LEASE)
    _as_version_1(sql_repository)
    with pytest.raises(SchemaVersionError, match="version 1, older than"):
        reopen(sql_repository, create=False)
    migrated = reopen(sql_repository)
    assert stored_version(sql_repository) == [SCHEMA_VERSION]
    later = T0 + LEASE * 2
    taken = migrated.claim([action("ana", 1), action("ana", 2)], "w2", later, LEASE)
    flags = {key: (claim.sending, claim.unsettled, claim.channel) for key, claim in taken.items()}
    assert flags == {
        action("ana", 1).occurrence_key: (True, True, None),
        action("ana", 2).occurrence_key: (True, False, "email"),  # a new claim: its name
    }
    moved = attrs.evolve(taken[action("ana", 1).occurrence_key], channel_index=1, channel="sms")
    migrated.defer([moved])  # version 6 keeps the channel's name
    again = migrated.claim([action("ana", 1)], "w3", later + LEASE * 2, LEASE)
    assert again[action("ana", 1).occurrence_key].channel == "sms"


def test_a_version_1_database_gains_the_digest_events_of_deliveries(
    sql_repository: SQLRepository,
) -> None:
    sql_repository.upsert_contact(contact("ana"))
    old = Delivery("shop", "reminder", "ana", "k1", DeliveryStatus.SENT, T0, "email")
    sql_repository.record([old])
    _as_version_1(sql_repository)
    with pytest.raises(SchemaVersionError, match="version 1, older than"):
        reopen(sql_repository, create=False)

    migrated = reopen(sql_repository)
    assert stored_version(sql_repository) == [SCHEMA_VERSION]
    digest = Delivery(
        "shop", "digest", "ana", "k2", DeliveryStatus.SENT, T0, "email", collected=("e2", "e1")
    )
    migrated.record([digest])
    assert migrated.history("ana") == [old, digest]
    assert migrated.load_snapshots(["ana"])["ana"].deliveries == (old, digest)


def test_a_version_7_database_gains_delivery_message_ids_and_details(
    sql_repository: SQLRepository,
) -> None:
    """Outcomes recorded before versions 8 and 9 read back without an id and a detail."""
    sql_repository.upsert_contact(contact("ana"))
    old = Delivery("shop", "reminder", "ana", "k1", DeliveryStatus.SENT, T0, "email")
    sql_repository.record([old])
    schema = f"{sql_repository.schema}." if sql_repository.schema else ""
    with sql_repository.engine.begin() as conn:
        for column in ("message_id", "detail"):
            conn.execute(sa.text(f"ALTER TABLE {schema}regua_deliveries DROP COLUMN {column}"))
    set_stored_version(sql_repository, 7)
    with pytest.raises(SchemaVersionError, match="version 7, older than"):
        reopen(sql_repository, create=False)
    migrated = reopen(sql_repository)
    assert stored_version(sql_repository) == [SCHEMA_VERSION]
    assert migrated.history("ana") == [old]
    new = Delivery(
        "shop",
        "reminder",
        "ana",
        "k2",
        DeliveryStatus.SENT,
        T0 + LEASE,
        "email",
        message_id="m-2",
        detail="after sms: number unreachable",
    )
    migrated.record([new])
    assert [(d.message_id, d.detail) for d in reopen(sql_repository).history("ana")] == [
        (None, None),
        ("m-2", "after sms: number unreachable"),
    ]


def test_a_version_1_database_gains_delivery_variants(sql_repository: SQLRepository) -> None:
    sql_repository.upsert_contact(contact("ana"))
    old = Delivery("shop", "reminder", "ana", "k1", DeliveryStatus.SENT, T0, "email")
    sql_repository.record([old])
    _as_version_1(sql_repository)
    migrated = reopen(sql_repository)
    assert stored_version(sql_repository) == [SCHEMA_VERSION]
    assert migrated.history("ana") == [old]
    new = Delivery(
        "shop", "reminder", "ana", "k2", DeliveryStatus.SENT, T0 + LEASE, "email", variant="long"
    )
    migrated.record([new])
    assert reopen(sql_repository).history("ana") == [old, new]


def test_a_version_1_database_gets_buckets_and_the_shard_index(
    sql_repository: SQLRepository,
) -> None:
    ids = [f"c{n}" for n in range(30)]
    for contact_id in ids:
        sql_repository.upsert_contact(contact(contact_id))
    assert sql_repository.record_event(Event("c1", "order_placed", T0, id="A-1"))
    _as_version_1(sql_repository)
    columns = sa.inspect(sql_repository.engine).get_columns(
        "regua_contacts", schema=sql_repository.schema
    )
    assert "bucket" not in {column["name"] for column in columns}

    migrated = reopen(sql_repository)

    assert stored_version(sql_repository) == [SCHEMA_VERSION]
    table = sa.table(
        "regua_contacts", sa.column("id"), sa.column("bucket"), schema=sql_repository.schema
    )
    with sql_repository.engine.connect() as conn:
        stored = {row.id: row.bucket for row in conn.execute(sa.select(table.c.id, table.c.bucket))}
    assert stored == {contact_id: bucket_of(contact_id) for contact_id in ids}
    indexes = sa.inspect(sql_repository.engine).get_indexes(
        "regua_contacts", schema=sql_repository.schema
    )
    assert ["wakeup_at", "bucket", "id"] in [index["column_names"] for index in indexes]
    # Everything written before the migration reads back; shards split the migrated base.
    assert migrated.get_contact("c1") == contact("c1")
    assert [e.id for e in migrated.history("c1") if isinstance(e, Event)] == ["A-1"]
    by_shard = {
        shard.index: {s.contact.id for s in migrated.acquire_due("w", T0, 100, LEASE, shard=shard)}
        for shard in Shard.all(3)
    }
    for index, got in by_shard.items():
        assert got == {c for c in ids if Shard(index, 3).holds(c)}
    # New contacts after the migration get their bucket too.
    migrated.upsert_contact(contact("late"))
    late_shard = Shard.of("late", 3)
    due = migrated.due_contact_ids(T0, 100, shard=late_shard)
    assert "late" in due
    assert all(late_shard.holds(contact_id) for contact_id in due)


def test_a_migration_that_fails_leaves_version_1_untouched(
    sql_repository: SQLRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    sql_repository.upsert_contact(contact("ana"))
    _as_version_1(sql_repository)

    def broken(contact_id: str) -> int:
        raise RuntimeError("backfill failed")

    monkeypatch.setattr(sql_module, "bucket_of", broken)
    with pytest.raises(RuntimeError, match="backfill failed"):
        reopen(sql_repository)
    assert stored_version(sql_repository) == [1]
    columns = sa.inspect(sql_repository.engine).get_columns(
        "regua_contacts", schema=sql_repository.schema
    )
    assert "bucket" not in {column["name"] for column in columns}


def test_reopening_a_sqlite_file_keeps_everything(sqlite_url: str) -> None:
    first = SQLRepository(sqlite_url)
    first.upsert_contact(contact("ana", tier="gold"))
    event = Event("ana", "order_placed", T0, id="A-1", data={"total": 10})
    assert first.record_event(event)
    delivery = Delivery("shop", "reminder", "ana", "k1", DeliveryStatus.FAILED, T0, "email", "x")
    first.record([delivery])
    first.record_errors([ContactError("ana", T0, "boom")])
    claim = first.claim([action("ana", 2)], "w1", T0, LEASE)
    (snapshot,) = first.acquire_due("w1", T0, 10, LEASE)
    first.set_wakeups([Wakeup("ana", T0 + timedelta(days=1), snapshot.version)])
    first.close()

    second = SQLRepository(sqlite_url)
    assert second.get_contact("ana") == contact("ana", tier="gold")
    assert second.history("ana") == [event, delivery]
    assert second.failed_deliveries() == [delivery]
    assert second.errors() == [ContactError("ana", T0, "boom")]
    assert second.claim([action("ana", 2)], "w2", T0, LEASE) == {}  # still held
    assert second.claim([action("ana", 2)], "w2", T0 + LEASE * 2, LEASE) == {
        claim[action("ana", 2).occurrence_key].occurrence_key: Claim(
            action("ana", 2).occurrence_key,
            "ana",
            "w2",
            T0 + LEASE * 3,
            sending=True,
            unsettled=True,
            channel="email",
        )
    }
    assert second.due_contact_ids(T0 + timedelta(hours=23), 10) == []
    assert second.due_contact_ids(T0 + timedelta(days=1), 10) == ["ana"]
    assert stored_version(second) == [SCHEMA_VERSION]
    second.close()


# --- storage formats ---------------------------------------------------------------------------


def test_aware_datetimes_round_trip_exactly_as_utc(sql_repository: SQLRepository) -> None:
    recife = timezone(timedelta(hours=-3))
    tokyo = timezone(timedelta(hours=9))
    created = datetime(2023, 12, 31, 22, 59, 59, 999999, tzinfo=recife)  # 2024-01-01 UTC
    at = datetime(2024, 3, 10, 9, 30, 0, 123456, tzinfo=tokyo)
    ana = Contact("ana", created_at=created)
    sql_repository.upsert_contact(ana)
    event = Event("ana", "login", at, id="L-1")
    assert sql_repository.record_event(event)
    delivery = Delivery("shop", "welcome", "ana", "k1", DeliveryStatus.SENT, at, "email")
    sql_repository.record([delivery])
    now = datetime(2024, 3, 10, 0, 0, 0, 1, tzinfo=tokyo)
    granted = sql_repository.claim([action("ana")], "w1", now, timedelta(microseconds=1))
    sql_repository.record_errors([ContactError("ana", at, "boom")])

    instants = [
        sql_repository.get_contact("ana").created_at,  # type: ignore[union-attr]
        *(item.at for item in sql_repository.history("ana")),
        granted[action("ana").occurrence_key].until,
        sql_repository.errors()[0].at,
    ]
    assert instants == [created, at, at, now + timedelta(microseconds=1), at]
    assert all(value.tzinfo is timezone.utc for value in instants), instants
    assert instants[0] == datetime(2024, 1, 1, 1, 59, 59, 999999, tzinfo=timezone.utc)
    assert sql_repository.history("ana") == [event, delivery]


def test_sqlite_stores_instants_as_utc_text(sqlite_repository: SQLRepository) -> None:
    at = datetime(2024, 3, 10, 9, 30, tzinfo=timezone(timedelta(hours=-3)))
    sqlite_repository.upsert_contact(Contact("ana", created_at=at))
    path = sqlite_repository.engine.url.database
    assert path is not None
    with sqlite3.connect(path) as raw:
        (stored,) = raw.execute("SELECT created_at FROM regua_contacts").fetchone()
    raw.close()
    assert stored == "2024-03-10 12:30:00.000000"


def test_json_values_round_trip(sql_repository: SQLRepository) -> None:
    attributes = {
        "tier": "gold",
        "orders": 12,
        "big": 2**62,
        "score": 0.1 + 0.2,
        "vip": True,
        "manager": None,
        "name": "João Ñandú 日本",
        "tags": ["a", ["b", {"c": 1}]],
        "birth_date": date(1990, 2, 28),
        "last_seen": datetime(2024, 5, 6, 12, 0, 0, 5, tzinfo=timezone.utc),
        "call_at": time(9, 30),
        "balance": Decimal("1234.5600"),
        "pair": (1, "two"),
        "channels": {"email", "sms"},
        "ratio": float("inf"),
        "raw": b"\x00\xff",
        "nested": {"$date": "not a tag: a user key"},
        "empty": {},
    }
    sql_repository.upsert_contact(Contact("ana", attributes=attributes))
    stored = sql_repository.get_contact("ana")
    assert stored is not None
    assert stored.attributes == attributes
    assert list(stored.attributes) == list(attributes)  # key order kept
    assert type(stored.attributes["pair"]) is tuple
    data = {"items": [{"sku": "A", "price": Decimal("9.90")}], "when": date(2024, 5, 6)}
    event = Event("ana", "order_placed", T0, id="A-1", data=data)
    assert sql_repository.record_event(event)
    assert sql_repository.history("ana") == [event]
    (snapshot,) = sql_repository.acquire_due("w1", T0, 1, LEASE)
    assert snapshot.contact.attributes == attributes
    assert snapshot.events[0].data == data


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"when": object()}, r"Contact 'ana'.attributes\['when'\]: a object"),
        ({"scores": {1: "a"}}, r"Contact 'ana'.attributes\['scores'\]: key 1 is a int"),
    ],
)
def test_values_sql_cannot_store_are_refused_by_name(
    sqlite_repository: SQLRepository, attributes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRecordError, match=message):
        sqlite_repository.upsert_contact(Contact("ana", attributes=attributes))
    assert sqlite_repository.get_contact("ana") is None


# --- SQLite specifics ----------------------------------------------------------------------------


def test_sqlite_file_is_in_wal_mode(sqlite_repository: SQLRepository) -> None:
    sqlite_repository.upsert_contact(contact("ana"))
    path = sqlite_repository.engine.url.database
    assert path is not None
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        raw.close()


def test_sqlite_connections_wait_for_the_lock_and_check_foreign_keys(
    sqlite_repository: SQLRepository,
) -> None:
    sqlite_repository.upsert_contact(contact("ana"))
    pragmas: list[tuple[Any, ...]] = []

    def probe(conn: sa.Connection) -> None:
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        cursor = dbapi.cursor()
        for pragma in ("busy_timeout", "foreign_keys"):
            cursor.execute(f"PRAGMA {pragma}")
            pragmas.append(cursor.fetchone())
        cursor.close()

    sqlite_repository._read(probe)
    assert pragmas == [(30000,), (1,)]


def test_sqlite_in_memory_database_is_shared_by_threads() -> None:
    repository = SQLRepository("sqlite://")
    repository.upsert_contact(contact("ana"))
    results: list[list[str]] = []

    def work(index: int) -> None:
        repository.upsert_contact(contact(f"c{index}"))
        results.append(repository.due_contact_ids(T0, 100))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert all("ana" in due for due in results)
    assert sorted(repository.due_contact_ids(T0, 100)) == ["ana", "c0", "c1", "c2", "c3"]
    repository.close()


def test_a_shared_engine_keeps_its_own_transactions(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'shared.db'}")
    repository = SQLRepository(engine)
    repository.upsert_contact(contact("ana"))
    with engine.begin() as conn:  # the application's own use of its engine
        conn.execute(sa.text("CREATE TABLE app (x INTEGER)"))
        conn.execute(sa.text("INSERT INTO app VALUES (1)"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT x FROM app")).scalar() == 1
    repository.close()  # not ours to dispose of
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM regua_contacts")).scalar() == 1
    engine.dispose()


# --- transactions that roll back --------------------------------------------------------------


class _ConnectionLost(Exception):
    pass


def _fail_once(repository: SQLRepository, starts: str, table: str) -> Callable[[], None]:
    """Make the next statement starting with `starts` on `table` fail; return the undo."""
    armed = [True]

    def boom(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        words = statement.split()
        if armed[0] and words[0].upper() == starts and table in statement:
            armed[0] = False
            raise _ConnectionLost(f"connection lost during {starts} on {table}")

    sa.event.listen(repository.engine, "before_cursor_execute", boom)
    return lambda: sa.event.remove(repository.engine, "before_cursor_execute", boom)


def test_a_claim_that_rolls_back_leaves_the_occurrence_claimable(
    sql_repository: SQLRepository,
) -> None:
    """The upsert ran, then the transaction failed: no phantom claim holds the occurrence."""
    sql_repository.upsert_contact(contact("ana"))
    undo = _fail_once(sql_repository, "DELETE", "regua_claims")  # claim's second statement
    with pytest.raises(_ConnectionLost):
        sql_repository.claim([action("ana")], "w1", T0, LEASE)
    undo()
    granted = sql_repository.claim([action("ana")], "w2", T0, LEASE)
    assert [(c.worker, c.unsettled) for c in granted.values()] == [("w2", False)]


def test_an_acquire_that_rolls_back_leaves_the_contact_due_and_unleased(
    sql_repository: SQLRepository,
) -> None:
    sql_repository.upsert_contact(contact("ana"))
    undo = _fail_once(sql_repository, "SELECT", "regua_events")  # after the lease's UPDATE
    with pytest.raises(_ConnectionLost):
        sql_repository.acquire_due("w1", T0, 10, LEASE)
    undo()
    assert [s.contact.id for s in sql_repository.acquire_due("w2", T0, 10, LEASE)] == ["ana"]


# --- the database's clock ----------------------------------------------------------------------


def test_leases_run_on_the_database_clock_by_default_on_postgresql_only(
    postgres_engine: sa.Engine, postgres_schema: str
) -> None:
    assert SQLRepository(postgres_engine, schema=postgres_schema).lease_clock == "database"
    assert SQLRepository("sqlite://").lease_clock == "caller"
    with pytest.raises(ValueError, match="SQLite has none"):
        SQLRepository("sqlite://", lease_clock="database")
    with pytest.raises(ValueError, match="'database' or 'caller', not 'server'"):
        SQLRepository("sqlite://", lease_clock="server")  # type: ignore[arg-type]


def _wait_for_the_server_to_pass(engine: sa.Engine, instant: datetime) -> None:
    """Until the database's clock reads later than `instant` (however long that takes)."""
    with engine.connect() as conn:
        while conn.execute(sa.select(sa.func.clock_timestamp())).scalar_one() <= instant:
            threading.Event().wait(0.05)


def test_a_worker_whose_clock_runs_ahead_cannot_take_live_leases(
    postgres_engine: sa.Engine, postgres_schema: str
) -> None:
    """Leases expire by the server's clock: a worker a day ahead still sees them held, and
    takes them once they have run out on the server, whatever its own clock says."""
    repository = SQLRepository(postgres_engine, schema=postgres_schema)
    now = datetime.now(timezone.utc)
    ahead, behind = now + timedelta(days=1), now - timedelta(days=1)
    # Held for far longer than the test takes, however loaded the machine.
    held = timedelta(minutes=10)
    repository.upsert_contact(contact("ana"))
    assert [s.contact.id for s in repository.acquire_due("w1", now, 10, held)] == ["ana"]
    assert set(repository.claim([action("ana")], "w1", now, held)) == {action("ana").occurrence_key}
    assert repository.acquire_due("fast", ahead, 10, held) == []
    assert repository.claim([action("ana")], "fast", ahead, held) == {}
    # A short lease, waited out on the server's clock.
    brief = timedelta(seconds=1)
    repository.upsert_contact(contact("bob"))
    assert [s.contact.id for s in repository.acquire_due("w2", now, 10, brief)] == ["bob"]
    [claim] = repository.claim([action("bob")], "w2", now, brief).values()
    _wait_for_the_server_to_pass(postgres_engine, claim.until)
    assert [s.contact.id for s in repository.acquire_due("fast", ahead, 10, brief)] == ["bob"]
    # A clock running late takes expired claims too.
    taken = repository.claim([action("bob")], "slow", behind, brief)
    assert [(c.worker, c.unsettled) for c in taken.values()] == [("slow", True)]


def test_a_claim_granted_on_the_database_clock_ends_a_lease_after_the_servers_now(
    postgres_engine: sa.Engine, postgres_schema: str
) -> None:
    repository = SQLRepository(postgres_engine, schema=postgres_schema)
    repository.upsert_contact(contact("ana"))
    with postgres_engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.now())).scalar_one()
    skewed = T0  # two years behind the server
    [claim] = repository.claim([action("ana")], "w1", skewed, LEASE).values()
    with postgres_engine.connect() as conn:
        after = conn.execute(sa.select(sa.func.now())).scalar_one()
    assert before + LEASE <= claim.until <= after + LEASE


# --- URLs and dependencies ---------------------------------------------------------------------


def test_plain_postgresql_url_means_psycopg(
    postgres_engine: sa.Engine, postgres_schema: str
) -> None:
    url = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    repository = SQLRepository(url, schema=postgres_schema)
    assert repository.engine.dialect.driver == "psycopg"
    repository.upsert_contact(contact("ana"))
    assert repository.get_contact("ana") == contact("ana")
    assert repr(repository).endswith(f", schema={postgres_schema!r})")
    repository.close()


def test_other_databases_are_refused() -> None:
    with pytest.raises(ReguaError, match="supports SQLite and PostgreSQL, not 'mysql'"):
        SQLRepository("mysql://user@localhost/crm")


def test_sqlite_has_no_schemas() -> None:
    with pytest.raises(ReguaError, match="schema='regua' is for PostgreSQL"):
        SQLRepository("sqlite://", schema="regua")


def test_without_sqlalchemy_construction_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name == "sqlalchemy" or name.startswith("sqlalchemy."):
            monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
    spec = importlib.util.spec_from_file_location(
        "regua_sql_without_sqlalchemy", sql_module.__file__
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # importing works without SQLAlchemy
    with pytest.raises(MissingDependencyError, match=r"pip install 'regua\[sql\]'") as raised:
        module.SQLRepository("sqlite://")
    assert raised.value.extra == "sql"
    assert raised.value.name == "sqlalchemy"


# --- batching: a bounded number of statements per call ----------------------------------------


@pytest.fixture
def statements(sql_repository: SQLRepository) -> Iterator[list[str]]:
    """Every statement sent to the database (an executemany counts once)."""
    sent: list[str] = []

    def count(*args: Any) -> None:
        sent.append(args[2])

    sa.event.listen(sql_repository.engine, "before_cursor_execute", count)
    yield sent
    sa.event.remove(sql_repository.engine, "before_cursor_execute", count)


def scheduler_calls(
    repository: Repository, statements: list[str], prefix: str, size: int
) -> dict[str, int]:
    """Run one scheduler pass over `size` new contacts; statements sent by each call."""
    for n in range(size):
        repository.upsert_contact(contact(f"{prefix}{n}"))
    counts: dict[str, int] = {}

    def measure(name: str, call: Callable[[], _R]) -> _R:
        before = len(statements)
        result = call()
        counts[name] = len(statements) - before
        return result

    snapshots = measure("acquire_due", lambda: repository.acquire_due("w1", T0, size, LEASE))
    assert len(snapshots) == size
    ids = [s.contact.id for s in snapshots]
    measure("load_snapshots", lambda: repository.load_snapshots(ids))
    actions = [action(contact_id) for contact_id in ids]
    claims = measure("claim", lambda: repository.claim(actions, "w1", T0, LEASE))
    assert len(claims) == size
    half = size // 2
    deferred = [
        Claim(c.occurrence_key, c.contact_id, c.worker, T0 + LEASE, 1, 0, "timeout")
        for c in list(claims.values())[:half]
    ]
    measure("defer", lambda: repository.defer(deferred))
    deliveries = [
        Delivery("shop", "reminder", c.contact_id, key, DeliveryStatus.SENT, T0, "email")
        for key, c in list(claims.items())[half:]
    ]
    measure("record", lambda: repository.record(deliveries))
    errors = [ContactError(contact_id, T0, "boom") for contact_id in ids]
    measure("record_errors", lambda: repository.record_errors(errors))
    wakeups = [Wakeup(s.contact.id, None, s.version) for s in snapshots]
    measure("set_wakeups", lambda: repository.set_wakeups(wakeups))
    assert repository.due_contact_ids(T0, size) == []
    return counts


@pytest.mark.slow
def test_scheduler_calls_send_the_same_statements_for_10_or_500_contacts(
    sql_repository: SQLRepository, statements: list[str]
) -> None:
    small = scheduler_calls(sql_repository, statements, "small-", 10)
    large = scheduler_calls(sql_repository, statements, "large-", 500)
    assert small == large
    # PostgreSQL: statements; SQLite: the same, each call also sending its BEGIN.
    begin = 1 if sql_repository.engine.dialect.name == "sqlite" else 0
    # PostgreSQL locks the claims it deletes in key order first (no deadlock between workers).
    lock = 1 - begin
    expected = {
        # select due FOR UPDATE SKIP LOCKED, lease, folds, events, deliveries, claims
        "acquire_due": 6,
        "load_snapshots": 4,  # contacts, events, deliveries, claims
        "claim": 2,  # upsert ... RETURNING, take back the delivered
        "defer": 2 + lock,  # upsert, drop the delivered
        "record": 2 + lock,  # insert ... ON CONFLICT DO NOTHING, drop the claims
        "record_errors": 1,
        "set_wakeups": 1,  # one UPDATE, executemany
    }
    assert large == {name: count + begin for name, count in expected.items()}


def test_acquire_due_reads_the_wakeup_index(sql_repository: SQLRepository) -> None:
    for n in range(20):
        sql_repository.upsert_contact(contact(f"c{n}"))
    captured: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:
        if "wakeup_at <=" in args[2]:
            captured.append((args[2], args[3]))

    engine = sql_repository.engine
    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        sql_repository.acquire_due("w1", T0, 5, LEASE)
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    ((statement, parameters),) = captured
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL search_path TO {sql_repository.schema}")
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = "\n".join(
                row[0] for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            )
        else:
            plan = "\n".join(
                row[-1]
                for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            )
    assert "regua_contacts_wakeup" in plan, plan


def test_a_role_owning_its_schema_opens_it_without_the_database_create_privilege(
    postgres_engine: sa.Engine, postgres_schema: str
) -> None:
    """An application role often owns the schema it is given and may create nothing else."""
    role = f"{postgres_schema}_app"
    with postgres_engine.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(sa.text(f"CREATE SCHEMA {postgres_schema} AUTHORIZATION {role}"))
        can_create = sa.text("SELECT has_database_privilege(:role, current_database(), 'CREATE')")
        assert conn.execute(can_create, {"role": role}).scalar() is False
    url = postgres_engine.url.set(username=role)
    try:
        repository = SQLRepository(url, schema=postgres_schema)
        repository.upsert_contact(contact("ana"))
        assert repository.get_contact("ana") == contact("ana")
        repository.close()
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            SQLRepository(url, schema=f"{postgres_schema}_other").close()
    finally:
        with postgres_engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {postgres_schema} CASCADE"))
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
