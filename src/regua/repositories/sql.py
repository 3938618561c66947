"""The SQL repository: `regua.ports.Repository` on SQLite or PostgreSQL, with SQLAlchemy Core.

    SQLRepository("sqlite:///regua.db")                                    # embedded default
    SQLRepository("postgresql+psycopg://app@db.internal/crm", schema="regua")  # several workers

Install the ``sql`` extra (SQLAlchemy 2) for SQLite, the ``postgres`` extra (adds psycopg 3) for
PostgreSQL. The repository reproduces `regua.repositories.memory.InMemoryRepository` exactly;
what the SQL brings is durability and several worker *processes* sharing one database.

Schema
------
Seven tables, prefixed ``regua_``: ``regua_contacts`` (one row per contact, with its version,
wake-up and lease), ``regua_events``, ``regua_deliveries``, ``regua_claims``, ``regua_errors``,
``regua_folds`` (one folded history per contact, `regua.fold`) and ``regua_schema_version``, a
single row holding the version of this layout (`SCHEMA_VERSION`). Instants are stored in UTC
(``timestamptz`` on PostgreSQL; naive UTC text on SQLite, which has no zone type) and always
read back as aware UTC datetimes. JSON columns hold attributes, event data, consents,
preferences and addresses; values JSON cannot express (dates, datetimes, times, decimals,
tuples, sets, bytes, non-finite floats) are stored tagged, so that they read back equal to
what was written.

Rows are decoded one at a time, in Python: a row no record accepts (written around regua: JSON
nested past `regua.records.MAX_DATA_DEPTH` or that does not parse, a timezone this machine's
tzdata lacks, garbage in an instant on SQLite) fails its own contact, never the batch it was
read with. `acquire_due` and `load_snapshots` hand such a contact out with
`Snapshot.unreadable` set, `get_contacts` leaves it out, and the reads of that one contact
(`get_contact`, `history`) raise `InvalidRecordError` naming the record and the field.

Migrations
----------
When a repository opens a database (with ``create=True``, the default) it takes a lock
(PostgreSQL: a transaction-scoped advisory lock; SQLite: the write lock) and then:

- no ``regua_schema_version`` table: it creates every table of the current layout and stores
  `SCHEMA_VERSION`;
- a stored version older than `SCHEMA_VERSION`: it applies the migrations numbered
  ``stored + 1`` to `SCHEMA_VERSION`, in order, and stores the new version, all in one
  transaction (DDL is transactional on both databases: a failed migration changes nothing);
- a newer version (a newer regua wrote it): it raises `SchemaVersionError` and touches
  nothing; upgrade regua in every process before migrating any of them;
- the same version: nothing.

With ``create=False`` the repository never changes the schema: it raises
`SchemaVersionError` unless the database holds exactly the current version.

Version 2 added the claims' ``sending`` and ``unsettled`` flags, version 3
``regua_deliveries.collected`` (the events a digest's outcome closes), version 4
``regua_deliveries.variant`` (the experiment variant of a delivery), version 5
``regua_contacts.bucket`` (the contact's stable shard bucket, `regua.sharding.bucket_of`,
backfilled for existing contacts) and the index ``regua_contacts_shard_wakeup`` on
``(wakeup_at, bucket, id)``, version 6 ``regua_claims.channel`` (the name of the channel a
claim is on, `regua.ports.Claim.channel`), version 7 ``regua_folds`` (folded histories,
`regua.fold`) and the indexes that read what was recorded after a fold, version 8
``regua_deliveries.message_id`` (the id a sender returned, `regua.Delivery.message_id`),
version 9 ``regua_deliveries.detail`` (why, in words, `regua.Delivery.detail`). To change the
layout: bump
`SCHEMA_VERSION` to ``n``, change the table definitions below (they always describe the
latest layout, which fresh databases get directly), and register in ``_MIGRATIONS[n]`` a
function ``(connection, schema) -> None`` that brings a version ``n - 1`` database to
version ``n`` with plain DDL and data statements (never the table objects below, which
describe the latest layout, not version ``n``).

Concurrency
-----------
On PostgreSQL, `acquire_due` selects due rows ``FOR UPDATE SKIP LOCKED`` and leases them in
the same transaction, and `claim` is an ``INSERT ... ON CONFLICT DO UPDATE ... WHERE``; the
argument that no occurrence is granted twice is written next to `SQLRepository.claim`. On
SQLite every write transaction starts with ``BEGIN IMMEDIATE``, which takes the database's
single write lock first, so each read-then-write is atomic; WAL journal mode lets readers go
on meanwhile, and a busy timeout makes writers queue instead of failing. SQLite is for one
machine: its locks do not work over network file systems.

Leases and claims expire by the PostgreSQL server's clock (``statement_timestamp()``), so
that workers whose clocks disagree never take each other's live leases; on SQLite, and on
PostgreSQL with ``lease_clock="caller"``, by the ``now`` each call receives.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import itertools
import json
import logging
import math
import sqlite3
import threading
import time as _time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar, overload

import attrs

from regua._exports import publish
from regua.erasure import (
    ErasureReport,
    Keep,
    erasure_pseudonym,
    is_pseudonymous_key,
    personal_values,
    pseudonymous_delivery,
)
from regua.errors import (
    ConfigurationError,
    InvalidArgumentError,
    InvalidRecordError,
    MissingDependencyError,
    NotFoundError,
    ReguaError,
    SchemaVersionError,
    personal_value,
)
from regua.ports import (
    DIRTY,
    Backlog,
    Claim,
    ContactError,
    LeaseClock,
    UnknownContactError,
    Wakeup,
)
from regua.records import (
    CLICKED,
    MAX_DATA_DEPTH,
    OPENED,
    Contact,
    Delivery,
    DeliveryStatus,
    DueAction,
    Event,
    Fold,
    Snapshot,
)
from regua.repositories.folds import decode_fold, encode_fold
from regua.sharding import Shard, bucket_of

try:
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql as _postgresql
    from sqlalchemy.dialects import sqlite as _sqlite
    from sqlalchemy.pool import StaticPool
except ImportError:  # the `sql` extra is not installed: SQLRepository() says so
    _HAVE_SQLALCHEMY = False
else:
    _HAVE_SQLALCHEMY = True

__all__ = [
    "SCHEMA_VERSION",
    "HostTransaction",
    "LeaseClock",
    "SQLRepository",
    "SchemaVersionError",
    "metadata",
]

_log = logging.getLogger(__name__)

SCHEMA_VERSION = 9
"""The version of the table layout this code reads and writes."""

PREFIX = "regua_"
"""The prefix of every table name."""

Migration = Callable[["sa.Connection", "str | None"], None]
"""Brings a database from version ``n - 1`` to ``n``: ``(connection, schema) -> None``."""


def _qualified(conn: sa.Connection, schema: str | None, table: str) -> str:
    """The quoted name of one of our tables, in `schema`, for plain DDL in migrations."""
    preparer = conn.dialect.identifier_preparer
    name = preparer.quote(f"{PREFIX}{table}")
    return f"{preparer.quote_schema(schema)}.{name}" if schema is not None else name


def _add_claim_flags(conn: sa.Connection, schema: str | None) -> None:
    """Version 2: claims remember a send that may be under way.

    Adds `Claim.sending` and `Claim.unsettled`. A claim stored by version 1 may have been held
    by a worker that was sending: it is marked `sending`, so that whoever takes it over keeps
    to its channel.
    """
    table = _qualified(conn, schema, "claims")
    true, false = ("TRUE", "FALSE") if conn.dialect.name == "postgresql" else ("1", "0")
    conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN sending BOOLEAN NOT NULL DEFAULT {true}"))
    conn.execute(
        sa.text(f"ALTER TABLE {table} ADD COLUMN unsettled BOOLEAN NOT NULL DEFAULT {false}")
    )
    if conn.dialect.name == "postgresql":  # as in a fresh database (SQLite cannot drop them)
        conn.execute(sa.text(f"ALTER TABLE {table} ALTER COLUMN sending DROP DEFAULT"))
        conn.execute(sa.text(f"ALTER TABLE {table} ALTER COLUMN unsettled DROP DEFAULT"))


def _add_delivery_collected(conn: sa.Connection, schema: str | None) -> None:
    """Version 3: ``regua_deliveries.collected``, the ids of the events a digest closed."""
    table = _qualified(conn, schema, "deliveries")
    # NULL for every existing row: no outcome recorded before digests existed closes events.
    conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN collected JSON"))


def _add_delivery_variant(conn: sa.Connection, schema: str | None) -> None:
    """Version 4: deliveries record the experiment variant the contact was assigned."""
    table = _qualified(conn, schema, "deliveries")
    conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN variant VARCHAR"))


_BACKFILL_ROWS = 10_000
"""Contacts read and updated per statement while a migration backfills buckets."""


def _add_contact_buckets(conn: sa.Connection, schema: str | None) -> None:
    """Version 5: ``regua_contacts.bucket``, backfilled, and the sharded wake-up index."""
    contacts = _qualified(conn, schema, "contacts")
    # NOT NULL needs a default to add the column to existing rows; every row gets its own
    # value below, and inserts always give one.
    conn.execute(sa.text(f"ALTER TABLE {contacts} ADD COLUMN bucket BIGINT NOT NULL DEFAULT 0"))
    ids = list(conn.execute(sa.text(f"SELECT id FROM {contacts}")).scalars())
    update = sa.text(f"UPDATE {contacts} SET bucket = :bucket WHERE id = :id")
    for start in range(0, len(ids), _BACKFILL_ROWS):
        chunk = ids[start : start + _BACKFILL_ROWS]
        conn.execute(update, [{"bucket": bucket_of(i), "id": i} for i in chunk])
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"ALTER TABLE {contacts} ALTER COLUMN bucket DROP DEFAULT"))
    index = conn.dialect.identifier_preparer.quote(f"{PREFIX}contacts_shard_wakeup")
    conn.execute(sa.text(f"CREATE INDEX {index} ON {contacts} (wakeup_at, bucket, id)"))


def _add_claim_channel(conn: sa.Connection, schema: str | None) -> None:
    """Version 6: ``regua_claims.channel``, the name of the channel a claim is on."""
    table = _qualified(conn, schema, "claims")
    # NULL for every existing claim: the scheduler then resumes it by its index, as before.
    conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN channel VARCHAR"))


def _add_folds(conn: sa.Connection, schema: str | None) -> None:
    """Version 7: ``regua_folds`` (the folded histories) and the indexes that read after them.

    Empty at first: every contact is read whole until a scheduler folds it.
    """
    _folds_table(sa.MetaData(schema=schema), _UTCDateTime).create(conn)
    quote = conn.dialect.identifier_preparer.quote
    for table, name, columns in (
        ("events", "events_contact_serial", "contact_id, serial"),
        ("deliveries", "deliveries_contact_serial", "contact_id, serial"),
        ("deliveries", "deliveries_contact_at", "contact_id, at"),
    ):
        target = _qualified(conn, schema, table)
        conn.execute(sa.text(f"CREATE INDEX {quote(PREFIX + name)} ON {target} ({columns})"))


def _add_delivery_message_id(conn: sa.Connection, schema: str | None) -> None:
    """Version 8: ``regua_deliveries.message_id``, the id the sender returned for a send."""
    table = _qualified(conn, schema, "deliveries")
    # NULL for every existing row: the ids of earlier sends were not kept.
    conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN message_id VARCHAR"))


def _add_delivery_detail(conn: sa.Connection, schema: str | None) -> None:
    """Version 9: ``regua_deliveries.detail``, why an outcome is what it is, in words."""
    table = _qualified(conn, schema, "deliveries")
    # NULL for every existing row: earlier outcomes kept their reason code only.
    conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN detail TEXT"))


_MIGRATIONS: dict[int, Migration] = {
    2: _add_claim_flags,
    3: _add_delivery_collected,
    4: _add_delivery_variant,
    5: _add_contact_buckets,
    6: _add_claim_channel,
    7: _add_folds,
    8: _add_delivery_message_id,
    9: _add_delivery_detail,
}
"""Migration to version ``n``, by ``n``."""

_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for the write lock before failing."""

