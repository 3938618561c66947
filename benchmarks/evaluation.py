"""What evaluating one contact costs, as a function of the length of its history.

    python benchmarks/evaluation.py              # 10 to 10,000 events: memory, SQLite, PostgreSQL
    python benchmarks/evaluation.py --events 10 100 --contacts 5 --rounds 2 --postgres-url ''
    python benchmarks/evaluation.py --customers 0 --throughput-contacts 0 --json out.json
    python benchmarks/evaluation.py --repositories memory memory-folded --customers 0
    python benchmarks/evaluation.py --repositories sqlite-folded postgresql-folded --customers 0

An evaluation is what a scheduler does for each contact it wakes: read the contact's snapshot
(`Repository.load_snapshots`) and plan it (`regua.plan`), under the e-commerce lifecycle
example cadence (``examples/ecommerce_lifecycle.py``). For histories of ``--events`` events
per contact (10, 100, 1,000 and 10,000 by default), on three repositories
(`regua.InMemoryRepository`, `regua.SQLRepository` on a SQLite file and on PostgreSQL, in a
schema of its own dropped at the end), it times both parts, separately and summed.

The contacts (``--contacts``, 20; ``--large-contacts``, 3, from ``--large-from`` events on) are
seeded and synthetic (``floor.py``'s base, the profile of ``planner.py``: five timezones,
consents, birthdays, sign-ups over three years; exactly N events each, of logins, site visits,
orders placed, shipped and delivered, and abandoned carts, over at least 3N hours of the
contact's life; a long history is then a busy one, its last weeks holding more events than a
short one's), in the **steady state**: with the deliveries a scheduler running all along would
have recorded by now, so that a plan at now has what a later tick finds. They are recorded by
``planner.settle`` (every closed occurrence with its reason, every due action as sent) at a
series of instants, on the events known at each: once ``--settle-days`` days (240) before now,
or at the contact's first event if later, then every 25 hours (the instants go round the
clock), the last at now. A scheduler ticking along records sends when they were due, a
frequency cap lets a backlog out one slot at a time and quiet hours end; settled at a single
instant instead (``--settle-days 0``, as this benchmark did first), every send of the whole
history is stamped now, and occurrences that caps and quiet hours hold back stay open for
hundreds of days (hundreds of satisfaction surveys waiting under the caps at 1,000 events).
Every history length lives in the same repository, loaded with its `bulk_load`; the plan of
each repository's snapshot of a contact is checked against the plan of the snapshot it was
loaded from.

With ``--past``, a longer history is a longer past instead: every row's contacts are the
10-event row's (the same seed), and the rest of their events come before their sign-up, one
every 3 hours on average (``floor.with_past``), so that their recent life, and what is still
open in it, is the same whatever the length. That measures what the folds are for: a
customer who keeps coming back costs what is open, not how long they have been around.
Give ``--large-contacts`` the same value as ``--contacts`` to compare the same customers.

Times are CPU time of this process (`time.process_time`): PostgreSQL's own work is not in
them, and the read's wall time (`time.perf_counter`) is shown beside. Each measurement reads
every contact of a row one by one (again, until ``--min-events`` events were read: short
histories are timed over many evaluations), then plans what it read, as a scheduler's batch
does. Beside, the same snapshots planned again with the garbage collector off (a read of a
long history allocates enough objects to set off collections during the plans that follow),
and the row's contacts read again in one `load_snapshots` call (the batched read, per
contact: a scheduler reads its contacts in batches, which share what a call costs whatever
its size). The rows alternate, ``--rounds`` rounds after a warm-up, and the medians are
reported. Then, off the clock, one pass with a SQLAlchemy ``after_cursor_execute`` listener
counts what a read costs the database: statements, rows fetched and the bytes of the values
fetched (PostgreSQL: as sent by the server; SQLite: UTF-8 length of text, 8 bytes a number).

The **folded regime** (``memory-folded``, ``sqlite-folded``, ``postgresql-folded``), side
by side in the same rounds: each contact's history read back (`load_snapshots`, which gives
its `Snapshot.position`) is folded at now (`regua.fold`) and the fold stored
(`store_folds`), and the read is what `acquire_due` reads for a contact with a fold (the
folded snapshot and the records added since, none here):

* SQLite and PostgreSQL: the same database as the whole-history rows (`load_snapshots`
  still reads whole histories; the folds live in ``regua_folds``). Before a row is measured,
  its contacts alone are set due (`set_wakeups` at a past instant, every other contact of
  the database far ahead, off the clock); the read is `acquire_due` leasing one contact a
  call (the k-th call of a pass as worker ``evaluation-k``, so that each pass leases each
  contact once: `acquire_one_by_one`), the batched read `acquire_due` leasing the row's
  contacts in one call. `acquire_due` is a write transaction (it leases), where
  `load_snapshots` only reads;
* in memory: per history length, an `InMemoryRepository` of that row's contacts, loaded the
  same way; the read is the repository's internal ``_snapshot(row, folded=True)`` under its
  lock, one contact per call, the batched read `acquire_due` itself.

The plan of every folded snapshot is checked against the plan of the whole history (due keys
and instants, waiting keys and instants, next wake-up) at now and at later instants (the
base is settled: nothing is due at now), and `acquire_due` is checked to return the row's
contacts, folded. Reported beside: the records (events and deliveries) a folded read returns
per contact, the rows one read fetches (SQL), the ratio of the folded read and plan to the
10-event folded row of the same repository and to its whole-history row, and what
`regua.fold` costs per contact (in-memory rows; a scheduler folds a contact again once in a
while: ``regua.folding.FOLD_AFTER``).

For the in-memory repository, on ``planner.py``'s base (about 20 events per customer):

* memory per customer: the memory (`tracemalloc`) the repository holds after `bulk_load` of
  ``--customers`` customers (records included, the base's other copies dropped), divided by
  their number, with no delivery recorded (first sight), settled (``planner.settle`` at
  now, as ``planner.py`` does), and settled with a fold stored per customer (the repository
  keeps the whole history and the fold beside it, so that figure is higher; settled at one
  instant, every send is stamped now and the fold keeps it: most of these short histories);
* the plan in two regimes, contacts per second of CPU over ``--throughput-contacts``
  contacts: **first sight** (no delivery recorded) and **steady state** (settled).
"""

