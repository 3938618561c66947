"""regua at scale: planner throughput, a simulated day, the wake-up index, SQL, APScheduler.

Builds a seeded synthetic customer base (the one of ``planner.py``: sign-ups over three years,
birthdays, about twenty events per customer of six kinds, consents, preferences, five
timezones) and runs the e-commerce lifecycle example cadence::

    python benchmarks/run.py --quick                 # small sizes, under a minute
    python benchmarks/run.py                         # full sizes (slow: see the README)
    python benchmarks/run.py --day-customers 100000 --sql-customers 10000 --json out.json

It measures, in one process:

1. planner throughput: contacts planned per second, single process;
2. a simulated day on the in-memory repository (one tick at the start of the day, which
   evaluates everybody, then a tick every 5 minutes for 24 hours): total time, time per tick,
   process peak RSS;
3. the scaling ratio: the cost of a tick where 1% of the base is due divided by the cost of a
   tick evaluating all of it (the wake-up index makes it close to 0.01);
4. the same day on SQLite (a file) and PostgreSQL (``--postgres-url``), with SQL statements per
   tick, counted by a SQLAlchemy ``before_cursor_execute`` listener, and the rows they read
   (PostgreSQL: as the server sent them; SQLite: as its cursors handed them out), per 1,000
   contacts evaluated;
5. APScheduler 3.x (in-memory job store, one date job per pending message per customer)
   computing the same day's due messages, side by side: time and memory (tracemalloc peak)
   ratios regua/APScheduler, and whether both produce the same set of messages.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import inspect
import json
import random
import sqlite3
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import by_hand
import planner as bench

from regua import Cadence, Contact, InMemoryRepository, Scheduler, Snapshot
from regua.ports import Message, Repository
from regua.repositories.sql import SQLRepository

UTC = timezone.utc
START = datetime(2026, 5, 4, 0, 0, tzinfo=UTC)  # the simulated day: a Monday, UTC
TICK = timedelta(minutes=5)
DAY = timedelta(days=1)


class CountingSender:
    """A sender that only counts (an outbox would grow with the day's messages)."""

    def __init__(self) -> None:
        self.sent = 0

    def send(self, message: Message) -> str | None:
        self.sent += 1
        return message.idempotency_key


def senders(cadence: Cadence) -> dict[str, CountingSender]:
    return {channel.name: CountingSender() for channel in cadence.channels}


def build(count: int, seed: int, cadence: Cadence) -> list[Snapshot]:
    return bench.build_base(count, seed, cadence, START, 20)


def load(repository: InMemoryRepository | SQLRepository, base: Sequence[Snapshot]) -> None:
    """The base through the repository's `bulk_load`, 10,000 customers per call."""
    for start in range(0, len(base), 10_000):
        part = base[start : start + 10_000]
        repository.bulk_load(
            (s.contact for s in part),
            (e for s in part for e in s.events),
            (d for s in part for d in s.deliveries),
        )


def parts(
    count: int, seed: int, cadence: Cadence, settled_at: datetime | None = None
) -> Iterator[list[Snapshot]]:
    """`build`'s base, 10,000 customers at a time (each `settle`d at `settled_at`, if given).

    The same customers as ``build(count, seed, cadence)``, never all in memory at once.
    """
    rng = random.Random(seed)
    for start in range(0, count, 10_000):
        part = [
            bench.build_contact(rng, i, cadence, START, 20)
            for i in range(start, min(count, start + 10_000))
        ]
        if settled_at is not None:
            part = [bench.settle(cadence, snapshot, settled_at) for snapshot in part]
        yield part


def loaded(
    count: int, seed: int, cadence: Cadence, compact: bool = False
) -> tuple[InMemoryRepository, list[Contact]]:
    """An in-memory repository holding a base of `count` customers, and its contacts.

    Built and loaded 10,000 customers at a time, so that the repository holds the only
    copy of the events (a million customers have twenty million). With `compact`, the
    repository packs its histories (``InMemoryRepository(compact=True)``).
    """
    repository = InMemoryRepository(compact=compact)
    contacts: list[Contact] = []
    for part in parts(count, seed, cadence):
        load(repository, part)
        contacts.extend(s.contact for s in part)
    return repository, contacts


def _default(name: str) -> Any:
    """A `Scheduler` keyword's default value."""
    return inspect.signature(Scheduler).parameters[name].default


def ticks() -> Iterator[datetime]:
    at = START
    while at <= START + DAY:
        yield at
        at += TICK


def max_rss_mib() -> float:
    return bench.max_rss_mib()


# --- 1. planner ---------------------------------------------------------------------------------


def planner_throughput(cadence: Cadence, count: int, seed: int) -> dict[str, Any]:
    """Both regimes of ``planner.py``: first sight, and steady state (best of three each)."""
    base = bench.build_base(count, seed, cadence, bench.NOW, 20)
    settled = [bench.settle(cadence, snapshot, bench.NOW) for snapshot in base]
    found: dict[str, Any] = {"contacts": count}
    for regime, snapshots in (("first_sight", base), ("steady_state", settled)):
        best = None
        for _ in range(3):  # best of three: a shared machine is noisy
            result = bench.timed_pass(cadence, snapshots, bench.NOW)
            if best is None or result["contacts_per_s"] > best["contacts_per_s"]:
                best = result
        found[regime] = best
    return found


# --- 2 and 3. a day in memory, and the scaling ratio ----------------------------------------------


# The Scheduler's batch sizes, set by --batch-size and --claim-batch-size (its defaults: none).
BATCH: dict[str, int] = {}


def simulate_day(
    cadence: Cadence,
    repository: Repository,
    on_statement: Callable[[], int] | None = None,
    on_rows: Callable[[], int] = lambda: 0,
) -> dict[str, Any]:
    """The first tick (everybody due), then a tick every 5 minutes for 24 hours."""
    scheduler = Scheduler(cadence, repository=repository, senders=senders(cadence), **BATCH)
    # Contacts leased (each evaluated once or more) and messages sent per tick, for the
    # statement counts: SQL statements grow with batches of contacts and chunks of claims.
    leased = [0]
    acquire_due = repository.acquire_due

    def counting_acquire_due(*args: Any, **kwargs: Any) -> list[Snapshot]:
        found = acquire_due(*args, **kwargs)
        leased[0] += len(found)
        return found

    repository.acquire_due = counting_acquire_due  # type: ignore[method-assign]
    per_tick: list[float] = []
    statements: list[int] = []
    rows: list[int] = []
    evaluated: list[int] = []
    contacts: list[int] = []
    messages: list[int] = []
    sent_keys: set[str] = set()
    first: dict[str, Any] = {}
    first_keys: set[str] = set()
    start = time.perf_counter()
    for index, at in enumerate(ticks()):
        before = on_statement() if on_statement else 0
        rows_before = on_rows()
        leased_before = leased[0]
        t0 = time.perf_counter()
        report = scheduler.tick(at)
        elapsed = time.perf_counter() - t0
        count = (on_statement() - before) if on_statement else 0
        read = on_rows() - rows_before
        if index == 0:
            first = {
                "s": elapsed,
                "evaluated": report.evaluated,
                "contacts": leased[0] - leased_before,
                "messages": len(report.sent),
                "statements": count,
                "rows": read,
            }
            first_keys = {d.occurrence_key for d in report.sent}
            continue
        per_tick.append(elapsed)
        statements.append(count)
        rows.append(read)
        evaluated.append(report.evaluated)
        contacts.append(leased[0] - leased_before)
        messages.append(len(report.sent))
        sent_keys.update(d.occurrence_key for d in report.sent)
    total = time.perf_counter() - start
    per_tick.sort()
    result: dict[str, Any] = {
        "total_s": total,
        "first_tick": first,
        "ticks": len(per_tick),
        "tick_ms_mean": 1e3 * sum(per_tick) / len(per_tick),
        "tick_ms_p50": 1e3 * per_tick[len(per_tick) // 2],
        "tick_ms_max": 1e3 * per_tick[-1],
        "evaluated_after_first": sum(evaluated),
        "sent_after_first": len(sent_keys),
        "sent_keys": sent_keys,
        "first_keys": first_keys,
    }
    if on_statement:
        busy = [(s, e) for s, e in zip(statements, evaluated, strict=False) if e]
        idle = [s for s, e in zip(statements, evaluated, strict=False) if not e]
        result["statements_per_tick_mean"] = sum(statements) / len(statements)
        result["statements_per_tick_max"] = max(statements)
        # The bound that matters: statements grow with batches of contacts and chunks of
        # messages, not with contacts or messages one by one.
        result["first_tick_statements_per_1000"] = (
            1000 * first["statements"] / max(1, first["contacts"])
        )
        result["first_tick_statements_per_1000_messages"] = (
            1000 * first["statements"] / max(1, first["messages"])
        )
        busy_contacts = sum(c for c, e in zip(contacts, evaluated, strict=True) if e)
        busy_messages = sum(m for m, e in zip(messages, evaluated, strict=True) if e)
        result["busy_contacts"] = busy_contacts
        result["busy_messages"] = busy_messages
        result["busy_ticks"] = len(busy)
        result["busy_statements_per_1000"] = 1000 * sum(s for s, _ in busy) / max(1, busy_contacts)
        result["busy_statements_per_1000_messages"] = (
            1000 * sum(s for s, _ in busy) / max(1, busy_messages)
        )
        result["busy_statements_max"] = max((s for s, _ in busy), default=0)
        result["first_tick_rows_per_1000"] = 1000 * first["rows"] / max(1, first["contacts"])
        result["busy_rows_per_1000"] = (
            1000 * sum(r for r, e in zip(rows, evaluated, strict=True) if e) / max(1, busy_contacts)
        )
        result["idle_tick_statements"] = sorted(set(idle))
    return result


def scaling_ratio(
    cadence: Cadence, repository: Repository, contacts: Sequence[Contact]
) -> dict[str, Any]:
    """A tick evaluating everybody vs a tick where 1% is due (both woken by a touch)."""
    scheduler = Scheduler(cadence, repository=repository, senders=senders(cadence), **BATCH)
    at = START + DAY + TICK
    scheduler.tick(at)  # settle anything left due

    def timed_tick(subset: Sequence[Contact], when: datetime) -> tuple[float, int]:
        for contact in subset:
            repository.upsert_contact(contact)  # the same contact: wakes it
        gc.collect()
        t0 = time.perf_counter()
        report = scheduler.tick(when)
        return time.perf_counter() - t0, report.evaluated

    full_s, full_n = timed_tick(contacts, at + TICK)
    step = 100
    one_pct_s, one_pct_n = timed_tick(contacts[::step], at + 2 * TICK)
    return {
        "full_tick_s": full_s,
        "full_evaluated": full_n,
        "one_percent_tick_s": one_pct_s,
        "one_percent_evaluated": one_pct_n,
        "ratio": one_pct_s / full_s,
    }


# --- 4. SQL -------------------------------------------------------------------------------------


class Counts:
    """Statements executed and rows read on one engine."""

    def __init__(self) -> None:
        self.statements = 0
        self.rows = 0


_SQLITE_COUNTS: list[Counts] = []  # the counts of the SQLite engine being measured


class _RowCountingCursor(sqlite3.Cursor):
    """A sqlite3 cursor counting the rows it hands out (into the last of `_SQLITE_COUNTS`)."""

    def fetchone(self) -> Any:
        row = super().fetchone()
        if row is not None and _SQLITE_COUNTS:
            _SQLITE_COUNTS[-1].rows += 1
        return row

    def fetchmany(self, size: int | None = None) -> list[Any]:
        rows = super().fetchmany(self.arraysize if size is None else size)
        if _SQLITE_COUNTS:
            _SQLITE_COUNTS[-1].rows += len(rows)
        return rows

    def fetchall(self) -> list[Any]:
        rows = super().fetchall()
        if _SQLITE_COUNTS:
            _SQLITE_COUNTS[-1].rows += len(rows)
        return rows


class _RowCountingConnection(sqlite3.Connection):
    def cursor(self, factory: Any = _RowCountingCursor) -> Any:
        return super().cursor(factory)


@contextlib.contextmanager
def counted(url: str) -> Iterator[tuple[SQLRepository, Counts]]:
    """A fresh `SQLRepository` at `url` (its own schema on PostgreSQL), counting its reads."""
    import sqlalchemy as sa

    schema = None
    counts = Counts()
    sqlite = url.startswith("sqlite")
    engine = sa.create_engine(
        url, connect_args={"factory": _RowCountingConnection} if sqlite else {}
    )
    if engine.dialect.name == "postgresql":
        schema = f"regua_bench_{int(time.time() * 1000)}"
    repository = SQLRepository(engine, schema=schema)

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _count(*_: Any) -> None:
        counts.statements += 1

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _rows(conn: Any, cursor: Any, *_: Any) -> None:
        result = getattr(cursor, "pgresult", None)  # psycopg: the rows the server sent
        if result is not None:
            counts.rows += result.ntuples

    if sqlite:
        _SQLITE_COUNTS.append(counts)
    try:
        yield repository, counts
    finally:
        if sqlite:
            _SQLITE_COUNTS.remove(counts)
        repository.close()
        if schema is not None:
            with engine.begin() as conn:
                conn.execute(sa.schema.DropSchema(schema, cascade=True, if_exists=True))
        engine.dispose()


def sql_day(cadence: Cadence, url: str, count: int, seed: int) -> dict[str, Any]:
    """The simulated day on `url` over `count` customers, statements counted tick by tick."""
    with counted(url) as (repository, counts):
        loaded_s = 0.0
        for part in parts(count, seed, cadence):
            t0 = time.perf_counter()
            load(repository, part)
            loaded_s += time.perf_counter() - t0
        result = simulate_day(
            cadence,
            repository,
            on_statement=lambda: counts.statements,
            on_rows=lambda: counts.rows,
        )
        result["load_s"] = loaded_s
        return result


def sql_settled_tick(cadence: Cadence, url: str, count: int, seed: int) -> dict[str, Any]:
    """One tick evaluating every contact of a base a scheduler ran until the day before.

    The steady state's statements: each contact has what was due by the day before
    recorded (`planner.settle`), so the tick sends only what came due since.
    """
    with counted(url) as (repository, counts):
        for part in parts(count, seed, cadence, settled_at=START - DAY):
            load(repository, part)
        scheduler = Scheduler(cadence, repository=repository, senders=senders(cadence), **BATCH)
        before, rows_before = counts.statements, counts.rows
        t0 = time.perf_counter()
        report = scheduler.tick(START)
        elapsed = time.perf_counter() - t0
        statements = counts.statements - before
        rows = counts.rows - rows_before
    return {
        "s": elapsed,
        "contacts": count,
        "messages": len(report.sent),
        "statements": statements,
        "per_1000_contacts": 1000 * statements / max(1, count),
        "per_1000_messages": 1000 * statements / max(1, len(report.sent)),
        "rows": rows,
        "rows_per_1000_contacts": 1000 * rows / max(1, count),
    }


# --- 5. APScheduler -----------------------------------------------------------------------------


def traced(fn: Callable[[], Any]) -> tuple[Any, float]:
    """fn's result and the peak memory it allocated (tracemalloc, MiB)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline, _ = tracemalloc.get_traced_memory()
        value = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return value, (peak - baseline) / 2**20


def compare(cadence: Cadence, base: Sequence[Snapshot]) -> dict[str, Any]:
    """regua and hand-written APScheduler jobs on the same subset of the cadence, same day.

    Each side starts from the base in memory and ends with the day's messages: regua loads
    its repository and runs the day's ticks; the other side computes every customer's
    pending messages, adds one date job per message and runs the same ticks. Time and
    memory (tracemalloc peak above the shared base) are measured in separate passes, since
    tracemalloc slows Python code several times over.
    """
    sub = by_hand.subset(cadence)
    all_ticks = list(ticks())

    def regua_side() -> dict[str, Any]:
        repository = InMemoryRepository()
        load(repository, base)
        return simulate_day(sub, repository)

    def other_side() -> tuple[by_hand.HandWritten, int]:
        return by_hand.apscheduler_day(sub.name, base, all_ticks)

    gc.collect()
    t0 = time.perf_counter()
    regua = regua_side()
    regua_s = time.perf_counter() - t0
    gc.collect()
    t0 = time.perf_counter()
    code, jobs = other_side()
    aps_s = time.perf_counter() - t0
    _, regua_mib = traced(regua_side)
    _, aps_mib = traced(other_side)

    regua_first, regua_day = regua["first_keys"], regua["sent_keys"]
    aps_first = {key for at, key in code.sent if at == START}
    aps_day = {key for at, key in code.sent if at > START}
    same = regua_first == aps_first and regua_day == aps_day
    return {
        "customers": len(base),
        "steps": [step.name for step in sub.steps],
        "regua_s": regua_s,
        "apscheduler_s": aps_s,
        "time_ratio": regua_s / aps_s,
        "regua_peak_mib": regua_mib,
        "apscheduler_peak_mib": aps_mib,
        "memory_ratio": regua_mib / aps_mib,
        "apscheduler_jobs": jobs,
        "messages_first_tick": len(regua_first),
        "messages_rest_of_day": len(regua_day),
        "apscheduler_messages_first_tick": len(aps_first),
        "apscheduler_messages_rest_of_day": len(aps_day),
        "same_messages": same,
        "only_regua": sorted((regua_first | regua_day) - (aps_first | aps_day))[:5],
        "only_apscheduler": sorted((aps_first | aps_day) - (regua_first | regua_day))[:5],
    }


# --- the report ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--seed", type=int, default=20260504)
    parser.add_argument("--planner-contacts", type=int, default=None, metavar="N")
    parser.add_argument(
        "--day-customers",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help="sizes of the in-memory day (default 100000 1000000)",
    )
    parser.add_argument(
        "--compact",
        action="store_true",
        help="measure 2 on InMemoryRepository(compact=True): histories packed (max RSS: run "
        "one size per process)",
    )
    parser.add_argument("--scaling-customers", type=int, default=None, metavar="N")
    parser.add_argument("--sql-customers", type=int, default=None, metavar="N")
    parser.add_argument("--compare-customers", type=int, default=None, metavar="N")
    parser.add_argument("--sqlite-path", type=Path, default=Path("regua-bench.db"))
    parser.add_argument(
        "--sql",
        nargs="+",
        choices=["sqlite", "postgresql"],
        default=["sqlite", "postgresql"],
        help="the databases of measure 4 (default: both)",
    )
    parser.add_argument(
        "--no-settled-tick",
        action="store_true",
        help="measure 4 without the tick over a settled base (a second load of the base)",
    )
    parser.add_argument(
        "--postgres-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="'' to skip PostgreSQL",
    )
    parser.add_argument("--json", type=Path, default=Path("benchmark-results.json"))
    parser.add_argument(
        "--only",
        type=int,
        nargs="+",
        choices=range(1, 6),
        default=list(range(1, 6)),
        metavar="K",
        help="run only these measures (1-5; 2 and 3 share a base)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        metavar="N",
        help="contacts the scheduler leases and evaluates per batch (default: the Scheduler's)",
    )
    parser.add_argument(
        "--claim-batch-size",
        type=int,
        default=None,
        metavar="N",
        help="due occurrences the scheduler claims at once (default: the Scheduler's)",
    )
    args = parser.parse_args(argv)
    only = set(args.only)
    for name in ("batch_size", "claim_batch_size"):
        if getattr(args, name) is not None:
            BATCH[name] = getattr(args, name)
    quick = args.quick
    planner_n = args.planner_contacts or (2_000 if quick else 20_000)
    day_sizes = args.day_customers or ([2_000] if quick else [100_000, 1_000_000])
    scaling_n = args.scaling_customers or (5_000 if quick else max(day_sizes))
    sql_n = args.sql_customers if args.sql_customers is not None else (100 if quick else 100_000)
    compare_n = args.compare_customers or (2_000 if quick else 100_000)

    cadence = bench.load_example()
    results: dict[str, Any] = {
        "machine": bench.machine(),
        "quick": quick,
        "seed": args.seed,
        "batch_size": BATCH.get("batch_size", _default("batch_size")),
        "claim_batch_size": BATCH.get("claim_batch_size", _default("claim_batch_size")),
    }
    rows: list[tuple[str, str]] = []

    def say(label: str, value: str) -> None:
        rows.append((label, value))
        print(f"  {label:<38} {value}", flush=True)
        # Written after every measure: a long run stopped halfway keeps what it measured.
        results["table"] = rows
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")

    def say_scaling(s: dict[str, Any]) -> None:
        results["scaling"] = s
        say(
            f"3. scaling, {s['full_evaluated']:,} customers",
            f"1% tick {s['one_percent_tick_s'] * 1e3:.0f} ms / full tick {s['full_tick_s']:.2f} s "
            f"= {s['ratio']:.4f} (target <= 0.03)",
        )

    print(f"regua benchmarks: {cadence.name!r}, {len(cadence.steps)} steps, day from {START}")

    if 1 in only:
        p = planner_throughput(cadence, planner_n, args.seed)
        results["planner"] = p
        say(
            f"1. planner, {planner_n:,} contacts",
            f"first sight {p['first_sight']['contacts_per_s']:,.0f} contacts/s, steady state "
            f"{p['steady_state']['contacts_per_s']:,.0f} contacts/s (goal >= 20,000)",
        )

    if 5 in only:
        base = build(compare_n, args.seed, cadence)
        c = compare(cadence, base)
        results["apscheduler"] = c
        say(
            f"5. vs APScheduler, {compare_n:,} customers",
            f"{len(c['steps'])} steps, no caps; time {c['regua_s']:.2f} s / "
            f"{c['apscheduler_s']:.2f} s = {c['time_ratio']:.2f} (target <= 0.2); memory "
            f"{c['regua_peak_mib']:.1f} MiB / {c['apscheduler_peak_mib']:.1f} MiB = "
            f"{c['memory_ratio']:.2f} (target <= 0.1); messages at the start "
            f"{c['messages_first_tick']:,} / {c['apscheduler_messages_first_tick']:,}, "
            f"then {c['messages_rest_of_day']:,} / {c['apscheduler_messages_rest_of_day']:,}; "
            f"same set: {c['same_messages']}",
        )
        if not c["same_messages"]:
            print(
                f"    only regua: {c['only_regua']}\n    only APScheduler: {c['only_apscheduler']}"
            )

    if sql_n and 4 in only:
        urls = []
        if "sqlite" in args.sql:
            urls.append(("SQLite", f"sqlite:///{args.sqlite_path}"))
        if args.postgres_url and "postgresql" in args.sql:
            urls.append(("PostgreSQL", args.postgres_url))
        results["sql"] = {}

        def remove_sqlite_file() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{args.sqlite_path}{suffix}").unlink(missing_ok=True)

        for name, url in urls:
            try:
                remove_sqlite_file()
                day = sql_day(cadence, url, sql_n, args.seed)
                remove_sqlite_file()
                settled = (
                    None
                    if args.no_settled_tick
                    else sql_settled_tick(cadence, url, sql_n, args.seed)
                )
            except Exception as exc:
                say(f"4. day on {name}", f"skipped: {type(exc).__name__}: {exc}"[:120])
                continue
            finally:
                remove_sqlite_file()
            day.pop("sent_keys")
            day.pop("first_keys")
            results["sql"][name] = {"customers": sql_n, **day, "settled_tick": settled}
            say(
                f"4. day on {name}, {sql_n:,} customers",
                f"{day['total_s']:.1f} s (load {day['load_s']:.0f} s, not counted); "
                f"{day['tick_ms_mean']:.1f} ms/tick; "
                f"statements: first tick {day['first_tick']['statements']:,} "
                f"({day['first_tick_statements_per_1000']:.1f} per 1,000 contacts, "
                f"{day['first_tick_statements_per_1000_messages']:.1f} per 1,000 messages); "
                f"{day['busy_ticks']} ticks with work: "
                f"{day['busy_statements_per_1000']:.1f} per 1,000 contacts, "
                f"{day['busy_statements_per_1000_messages']:.1f} per 1,000 messages, "
                f"{day['busy_statements_max']} max; idle ticks "
                f"{'/'.join(map(str, day['idle_tick_statements']))}; rows read per 1,000 "
                f"contacts: first tick {day['first_tick_rows_per_1000']:,.0f}, ticks with "
                f"work {day['busy_rows_per_1000']:,.0f}",
            )
            if settled is None:
                continue
            say(
                f"4. settled base on {name}, {sql_n:,}",
                f"one tick evaluating everybody: {settled['statements']:,} statements "
                f"({settled['per_1000_contacts']:.1f} per 1,000 contacts, "
                f"{settled['messages']:,} messages), {settled['rows']:,} rows read "
                f"({settled['rows_per_1000_contacts']:,.0f} per 1,000 contacts); "
                f"{settled['s']:.1f} s",
            )

    results["day_memory"] = []
    for n in day_sizes if 2 in only else []:
        t0 = time.perf_counter()
        repository, contacts = loaded(n, args.seed, cadence, args.compact)
        built = time.perf_counter() - t0
        day = simulate_day(cadence, repository)
        day.pop("sent_keys")
        day.pop("first_keys")
        day.update(
            customers=n, compact=args.compact, build_and_load_s=built, max_rss_mib=max_rss_mib()
        )
        results["day_memory"].append(day)
        say(
            f"2. day in memory{' (compact)' if args.compact else ''}, {n:,} customers",
            f"{day['total_s']:.1f} s; first tick {day['first_tick']['s']:.1f} s "
            f"({day['first_tick']['evaluated']:,} evaluated); then "
            f"{day['tick_ms_mean']:.1f} ms/tick mean, {day['tick_ms_max']:.0f} max; "
            f"{day['sent_after_first']:,} sent; max RSS {day['max_rss_mib']:,.0f} MiB",
        )
        if n == scaling_n and 3 in only:  # on the same base, reported at once
            say_scaling(scaling_ratio(cadence, repository, contacts))
        del repository, contacts
        gc.collect()
    if "scaling" not in results and 3 in only:
        repository, contacts = loaded(scaling_n, args.seed, cadence)
        say_scaling(scaling_ratio(cadence, repository, contacts))
        del repository, contacts

    results["table"] = rows
    args.json.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