_IN_CHUNK = 5_000
"""Ids per ``IN (...)`` list on SQLite: far below its 32,766 bound parameters, and above any
sensible batch, so a batch call stays a fixed number of statements. (PostgreSQL gets one
array parameter, whatever its length.)"""

_BULK_ROWS = 4_000
"""Records `SQLRepository.bulk_load` reads and writes at a time; SQLAlchemy sends each batch
as multi-row INSERTs, paged below SQLite's limit on bound parameters."""

_ADVISORY_LOCK = 0x7265677561
"""PostgreSQL advisory lock key (``regua`` in ASCII) held while creating or migrating."""

_RETRIED_SQLSTATES = frozenset({"40P01", "40001"})
"""PostgreSQL deadlock and serialization failures: the transaction did nothing; run it again."""

_WRITE_ATTEMPTS = 5

_T = TypeVar("_T")


# --- values ------------------------------------------------------------------------------------

_TAGS = ("$date", "$datetime", "$time", "$decimal", "$tuple", "$set", "$float", "$bytes")


def _to_json(value: Any, where: str) -> Any:
    """`value` as plain JSON, with the Python types JSON lacks tagged so they read back."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, time):
        return {"$time": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Mapping):
        encoded: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidRecordError(
                    f"{where}: key {key!r} is a {type(key).__name__}; only str keys can be "
                    "stored in SQL"
                )
            encoded[key] = _to_json(item, f"{where}[{key!r}]")
        # A one-key dict whose key starts with "$" could be taken for a tag: wrap it.
        if len(encoded) == 1 and next(iter(encoded)).startswith("$"):
            return {"$object": encoded}
        return encoded
    if isinstance(value, list):
        return [_to_json(item, f"{where}[{n}]") for n, item in enumerate(value)]
    if isinstance(value, tuple):
        return {"$tuple": [_to_json(item, f"{where}[{n}]") for n, item in enumerate(value)]}
    if isinstance(value, (set, frozenset)):
        return {"$set": [_to_json(item, f"{where}{{}}") for item in value]}
    raise InvalidRecordError(
        f"{where}: {personal_value(value)} cannot be stored in SQL; use JSON "
        "types, dates, datetimes, times, decimals, tuples or sets"
    )


class _TooDeep(ValueError):
    """A stored value nests deeper than any record may (`regua.records.MAX_DATA_DEPTH`)."""


def _from_json(value: Any, depth: int = 0) -> Any:
    """The inverse of `_to_json`, for a value inside `depth` containers.

    Raises `_TooDeep` past `MAX_DATA_DEPTH` containers, as the records refuse such data:
    a row written around them cannot make reading it recurse without bound.
    """
    if not value:  # None, or the empty data of most events (a fresh object for each row)
        return value
    if isinstance(value, list):
        if depth >= MAX_DATA_DEPTH:
            raise _TooDeep(f"nested more than {MAX_DATA_DEPTH} levels deep")
        return [_from_json(item, depth + 1) for item in value]
    if not isinstance(value, dict):
        return value
    if depth >= MAX_DATA_DEPTH:
        raise _TooDeep(f"nested more than {MAX_DATA_DEPTH} levels deep")
    if len(value) == 1:
        ((tag, item),) = value.items()
        if tag == "$object":
            return {key: _from_json(inner, depth + 1) for key, inner in item.items()}
        if tag == "$tuple":
            return tuple(_from_json(inner, depth + 1) for inner in item)
        if tag == "$set":
            return {_from_json(inner, depth + 1) for inner in item}
        if tag in _TAGS:
            return _TAG_READERS[tag](item)
    return {key: _from_json(item, depth + 1) for key, item in value.items()}


_TAG_READERS: dict[str, Callable[[Any], Any]] = {
    "$date": date.fromisoformat,
    "$datetime": datetime.fromisoformat,
    "$time": time.fromisoformat,
    "$decimal": Decimal,
    "$float": float,
    "$bytes": base64.b64decode,
}


# --- tables ------------------------------------------------------------------------------------

if _HAVE_SQLALCHEMY:

    class _UTCDateTime(sa.types.TypeDecorator[datetime]):
        """An aware datetime, stored in UTC and read back as aware UTC on every database.

        SQLite has no zone type: SQLAlchemy would store an aware datetime's *local* wall
        time and drop the offset, so it is converted to naive UTC here and UTC re-attached
        on read. PostgreSQL's ``timestamptz`` returns the session's zone; it is normalised.
        """

        impl = sa.DateTime(timezone=True)
        cache_ok = True

        def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> Any:
            if value is None:
                return None
            if value.tzinfo is None or value.utcoffset() is None:
                raise InvalidRecordError(
                    f"naive datetime {value.isoformat()} cannot be stored: regua instants "
                    "are timezone-aware"
                )
            value = value.astimezone(timezone.utc)
            return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

        def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
            if value is None:
                return None
            if value.tzinfo is None:
                return value.replace(tzinfo=timezone.utc)  # type: ignore[no-any-return]
            return value.astimezone(timezone.utc)  # type: ignore[no-any-return]


@attrs.frozen
class _Tables:
    metadata: sa.MetaData
    version: sa.Table
    contacts: sa.Table
    events: sa.Table
    deliveries: sa.Table
    claims: sa.Table
    errors: sa.Table
    folds: sa.Table


def metadata(schema: str | None = None) -> sa.MetaData:
    """The metadata of regua's tables (the current layout, `SCHEMA_VERSION`), for Alembic.

    For an application whose own migrations are generated by Alembic: give it this beside
    the application's metadata (``target_metadata = [Base.metadata, regua_metadata]`` in
    ``env.py``), and autogenerate neither proposes dropping regua's tables nor changes them;
    regua creates and migrates its tables itself (`SQLRepository`), so do not let Alembic
    create them either (see ``docs/repositories.md``). `schema` is the one the repository
    is opened with. Needs the ``sql`` extra.
    """
    if not _HAVE_SQLALCHEMY:
        raise MissingDependencyError("regua.repositories.sql.metadata", "sql", "sqlalchemy")
    return _tables(schema).metadata


def _tables(schema: str | None) -> _Tables:
    """The current layout (version `SCHEMA_VERSION`), in `schema` (None: the default)."""
    metadata = sa.MetaData(schema=schema)
    serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: the rowid
    at = _UTCDateTime

    version = sa.Table(
        f"{PREFIX}schema_version",
        metadata,
        sa.Column("version", sa.Integer, nullable=False),
    )
    contacts = sa.Table(
        f"{PREFIX}contacts",
        metadata,
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("timezone", sa.String),
        sa.Column("consents", sa.JSON, nullable=False),
        sa.Column("preferences", sa.JSON, nullable=False),
        sa.Column("addresses", sa.JSON, nullable=False),
        sa.Column("created_at", at()),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("wakeup_at", at()),
        sa.Column("lease_owner", sa.String),
        sa.Column("lease_until", at()),
        # The contact's shard bucket (regua.sharding.bucket_of): a stable function of its id.
        sa.Column("bucket", sa.BigInteger, nullable=False),
        # acquire_due reads this index in order: due contacts cost what is due, never a scan.
        sa.Index(f"{PREFIX}contacts_wakeup", "wakeup_at", "id"),
        # The same, for one shard: the bucket range is checked on the index entries, so the
        # other shards' due contacts cost no row reads.
        sa.Index(f"{PREFIX}contacts_shard_wakeup", "wakeup_at", "bucket", "id"),
    )
    events = sa.Table(
        f"{PREFIX}events",
        metadata,
        sa.Column("serial", serial, primary_key=True, autoincrement=True),
        sa.Column(
            "contact_id",
            sa.String,
            sa.ForeignKey(contacts.c.id, name=f"{PREFIX}events_contact"),
            nullable=False,
        ),
        sa.Column("event_id", sa.String, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("at", at(), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("ref", sa.String),
        # Also the index on contact_id: it leads.
        sa.UniqueConstraint("contact_id", "name", "event_id", name=f"{PREFIX}events_unique_id"),
        # A folded contact's events added after its fold (version 7).
        sa.Index(f"{PREFIX}events_contact_serial", "contact_id", "serial"),
    )
    deliveries = sa.Table(
        f"{PREFIX}deliveries",
        metadata,
        # The recording order, kept for ties (history, dead letters), as in memory.
        sa.Column("serial", serial, primary_key=True, autoincrement=True),
        sa.Column("occurrence_key", sa.String, nullable=False),
        sa.Column("cadence", sa.String, nullable=False),
        sa.Column("step", sa.String, nullable=False),
        sa.Column("contact_id", sa.String, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", at(), nullable=False),
        sa.Column("channel", sa.String),
        sa.Column("reason", sa.String),
        # A digest's events (a list of event ids); NULL for every other outcome.
        sa.Column("collected", sa.JSON(none_as_null=True)),
        sa.Column("variant", sa.String),
        # The id the sender returned for a send (version 8); NULL for every other outcome.
        sa.Column("message_id", sa.String),
        # Why, in words (version 9); NULL when there is nothing beside the reason code.
        sa.Column("detail", sa.Text),
        sa.UniqueConstraint("occurrence_key", name=f"{PREFIX}deliveries_unique_key"),
        sa.Index(f"{PREFIX}deliveries_contact", "contact_id"),
        # A folded contact's deliveries added after its fold, or after its cutoff (version 7).
        sa.Index(f"{PREFIX}deliveries_contact_serial", "contact_id", "serial"),
        sa.Index(f"{PREFIX}deliveries_contact_at", "contact_id", "at"),
        sa.Index(f"{PREFIX}deliveries_status_at", "status", "at"),
    )
    claims = sa.Table(
        f"{PREFIX}claims",
        metadata,
        sa.Column("occurrence_key", sa.String, primary_key=True),
        sa.Column("contact_id", sa.String, nullable=False),
        sa.Column("worker", sa.String, nullable=False),
        sa.Column("until", at(), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("channel_index", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("sending", sa.Boolean, nullable=False),
        sa.Column("unsettled", sa.Boolean, nullable=False),
        sa.Column("channel", sa.String),
        sa.Index(f"{PREFIX}claims_contact", "contact_id"),
    )
    errors = sa.Table(
        f"{PREFIX}errors",
        metadata,
        sa.Column("serial", serial, primary_key=True, autoincrement=True),
        sa.Column("contact_id", sa.String, nullable=False),
        sa.Column("at", at(), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Index(f"{PREFIX}errors_contact", "contact_id"),
    )
    folds = _folds_table(metadata, at)
    return _Tables(metadata, version, contacts, events, deliveries, claims, errors, folds)


def _folds_table(metadata: sa.MetaData, at: Callable[[], Any]) -> sa.Table:
    """``regua_folds``: one folded history per contact (see `regua.fold`), version 7."""
    return sa.Table(
        f"{PREFIX}folds",
        metadata,
        sa.Column("contact_id", sa.String, primary_key=True),
        # The last event and delivery serials the fold covers: later rows are read on top.
        sa.Column("events_through", sa.BigInteger, nullable=False),
        sa.Column("deliveries_through", sa.BigInteger, nullable=False),
        # Deliveries stamped at or after it are read from their table; the fold keeps the
        # rest, and the events it kept.
        sa.Column("cutoff", at(), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )


# --- rows --------------------------------------------------------------------------------------


def _contact_values(contact: Contact) -> dict[str, Any]:
    where = f"Contact {contact.id!r}"
    return {
        "id": contact.id,
        "bucket": bucket_of(contact.id),
        "attributes": _to_json(contact.attributes, f"{where}.attributes"),
        "timezone": contact.timezone,
        "consents": sorted(contact.consents),
        "preferences": list(contact.preferences),
        "addresses": _to_json(contact.addresses, f"{where}.addresses"),
        "created_at": contact.created_at,
    }


# Rows are read with their JSON and (on SQLite) instant columns undecoded, and decoded here,
# a row at a time: a row the database holds but regua cannot read (written by hand, by
# another program, or with a timezone this machine's tzdata lacks) fails alone, as an
# `InvalidRecordError` naming the record and the field, never the batch it was read in.


def _json_value(raw: Any) -> Any:
    """A JSON column's value, from its text as stored (None for SQL NULL)."""
    return None if raw is None else json.loads(raw)