from __future__ import annotations

import argparse
import bisect
import gc
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import floor
import planner as bench

from regua import Cadence, InMemoryRepository, Snapshot, fold, plan
from regua.ports import Wakeup
from regua.repositories.sql import SQLRepository

NOW = bench.NOW
WORKER = "evaluation"
LEASE = timedelta(minutes=5)
# Where folded plans are checked against whole-history ones: at now, and later (nothing is
# due at now in a settled base).
LATER = (
    timedelta(0),
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=3),
    timedelta(days=10),
    timedelta(days=40),
)

# A folded SQL row's contacts are set due at PAST, every other contact of its database at
# FUTURE, so that `acquire_due` leases that row's contacts and no other.
PAST = NOW - timedelta(days=1)
FUTURE = NOW + timedelta(days=3650)

Repository = InMemoryRepository | SQLRepository


# --- the base ------------------------------------------------------------------------------------


SETTLE_EVERY = timedelta(hours=25)  # a day and an hour: the instants go round the clock


def settle_along(cadence: Cadence, snapshot: Snapshot, now: datetime, days: float) -> Snapshot:
    """`snapshot` with what a scheduler ticking along its last `days` days recorded by `now`.

    One `planner.settle` at ``now - days`` (or at the first event, if later) on the events
    known then, which records what came before at that instant, then one every
    `SETTLE_EVERY` on the events known at each instant, the last at `now`. With `days` 0,
    one settle at `now`.
    """
    events = sorted(snapshot.events, key=lambda e: e.at)
    instants = [now]
    start = max(now - timedelta(days=days), events[0].at) if events else now
    while instants[-1] - SETTLE_EVERY > start:
        instants.append(instants[-1] - SETTLE_EVERY)
    stamps = [e.at for e in events]
    deliveries = snapshot.deliveries
    for at in reversed(instants):
        known = Snapshot(snapshot.contact, events[: bisect.bisect_right(stamps, at)], deliveries)
        deliveries = bench.settle(cadence, known, at).deliveries
    return Snapshot(snapshot.contact, snapshot.events, deliveries)


def settled_base(
    cadence: Cadence,
    count: int,
    events: int,
    seed: int,
    now: datetime,
    days: float,
    past: bool = False,
) -> list[Snapshot]:
    """`count` contacts of `events` events each, with what a scheduler recorded by `now`.

    With `past`, the same recent life for every `events`, and the rest before it
    (`floor.with_past`).
    """
    people = floor.people(count, events, seed, now, prefix=f"h{events}-", past=past)
    return [settle_along(cadence, floor.snapshot_of(p), now, days) for p in people]


def bulk_load(repository: Repository, base: Sequence[Snapshot]) -> float:
    """Load `base` with the repository's `bulk_load`; the seconds it took."""
    started = time.perf_counter()
    repository.bulk_load(
        [s.contact for s in base],
        [e for s in base for e in s.events],
        [d for s in base for d in s.deliveries],
    )
    return time.perf_counter() - started


def _plan_keys(cadence: Cadence, snapshot: Snapshot, now: datetime) -> tuple[Any, ...]:
    result = plan(cadence, snapshot, now)
    return (
        sorted(a.occurrence_key for a in result.due),
        sorted((o.key, o.state) for o in result.waiting),
        sorted((o.key, o.state) for o in result.closed),
        result.next_wakeup,
    )


def _plan_compared(cadence: Cadence, snapshot: Snapshot, now: datetime) -> tuple[Any, ...]:
    """What a folded plan must share with the whole history's: due, waiting, next wake-up."""
    result = plan(cadence, snapshot, now)
    return (
        sorted((a.occurrence_key, a.due_at) for a in result.due),
        sorted((o.key, o.at) for o in result.waiting),
        result.next_wakeup,
    )


def _read_folded(repository: InMemoryRepository, contact_id: str) -> Snapshot:
    """What `acquire_due` reads for one contact: its stored fold and the records since.

    The repository's internal read, under its lock, as `load_snapshots` reads a contact.
    """
    with repository._lock:
        return repository._snapshot(repository._rows[contact_id], folded=True)


def records(snapshot: Snapshot) -> int:
    """Events and deliveries of a snapshot."""
    return len(snapshot.events) + len(snapshot.deliveries)


# --- SQL: repositories, and what a read costs the database ---------------------------------------


@dataclass
class Fetched:
    """What the statements of a read fetched."""

    counting: bool = False
    statements: int = 0
    rows: int = 0
    bytes: int = 0

    def add_values(self, rows: Sequence[Sequence[Any]]) -> None:
        self.rows += len(rows)
        for row in rows:
            for value in row:
                if isinstance(value, str):
                    self.bytes += len(value.encode())
                elif isinstance(value, (bytes, bytearray, memoryview)):
                    self.bytes += len(value)
                elif value is not None:
                    self.bytes += 8


_SQLITE_FETCHED = Fetched()


