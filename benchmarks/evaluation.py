"""What evaluating one contact costs, as a function of the length of its history.

    python benchmarks/evaluation.py              # 10 to 10,000 events: memory, SQLite, PostgreSQL
    python benchmarks/evaluation.py --events 10 100 --contacts 5 --rounds 2 --postgres-url ''
    python benchmarks/evaluation.py --customers 0 --throughput-contacts 0 --json out.json
    python benchmarks/evaluation.py --repositories memory folded --customers 0

An evaluation is what a scheduler does for each contact it wakes: read the contact's snapshot
(`Repository.load_snapshots`) and plan it (`regua.plan`), under the e-commerce lifecycle
example cadence (``examples/ecommerce_lifecycle.py``). For histories of ``--events`` events
per contact (10, 100, 1,000 and 10,000 by default), on three repositories
(`regua.InMemoryRepository`, `regua.SQLRepository` on a SQLite file and on PostgreSQL, in a
schema of its own dropped at the end), it times both parts, separately and summed.

The contacts (``--contacts``, 20; ``--large-contacts``, 3, from ``--large-from`` events on)
are seeded and synthetic (``floor.py``'s base, the profile of ``planner.py``: five
timezones, consents, birthdays, sign-ups over three years; exactly N events each, of logins,
site visits, orders placed, shipped and delivered, and abandoned carts, over at least 3N
hours of the contact's life), in the **steady
state**: with the deliveries a scheduler running all along would have recorded by now, so
that a plan at now has what a later tick finds. They are recorded by ``planner.settle``
(every closed occurrence with its reason, every due action as sent) at a series of instants,
on the events known at each: once ``--settle-days`` days (240) before now, or at the
contact's first event if later, then every 25 hours (the instants go round the clock), the
last at now. A scheduler ticking along records sends when they were due, a frequency cap
lets a backlog out one slot at a time and quiet hours end; settled at a single instant
instead (``--settle-days 0``, as this benchmark did first), every send of the whole history
is stamped now, and occurrences that caps and quiet hours hold back stay open for hundreds
of days (hundreds of satisfaction surveys waiting under the caps at 1,000 events). Every
history length lives in the same
repository, loaded with its `bulk_load`; the plan of each repository's snapshot of a contact
is checked against the plan of the snapshot it was loaded from.

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

The **folded regime** (``folded``), side by side in the same rounds: per history length, a
`regua.InMemoryRepository` of that row's contacts, loaded the same way, where each contact's
history read back (`load_snapshots`) is folded at now (`regua.fold`) and the fold stored
(`InMemoryRepository.store_folds`). Its read is what `InMemoryRepository.acquire_due` reads
for a contact with a fold (the folded snapshot and the records added since, none here): the
repository's internal ``_snapshot(row, folded=True)`` under its lock, one contact per call
as the whole-history read (`acquire_due` always leases the earliest due contacts first, so
it cannot read one given contact); its batched read is `acquire_due` itself, leasing the
row's contacts in one call. The plan of every folded snapshot is checked against the plan of
the whole history (due keys and instants, waiting keys and instants, next wake-up) at now
and at later instants (the base is settled: nothing is due at now), and `acquire_due` is
checked to return folded snapshots. Reported beside: the records (events and deliveries) a
fold keeps per contact, the ratio of the folded read and plan to the 10-event folded row and
to the whole-history in-memory row, and what `regua.fold` costs per contact (a scheduler
folds a contact again once in a while: ``regua.folding.FOLD_AFTER``).

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
    cadence: Cadence, count: int, events: int, seed: int, now: datetime, days: float
) -> list[Snapshot]:
    """`count` contacts of `events` events each, with what a scheduler recorded by `now`."""
    people = floor.people(count, events, seed, now, prefix=f"h{events}-")
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
    """One (repository, history length): its contacts and what was measured."""

    store: Store
    events: int
    ids: list[str]
    passes: int
    folded: Folded | None = None
    # Seconds per evaluation, one figure a round, for each of FIGURES (folded rows: and the
    # fold of a contact's whole history).
    seconds: dict[str, list[float]] = field(
        default_factory=lambda: {name: [] for name in FOLD_FIGURES}
    )

    @property
    def evaluations(self) -> int:
        return len(self.ids) * self.passes

    def median_us(self, name: str) -> float:
        return statistics.median(self.seconds[name]) * 1e6


def evaluate(row: Row, cadence: Cadence, now: datetime) -> None:
    """One round of a row: its contacts read one by one, then planned; then the extras.

    The extras: the same snapshots planned again with the garbage collector off, and the
    row's contacts read again in one call (a batch). What the timed loops produce is kept
    until they end, so that freeing it is not timed. A folded row reads what `acquire_due`
    reads (its batch: `acquire_due` itself), and also times `fold` on the whole histories.
    """
    repository = row.store.repository
    load = repository.load_snapshots
    clock, cpu = time.perf_counter, time.process_time
    read: list[Snapshot] = []
    gc.collect()
    if row.folded is None:
        wall0, cpu0 = clock(), cpu()
        for _ in range(row.passes):
            for contact_id in row.ids:
                read.append(load([contact_id])[contact_id])
        cpu1, wall1 = cpu(), clock()
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
    gc.collect()
    if row.folded is None:
        cpu5 = cpu()
        batches: list[Any] = [load(row.ids) for _ in range(row.passes)]
        cpu6 = cpu()
    else:
        assert isinstance(repository, InMemoryRepository)
        limit = len(row.ids)
        cpu5 = cpu()
        batches = [repository.acquire_due(WORKER, now, limit, LEASE) for _ in range(row.passes)]
        cpu6 = cpu()
    del batches
    n = row.evaluations
    if row.folded is not None:
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
    """Statements, rows and bytes fetched per read (SQL only), off the clock."""
    import sqlalchemy as sa

    store = row.store
    if not isinstance(store.counter, SQLRepository):
        return None
    fetched = store.fetched
    fetched.statements = fetched.rows = fetched.bytes = 0
    listener = _listener(fetched)
    sa.event.listen(store.counter.engine, "after_cursor_execute", listener)
    fetched.counting = True
    try:
        for contact_id in row.ids:
            store.counter.load_snapshots([contact_id])
    finally:
        fetched.counting = False
        sa.event.remove(store.counter.engine, "after_cursor_execute", listener)
    n = len(row.ids)
    return {
        "statements": fetched.statements / n,
        "rows": fetched.rows / n,
        "bytes": fetched.bytes / n,
    }


def folded_row(
    cadence: Cadence, base: Sequence[Snapshot], events: int, min_events: int, now: datetime
) -> Row:
    """A folded row: `base` in an `InMemoryRepository` of its own, folded at `now`, checked.

    Each contact's history is read back (with its position), folded and the folds stored.
    The plan of what `acquire_due` reads for each contact is compared with the plan of the
    whole history at now and at `LATER` instants, and `acquire_due` must lease the row's
    contacts and return their folds.
    """
    repository = InMemoryRepository()
    store = Store("folded", repository)
    store.load_s = bulk_load(repository, base)
    ids = [s.contact.id for s in base]
    read = repository.load_snapshots(ids)
    sources = [read[contact_id] for contact_id in ids]
    repository.store_folds([fold([cadence], source, now) for source in sources])
    same, plans, due = True, 0, 0
    for snapshot in base:
        folded = _read_folded(repository, snapshot.contact.id)
        same &= folded.fold is not None
        for offset in LATER:
            ours = _plan_compared(cadence, folded, now + offset)
            theirs = _plan_compared(cadence, snapshot, now + offset)
            same &= ours == theirs
            plans += 1
            due += len(theirs[0])
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
            kept=statistics.fmean(records(_read_folded(repository, i)) for i in ids),
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
    cadence: Cadence, count: int, seed: int, now: datetime, settled: bool, folds: bool = False
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
        repository = InMemoryRepository()
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
        choices=["memory", "folded", "sqlite", "postgresql"],
        default=["memory", "folded", "sqlite", "postgresql"],
        help="folded: InMemoryRepository with a fold stored per contact",
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
            args.seed + events,
            now,
            args.settle_days,
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
        "rounds": args.rounds,
        "settle_days": args.settle_days,
        "machine": info,
    }
    rows: list[Row] = []
    with ExitStack() as stack:
        stores: list[Store] = []
        if "memory" in args.repositories:
            stores.append(Store("memory", InMemoryRepository()))
        if "sqlite" in args.repositories:
            path = args.sqlite_path
            if path is None:
                path = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "eval.db"
            stores.append(stack.enter_context(sqlite_store(path)))
        if "postgresql" in args.repositories and args.postgres_url:
            try:
                stores.append(stack.enter_context(postgres_store(args.postgres_url)))
            except Exception as exc:
                print(
                    f"  PostgreSQL skipped: {type(exc).__name__}: {' '.join(str(exc).split())}"[
                        :160
                    ]
                )
        checked = True
        for store in stores:
            store.load_s = bulk_load(store.repository, everyone)
            for events, base in bases.items():
                ids = [s.contact.id for s in base]
                passes = max(1, -(-args.min_events // (events * len(ids))))
                rows.append(Row(store, events, ids, passes))
                read = store.repository.load_snapshots(ids[:1])[ids[0]]
                checked &= len(read.events) == len(base[0].events)
                checked &= len(read.deliveries) == len(base[0].deliveries)
                checked &= _plan_keys(cadence, read, now) == _plan_keys(cadence, base[0], now)
        print(
            "  loaded with bulk_load (not counted): "
            + ", ".join(f"{s.name} {s.load_s:.1f} s" for s in stores)
            + f"; each repository's read plans as its source: {checked}"
        )
        del everyone
        if "folded" in args.repositories:
            t0 = time.perf_counter()
            for events, base in bases.items():
                rows.append(folded_row(cadence, base, events, args.min_events, now))
            print(
                f"  folded: {len(bases)} InMemoryRepository (one per history length) loaded, "
                f"folded at now and checked in {time.perf_counter() - t0:.1f} s (not counted)"
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
    whole_rows = [e for e in table if e["repository"] == "memory"]
    for entry in table:
        first = next(e for e in table if e["repository"] == entry["repository"])
        entry["ratio_to_first"] = entry["total_us"] / first["total_us"]
        if entry["repository"] == "folded":
            whole = next(
                (e for e in whole_rows if e["events"] == entry["events"]),
                None,
            )
            entry["ratio_to_whole"] = (
                entry["total_us"] / whole["total_us"] if whole is not None else None
            )
    results["evaluation"] = table
    whole_table = [e for e in table if e["repository"] != "folded"]
    folded_table = [e for e in table if e["repository"] == "folded"]
    same_plans = all(e["same_plans"] and e["acquire_due_folded"] for e in folded_table)

    smallest = min(args.events)
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
            f"{e['deliveries_per_contact']:>8,.0f}  {e['read_us']:>9,.1f}  {e['plan_us']:>9,.1f}  "
            f"{e['total_us']:>9,.1f}  {e['ratio_to_first']:>6.1f}"
        )
    print("  (recorded: deliveries per contact, read with the events)")
    if folded_table:
        smallest_folded = folded_table[0]["events"]
        print(
            f"\nthe folded regime: an InMemoryRepository with a fold stored per contact "
            f"(regua.fold at now),\nper evaluation, CPU time (median of {args.rounds} rounds, "
            f"in the same rounds as above); read: the\nrepository's internal "
            f"_snapshot(row, folded=True) under its lock, one contact per call (what\n"
            f"acquire_due reads; acquire_due itself is the batched read below)"
        )
        print(
            f"  {'events':>6}  {'contacts':>8}  {'records':>8}  {'kept':>6}  {'read µs':>8}  "
            f"{'plan µs':>8}  {'total µs':>8}  {'ratio':>5}  {'to whole':>8}  "
            f"{'fold µs':>9}  same plans"
        )
        for e in folded_table:
            to_whole = e["ratio_to_whole"]
            print(
                f"  {e['events']:>6,}  {e['contacts']:>8}  {e['records_per_contact']:>8,.0f}  "
                f"{e['kept_per_contact']:>6,.1f}  {e['read_us']:>8,.1f}  {e['plan_us']:>8,.1f}  "
                f"{e['total_us']:>8,.1f}  {e['ratio_to_first']:>5.2f}  "
                + (f"{to_whole:>8.3f}" if to_whole is not None else f"{'':>8}")
                + f"  {e['fold_us']:>9,.1f}  {e['same_plans']}"
            )
        print(
            f"  (records: events and deliveries per contact, whole history; kept: those the "
            f"fold keeps;\n  ratio: total / the {smallest_folded:,}-event folded row; to whole: "
            f"total / the whole-history\n  memory row; fold µs: regua.fold of one contact's "
            f"whole history, paid once in a while)"
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
        f"  {'repository':<10}  {'events':>6}  {'read wall µs':>12}  {'batched read µs':>15}  "
        f"{'plan µs, no GC':>14}  {'statements':>10}  {'rows':>7}  {'KiB':>8}"
    )
    for e in table:
        f = e["fetched_per_read"]
        fetched = (
            f"{f['statements']:>10.1f}  {f['rows']:>7,.0f}  {f['bytes'] / 1024:>8,.1f}"
            if f is not None
            else f"{'':>10}  {'':>7}  {'':>8}"
        )
        line = (
            f"  {e['repository']:<10}  {e['events']:>6,}  {e['read_wall_us']:>12,.1f}  "
            f"{e['batched_read_us']:>15,.1f}  {e['plan_without_gc_us']:>14,.1f}  {fetched}"
        )
        print(line.rstrip())

    if args.customers > 0:
        memory = {
            regime: memory_per_customer(
                cadence,
                args.customers,
                args.seed,
                now,
                settled=regime != "first_sight",
                folds=regime == "settled_with_folds",
            )
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
                f"  {regime.replace('_', ' '):<18} {m['bytes_per_customer'] / 1024:6.1f} KiB per "
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