def _data(raw: Any) -> Any:
    """A JSON column of attributes, addresses or event data, tagged values read back."""
    if raw == "{}":  # the data of most events: no parser called (a fresh object each row)
        return {}
    return _from_json(_json_value(raw))


_NAIVE_EPOCH = datetime(1970, 1, 1)
_UTC_EPOCH = _NAIVE_EPOCH.replace(tzinfo=timezone.utc)


def _instant(raw: Any) -> datetime | None:
    """An instant column's value as aware UTC.

    PostgreSQL's driver gives aware datetimes (already UTC: `_UTCDateTime`); SQLite's
    columns are read as their stored text, naive UTC (or with an offset, if written so).
    """
    if raw is None or (type(raw) is datetime and raw.tzinfo is timezone.utc):
        return raw
    if isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"{personal_value(raw)} is not an ISO 8601 instant") from None
    elif isinstance(raw, datetime):
        value = raw
    else:
        raise ValueError(f"{personal_value(raw)} is not an instant")
    if value.tzinfo is None:  # naive UTC, as SQLite's columns are written
        # value.replace(tzinfo=timezone.utc), exactly, at a ninth of its cost.
        return _UTC_EPOCH + (value - _NAIVE_EPOCH)
    return value.astimezone(timezone.utc)


def _object(raw: Any) -> Any:
    """`_data`, checking that it is a JSON object (only to name an unreadable field)."""
    value = _data(raw)
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _strings(raw: Any) -> Any:
    """`_json_value`, checking it is a list of strings (only to name an unreadable field)."""
    value = _json_value(raw)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError(f"expected a JSON array of strings, got {type(value).__name__}")
    return value


_CONTACT_FIELDS: dict[str, Callable[[Any], Any]] = {
    "attributes": _object,
    "consents": _strings,
    "preferences": _strings,
    "addresses": _object,
    "created_at": _instant,
}
_EVENT_FIELDS: dict[str, Callable[[Any], Any]] = {"at": _instant, "data": _object}
_DELIVERY_FIELDS: dict[str, Callable[[Any], Any]] = {
    "status": DeliveryStatus,
    "at": _instant,
    "collected": _json_value,
}


def _unreadable(
    record: str, row: Any, fields: Mapping[str, Callable[[Any], Any]], error: Exception
) -> InvalidRecordError:
    """The error for a stored `row` of `record` that cannot be read: names the field.

    The record's own validation names the field itself; otherwise the field whose decoding
    fails alone is looked for (this path runs only for unreadable rows).
    """
    if isinstance(error, InvalidRecordError):
        text = f"{error} (as stored)"
    else:
        where = record
        for name, read in fields.items():
            try:
                read(getattr(row, name))
            except Exception as field_error:
                where, error = f"{record}.{name}", field_error
                break
        reason = str(error) if isinstance(error, _TooDeep) else f"{type(error).__name__}: {error}"
        text = f"{where}: cannot be read as stored: {reason}"
    return InvalidRecordError(text if len(text) <= 500 else f"{text[:500]}...")


def _contact(row: Any) -> Contact:
    """The contact of a row of `SQLRepository._contact_columns`.

    Raises:
        InvalidRecordError: The stored row cannot be read; the message names the field.

    """
    try:
        return Contact(
            row.id,
            attributes=_data(row.attributes),
            timezone=row.timezone,
            consents=_json_value(row.consents),
            preferences=_json_value(row.preferences),
            addresses=_data(row.addresses),
            created_at=_instant(row.created_at),
        )
    except Exception as exc:  # whatever a stored row holds: one record's error
        raise _unreadable(f"Contact {row.id!r}", row, _CONTACT_FIELDS, exc) from None


# Event and delivery rows are unpacked by position, in the order of
# `SQLRepository._event_columns` and `_delivery_columns` (the serial, then the contact, first):
# reading a SQLAlchemy row's field by name costs about twenty times unpacking the whole row,
# and a read decodes tens of rows per contact. (An unreadable row's error reads its fields by
# name: that path is rare.)


def _event(row: Any) -> Event:
    """The event of a row of `SQLRepository._event_columns` (`InvalidRecordError` if unreadable)."""
    _, contact_id, event_id, name, at, data, ref = row
    try:
        return Event(
            contact_id,
            name,
            _instant(at),  # type: ignore[arg-type]
            id=event_id,
            data=_data(data),
            ref=ref,
        )
    except Exception as exc:  # whatever a stored row holds: one record's error
        record = f"Event {event_id!r} of contact {contact_id!r}"
        raise _unreadable(record, row, _EVENT_FIELDS, exc) from None


# A status as stored -> the enum member, without the enum's call (an unknown one: see below).
_STATUSES: dict[Any, DeliveryStatus] = {status.value: status for status in DeliveryStatus}


def _delivery(row: Any) -> Delivery:
    """The delivery of a row of `SQLRepository._delivery_columns` (`InvalidRecordError`...)."""
    (
        _,
        contact_id,
        occurrence_key,
        cadence,
        step,
        status,
        at,
        channel,
        reason,
        collected,
        variant,
        message_id,
        detail,
    ) = row
    try:
        return Delivery(
            cadence,
            step,
            contact_id,
            occurrence_key,
            # Not a known status: the enum's call raises, naming the value.
            _STATUSES.get(status) or DeliveryStatus(status),
            _instant(at),  # type: ignore[arg-type]
            channel=channel,
            reason=reason,
            collected=_json_value(collected) or (),
            variant=variant,
            message_id=message_id,
            detail=detail,
        )
    except Exception as exc:  # whatever a stored row holds: one record's error
        record = f"Delivery {occurrence_key!r} of contact {contact_id!r}"
        raise _unreadable(record, row, _DELIVERY_FIELDS, exc) from None


def _readable_contacts(rows: Iterable[Any]) -> dict[str, tuple[Contact, int]]:
    """The contacts of these rows with their versions, by id, leaving out unreadable ones."""
    found: dict[str, tuple[Contact, int]] = {}
    for row in rows:
        try:
            found[row.id] = (_contact(row), row.version)
        except InvalidRecordError:
            continue
    return found


def _claim(row: Any) -> Claim:
    return Claim(
        occurrence_key=row.occurrence_key,
        contact_id=row.contact_id,
        worker=row.worker,
        until=row.until,
        attempts=row.attempts,
        channel_index=row.channel_index,
        last_error=row.last_error,
        sending=row.sending,
        unsettled=row.unsettled,
        channel=row.channel,
    )