class _CountingCursor(sqlite3.Cursor):
    """A sqlite3 cursor that counts the rows and bytes it hands out."""

    def fetchone(self) -> Any:
        row = super().fetchone()
        if row is not None and _SQLITE_FETCHED.counting:
            _SQLITE_FETCHED.add_values([row])
        return row

    def fetchmany(self, size: int | None = None) -> list[Any]:
        rows = super().fetchmany(self.arraysize if size is None else size)
        if _SQLITE_FETCHED.counting:
            _SQLITE_FETCHED.add_values(rows)
        return rows

    def fetchall(self) -> list[Any]:
        rows = super().fetchall()
        if _SQLITE_FETCHED.counting:
            _SQLITE_FETCHED.add_values(rows)
        return rows


class _CountingConnection(sqlite3.Connection):
    def cursor(self, factory: Any = _CountingCursor) -> Any:
        return super().cursor(factory)


@dataclass
class Store:
    """A repository under test, and how to count what its reads fetch."""

    name: str
    repository: Repository
    counter: Repository | None = None  # SQL: reads the same data when counting fetches
    fetched: Fetched = field(default_factory=Fetched)
    load_s: float = 0.0
    # SQL with folds stored: every contact's version (for `set_wakeups`), and the seconds
    # reading, folding and storing them took.
    versions: dict[str, int] = field(default_factory=dict)
    fold_s: float = 0.0


def _listener(fetched: Fetched) -> Any:
    """An ``after_cursor_execute`` listener counting statements (and rows on PostgreSQL)."""

    def count(conn: Any, cursor: Any, *_: Any) -> None:
        fetched.statements += 1
        result = getattr(cursor, "pgresult", None)  # psycopg: the rows as the server sent them
        if result is not None and result.ntuples:
            fetched.rows += result.ntuples
            fetched.bytes += sum(
                len(result.get_value(row, column) or b"")
                for row in range(result.ntuples)
                for column in range(result.nfields)
            )

    return count


@contextmanager
def sqlite_store(path: Path) -> Iterator[Store]:
    """A `SQLRepository` on a fresh SQLite file, and a second one counting what it fetches."""
    import sqlalchemy as sa

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    repository = SQLRepository(f"sqlite:///{path}")
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"factory": _CountingConnection})
    counter: SQLRepository | None = None
    try:
        counter = SQLRepository(engine)
        yield Store("SQLite", repository, counter, _SQLITE_FETCHED)
    finally:
        if counter is not None:
            counter.close()
        engine.dispose()
        repository.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def postgres_store(url: str) -> Iterator[Store]:
    """A `SQLRepository` at `url` in a schema of its own, dropped at the end."""
    import sqlalchemy as sa

    schema = f"regua_eval_{int(time.time() * 1000)}"
    repository = SQLRepository(url, schema=schema)
    try:
        yield Store("PostgreSQL", repository, repository)
    finally:
        with repository.engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(schema, cascade=True, if_exists=True))
        repository.close()


# --- the measurement -----------------------------------------------------------------------------


REPOSITORIES = (
    "memory",
    "memory-folded",
    "memory-compact",
    "memory-compact-folded",
    "sqlite",
    "sqlite-folded",
    "postgresql",
    "postgresql-folded",
)
FIGURES = ("read", "plan", "read_wall", "plan_wall", "plan_without_gc", "batched_read")
FOLD_FIGURES = (*FIGURES, "fold")


@dataclass
class Folded:
    """A folded row's contacts: their whole histories (what `fold` folds), and checks."""

    sources: list[Snapshot]
    records: float  # events and deliveries per contact, whole history
    kept: float  # events and deliveries per contact, folded
    same_plans: bool
    plans: int  # plans compared
    due: int  # due actions among them
    acquired: bool  # acquire_due returned the row's contacts, folded


@dataclass
class Row:
    """One (repository, history length, whole or folded): its contacts and what was measured."""

    store: Store
    events: int
    ids: list[str]
    passes: int
    folded: Folded | None = None
    # Seconds per evaluation, one figure a round, for each of FIGURES (folded in-memory rows:
    # and the fold of a contact's whole history).
    seconds: dict[str, list[float]] = field(
        default_factory=lambda: {name: [] for name in FOLD_FIGURES}
    )

    @property
    def evaluations(self) -> int:
        return len(self.ids) * self.passes

    @property
    def label(self) -> str:
        return f"{self.store.name}, folded" if self.folded is not None else self.store.name

    def median_us(self, name: str) -> float | None:
        figures = self.seconds[name]
        return statistics.median(figures) * 1e6 if figures else None


def set_due(store: Store, ids: Sequence[str]) -> None:
    """Only `ids` due (at `PAST`) in `store`'s database, every other contact at `FUTURE`.

    One `set_wakeups` statement, which also ends every lease.
    """
    due = set(ids)
    store.repository.set_wakeups(
        [
            Wakeup(contact_id, PAST if contact_id in due else FUTURE, version)
            for contact_id, version in store.versions.items()
        ]
    )


def acquire_one_by_one(
    repository: Repository, count: int, passes: int, now: datetime
) -> list[Snapshot]:
    """`passes` times, `count` calls of `acquire_due` leasing one contact each.

    The k-th call of a pass leases as worker ``evaluation-k``: the contacts the calls before
    it leased in this pass are another worker's, and the one it leased in the pass before is
    its own again (a worker may lease again what it holds), so that with `count` contacts
    due, each pass leases each of them once, the earliest first.
    """
    workers = [f"{WORKER}-{k}" for k in range(count)]
    acquire = repository.acquire_due
    return [
        snapshot
        for _ in range(passes)
        for worker in workers
        for snapshot in acquire(worker, now, 1, LEASE)
    ]


def _read_each_once(row: Row, read: Sequence[Snapshot], passes: int) -> bool:
    """Whether `read` holds each of the row's contacts once a pass, all of them folded."""
    n = len(row.ids)
    return len(read) == n * passes and all(
        sorted(s.contact.id for s in read[k * n : (k + 1) * n]) == sorted(row.ids)
        and all(s.fold is not None for s in read[k * n : (k + 1) * n])
        for k in range(passes)
    )


def evaluate(row: Row, cadence: Cadence, now: datetime) -> None:
    """One round of a row: its contacts read one by one, then planned; then the extras.

    The extras: the same snapshots planned again with the garbage collector off, and the
    row's contacts read again in one call (a batch). What the timed loops produce is kept
    until they end, so that freeing it is not timed. A folded row reads what `acquire_due`
    reads: on SQL, `acquire_due` leasing one contact a call (`acquire_one_by_one`); in
    memory, the repository's internal read of a contact with a fold. Its batch is
    `acquire_due` leasing the row's contacts. A folded in-memory row also times `fold` on the
    whole histories.
    """
    repository = row.store.repository
    load = repository.load_snapshots
    clock, cpu = time.perf_counter, time.process_time
    read: list[Snapshot] = []
    sql_folded = row.folded is not None and isinstance(repository, SQLRepository)
    if sql_folded:
        set_due(row.store, row.ids)  # off the clock: this row's contacts due, leases ended
    gc.collect()
    if row.folded is None:
        wall0, cpu0 = clock(), cpu()
        for _ in range(row.passes):
            for contact_id in row.ids:
                read.append(load([contact_id])[contact_id])
        cpu1, wall1 = cpu(), clock()
    elif sql_folded:
        wall0, cpu0 = clock(), cpu()
        read = acquire_one_by_one(repository, len(row.ids), row.passes, now)
        cpu1, wall1 = cpu(), clock()
        if not _read_each_once(row, read, row.passes):
            raise RuntimeError(f"{row.label}: acquire_due did not lease each contact once")
    else:
        assert isinstance(repository, InMemoryRepository)
        wall0, cpu0 = clock(), cpu()
        for _ in range(row.passes):
            for contact_id in row.ids:
                read.append(_read_folded(repository, contact_id))
        cpu1, wall1 = cpu(), clock()
    plans = [plan(cadence, snapshot, now) for snapshot in read]
    cpu2, wall2 = cpu(), clock()
    del plans
    gc.disable()
    try:
        cpu3 = cpu()
        plans = [plan(cadence, snapshot, now) for snapshot in read]
        cpu4 = cpu()
    finally:
        gc.enable()
    del plans, read
    if sql_folded:
        set_due(row.store, row.ids)  # the one-by-one leases ended
    gc.collect()
    if row.folded is None:
        cpu5 = cpu()
        batches: list[Any] = [load(row.ids) for _ in range(row.passes)]
        cpu6 = cpu()
    else:
        limit = len(row.ids)
        cpu5 = cpu()
        batches = [repository.acquire_due(WORKER, now, limit, LEASE) for _ in range(row.passes)]
        cpu6 = cpu()
        if not all(len(batch) == limit for batch in batches):
            raise RuntimeError(f"{row.label}: acquire_due did not lease the row's contacts")
    del batches
    n = row.evaluations
    if row.folded is not None and not sql_folded:  # the fold is the same on every repository
        sources = row.folded.sources
        gc.collect()
        cpu7 = cpu()
        folds = [fold([cadence], source, now) for _ in range(row.passes) for source in sources]
        cpu8 = cpu()
        del folds
        row.seconds["fold"].append((cpu8 - cpu7) / n)
    for name, seconds in (
        ("read", cpu1 - cpu0),
        ("plan", cpu2 - cpu1),
        ("read_wall", wall1 - wall0),
        ("plan_wall", wall2 - wall1),
        ("plan_without_gc", cpu4 - cpu3),
        ("batched_read", cpu6 - cpu5),
    ):
        row.seconds[name].append(seconds / n)


def count_reads(row: Row) -> dict[str, float] | None:
    """Statements, rows and bytes fetched per read (SQL only), off the clock.

    A whole-history row: `load_snapshots` of one contact; a folded row: `acquire_due` leasing
    one contact (`acquire_one_by_one`, one pass).
    """
    import sqlalchemy as sa

    store = row.store
    if not isinstance(store.counter, SQLRepository):
        return None
    if row.folded is not None:
        set_due(store, row.ids)
    fetched = store.fetched
    fetched.statements = fetched.rows = fetched.bytes = 0
    listener = _listener(fetched)
    sa.event.listen(store.counter.engine, "after_cursor_execute", listener)
    fetched.counting = True
    try:
        if row.folded is None:
            for contact_id in row.ids:
                store.counter.load_snapshots([contact_id])
        else:
            read = acquire_one_by_one(store.counter, len(row.ids), 1, NOW)
    finally:
        fetched.counting = False
        sa.event.remove(store.counter.engine, "after_cursor_execute", listener)
    if row.folded is not None:
        if not _read_each_once(row, read, 1):
            raise RuntimeError(f"{row.label}: acquire_due did not lease each contact once")
        set_due(store, row.ids)
    n = len(row.ids)
    return {
        "statements": fetched.statements / n,
        "rows": fetched.rows / n,
        "bytes": fetched.bytes / n,
    }


def _compare_folded(
    cadence: Cadence, folded: Sequence[Snapshot], base: Sequence[Snapshot], now: datetime
) -> tuple[bool, int, int]:
    """Folded plans against whole-history plans at `now` and `LATER`: (same, plans, due)."""
    whole = {s.contact.id: s for s in base}
    same = sorted(whole) == sorted(s.contact.id for s in folded)
    plans = due = 0
    for snapshot in folded:
        same &= snapshot.fold is not None
        for offset in LATER:
            ours = _plan_compared(cadence, snapshot, now + offset)
            theirs = _plan_compared(cadence, whole[snapshot.contact.id], now + offset)
            same &= ours == theirs
            plans += 1
            due += len(theirs[0])
    return same, plans, due