def _batches(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    """`items` in lists of `size` (the last may be shorter), read lazily."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _sqlite_is_in_memory(url: sa.URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"


def _is_retryable(error: sa.exc.DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) in _RETRIED_SQLSTATES


class SQLRepository:
    """A `Repository` in a SQL database: SQLite (embedded) or PostgreSQL (several workers).

    >>> from regua import Contact
    >>> from regua.repositories.sql import SQLRepository
    >>> repo = SQLRepository("sqlite://")           # in memory; "sqlite:///regua.db": a file
    >>> repo.upsert_contact(Contact("ana", addresses={"email": "ana@example.com"}))
    >>> repo.get_contact("ana").addresses["email"]
    'ana@example.com'
    >>> repo.close()

    Args:
        url_or_engine: A database URL (``sqlite:///path.db``, ``sqlite://`` for a private
            in-memory database, ``postgresql+psycopg://user@host/db``; plain
            ``postgresql://`` means psycopg 3) or an existing `sqlalchemy.Engine`, which
            the repository uses as it is (and does not dispose of on `close`).
        create: Create the tables, or migrate them, when needed (see the module docstring).
            When False, the schema must already be at `SCHEMA_VERSION`.
        schema: PostgreSQL schema holding the tables (created if missing when `create`);
            None uses the connection's ``search_path``.
        lease_clock: Whose clock contact leases and occurrence claims expire by.
            ``"database"`` (the default on PostgreSQL): the server's
            ``statement_timestamp()`` both sets and checks every lease, so workers whose
            clocks disagree never take each other's live leases; the `now` a worker passes
            still decides what is due. ``"caller"`` (the only choice on SQLite, which has no
            server clock): leases run on the `now` each call receives, which is what a
            virtual clock needs (`regua.testing.Simulation`, tests driving time by hand).

    Raises:
        MissingDependencyError: SQLAlchemy (extra ``sql``) or psycopg (extra ``postgres``)
            is not installed.
        SchemaVersionError: The database's schema is newer than this code, or missing or
            out of date with ``create=False``.
        ReguaError: The database is neither SQLite nor PostgreSQL, or its SQLite is older
            than 3.35 (no ``RETURNING``).
        ConfigurationError: `lease_clock` is not ``"database"`` or ``"caller"``, or is
            ``"database"`` on SQLite.

    On SQLite, regua sets on each connection it uses ``PRAGMA journal_mode=WAL`` (for files),
    ``busy_timeout`` (30 s) and ``foreign_keys=ON``, and begins its own transactions itself
    (``BEGIN IMMEDIATE`` when it will write), as SQLAlchemy documents for the pysqlite
    driver; transactions of other users of a shared engine are left alone.

    """

    def __init__(
        self,
        url_or_engine: str | sa.URL | sa.Engine,
        *,
        create: bool = True,
        schema: str | None = None,
        lease_clock: LeaseClock | None = None,
    ) -> None:
        if not _HAVE_SQLALCHEMY:
            raise MissingDependencyError("SQLRepository", "sql", "sqlalchemy")
        if isinstance(url_or_engine, sa.Engine):
            engine, self._owns_engine = url_or_engine, False
        else:
            engine, self._owns_engine = self._create_engine(sa.make_url(url_or_engine)), True
        self._dialect = engine.dialect.name
        if self._dialect not in ("sqlite", "postgresql"):
            raise ReguaError(f"SQLRepository supports SQLite and PostgreSQL, not {self._dialect!r}")
        if self._dialect == "sqlite" and schema is not None:
            raise ReguaError(f"schema={schema!r} is for PostgreSQL; SQLite has none")
        if self._dialect == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
            raise ReguaError(
                f"SQLRepository needs SQLite 3.35 or later (RETURNING); this Python has "
                f"{sqlite3.sqlite_version}"
            )
        if lease_clock is None:
            lease_clock = "database" if self._dialect == "postgresql" else "caller"
        if lease_clock not in ("database", "caller"):
            raise ConfigurationError(
                f"lease_clock must be 'database' or 'caller', not {lease_clock!r}"
            )
        if lease_clock == "database" and self._dialect == "sqlite":
            raise ConfigurationError(
                "lease_clock='database' needs a database server's clock; SQLite has none "
                "(its leases use the callers' clock, that of the one machine it runs on)"
            )
        self._lease_clock: LeaseClock = lease_clock
        self._engine = engine
        self._schema = schema
        self._tables = _tables(schema)
        # One shared connection (an in-memory database): serialise our transactions on it.
        self._serial: threading.RLock | None = None
        self._reader = engine.execution_options(regua_write=False)
        if self._dialect == "sqlite":
            self._wal = not _sqlite_is_in_memory(engine.url)
            if isinstance(engine.pool, StaticPool) or not self._wal:
                self._serial = threading.RLock()
            # Local to our option engine (and the writer derived from it): other users of a
            # shared engine keep their own transaction handling.
            sa.event.listen(self._reader, "begin", self._sqlite_begin)
        self._writer = self._reader.execution_options(regua_write=True)
        # The application's connection whose transaction `within` writes in; None: our own.
        self._host: sa.Connection | None = None
        try:
            self._open(create)
        except BaseException:
            self.close()  # an engine of our own: release its connections
            raise

    @staticmethod
    def _create_engine(url: sa.URL) -> sa.Engine:
        backend = url.get_backend_name()
        if backend == "sqlite":
            if _sqlite_is_in_memory(url):
                # One connection for every thread, or each would see its own empty database.
                return sa.create_engine(
                    url, poolclass=StaticPool, connect_args={"check_same_thread": False}
                )
            return sa.create_engine(url)
        if backend == "postgresql":
            if url.drivername == "postgresql":
                url = url.set(drivername="postgresql+psycopg")
            try:
                return sa.create_engine(url, pool_pre_ping=True)
            except ImportError as exc:
                raise MissingDependencyError(
                    "SQLRepository on PostgreSQL", "postgres", exc.name or "psycopg"
                ) from exc
        raise ReguaError(f"SQLRepository supports SQLite and PostgreSQL, not {backend!r}")

    # --- plumbing ----------------------------------------------------------------------------

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine (to add event listeners, or run your own queries)."""
        return self._engine

    @property
    def schema(self) -> str | None:
        """The PostgreSQL schema holding the tables, or None."""
        return self._schema

    @property
    def lease_clock(self) -> LeaseClock:
        """Whose clock leases and claims expire by: ``"database"`` or ``"caller"``."""
        return self._lease_clock

    def _lease_times(self, now: datetime, lease: timedelta) -> tuple[Any, Any]:
        """``(current instant, lease end)`` as SQL expressions, on the lease clock."""
        if self._lease_clock == "database":
            current = sa.func.statement_timestamp(type_=_UTCDateTime())
            return current, current + sa.literal(lease, sa.Interval())
        return sa.literal(now, _UTCDateTime()), sa.literal(now + lease, _UTCDateTime())

    def within(self, connection: sa.Connection | Any) -> HostTransaction:
        """The application side of this repository, in the application's own transaction.

        `connection` is a SQLAlchemy `Connection` or ORM `Session` on the same database
        (``session.connection()`` is used). What the returned object records commits or
        rolls back with the application's own writes: an order and its ``order_placed``
        event are stored together or not at all, and no worker sees the event before the
        order. The application commits (regua never does here), and a deadlock or
        serialisation failure is the application's to retry, as for its own statements.

        ::

            with repository.engine.begin() as conn:
                conn.execute(orders.insert().values(id=1042, customer_id="ana"))
                repository.within(conn).record_event(Event("ana", "order_placed", now, id="1042"))

        Raises:
            ReguaError: `connection` is not a Connection or Session, or is on another kind
                of database than the repository's.

        """
        host = connection
        if not isinstance(host, sa.Connection):
            get = getattr(host, "connection", None)
            if not callable(get):
                raise ReguaError(
                    f"within() takes a SQLAlchemy Connection or Session, not "
                    f"{type(connection).__name__}"
                )
            host = get()
        if not isinstance(host, sa.Connection):
            raise ReguaError(f"within(): {type(connection).__name__} gave no Connection")
        if host.dialect.name != self._dialect:
            raise ReguaError(
                f"within(): the connection is to {host.dialect.name}, the repository's "
                f"database is {self._dialect}"
            )
        bound = copy.copy(self)
        bound._host = host
        bound._owns_engine = False
        return HostTransaction(bound)

    def close(self) -> None:
        """Release the connections, if the repository created the engine."""
        if self._owns_engine:
            self._engine.dispose()

    def __enter__(self) -> SQLRepository:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        url = self._engine.url.render_as_string(hide_password=True)
        schema = f", schema={self._schema!r}" if self._schema else ""
        return f"SQLRepository({url!r}{schema})"

    def _sqlite_begin(self, conn: sa.Connection) -> None:
        """Begin our SQLite transactions ourselves: the driver would begin them late.

        pysqlite does not emit BEGIN before a SELECT, so a select-then-update would not be
        atomic; and a deferred transaction that later writes can fail at once with "database
        is locked" instead of waiting. ``BEGIN IMMEDIATE`` takes the write lock first (waiting
        up to the busy timeout), so everything a write method reads stays true until commit.
        """
        proxied = conn.connection
        if not proxied.info.get("regua_configured"):
            # Outside any transaction (PRAGMAs are no-ops inside one), once per connection.
            dbapi = proxied.dbapi_connection
            assert dbapi is not None
            cursor = dbapi.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
                cursor.execute("PRAGMA foreign_keys = ON")
                if self._wal:
                    cursor.execute("PRAGMA journal_mode = WAL")
            finally:
                cursor.close()
            proxied.info["regua_configured"] = True
        write = conn.get_execution_options().get("regua_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    @contextlib.contextmanager
    def _serialised(self) -> Iterator[None]:
        if self._serial is None:
            yield
        else:
            with self._serial:
                yield

    def _read(self, body: Callable[[sa.Connection], _T]) -> _T:
        if self._host is not None:  # within(): the application's transaction
            return body(self._host)
        with self._serialised(), self._reader.begin() as conn:
            return body(conn)

    def _write(self, body: Callable[[sa.Connection], _T]) -> _T:
        """Run `body` in a write transaction; rerun it after a PostgreSQL deadlock.

        A deadlock or serialization failure rolls the whole transaction back, so running
        it again is safe; any other error propagates.
        """
        if self._host is not None:  # within(): the application commits, and retries
            return body(self._host)
        for attempt in itertools.count(1):
            try:
                with self._serialised(), self._writer.begin() as conn:
                    return body(conn)
            except sa.exc.DBAPIError as exc:
                if attempt >= _WRITE_ATTEMPTS or not _is_retryable(exc):
                    raise
                _time.sleep(0.005 * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _chunks(self, items: Sequence[str]) -> Iterator[Sequence[str]]:
        """`items` in pieces `_among` accepts: all at once on PostgreSQL."""
        size = len(items) if self._dialect == "postgresql" else _IN_CHUNK
        for start in range(0, len(items), max(size, 1)):
            yield items[start : start + size]

    def _among(self, column: sa.ColumnElement[str], values: Sequence[str]) -> Any:
        """``column IN (values)``, or ``column = ANY(:array)`` on PostgreSQL.

        One array parameter makes a short statement text that psycopg caches and prepares,
        whatever the batch size.
        """
        if self._dialect == "postgresql":
            array = sa.bindparam(None, list(values), type_=_postgresql.ARRAY(sa.String))
            return column == sa.any_(array)
        return column.in_(values)

    def _insert(self, table: sa.Table) -> _postgresql.Insert | _sqlite.Insert:
        """The dialect's INSERT, which has ``ON CONFLICT`` and ``RETURNING``."""
        if self._dialect == "postgresql":
            return _postgresql.insert(table)
        return _sqlite.insert(table)

    # --- schema ------------------------------------------------------------------------------

    def _open(self, create: bool) -> None:
        """Create, check or migrate the schema (see the module docstring)."""
        tables = self._tables

        def body(conn: sa.Connection) -> None:
            if self._dialect == "postgresql":
                # Processes opening one database at once: one creates, the others then see it.
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_ADVISORY_LOCK)))
                # Only when missing: PostgreSQL checks the database's CREATE privilege even
                # for IF NOT EXISTS, which a role that owns its schema may lack.
                if (
                    self._schema is not None
                    and create
                    and not sa.inspect(conn).has_schema(self._schema)
                ):
                    conn.execute(sa.schema.CreateSchema(self._schema, if_not_exists=True))
            where = self._describe()
            if not sa.inspect(conn).has_table(tables.version.name, schema=self._schema):
                if not create:
                    raise SchemaVersionError(
                        f"{where} holds no regua schema; open it with create=True"
                    )
                tables.metadata.create_all(conn)
                conn.execute(tables.version.insert().values(version=SCHEMA_VERSION))
                return
            stored = conn.execute(sa.select(sa.func.max(tables.version.c.version))).scalar()
            if stored is None:
                raise SchemaVersionError(f"{where}: {tables.version.name} is empty")
            if stored > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"{where} holds regua schema version {stored}, newer than version "
                    f"{SCHEMA_VERSION}, the latest this regua knows; upgrade regua"
                )
            if stored == SCHEMA_VERSION:
                return
            if not create:
                raise SchemaVersionError(
                    f"{where} holds regua schema version {stored}, older than "
                    f"{SCHEMA_VERSION}; open it with create=True to migrate it"
                )
            for target in range(stored + 1, SCHEMA_VERSION + 1):
                migration = _MIGRATIONS.get(target)
                if migration is None:
                    raise SchemaVersionError(f"no migration to regua schema version {target}")
                migration(conn, self._schema)
            conn.execute(tables.version.delete())
            conn.execute(tables.version.insert().values(version=SCHEMA_VERSION))

        self._write(body)

    def _describe(self) -> str:
        url = self._engine.url.render_as_string(hide_password=True)
        return f"the database {url}" + (f" (schema {self._schema!r})" if self._schema else "")

    # --- internal reads and writes -------------------------------------------------------------

    def _raw_json(self, column: sa.Column[Any]) -> Any:
        """`column` (JSON) selected as its stored text, for `_json_value` to decode per row.

        The driver would decode it while fetching, where one bad row fails the whole batch.
        """
        if self._dialect == "postgresql":  # a json column's text is what was stored
            return sa.cast(column, sa.Text).label(column.name)
        return sa.type_coerce(column, sa.Text).label(column.name)

    def _raw_instant(self, column: sa.Column[Any]) -> Any:
        """`column` (an instant) selected for `_instant` to decode per row.

        SQLite's text is read as it is (it may hold anything); PostgreSQL's ``timestamptz``
        can hold only instants, which its driver decodes.
        """
        if self._dialect == "postgresql":
            return column
        return sa.type_coerce(column, sa.String).label(column.name)

    def _contact_columns(self) -> list[Any]:
        """The columns `_contact` reads, with the contact's version."""
        c = self._tables.contacts.c
        return [
            c.id,
            self._raw_json(c.attributes),
            c.timezone,
            self._raw_json(c.consents),
            self._raw_json(c.preferences),
            self._raw_json(c.addresses),
            self._raw_instant(c.created_at),
            c.version,
        ]

    def _event_columns(self) -> list[Any]:
        """The columns `_event` reads, in the order it unpacks them: serial, contact first."""
        c = self._tables.events.c
        return [
            c.serial,
            c.contact_id,
            c.event_id,
            c.name,
            self._raw_instant(c.at),
            self._raw_json(c.data),
            c.ref,
        ]

    def _delivery_columns(self) -> list[Any]:
        """The columns `_delivery` reads, in the order it unpacks them: serial, contact first."""
        c = self._tables.deliveries.c
        return [
            c.serial,
            c.contact_id,
            c.occurrence_key,
            c.cadence,
            c.step,
            c.status,
            self._raw_instant(c.at),
            c.channel,
            c.reason,
            self._raw_json(c.collected),
            c.variant,
            c.message_id,
            c.detail,
        ]

    def _contact_rows(self, conn: sa.Connection, ids: Sequence[str]) -> list[Any]:
        """The rows of these contacts (missing ones are left out): a statement per chunk."""
        contacts = self._tables.contacts
        rows: list[Any] = []
        for chunk in self._chunks(ids):
            query = sa.select(*self._contact_columns()).where(self._among(contacts.c.id, chunk))
            rows += conn.execute(query).all()
        return rows

    def _snapshots(
        self,
        conn: sa.Connection,
        rows: Sequence[Any],
        *,
        folded: bool = False,
        since: Mapping[str, tuple[Fold, list[Event], list[Delivery], tuple[int, int]]]
        | None = None,
    ) -> list[Snapshot]:
        """Snapshots for contact rows (read first: see `load_snapshots`), in their order.

        Three statements whatever the number of contacts (up to `_IN_CHUNK`): events,
        deliveries, and the keys of open claims (with no recorded delivery). A contact whose
        row, or one of whose events or deliveries, cannot be read gets a snapshot with
        `Snapshot.unreadable` saying why (its id, version and claims, nothing else): the
        others are read as usual.

        `folded`: a contact with a stored fold (`store_folds`) is read as that fold plus the
        rows added after it and the deliveries stamped after its cutoff (one more statement,
        for the folds); a fold that cannot be read is ignored, and that contact read whole.
        """
        events_table, deliveries_table = self._tables.events, self._tables.deliveries
        claims_table = self._tables.claims
        ids = [row.id for row in rows]
        folds = self._read_folds(conn, ids) if folded else {}
        if folds:
            return self._folded_snapshots(conn, rows, folds)
        folds_table = self._tables.folds
        contacts: dict[str, Contact] = {}
        unreadable: dict[str, str] = {}
        for row in rows:
            try:
                contacts[row.id] = _contact(row)
            except InvalidRecordError as exc:
                unreadable[row.id] = str(exc)
        events: dict[str, list[Event]] = {contact_id: [] for contact_id in ids}
        deliveries: dict[str, list[Delivery]] = {contact_id: [] for contact_id in ids}
        claimed: dict[str, set[str]] = {contact_id: set() for contact_id in ids}
        # The last event and delivery serial read per contact: the snapshot's position.
        serials: tuple[dict[str, int], dict[str, int]] = ({}, {})
        for chunk in self._chunks(ids):
            query = (
                sa.select(*self._event_columns())
                .where(self._among(events_table.c.contact_id, chunk))
                .order_by(events_table.c.serial)
            )
            if since is not None:  # the events a fold does not hold: those added after it
                # An event is stored with its contact's row locked (`_insert_event`), so a
                # contact's event serials follow the order its events are committed in.
                query = query.join(
                    folds_table, folds_table.c.contact_id == events_table.c.contact_id
                ).where(events_table.c.serial > folds_table.c.events_through)
            for row in conn.execute(query):
                serial, contact_id = row[0], row[1]  # by position: see `_event`
                serials[0][contact_id] = serial
                if contact_id not in unreadable:
                    try:
                        events[contact_id].append(_event(row))
                    except InvalidRecordError as exc:
                        unreadable[contact_id] = str(exc)
        for chunk in self._chunks(ids):
            query = (
                sa.select(*self._delivery_columns())
                .where(self._among(deliveries_table.c.contact_id, chunk))
                .order_by(deliveries_table.c.serial)
            )
            if since is not None:  # added after the fold, or stamped after its cutoff
                # Deliveries are recorded without the contact's row locked: two workers'
                # serials may commit out of order, but any delivery committed late is recent.
                # Two index range scans, (contact, serial) and (contact, at), not an OR that
                # would visit every delivery of the contact.
                joined = deliveries_table.join(
                    folds_table, folds_table.c.contact_id == deliveries_table.c.contact_id
                )
                among = self._among(deliveries_table.c.contact_id, chunk)
                base = sa.select(*self._delivery_columns()).select_from(joined).where(among)
                both = sa.union(
                    base.where(deliveries_table.c.serial > folds_table.c.deliveries_through),
                    base.where(deliveries_table.c.at >= folds_table.c.cutoff),
                ).subquery()
                query = sa.select(both).order_by(both.c.serial)
            for row in conn.execute(query):
                serial, contact_id = row[0], row[1]  # by position: see `_event`
                serials[1][contact_id] = serial
                if contact_id not in unreadable:
                    try:
                        deliveries[contact_id].append(_delivery(row))
                    except InvalidRecordError as exc:
                        unreadable[contact_id] = str(exc)
        for chunk in self._chunks(ids):
            recorded = sa.select(deliveries_table.c.occurrence_key).where(
                deliveries_table.c.occurrence_key == claims_table.c.occurrence_key
            )
            query = sa.select(claims_table.c.contact_id, claims_table.c.occurrence_key).where(
                self._among(claims_table.c.contact_id, chunk), ~recorded.exists()
            )
            for row in conn.execute(query):
                claimed[row.contact_id].add(row.occurrence_key)
        folds_of = since or {}

        def whole(contact_id: str) -> Snapshot:
            stored = folds_of.get(contact_id)
            if stored is None:
                position = (serials[0].get(contact_id, 0), serials[1].get(contact_id, 0))
                return Snapshot(
                    contacts[contact_id],
                    events[contact_id],
                    deliveries[contact_id],
                    version=versions[contact_id],
                    claimed=frozenset(claimed[contact_id]),
                    position=position,
                )
            fold, kept_events, kept_deliveries, (through_e, through_d) = stored
            return Snapshot(
                contacts[contact_id],
                [*kept_events, *events[contact_id]],
                [*kept_deliveries, *deliveries[contact_id]],
                version=versions[contact_id],
                claimed=frozenset(claimed[contact_id]),
                fold=fold,
                position=(
                    max(through_e, serials[0].get(contact_id, 0)),
                    max(through_d, serials[1].get(contact_id, 0)),
                ),
            )

        versions = {row.id: row.version for row in rows}
        return [
            whole(row.id)
            if row.id not in unreadable
            else Snapshot(
                Contact(row.id),
                version=row.version,
                claimed=frozenset(claimed[row.id]),
                unreadable=unreadable[row.id],
            )
            for row in rows
        ]

    def _read_folds(
        self, conn: sa.Connection, ids: Sequence[str]
    ) -> dict[str, tuple[Fold, list[Event], list[Delivery], tuple[int, int]]]:
        """The readable stored folds of these contacts (see `store_folds`)."""
        folds_table = self._tables.folds
        found: dict[str, tuple[Fold, list[Event], list[Delivery], tuple[int, int]]] = {}
        for chunk in self._chunks(ids):
            query = sa.select(folds_table).where(self._among(folds_table.c.contact_id, chunk))
            for row in conn.execute(query):
                try:
                    fold, events, deliveries = decode_fold(row.body, row.contact_id)
                except InvalidRecordError as exc:
                    _log.warning("%s: its whole history is read instead", exc)
                    continue
                position = (row.events_through, row.deliveries_through)
                found[row.contact_id] = (fold, events, deliveries, position)
        return found

    def _folded_snapshots(
        self,
        conn: sa.Connection,
        rows: Sequence[Any],
        folds: Mapping[str, tuple[Fold, list[Event], list[Delivery], tuple[int, int]]],
    ) -> list[Snapshot]:
        """`_snapshots` for contacts some of which have a fold: those read on top of it."""
        plain = [row for row in rows if row.id not in folds]
        done = {s.contact.id: s for s in self._snapshots(conn, plain)} if plain else {}
        folded_rows = [row for row in rows if row.id in folds]
        done.update((s.contact.id, s) for s in self._snapshots(conn, folded_rows, since=folds))
        return [done[row.id] for row in rows]

    def store_folds(self, snapshots: Sequence[Snapshot]) -> None:
        """Keep these folded histories (`regua.fold`): `acquire_due` reads them from now on.

        Each replaces the contact's stored fold unless that one covers more of its history
        (a later `Snapshot.position`). Two statements: the contacts' rows are locked and a
        snapshot whose contact changed since it was read (another `version`: a fold of what
        it read then may hold what `redrive` has taken out since) is left out, then one
        upsert. A snapshot that is not folded or has no position is ignored.
        `load_snapshots` still reads whole histories.
        """
        folded = {
            s.contact.id: s for s in snapshots if s.fold is not None and s.position is not None
        }
        if not folded:
            return
        table = self._tables.folds
        contacts = self._tables.contacts
        upsert = self._insert(table)
        upsert = upsert.on_conflict_do_update(
            index_elements=[table.c.contact_id],
            set_={
                name: upsert.excluded[name]
                for name in ("events_through", "deliveries_through", "cutoff", "body")
            },
            where=sa.and_(
                table.c.events_through <= upsert.excluded.events_through,
                table.c.deliveries_through <= upsert.excluded.deliveries_through,
            ),
        )

        def body(conn: sa.Connection) -> None:
            current: dict[str, int] = {}
            for chunk in self._chunks(sorted(folded)):
                query = (
                    sa.select(contacts.c.id, contacts.c.version)
                    .where(self._among(contacts.c.id, chunk))
                    .order_by(contacts.c.id)
                    .with_for_update()
                )
                current.update((row.id, row.version) for row in conn.execute(query))
            rows = [
                {
                    "contact_id": contact_id,
                    "events_through": s.position[0],  # type: ignore[index]
                    "deliveries_through": s.position[1],  # type: ignore[index]
                    "cutoff": s.fold.cutoff,  # type: ignore[union-attr]
                    "body": encode_fold(s),
                }
                for contact_id, s in sorted(folded.items())
                if current.get(contact_id) == s.version
            ]
            if rows:
                conn.execute(upsert, rows)

        self._write(body)

    def redrive(self, occurrence_keys: Sequence[str]) -> list[Delivery]:
        """Reopen these dead letters: remove their failed outcomes; wake their contacts.

        Keys whose recorded outcome is not `FAILED` (sent, skipped...), or with none, are
        left alone, and so are those of erased contacts (`is_pseudonymous_key`). The next
        tick plans each reopened occurrence again (sent, or closed as expired if it is past
        its expiry). One transaction: the contacts' rows are locked, the outcomes and the
        contacts' stored folds (which may keep them) deleted, and the contacts marked
        changed. Returns the failed deliveries removed; a stored row that cannot be decoded
        is removed all the same, and logged.
        """
        keys = sorted(key for key in set(occurrence_keys) if not is_pseudonymous_key(key))
        if not keys:
            return []
        deliveries, folds = self._tables.deliveries, self._tables.folds
        failed = deliveries.c.status == DeliveryStatus.FAILED.value

        def body(conn: sa.Connection) -> list[Any]:
            owners: set[str] = set()
            for chunk in self._chunks(keys):
                query = sa.select(deliveries.c.contact_id).where(
                    self._among(deliveries.c.occurrence_key, chunk), failed
                )
                owners.update(conn.execute(query).scalars())
            if not owners:
                return []
            self._lock_contacts(conn, sorted(owners))  # before what folds read changes
            rows: list[Any] = []
            for chunk in self._chunks(keys):  # what is still failed, now it is locked
                where = self._among(deliveries.c.occurrence_key, chunk)
                delete = sa.delete(deliveries).where(where, failed)
                rows += conn.execute(delete.returning(*self._delivery_columns())).all()
            contact_ids = sorted({row.contact_id for row in rows})
            for chunk in self._chunks(contact_ids):
                conn.execute(sa.delete(folds).where(self._among(folds.c.contact_id, chunk)))
            self._wake_many(conn, contact_ids)
            return rows

        removed: list[Delivery] = []
        for row in sorted(self._write(body), key=lambda row: row.serial):
            try:
                removed.append(_delivery(row))
            except InvalidRecordError as exc:
                _log.warning("redriven, but its stored row cannot be read: %s", exc)
        return removed

    def erase_contact(
        self,
        contact_id: str,
        *,
        keep: Keep = "pseudonymous",
        key: str | bytes | None = None,
        dry_run: bool = False,
    ) -> ErasureReport:
        """Erase a contact (the right to erasure): everything stored about it, at once.

        The contact, its events (their data included), claims, recorded errors and folded
        history are deleted. Its deliveries are deleted too with ``keep="nothing"``; with
        ``keep="pseudonymous"`` they are replaced by their pseudonymous form
        (`regua.erasure.pseudonymous_delivery`) under the contact's pseudonym, the id of a
        contact row with no data that is never due, so that reports still count them. An
        id with nothing stored under it is a no-op (`ErasureReport.found` is False).

        One transaction: the contact's row (and its pseudonym's) is locked first, so that an
        event recorded meanwhile waits for the erasure and then finds no contact
        (`UnknownContactError`), and no worker leases it meanwhile; a worker that held its
        lease already may still record afterwards (`ErasureReport.held_until`). A row that
        cannot be decoded is erased all the same. With `dry_run`, only counts are read.

        Args:
            contact_id: The contact to erase.
            keep: ``"pseudonymous"`` (the default) or ``"nothing"``.
            key: The secret of the pseudonyms (`regua.redaction.pseudonym`), as the
                scheduler's ``log_key``; needed with ``keep="pseudonymous"``.
            dry_run: Count what would be removed, and change nothing.

        Raises:
            InvalidArgumentError: `keep` is unknown, or ``"pseudonymous"`` without a `key`.
            ReguaError: The pseudonym is the id of a contact that holds data (not one an
                erasure made): nothing is changed.

        """
        alias = erasure_pseudonym(contact_id, keep, key)
        t = self._tables
        contacts, events, deliveries = t.contacts, t.events, t.deliveries

        def count(conn: sa.Connection, table: sa.Table) -> int:
            query = sa.select(sa.func.count()).where(table.c.contact_id == contact_id)
            return int(conn.execute(query).scalar_one())

        def body(conn: sa.Connection) -> ErasureReport:
            if not dry_run:
                self._lock_contacts(conn, sorted({contact_id} | ({alias} if alias else set())))
            columns = [*self._contact_columns(), contacts.c.lease_owner, contacts.c.lease_until]
            row = conn.execute(sa.select(*columns).where(contacts.c.id == contact_id)).first()
            owned = deliveries.c.contact_id == contact_id
            if dry_run or alias is None:
                kept_rows: Sequence[Any] = []
                delivered = count(conn, deliveries)
            else:  # read to be kept: the contact's deliveries, in recording order
                query = sa.select(*self._delivery_columns()).where(owned)
                kept_rows = conn.execute(query.order_by(deliveries.c.serial)).all()
                delivered = len(kept_rows)
            report = ErasureReport(
                contact_id,
                keep,
                applied=not dry_run,
                found=row is not None,
                events=count(conn, events),
                deliveries=delivered,
                claims=count(conn, t.claims),
                errors=count(conn, t.errors),
                folds=count(conn, t.folds),
                pseudonym=alias,
                held_until=None if row is None or row.lease_owner is None else row.lease_until,
            )
            if alias is not None and delivered:
                self._check_erasure_stub(conn, alias)
            if dry_run:
                return report
            if kept_rows:
                assert alias is not None
                assert key is not None
                self._keep_pseudonymous(conn, contact_id, row, kept_rows, alias, key)
            for table in (t.folds, t.claims, t.errors, events, deliveries):
                conn.execute(sa.delete(table).where(table.c.contact_id == contact_id))
            conn.execute(sa.delete(contacts).where(contacts.c.id == contact_id))
            return report

        return self._read(body) if dry_run else self._write(body)

    def _check_erasure_stub(self, conn: sa.Connection, alias: str) -> None:
        """Raise `ReguaError` when `alias` is the id of a contact that holds data.

        The row an erasure keeps deliveries under has none, nor any event.
        """
        contacts, events = self._tables.contacts, self._tables.events
        row = conn.execute(
            sa.select(*self._contact_columns()).where(contacts.c.id == alias)
        ).first()
        if row is None:
            return
        try:
            empty = _contact(row) == Contact(alias)
        except InvalidRecordError:
            empty = False
        if empty:
            has_events = sa.select(events.c.serial).where(events.c.contact_id == alias).limit(1)
            empty = conn.execute(has_events).first() is None
        if not empty:
            raise ReguaError(
                f"cannot keep deliveries under {alias!r}: a contact with that id holds data "
                "(it is not one an erasure made)"
            )

    def _keep_pseudonymous(
        self,
        conn: sa.Connection,
        contact_id: str,
        row: Any,
        rows: Sequence[Any],
        alias: str,
        key: str | bytes,
    ) -> None:
        """Store the pseudonymous form of these delivery rows under `alias`, and its row.

        The contact's personal values (to redact the reasons with) are read from its row and
        events as far as they can be decoded.
        """
        t = self._tables
        contact: Contact | None = None
        if row is not None:
            with contextlib.suppress(InvalidRecordError):
                contact = _contact(row)
        found: list[Event] = []
        query = sa.select(*self._event_columns()).where(t.events.c.contact_id == contact_id)
        for event_row in conn.execute(query):
            with contextlib.suppress(InvalidRecordError):
                found.append(_event(event_row))
        known = personal_values(contact, found)
        kept: list[Delivery] = []
        for delivery_row in rows:
            try:
                delivery = _delivery(delivery_row)
            except InvalidRecordError:  # erased all the same; its text names the contact
                _log.warning("an erased contact's delivery cannot be read: erased, not kept")
                continue
            kept.append(pseudonymous_delivery(delivery, key, known=known))
        stub = {**_contact_values(Contact(alias)), "version": 1, "wakeup_at": None}
        conn.execute(
            self._insert(t.contacts).values(stub).on_conflict_do_nothing(index_elements=["id"])
        )
        if kept:
            self._record(conn, kept)

    def _wake(self, conn: sa.Connection, contact_id: str) -> None:
        contacts = self._tables.contacts
        conn.execute(
            sa.update(contacts)
            .where(contacts.c.id == contact_id)
            .values(version=contacts.c.version + 1, wakeup_at=DIRTY)
        )

    def _wake_many(self, conn: sa.Connection, contact_ids: Sequence[str]) -> None:
        contacts = self._tables.contacts
        for chunk in self._chunks(contact_ids):
            conn.execute(
                sa.update(contacts)
                .where(self._among(contacts.c.id, chunk))
                .values(version=contacts.c.version + 1, wakeup_at=DIRTY)
            )

    def _lock_contacts(self, conn: sa.Connection, ids: Sequence[str]) -> set[str]:
        """Lock these contacts' rows in id order, until commit; the ids found.

        What is stored for a contact with its row locked gets serials in the order it is
        committed in, which a folded read (`store_folds`) relies on.
        """
        contacts = self._tables.contacts
        found: set[str] = set()
        for chunk in self._chunks(sorted(ids)):
            query = (
                sa.select(contacts.c.id)
                .where(self._among(contacts.c.id, chunk))
                .order_by(contacts.c.id)
                .with_for_update()
            )
            found.update(conn.execute(query).scalars())
        return found

    def _lock_contact(self, conn: sa.Connection, contact_id: str, *columns: Any) -> Any:
        """The contact's row, locked until commit; `UnknownContactError` when absent."""
        contacts = self._tables.contacts
        row = conn.execute(
            sa.select(contacts.c.id, *columns).where(contacts.c.id == contact_id).with_for_update()
        ).first()
        if row is None:
            raise UnknownContactError(f"no contact {contact_id!r} in the repository")
        return row

    def _insert_event(self, conn: sa.Connection, event: Event) -> bool:
        """Store `event` and wake its contact; False (storing nothing) for a duplicate id.

        The unique constraint on (contact, event id) decides, not a prior check: replays
        racing each other insert one row, and the others do nothing.
        """
        self._lock_contact(conn, event.contact_id)
        events = self._tables.events
        inserted = conn.execute(
            self._insert(events)
            .values(
                contact_id=event.contact_id,
                event_id=event.id,
                name=event.name,
                at=event.at,
                data=_to_json(event.data, f"Event {event.id!r}.data"),
                ref=event.ref,
            )
            .on_conflict_do_nothing(
                index_elements=[events.c.contact_id, events.c.name, events.c.event_id]
            )
            .returning(events.c.serial)
        ).first()
        if inserted is None:
            return False
        self._wake(conn, event.contact_id)
        return True

    # --- application side ----------------------------------------------------------------------

    def _upsert_contacts(self, conn: sa.Connection, contacts: Sequence[Contact]) -> None:
        """Insert or replace contacts and wake them: one statement, executed for them all."""
        if not contacts:
            return
        table = self._tables.contacts
        rows = [{**_contact_values(c), "version": 1, "wakeup_at": DIRTY} for c in contacts]
        stmt = self._insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.id],
            set_={
                **{name: stmt.excluded[name] for name in rows[0] if name not in ("id", "version")},
                "version": table.c.version + 1,
            },
        )
        conn.execute(stmt, rows[0] if len(rows) == 1 else rows)

    def upsert_contact(self, contact: Contact) -> None:
        """Insert or replace a contact (its events and deliveries are kept); wake it."""
        self._write(lambda conn: self._upsert_contacts(conn, [contact]))

    def bulk_load(
        self,
        contacts: Iterable[Contact] = (),
        events: Iterable[Event] = (),
        deliveries: Iterable[Delivery] = (),
    ) -> int:
        """Load many records at once: an import, or a migration from another store.

        The same outcome as `upsert_contact` for each contact, then `record_event` for each
        event (an event id already stored, or repeated, is skipped), then `record` for the
        deliveries, in one transaction and a few statements per batch of rows (multi-row
        ``INSERT ... ON CONFLICT``) instead of several per record. All or nothing: an event
        of a contact that is neither stored nor among `contacts` raises
        `UnknownContactError` and stores nothing. The records are read batch by batch, so
        `events` can be a generator over more rows than fit in memory; on SQLite the
        database's write lock is held until the load ends. Unlike the other writes, a
        PostgreSQL deadlock is not retried (the records are already read): it raises, and
        nothing is stored.

        On PostgreSQL, a table the load wrote a tenth or more of is then analyzed (``ANALYZE``,
        as autovacuum would do later, or never where it is off), so that the next tick reads
        contacts through their indexes: without statistics, a read of a batch of contacts'
        events over millions of rows may be planned as a scan of the whole table.

        Returns:
            The number of events stored (duplicates not counted).

        """
        table = self._tables.events
        insert = (
            self._insert(table)
            .on_conflict_do_nothing(
                index_elements=[table.c.contact_id, table.c.name, table.c.event_id]
            )
            .returning(table.c.contact_id)
            .execution_options(insertmanyvalues_page_size=_BULK_ROWS)
        )

        loaded = {self._tables.contacts: 0, table: 0, self._tables.deliveries: 0}

        def body(conn: sa.Connection) -> int:
            for contact_batch in _batches(contacts, _BULK_ROWS):
                # One row per id (the last): a statement may not update a row twice.
                unique = list({c.id: c for c in contact_batch}.values())
                self._upsert_contacts(conn, unique)
                loaded[self._tables.contacts] += len(unique)
            stored = 0
            for batch in _batches(events, _BULK_ROWS):
                ids = sorted({event.contact_id for event in batch})
                found = self._lock_contacts(conn, ids)
                missing = [contact_id for contact_id in ids if contact_id not in found]
                if missing:
                    raise UnknownContactError(f"no contact {missing[0]!r} in the repository")
                rows = [
                    {
                        "contact_id": e.contact_id,
                        "event_id": e.id,
                        "name": e.name,
                        "at": e.at,
                        "data": _to_json(e.data, f"Event {e.id!r}.data"),
                        "ref": e.ref,
                    }
                    for e in batch
                ]
                inserted = conn.execute(insert, rows).scalars().all()
                stored += len(inserted)
                self._wake_many(conn, sorted(set(inserted)))
            for delivery_batch in _batches(deliveries, _BULK_ROWS):
                self._lock_contacts(conn, sorted({d.contact_id for d in delivery_batch}))
                self._record(conn, delivery_batch)
                loaded[self._tables.deliveries] += len(delivery_batch)
            loaded[table] = stored
            return stored

        # Not `_write`: a retry would find the iterators already consumed.
        with self._serialised(), self._writer.begin() as conn:
            stored = body(conn)
        self._analyze_grown(loaded)
        return stored

    def _analyze_grown(self, loaded: Mapping[sa.Table, int]) -> None:
        """On PostgreSQL, ``ANALYZE`` the tables `loaded` rows were a tenth or more of.

        The threshold is autovacuum's default: rows written (inserted or updated) of at least
        50 and a tenth of the table as its statistics last counted it; a table never analyzed
        always is.
        """
        if self._writer.dialect.name != "postgresql":
            return
        preparer = self._writer.dialect.identifier_preparer
        with self._writer.begin() as conn:
            for table, rows in loaded.items():
                if not rows:
                    continue
                name = preparer.format_table(table)
                counted = conn.execute(
                    sa.text("SELECT reltuples FROM pg_class WHERE oid = CAST(:name AS regclass)"),
                    {"name": name},
                ).scalar()
                if counted is None or counted < 0 or rows >= 50 + 0.1 * counted:
                    conn.execute(sa.text(f"ANALYZE {name}"))

    def get_contact(self, contact_id: str) -> Contact | None:
        """The contact, or None.

        Raises:
            InvalidRecordError: The stored contact cannot be read (its message names the
                field); `get_contacts` leaves such a contact out instead.

        """
        contacts = self._tables.contacts
        query = sa.select(*self._contact_columns()).where(contacts.c.id == contact_id)
        row = self._read(lambda conn: conn.execute(query).first())
        return None if row is None else _contact(row)

    def get_contacts(self, contact_ids: Sequence[str]) -> dict[str, Contact]:
        """The stored contacts among `contact_ids`, by id: one statement per 5,000 ids.

        A contact whose stored row cannot be read is left out, as a missing one is (the
        scheduler then sends it nothing); `load_snapshots` says why (`Snapshot.unreadable`).
        """
        ids = list(dict.fromkeys(contact_ids))
        if not ids:
            return {}
        found = _readable_contacts(self._read(lambda c: self._contact_rows(c, ids)))
        return {contact_id: found[contact_id][0] for contact_id in ids if contact_id in found}

    def get_versioned_contacts(self, contact_ids: Sequence[str]) -> dict[str, tuple[Contact, int]]:
        """The stored contacts among `contact_ids` with their versions: as `get_contacts`."""
        ids = list(dict.fromkeys(contact_ids))
        if not ids:
            return {}
        found = _readable_contacts(self._read(lambda c: self._contact_rows(c, ids)))
        return {cid: found[cid] for cid in ids if cid in found}

    def record_event(self, event: Event) -> bool:
        """Store an event (False if its id is already stored); wake its contact."""
        assert event.id is not None
        return self._write(lambda conn: self._insert_event(conn, event))

    def set_consent(self, contact_id: str, channel: str, granted: bool) -> None:
        """Grant or revoke marketing consent on a channel; wake the contact."""
        contacts = self._tables.contacts

        def body(conn: sa.Connection) -> None:
            row = self._lock_contact(conn, contact_id, contacts.c.consents)
            consents = set(row.consents)
            if granted:
                consents.add(channel)
            else:
                consents.discard(channel)
            conn.execute(
                sa.update(contacts)
                .where(contacts.c.id == contact_id)
                .values(
                    consents=sorted(consents),
                    version=contacts.c.version + 1,
                    wakeup_at=DIRTY,
                )
            )

        self._write(body)

    def suppress_address(self, contact_id: str, channel: str, address: str) -> bool:
        """Remove the contact's address on `channel` if it is still `address`; wake it.

        What the scheduler does on a hard bounce (`PermanentFailure.suppress`). False, and
        nothing changed, when the contact is gone or its address there is another one (the
        application has given a new one since) or none.
        """
        contacts = self._tables.contacts

        def body(conn: sa.Connection) -> bool:
            row = conn.execute(
                sa.select(contacts.c.addresses).where(contacts.c.id == contact_id).with_for_update()
            ).first()
            if row is None:
                return False
            addresses = row.addresses  # the JSON column, decoded
            if not isinstance(addresses, dict) or addresses.get(channel) != address:
                return False
            kept = {name: value for name, value in addresses.items() if name != channel}
            conn.execute(
                sa.update(contacts)
                .where(contacts.c.id == contact_id)
                .values(
                    addresses=kept,
                    version=contacts.c.version + 1,
                    wakeup_at=DIRTY,
                )
            )
            return True

        return self._write(body)

    def record_engagement(self, occurrence_key: str, kind: str, at: datetime) -> Event:
        """Record an open or click of a delivery as an event; wake its contact."""
        if kind not in (OPENED, CLICKED):
            raise InvalidArgumentError(
                f"engagement kind must be {OPENED!r} or {CLICKED!r}, got {kind!r}"
            )
        deliveries = self._tables.deliveries

        def body(conn: sa.Connection) -> Event:
            contact_id = conn.execute(
                sa.select(deliveries.c.contact_id).where(
                    deliveries.c.occurrence_key == occurrence_key
                )
            ).scalar()
            if contact_id is None:
                raise NotFoundError(f"no delivery with occurrence key {occurrence_key!r}")
            event = Event(contact_id, kind, at, ref=occurrence_key)
            event = attrs.evolve(event, id=f"{kind}:{occurrence_key}@{event.at.isoformat()}")
            self._insert_event(conn, event)
            return event

        return self._write(body)

    def history(self, contact_id: str) -> list[Event | Delivery]:
        """Every event and delivery of the contact, oldest first (events first at a tie)."""
        contacts = self._tables.contacts
        events, deliveries = self._tables.events, self._tables.deliveries

        def body(conn: sa.Connection) -> list[tuple[datetime, int, Event | Delivery]]:
            found = conn.execute(sa.select(contacts.c.id).where(contacts.c.id == contact_id))
            if found.first() is None:
                raise UnknownContactError(f"no contact {contact_id!r} in the repository")
            items: list[tuple[datetime, int, Event | Delivery]] = [
                (event.at, 0, event)
                for event in map(
                    _event,
                    conn.execute(
                        sa.select(*self._event_columns())
                        .where(events.c.contact_id == contact_id)
                        .order_by(events.c.serial)
                    ),
                )
            ]
            items += [
                (delivery.at, 1, delivery)
                for delivery in map(
                    _delivery,
                    conn.execute(
                        sa.select(*self._delivery_columns())
                        .where(deliveries.c.contact_id == contact_id)
                        .order_by(deliveries.c.serial)
                    ),
                )
            ]
            return items

        items = self._read(body)
        items.sort(key=lambda item: (item[0], item[1]))  # stable: recording order at ties
        return [item for _, _, item in items]

    def failed_deliveries(self, limit: int = 100) -> list[Delivery]:
        """Deliveries recorded as failed, most recent first."""
        if limit <= 0:
            return []
        deliveries = self._tables.deliveries
        query = (
            sa.select(*self._delivery_columns())
            .where(deliveries.c.status == DeliveryStatus.FAILED.value)
            .order_by(deliveries.c.at.desc(), deliveries.c.serial)
            .limit(limit)
        )
        return self._read(lambda conn: [_delivery(row) for row in conn.execute(query)])

    def contact_ids(self, after: str | None = None, limit: int = 1000) -> list[str]:
        """Up to `limit` contact ids greater than `after`, in the database's order of ids.

        One statement, reading the primary key's index in order (keyset pagination).
        """
        contacts = self._tables.contacts
        query = sa.select(contacts.c.id).order_by(contacts.c.id).limit(limit)
        if after is not None:
            query = query.where(contacts.c.id > after)
        return self._read(lambda conn: list(conn.execute(query).scalars()))

    def errors(self, contact_id: str | None = None) -> list[ContactError]:
        """Errors recorded while evaluating contacts, oldest first."""
        errors = self._tables.errors
        # By instant (recorded in batches, possibly by several workers), then arrival.
        query = sa.select(errors).order_by(errors.c.at, errors.c.serial)
        if contact_id is not None:
            query = query.where(errors.c.contact_id == contact_id)
        return self._read(
            lambda conn: [
                ContactError(row.contact_id, row.at, row.error) for row in conn.execute(query)
            ]
        )

    # --- scheduler side ----------------------------------------------------------------------

    def acquire_due(
        self,
        worker: str,
        now: datetime,
        limit: int,
        lease: timedelta,
        *,
        shard: Shard | None = None,
    ) -> list[Snapshot]:
        """Lease and load up to `limit` due contacts (of `shard`), earliest wake-up first.

        One transaction, five statements: select the due, unleased rows in wake-up order
        (through the wake-up index, or with a shard the sharded one, ``(wakeup_at, bucket,
        id)``, whose entries outside the shard's bucket range are skipped without reading
        their rows; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so that workers racing for the
        same rows split them instead of queueing; the write lock on SQLite), lease them, load
        their events, their deliveries and their open claims' keys.
        """
        if limit <= 0:
            return []
        contacts = self._tables.contacts
        current, until = self._lease_times(now, lease)
        query = (
            self._due_query(sa.select(*self._contact_columns()), now, shard)
            .where(
                sa.or_(
                    contacts.c.lease_owner.is_(None),
                    contacts.c.lease_owner == worker,
                    contacts.c.lease_until.is_(None),
                    contacts.c.lease_until < current,
                ),
            )
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

        def body(conn: sa.Connection) -> list[Snapshot]:
            rows = conn.execute(query).all()
            if not rows:
                return []
            for chunk in self._chunks([row.id for row in rows]):
                conn.execute(
                    sa.update(contacts)
                    .where(self._among(contacts.c.id, chunk))
                    .values(lease_owner=worker, lease_until=until)
                )
            return self._snapshots(conn, rows, folded=True)

        return self._write(body)

    def _in_shard(self, shard: Shard) -> Any:
        bucket = self._tables.contacts.c.bucket
        return sa.and_(bucket >= shard.lo, bucket < shard.hi)

    def _due_query(self, query: Any, now: datetime, shard: Shard | None) -> Any:
        """`query` restricted to contacts due at `now` (of `shard`), in index order."""
        c = self._tables.contacts.c
        if shard is None:
            return query.where(c.wakeup_at <= now).order_by(c.wakeup_at, c.id)
        return query.where(c.wakeup_at <= now, self._in_shard(shard)).order_by(
            c.wakeup_at, c.bucket, c.id
        )

    def due_contact_ids(
        self, now: datetime, limit: int, *, shard: Shard | None = None
    ) -> list[str]:
        """Ids of due contacts (of `shard`), earliest first, leasing nothing (one statement)."""
        if limit <= 0:
            return []
        contacts = self._tables.contacts
        query = self._due_query(sa.select(contacts.c.id), now, shard).limit(limit)
        return self._read(lambda conn: list(conn.execute(query).scalars()))

    def next_wakeup(self, *, shard: Shard | None = None) -> datetime | None:
        """The earliest wake-up of any contact (of `shard`), or None (one indexed statement)."""
        contacts = self._tables.contacts
        # min() has its argument's type: the value is read back as an aware UTC instant.
        query = sa.select(sa.func.min(contacts.c.wakeup_at))
        if shard is not None:
            query = query.where(self._in_shard(shard))
        value: datetime | None = self._read(lambda conn: conn.execute(query).scalar())
        return value

    def backlog(self, now: datetime) -> Backlog:
        """Due contacts at `now`: one statement, a range of the wake-up index."""
        contacts = self._tables.contacts
        wakeup = contacts.c.wakeup_at
        # DIRTY sorts first, so the oldest scheduled wake-up is the least one above it.
        # CASE rather than FILTER: SQLite learnt FILTER late (3.30).
        query = sa.select(
            sa.func.count(),
            sa.func.count(sa.case((wakeup == DIRTY, 1))),
            sa.func.min(sa.case((wakeup > DIRTY, wakeup))),
        ).where(wakeup <= now)
        due, changed, oldest = self._read(lambda conn: conn.execute(query).one())
        return Backlog(due=int(due), changed=int(changed), oldest=oldest)

    def load_snapshots(self, contact_ids: Sequence[str]) -> dict[str, Snapshot]:
        """Snapshots of these contacts, without leasing them.

        The contact rows (with their versions) are read before events and deliveries. Under
        PostgreSQL's READ COMMITTED a change committed in between may show in the events
        but not in the version: the snapshot is then newer than its version says, which is
        safe (the wake-up computed from it is refused as stale, and the contact stays due).
        """
        ids = list(dict.fromkeys(contact_ids))
        if not ids:
            return {}

        def body(conn: sa.Connection) -> list[Snapshot]:
            return self._snapshots(conn, self._contact_rows(conn, ids))

        found = {snapshot.contact.id: snapshot for snapshot in self._read(body)}
        return {contact_id: found[contact_id] for contact_id in ids if contact_id in found}

    def claim(
        self, actions: Sequence[DueAction], worker: str, now: datetime, lease: timedelta
    ) -> dict[str, Claim]:
        """Claim the occurrences no delivery closes and no live claim holds.

        One transaction, two statements:

        1. ``INSERT INTO regua_claims ... ON CONFLICT (occurrence_key) DO UPDATE SET
           contact_id, worker, until WHERE regua_claims.until < :now RETURNING *``, the
           rows coming from ``SELECT ... FROM unnest(:keys, :contact_ids, :channels)`` on PostgreSQL
           (three array parameters, whatever the batch size) and from a multi-row
           ``VALUES`` on SQLite: a free key is inserted, an expired claim is taken over
           keeping its retry state, a live claim (of anyone, the caller included: it may
           be a deferred retry) is left alone and not returned;
        2. ``DELETE FROM regua_claims WHERE occurrence_key IN (<granted>) AND occurrence_key
           IN (SELECT occurrence_key FROM regua_deliveries) RETURNING occurrence_key``: the
           keys an outcome already closes are taken back and left out of the answer.

        Why two workers are never both granted one occurrence while its claim lives:

        - The claim row's primary key serialises every claimant of a key. On PostgreSQL, an
          ``INSERT ... ON CONFLICT DO UPDATE`` either inserts or, finding a conflicting row
          (even one its snapshot cannot see), locks it, waiting for the transaction holding
          it to end, and then evaluates the ``WHERE`` on the latest committed version. So the
          second of two racing workers finds the first one's row, with a live ``until``, and
          is not granted: the ``WHERE`` is false, no row comes back.
          On SQLite the transaction holds the database's write lock (``BEGIN IMMEDIATE``)
          from before the insert to the commit, so claims are simply serial.
        - An occurrence with a recorded outcome is never granted. `record` inserts the
          delivery and deletes the claim in one transaction. If that transaction commits
          before our insert meets the claim row, the row is gone (we insert a fresh one) but
          the delivery is committed before statement 2 starts; statement 2 takes a new
          snapshot (READ COMMITTED: one per statement), sees it and takes the key back. If
          it commits after our insert locked the row, our claim was granted while no
          outcome existed and the recording worker's lease had expired (or we would not have
          been granted it): that is the lease contract, not a double grant.
        - Keys are claimed in sorted order, so two batches lock rows in one order and cannot
          deadlock each other; a batch is deduplicated first, as PostgreSQL refuses to
          update one row twice in one statement.
        """
        unique: dict[str, DueAction] = {}
        for action in actions:  # a repeated key: the first is granted, then it is live
            unique.setdefault(action.occurrence_key, action)
        if not unique:
            return {}
        claims, deliveries = self._tables.claims, self._tables.deliveries
        keys = sorted(unique)
        granting, rows = self._claim_statement(
            keys,
            [unique[key].contact_id for key in keys],
            [next(iter(unique[key].channels), None) for key in keys],
            worker,
            now,
            lease,
        )

        def body(conn: sa.Connection) -> dict[str, Claim]:
            granted = {row.occurrence_key: _claim(row) for row in conn.execute(granting, rows)}
            for chunk in self._chunks(sorted(granted)):
                taken_back = conn.execute(
                    sa.delete(claims)
                    .where(
                        self._among(claims.c.occurrence_key, chunk),
                        claims.c.occurrence_key.in_(sa.select(deliveries.c.occurrence_key)),
                    )
                    .returning(claims.c.occurrence_key)
                )
                for key in taken_back.scalars():
                    del granted[key]
            return granted

        return self._write(body)

    def _claim_statement(
        self,
        keys: Sequence[str],
        contact_ids: Sequence[str],
        channels: Sequence[str | None],
        worker: str,
        now: datetime,
        lease: timedelta,
    ) -> tuple[Any, list[dict[str, Any]] | dict[str, Any]]:
        """`claim`'s upsert, and the parameters to execute it with."""
        claims = self._tables.claims
        current, until = self._lease_times(now, lease)
        if self._dialect == "postgresql":
            text_array = _postgresql.ARRAY(sa.String)
            batch = (
                sa.func.unnest(
                    sa.bindparam("claim_keys", list(keys), type_=text_array),
                    sa.bindparam("claim_contacts", list(contact_ids), type_=text_array),
                    sa.bindparam("claim_channels", list(channels), type_=text_array),
                )
                .table_valued("occurrence_key", "contact_id", "channel")
                .render_derived()
            )
            source = sa.select(
                batch.c.occurrence_key,
                batch.c.contact_id,
                sa.literal(worker, sa.String),
                until,
                sa.literal(0, sa.Integer),
                sa.literal(0, sa.Integer),
                sa.null(),
                sa.true(),
                sa.false(),
                batch.c.channel,
            ).order_by(batch.c.occurrence_key)  # rows locked in one order: no deadlock
            names = [column.name for column in claims.c]
            postgres_upsert = _postgresql.insert(claims).from_select(names, source)
            postgres_upsert = postgres_upsert.on_conflict_do_update(
                index_elements=[claims.c.occurrence_key],
                set_={
                    **{
                        name: postgres_upsert.excluded[name]
                        for name in ("contact_id", "worker", "until", "sending")
                    },
                    "unsettled": claims.c.unsettled | claims.c.sending,
                },
                where=claims.c.until < current,
            )
            return postgres_upsert.returning(*claims.c), {}
        sqlite_upsert = _sqlite.insert(claims)
        sqlite_upsert = sqlite_upsert.on_conflict_do_update(
            index_elements=[claims.c.occurrence_key],
            set_={
                **{
                    name: sqlite_upsert.excluded[name]
                    for name in ("contact_id", "worker", "until", "sending")
                },
                "unsettled": claims.c.unsettled | claims.c.sending,
            },
            where=claims.c.until < current,  # SQLite: always the caller's clock
        )
        rows = [
            {
                "occurrence_key": key,
                "contact_id": contact_id,
                "worker": worker,
                "until": now + lease,
                "attempts": 0,
                "channel_index": 0,
                "last_error": None,
                "sending": True,
                "unsettled": False,
                "channel": channel,
            }
            for key, contact_id, channel in zip(keys, contact_ids, channels, strict=True)
        ]
        # Executed with a list of rows: SQLAlchemy sends one multi-row INSERT, paged only
        # at SQLite's limit on bound parameters (4,680 rows here), not at its default 1,000.
        statement = sqlite_upsert.returning(*claims.c).execution_options(
            insertmanyvalues_page_size=_IN_CHUNK
        )
        return statement, rows

    def record(self, deliveries: Sequence[Delivery]) -> None:
        """Record outcomes (the first per occurrence wins) and drop their claims.

        One transaction, two statements: ``INSERT ... ON CONFLICT (occurrence_key) DO
        NOTHING`` (the unique key decides which outcome is first, across processes too),
        then ``DELETE`` the claims.
        """
        if deliveries:
            self._write(lambda conn: self._record(conn, deliveries))

    def _record(self, conn: sa.Connection, deliveries: Sequence[Delivery]) -> None:
        first: dict[str, Delivery] = {}
        for delivery in deliveries:
            first.setdefault(delivery.occurrence_key, delivery)
        if not first:
            return
        table, claims = self._tables.deliveries, self._tables.claims
        rows = [
            {
                "occurrence_key": d.occurrence_key,
                "cadence": d.cadence,
                "step": d.step,
                "contact_id": d.contact_id,
                "status": d.status.value,
                "at": d.at,
                "channel": d.channel,
                "reason": _storable(d.reason),
                "collected": list(d.collected) if d.collected else None,
                "variant": d.variant,
                "message_id": _storable(d.message_id),
                "detail": _storable(d.detail),
            }
            for d in first.values()  # in the given order: it is the recording order
        ]
        insert = self._insert(table).on_conflict_do_nothing(index_elements=[table.c.occurrence_key])
        conn.execute(insert, rows)
        for chunk in self._chunks(sorted(first)):
            where = self._among(claims.c.occurrence_key, chunk)
            self._lock_in_order(conn, claims, where)
            conn.execute(sa.delete(claims).where(where))

    def _lock_in_order(self, conn: sa.Connection, table: sa.Table, where: Any) -> None:
        """On PostgreSQL, lock the rows a statement is about to change in key order.

        A ``DELETE ... WHERE key = ANY(...)`` locks rows in the order it finds them, so two
        workers deleting overlapping sets can deadlock; taking the locks sorted first cannot.
        """
        if self._dialect == "postgresql":
            key = table.c.occurrence_key
            conn.execute(sa.select(key).where(where).order_by(key).with_for_update())

    def defer(self, claims: Sequence[Claim]) -> None:
        """Store retry state; each claim is held until its `until`.

        One transaction, two statements: upsert the claims, then drop those an outcome
        already closes.
        """
        last = {claim.occurrence_key: claim for claim in claims}
        if not last:
            return
        table, deliveries = self._tables.claims, self._tables.deliveries
        rows = [attrs.asdict(last[key]) for key in sorted(last)]
        for row in rows:
            row["last_error"] = _storable(row["last_error"])
        upsert = self._insert(table)
        upsert = upsert.on_conflict_do_update(
            index_elements=[table.c.occurrence_key],
            set_={
                **{name: upsert.excluded[name] for name in rows[0] if name != "occurrence_key"},
                # Sticky while the claim stays on the channel it is about; a move to another
                # channel is made once that one's attempt is settled, and stored as given.
                "unsettled": sa.case(
                    (
                        table.c.channel_index == upsert.excluded.channel_index,
                        table.c.unsettled | upsert.excluded.unsettled,
                    ),
                    else_=upsert.excluded.unsettled,
                ),
            },
        )

        def body(conn: sa.Connection) -> None:
            conn.execute(upsert, rows)
            for chunk in self._chunks(sorted(last)):
                where = sa.and_(
                    self._among(table.c.occurrence_key, chunk),
                    table.c.occurrence_key.in_(sa.select(deliveries.c.occurrence_key)),
                )
                self._lock_in_order(conn, table, where)
                conn.execute(sa.delete(table).where(where))

        self._write(body)

    def set_wakeups(self, wakeups: Sequence[Wakeup]) -> None:
        """Store next wake-ups unless the contact changed since; end the leases.

        One statement, executed for the whole batch: ``UPDATE regua_contacts SET lease =
        NULL, wakeup_at = CASE WHEN version = :version THEN :at ELSE wakeup_at END WHERE id
        = :id``. A stale version keeps the wake-up the change set (`DIRTY`).
        """
        if not wakeups:
            return
        contacts = self._tables.contacts
        stmt = (
            sa.update(contacts)
            .where(contacts.c.id == sa.bindparam("w_id"))
            .values(
                lease_owner=None,
                lease_until=None,
                wakeup_at=sa.case(
                    (
                        contacts.c.version == sa.bindparam("w_version"),
                        sa.bindparam("w_at", type_=_UTCDateTime()),
                    ),
                    else_=contacts.c.wakeup_at,
                ),
            )
        )
        # Sorted (stably) by contact, so concurrent batches lock rows in one order.
        rows = [
            {"w_id": w.contact_id, "w_version": w.version, "w_at": w.at}
            for w in sorted(wakeups, key=lambda w: w.contact_id)
        ]
        self._write(lambda conn: conn.execute(stmt, rows))

    def record_errors(self, errors: Sequence[ContactError]) -> None:
        """Record errors raised while evaluating contacts."""
        if not errors:
            return
        table = self._tables.errors
        rows = [
            {"contact_id": e.contact_id, "at": e.at, "error": _storable(e.error)} for e in errors
        ]
        self._write(lambda conn: conn.execute(sa.insert(table), rows))


@overload
def _storable(text: str) -> str: ...
@overload
def _storable(text: None) -> None: ...
def _storable(text: str | None) -> str | None:
    """`text` as every database stores it: PostgreSQL's text refuses NUL characters.

    A sender's failure text is the provider's, and may hold anything.
    """
    if text is None or "\x00" not in text:
        return text
    return text.replace("\x00", "\ufffd")


class HostTransaction:
    """`SQLRepository`'s application side, writing in the application's transaction.

    Made by `SQLRepository.within`. Each method is the repository's own, run on the
    application's connection: nothing is committed, and it sees the transaction's own
    uncommitted writes.
    """

    def __init__(self, bound: SQLRepository) -> None:
        self._repository = bound

    def upsert_contact(self, contact: Contact) -> None:
        """`SQLRepository.upsert_contact`, in the application's transaction."""
        self._repository.upsert_contact(contact)

    def record_event(self, event: Event) -> bool:
        """`SQLRepository.record_event`, in the application's transaction."""
        return self._repository.record_event(event)

    def set_consent(self, contact_id: str, channel: str, granted: bool) -> None:
        """`SQLRepository.set_consent`, in the application's transaction."""
        self._repository.set_consent(contact_id, channel, granted)

    def record_engagement(self, occurrence_key: str, kind: str, at: datetime) -> Event:
        """`SQLRepository.record_engagement`, in the application's transaction."""
        return self._repository.record_engagement(occurrence_key, kind, at)

    def get_contact(self, contact_id: str) -> Contact | None:
        """`SQLRepository.get_contact`, as the application's transaction sees it."""
        return self._repository.get_contact(contact_id)

    def history(self, contact_id: str) -> list[Event | Delivery]:
        """`SQLRepository.history`, as the application's transaction sees it."""
        return self._repository.history(contact_id)


# Documented, and pickled, as `regua.SQLRepository` (this module loads on first use).
publish("regua", [SQLRepository])
# Doctest looks for a class's examples in the module its `__module__` names, and `regua`
# imports this one lazily: point it here.
__test__ = {"SQLRepository": SQLRepository}