def folded_row(
    cadence: Cadence,
    base: Sequence[Snapshot],
    events: int,
    min_events: int,
    now: datetime,
    compact: bool = False,
) -> Row:
    """A folded row: `base` in an `InMemoryRepository` of its own, folded at `now`, checked.

    Each contact's history is read back (with its position), folded and the folds stored.
    The plan of what `acquire_due` reads for each contact is compared with the plan of the
    whole history at now and at `LATER` instants, and `acquire_due` must lease the row's
    contacts and return their folds.
    """
    repository = InMemoryRepository(compact=compact)
    store = Store("memory-compact" if compact else "memory", repository)
    store.load_s = bulk_load(repository, base)
    ids = [s.contact.id for s in base]
    read = repository.load_snapshots(ids)
    sources = [read[contact_id] for contact_id in ids]
    repository.store_folds([fold([cadence], source, now) for source in sources])
    folded = [_read_folded(repository, contact_id) for contact_id in ids]
    same, plans, due = _compare_folded(cadence, folded, base, now)
    acquired = repository.acquire_due(WORKER, now, len(ids), LEASE)
    passes = max(1, -(-min_events // (events * len(ids))))
    return Row(
        store,
        events,
        ids,
        passes,
        Folded(
            sources=sources,
            records=statistics.fmean(records(s) for s in sources),
            kept=statistics.fmean(records(s) for s in folded),
            same_plans=same,
            plans=plans,
            due=due,
            acquired=sorted(s.contact.id for s in acquired) == sorted(ids)
            and all(s.fold is not None for s in acquired),
        ),
    )


def fold_sql(store: Store, cadence: Cadence, now: datetime) -> None:
    """Fold every contact of `store`'s SQL database at `now` and store the folds.

    Each history is read back with `load_snapshots` (which gives its `Snapshot.position`),
    folded (`regua.fold`) and stored (`store_folds`); the contacts' versions are kept for
    `set_due`.
    """
    started = time.perf_counter()
    repository = store.repository
    ids: list[str] = []
    while batch := repository.contact_ids(after=ids[-1] if ids else None, limit=1000):
        ids += batch
    read = repository.load_snapshots(ids)
    store.versions = {contact_id: read[contact_id].version for contact_id in ids}
    repository.store_folds([fold([cadence], read[contact_id], now) for contact_id in ids])
    store.fold_s = time.perf_counter() - started


def sql_folded_row(
    store: Store,
    cadence: Cadence,
    base: Sequence[Snapshot],
    events: int,
    min_events: int,
    now: datetime,
) -> Row:
    """A folded row on a SQL repository whose folds are stored (`fold_sql`), checked.

    The row's contacts alone set due, `acquire_due` must lease all of them and return their
    folds; their plans are compared with the plans of the whole histories at now and at
    `LATER` instants.
    """
    ids = [s.contact.id for s in base]
    set_due(store, ids)
    acquired = store.repository.acquire_due(WORKER, now, len(ids) + 1, LEASE)
    set_due(store, ids)
    same, plans, due = _compare_folded(cadence, acquired, base, now)
    passes = max(1, -(-min_events // (events * len(ids))))
    return Row(
        store,
        events,
        ids,
        passes,
        Folded(
            sources=list(base),
            records=statistics.fmean(records(s) for s in base),
            kept=statistics.fmean(records(s) for s in acquired) if acquired else 0.0,
            same_plans=same,
            plans=plans,
            due=due,
            acquired=sorted(s.contact.id for s in acquired) == sorted(ids)
            and all(s.fold is not None for s in acquired),
        ),
    )


# --- the in-memory repository: memory per customer, planner throughput ------------------------


def first_sight(base: Sequence[Snapshot]) -> list[Snapshot]:
    """The base with no delivery recorded."""
    return [Snapshot(s.contact, s.events) for s in base]


def memory_per_customer(
    cadence: Cadence,
    count: int,
    seed: int,
    now: datetime,
    settled: bool,
    folds: bool = False,
    compact: bool = False,
) -> dict[str, float]:
    """Bytes an `InMemoryRepository` holds per customer of `planner.py`'s base (tracemalloc).

    The base is built and loaded under tracemalloc and every other reference to it dropped,
    so that what stays allocated is the repository: records, lists and indexes. With
    `folds`, each customer's history (settled) is read back, folded at `now` and the fold
    stored (`store_folds`): the repository then holds the whole history and the fold.
    """
    if settled:
        # The planner's caches (compiled cadence, calendar answers) are filled with this
        # base's questions first, so that they do not count as the repository's.
        for snapshot in first_sight(bench.build_base(count, seed, cadence, now, 20)):
            settled_snapshot = bench.settle(cadence, snapshot, now)
            if folds:
                fold([cadence], settled_snapshot, now)
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        repository = InMemoryRepository(compact=compact)
        base = first_sight(bench.build_base(count, seed, cadence, now, 20))
        if settled:
            base = [bench.settle(cadence, snapshot, now) for snapshot in base]
        events = sum(len(s.events) for s in base)
        deliveries = sum(len(s.deliveries) for s in base)
        bulk_load(repository, base)
        del base
        kept = 0
        if folds:
            ids = repository.contact_ids(limit=count + 1)
            folded = [fold([cadence], s, now) for s in repository.load_snapshots(ids).values()]
            kept = sum(records(s) for s in folded)
            repository.store_folds(folded)
            del ids, folded
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    held = after - before
    assert len(repository.contact_ids(limit=count + 1)) == count
    return {
        "customers": count,
        "events_per_customer": events / count,
        "deliveries_per_customer": deliveries / count,
        "kept_per_customer": kept / count,
        "bytes_per_customer": held / count,
        "mib": held / 2**20,
    }


def throughput(
    cadence: Cadence, count: int, seed: int, now: datetime, rounds: int
) -> dict[str, dict[str, float]]:
    """Contacts planned per second of CPU, first sight and steady state, alternating."""
    base = first_sight(bench.build_base(count, seed, cadence, now, 20))
    regimes = {
        "first_sight": base,
        "steady_state": [bench.settle(cadence, snapshot, now) for snapshot in base],
    }
    cpu: dict[str, list[float]] = {regime: [] for regime in regimes}
    for round_ in range(rounds + 1):  # the first round warms up
        for regime, snapshots in regimes.items():
            gc.collect()
            started = time.process_time()
            for snapshot in snapshots:
                plan(cadence, snapshot, now)
            if round_:
                cpu[regime].append(time.process_time() - started)
    return {
        regime: {
            "contacts": count,
            "events_per_contact": statistics.fmean(len(s.events) for s in regimes[regime]),
            "deliveries_per_contact": statistics.fmean(len(s.deliveries) for s in regimes[regime]),
            "contacts_per_cpu_s": count / statistics.median(seconds),
            "best_contacts_per_cpu_s": count / min(seconds),
            "plan_us": statistics.median(seconds) / count * 1e6,
        }
        for regime, seconds in cpu.items()
    }


# --- main --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events",
        type=int,
        nargs="+",
        default=[10, 100, 1000, 10_000],
        help="events per contact, one row each",
    )
    parser.add_argument("--contacts", type=int, default=20, help="contacts per history length")
    parser.add_argument(
        "--large-contacts", type=int, default=3, help="contacts for the long histories"
    )
    parser.add_argument(
        "--large-from",
        type=int,
        default=10_000,
        metavar="EVENTS",
        help="histories of at least this many events use --large-contacts",
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (median)")
    parser.add_argument(
        "--min-events",
        type=int,
        default=20_000,
        help="each measurement reads its contacts again until it read this many events",
    )
    parser.add_argument(
        "--repositories",
        nargs="+",
        choices=REPOSITORIES,
        default=list(REPOSITORIES),
        help="-folded: the same repository with a fold stored per contact, read by acquire_due",
    )
    parser.add_argument(
        "--postgres-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="'' skips PostgreSQL",
    )
    parser.add_argument(
        "--sqlite-path", type=Path, help="the SQLite file (default: in a temporary directory)"
    )
    parser.add_argument(
        "--customers",
        type=int,
        default=2_000,
        help="customers for the memory per customer (0: skip)",
    )
    parser.add_argument(
        "--throughput-contacts",
        type=int,
        default=2_000,
        help="contacts for the plan's two regimes (0: skip)",
    )
    parser.add_argument(
        "--settle-days",
        type=float,
        default=240,
        help="the steady state: what a scheduler ticking every 25 hours over this many days "
        "before now recorded (0: one settle at now)",
    )
    parser.add_argument(
        "--past",
        action="store_true",
        help="every row's contacts live the same recent life (the 10-event base's), a longer "
        "history being a longer past before it, instead of more events over the same years",
    )
    parser.add_argument("--seed", type=int, default=20260504, help="seed of the synthetic bases")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if min(args.contacts, args.large_contacts, args.rounds) < 1:
        parser.error("--contacts, --large-contacts and --rounds must be at least 1")

    cadence = bench.load_example()
    now = NOW
    started = time.perf_counter()
    info = bench.machine()
    load_before = os.getloadavg()
    print(f"evaluating one contact: {cadence.name!r}, {len(cadence.steps)} steps, now={now}")
    print(
        f"  {info['implementation']} {info['python']} on {info['platform']}, {info['cpus']} CPUs, "
        f"load average {load_before[0]:.1f}"
    )

    t0 = time.perf_counter()
    bases = {
        events: settled_base(
            cadence,
            args.large_contacts if events >= args.large_from else args.contacts,
            events,
            args.seed if args.past else args.seed + events,
            now,
            args.settle_days,
            args.past,
        )
        for events in args.events
    }
    everyone = [s for base in bases.values() for s in base]
    print(
        f"  base: {len(everyone)} contacts, {sum(len(s.events) for s in everyone):,} events, "
        f"{sum(len(s.deliveries) for s in everyone):,} deliveries, built and settled in "
        f"{time.perf_counter() - t0:.1f} s (not counted): "
        + (
            f"a settle every 25 h over the last {args.settle_days:g} days"
            if args.settle_days
            else "one settle at now"
        )
    )

    results: dict[str, Any] = {
        "benchmark": "evaluation",
        "cadence": cadence.name,
        "now": now.isoformat(),
        "seed": args.seed,
        "past": args.past,
        "rounds": args.rounds,
        "settle_days": args.settle_days,
        "machine": info,
    }
    rows: list[Row] = []
    with ExitStack() as stack:
        chosen = set(args.repositories)
        # (store, whole-history rows, folded rows); the in-memory folded rows have
        # repositories of their own (folded_row), a SQL database serves both.
        stores: list[tuple[Store, bool, bool]] = []
        if "memory" in chosen:
            stores.append((Store("memory", InMemoryRepository()), True, False))
        if "memory-compact" in chosen:
            compact = InMemoryRepository(compact=True)
            stores.append((Store("memory-compact", compact), True, False))
        if chosen & {"sqlite", "sqlite-folded"}:
            path = args.sqlite_path
            if path is None:
                path = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "eval.db"
            store = stack.enter_context(sqlite_store(path))
            stores.append((store, "sqlite" in chosen, "sqlite-folded" in chosen))
        if chosen & {"postgresql", "postgresql-folded"} and args.postgres_url:
            try:
                store = stack.enter_context(postgres_store(args.postgres_url))
                stores.append((store, "postgresql" in chosen, "postgresql-folded" in chosen))
            except Exception as exc:
                print(
                    f"  PostgreSQL skipped: {type(exc).__name__}: {' '.join(str(exc).split())}"[
                        :160
                    ]
                )
        checked = True
        for store, measured, _ in stores:
            store.load_s = bulk_load(store.repository, everyone)
            for events, base in bases.items():
                ids = [s.contact.id for s in base]
                passes = max(1, -(-args.min_events // (events * len(ids))))
                if measured:
                    rows.append(Row(store, events, ids, passes))
                read = store.repository.load_snapshots(ids[:1])[ids[0]]
                checked &= len(read.events) == len(base[0].events)
                checked &= len(read.deliveries) == len(base[0].deliveries)
                checked &= _plan_keys(cadence, read, now) == _plan_keys(cadence, base[0], now)
        print(
            "  loaded with bulk_load (not counted): "
            + ", ".join(f"{s.name} {s.load_s:.1f} s" for s, _, _ in stores)
            + f"; each repository's read plans as its source: {checked}"
        )
        del everyone
        for compact in (False, True):
            if ("memory-compact-folded" if compact else "memory-folded") not in chosen:
                continue
            t0 = time.perf_counter()
            for events, base in bases.items():
                rows.append(folded_row(cadence, base, events, args.min_events, now, compact))
            print(
                f"  folded in memory{', compact' if compact else ''}: {len(bases)} "
                f"InMemoryRepository (one per history length) loaded, folded at now and "
                f"checked in {time.perf_counter() - t0:.1f} s (not counted)"
            )
        for store, _, folded in stores:
            if not folded:
                continue
            fold_sql(store, cadence, now)
            t0 = time.perf_counter()
            for events, base in bases.items():
                rows.append(sql_folded_row(store, cadence, base, events, args.min_events, now))
            print(
                f"  folded on {store.name}: every contact read back, folded at now and the folds "
                f"stored (store_folds) in {store.fold_s:.1f} s, checked in "
                f"{time.perf_counter() - t0:.1f} s (not counted)"
            )

        for _ in range(args.rounds + 1):
            for row in rows:
                evaluate(row, cadence, now)
        for row in rows:  # the first round warmed up
            for figures in row.seconds.values():
                del figures[:1]
        fetched = {id(row): count_reads(row) for row in rows}

    table: list[dict[str, Any]] = []
    for row in rows:
        base = bases[row.events]
        entry: dict[str, Any] = {
            "repository": row.store.name,
            "folded": row.folded is not None,
            "events": row.events,
            "contacts": len(row.ids),
            "evaluations_per_round": row.evaluations,
            "deliveries_per_contact": statistics.fmean(len(s.deliveries) for s in base),
            **{f"{name}_us": row.median_us(name) for name in FIGURES},
            "fetched_per_read": fetched[id(row)],
        }
        entry["total_us"] = entry["read_us"] + entry["plan_us"]
        if row.folded is not None:
            f = row.folded
            entry.update(
                records_per_contact=f.records,
                kept_per_contact=f.kept,
                fold_us=row.median_us("fold"),
                same_plans=f.same_plans,
                plans_compared=f.plans,
                due_compared=f.due,
                acquire_due_folded=f.acquired,
            )
        table.append(entry)
    for entry in table:
        kind = (entry["repository"], entry["folded"])
        first = next(e for e in table if (e["repository"], e["folded"]) == kind)
        entry["ratio_to_first"] = entry["total_us"] / first["total_us"]
        if entry["folded"]:
            whole = next(
                (
                    e
                    for e in table
                    if e["repository"] == entry["repository"]
                    and not e["folded"]
                    and e["events"] == entry["events"]
                ),
                None,
            )
            entry["ratio_to_whole"] = (
                entry["total_us"] / whole["total_us"] if whole is not None else None
            )
    results["evaluation"] = table
    whole_table = [e for e in table if not e["folded"]]
    folded_table = [e for e in table if e["folded"]]
    same_plans = all(e["same_plans"] and e["acquire_due_folded"] for e in folded_table)

    def label(e: dict[str, Any]) -> str:
        return f"{e['repository']}, folded" if e["folded"] else str(e["repository"])

    smallest = min(args.events)
    if whole_table:
        print(
            f"\nper evaluation, CPU time of this process (median of {args.rounds} rounds; "
            f"ratio: total / the {smallest:,}-event row of the same repository)"
        )
        print(
            f"  {'repository':<10}  {'events':>6}  {'contacts':>8}  {'recorded':>8}  "
            f"{'read µs':>9}  {'plan µs':>9}  {'total µs':>9}  {'ratio':>6}"
        )
        for e in whole_table:
            print(
                f"  {e['repository']:<10}  {e['events']:>6,}  {e['contacts']:>8}  "
                f"{e['deliveries_per_contact']:>8,.0f}  {e['read_us']:>9,.1f}  "
                f"{e['plan_us']:>9,.1f}  {e['total_us']:>9,.1f}  {e['ratio_to_first']:>6.1f}"
            )
        print("  (recorded: deliveries per contact, read with the events)")
    if folded_table:
        print(
            f"\nthe folded regime: a fold stored per contact (regua.fold at now, store_folds), "
            f"per evaluation,\nCPU time (median of {args.rounds} rounds, in the same rounds as "
            f"above); read: what acquire_due\nreads, one contact per call: SQL, acquire_due "
            f"leasing one contact; memory, the repository's\ninternal _snapshot(row, "
            f"folded=True) under its lock (acquire_due itself is the batched read below)"
        )
        print(
            f"  {'repository':<10}  {'events':>6}  {'contacts':>8}  {'records':>8}  "
            f"{'kept':>6}  {'rows':>5}  {'read µs':>8}  {'plan µs':>8}  {'total µs':>8}  "
            f"{'ratio':>5}  {'to whole':>8}  {'fold µs':>9}  same plans"
        )
        for e in folded_table:
            to_whole, fold_us, f = e["ratio_to_whole"], e["fold_us"], e["fetched_per_read"]
            print(
                f"  {e['repository']:<10}  {e['events']:>6,}  {e['contacts']:>8}  "
                f"{e['records_per_contact']:>8,.0f}  {e['kept_per_contact']:>6,.1f}  "
                + (f"{f['rows']:>5,.1f}" if f is not None else f"{'':>5}")
                + f"  {e['read_us']:>8,.1f}  {e['plan_us']:>8,.1f}  {e['total_us']:>8,.1f}  "
                f"{e['ratio_to_first']:>5.2f}  "
                + (f"{to_whole:>8.3f}" if to_whole is not None else f"{'':>8}")
                + (f"  {fold_us:>9,.1f}" if fold_us is not None else f"  {'':>9}")
                + f"  {e['same_plans']}"
            )
        print(
            f"  (records: events and deliveries per contact, whole history; kept: those the "
            f"folded read\n  returns (the fold's and the rows since: none here); rows: rows "
            f"one read fetches (SQL);\n  ratio: total / the {smallest:,}-event folded row of "
            f"the same repository; to whole: total /\n  the same repository's whole-history "
            f"row; fold µs: regua.fold of one contact's whole history,\n  paid once in a "
            f"while, the same on every repository: timed on the memory rows)"
        )
        plans = sum(e["plans_compared"] for e in folded_table)
        due = sum(e["due_compared"] for e in folded_table)
        acquired = all(e["acquire_due_folded"] for e in folded_table)
        print(
            f"  folded plans against whole-history plans, at now and {len(LATER) - 1} later "
            f"instants (up to {max(LATER).days} days): {plans:,} plans, {due:,} due; "
            f"acquire_due returns the folds: {acquired}"
        )
        print(f"  same plans: {same_plans}")
    print(
        "\nbeside: the read's wall time; the row's contacts read in one call (per contact; "
        "folded:\nacquire_due leasing them); the plan with the garbage collector off; what one "
        "read fetches\n(SQL: a listener, off the clock)"
    )
    print(
        f"  {'repository':<18}  {'events':>6}  {'read wall µs':>12}  {'batched read µs':>15}  "
        f"{'plan µs, no GC':>14}  {'statements':>10}  {'rows':>7}  {'KiB':>8}"
    )
    for e in table:
        f = e["fetched_per_read"]
        fetched_text = (
            f"{f['statements']:>10.1f}  {f['rows']:>7,.0f}  {f['bytes'] / 1024:>8,.1f}"
            if f is not None
            else f"{'':>10}  {'':>7}  {'':>8}"
        )
        line = (
            f"  {label(e):<18}  {e['events']:>6,}  {e['read_wall_us']:>12,.1f}  "
            f"{e['batched_read_us']:>15,.1f}  {e['plan_without_gc_us']:>14,.1f}  {fetched_text}"
        )
        print(line.rstrip())

    if args.customers > 0:
        memory = {
            f"{regime}{'_compact' if compact else ''}": memory_per_customer(
                cadence,
                args.customers,
                args.seed,
                now,
                settled=regime != "first_sight",
                folds=regime == "settled_with_folds",
                compact=compact,
            )
            for compact in (False, True)
            for regime in ("first_sight", "settled", "settled_with_folds")
        }
        results["memory_per_customer"] = memory
        print(f"\nInMemoryRepository, {args.customers:,} customers of planner.py's base")
        for regime, m in memory.items():
            kept = (
                f", a fold of {m['kept_per_customer']:.1f} records"
                if m["kept_per_customer"]
                else ""
            )
            print(
                f"  {regime.replace('_', ' '):<26} {m['bytes_per_customer'] / 1024:6.1f} KiB per "
                f"customer ({m['events_per_customer']:.1f} events, "
                f"{m['deliveries_per_customer']:.1f} deliveries{kept}; {m['mib']:.1f} MiB in all)"
            )
        print(
            "  (with folds: the repository keeps each whole history and its fold beside it, so "
            "that\n  figure is higher than settled; a fold saves planning time, not memory)"
        )
    if args.throughput_contacts > 0:
        regimes = throughput(cadence, args.throughput_contacts, args.seed, now, args.rounds)
        results["throughput"] = regimes
        print(
            f"\nregua.plan, {args.throughput_contacts:,} contacts of planner.py's base, CPU "
            f"time (median of {args.rounds} rounds, best beside)"
        )
        for regime, r in regimes.items():
            print(
                f"  {regime.replace('_', ' '):<12} {r['contacts_per_cpu_s']:8,.0f} contacts/s "
                f"(best {r['best_contacts_per_cpu_s']:,.0f}; {r['plan_us']:.0f} µs a plan; "
                f"{r['events_per_contact']:.1f} events, {r['deliveries_per_contact']:.1f} "
                f"deliveries per contact)"
            )

    load_after = os.getloadavg()
    results["machine"]["load_average"] = {"start": load_before, "end": load_after}
    results["elapsed_s"] = time.perf_counter() - started
    print(
        f"\n{results['elapsed_s']:.0f} s in all; load average {load_before[0]:.1f} at the start, "
        f"{load_after[0]:.1f} at the end"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0 if checked and same_plans else 1


if __name__ == "__main__":
    sys.exit(main())
