"""Faults at scale on PostgreSQL: killed workers, failing providers, drifting clocks.

    python benchmarks/faults.py                            # 10,000 occurrences, 3 workers
    python benchmarks/faults.py --occurrences 20000 --workers 4 --json faults.json

Loads contacts (5 orders each, one confirmation per order, e-mail first then SMS) into a
schema of its own; a tenth of the orders are stamped up to a minute *after* the moment they
are loaded (an application whose clock runs ahead). Then a supervisor keeps `--workers`
worker processes running until every occurrence has an outcome, starting a new one whenever
one dies. Each worker:

- runs its clock off real time by a skew drawn from -1 min, -1 s, 0, +1 s and +1 min (a
  worker ahead stores the retries it defers in its own time, so larger skews only make the
  run wait longer: the property tests take hours of skew);
- dies by SIGKILL, with a small probability, at five points of a tick (before and after
  claiming, before sending, after the provider accepted, before recording);
- sends through providers that fail on 20% of calls: temporary failures, unexpected
  exceptions, and hangs past the scheduler's `send_timeout` (the provider accepts the message
  *after* the worker gave up on it: an attempt of unknown outcome). Besides, e-mail refuses
  (`PermanentFailure`) every message of one contact in ten, deterministically, and SMS of one
  in fifty: a contact refused by both can get nothing, every other one must get its message.

The providers deduplicate by idempotency key, as real ones do, with a ledger table in the
same database (one row per accepted key and channel, one per call). At the end it prints,
for the run: occurrences, workers started and killed (by point), provider calls and faults,
and the figures that must all be 0: lost (never recorded), effective duplicates (an
occurrence accepted on two channels), customers left with nothing when a channel worked
(recorded failed although one of its channels never refuses), and recorded sent without an
acceptance. The schema is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

UTC = timezone.utc
T0 = datetime(2026, 5, 4, 15, tzinfo=UTC)
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LEASE = timedelta(seconds=3)
SEND_TIMEOUT = timedelta(seconds=0.5)
HANG = 0.8  # seconds a hung provider call takes before it accepts anyway
BATCH = 20
SKEWS = [timedelta(minutes=-1), timedelta(seconds=-1), timedelta(0), timedelta(seconds=1)]
SKEWS.append(timedelta(minutes=1))
POINTS = ("before_claim", "after_claim", "before_send", "after_send", "before_record")
BATCH_DEATH_RATE = 0.01
MESSAGE_DEATH_RATE = 0.0005


def cadence() -> Any:
    from regua import Cadence, Channel, Step, on_event

    return Cadence(
        "shop",
        channels=[Channel("email"), Channel("sms")],
        steps=[
            Step(
                "confirm",
                trigger=on_event("order_placed"),
                channels=["email", "sms"],
                transactional=True,
            )
        ],
    )


def refuses(channel: str, contact_id: str) -> bool:
    """Whether a provider refuses every message to this contact (deterministic)."""
    n = int(contact_id[1:])
    return n % 10 == 3 if channel == "email" else n % 50 == 7


class Fate:
    """Rolls the dice at each point of a tick; on a death, counts it, then SIGKILLs."""

    def __init__(self, seed: int, engine: Any, schema: str) -> None:
        self.rng = random.Random(seed)
        self.engine, self.schema = engine, schema

    def maybe_die(self, point: str, rate: float) -> None:
        if self.rng.random() >= rate:
            return
        import sqlalchemy as sa

        with self.engine.begin() as conn:
            conn.execute(
                sa.text(f"INSERT INTO {self.schema}.bench_deaths (point) VALUES (:p)"), {"p": point}
            )
        os.kill(os.getpid(), signal.SIGKILL)


class Provider:
    """One channel's provider: fails 20% of calls, deduplicates by key in the ledger."""

    def __init__(self, channel: str, engine: Any, schema: str, fate: Fate, seed: int) -> None:
        self.channel, self.engine, self.schema, self.fate = channel, engine, schema, fate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()

    def send(self, message: Any) -> str | None:
        from regua import PermanentFailure, TemporaryFailure

        with self.lock:
            roll = self.rng.random()
        self.fate.maybe_die("before_send", MESSAGE_DEATH_RATE)
        self._log("call", message, "")
        if self._accepted(message):  # a retry of what it already has: that success
            return f"{self.channel}-{message.idempotency_key}"
        if refuses(self.channel, message.contact.id):
            self._log("fault", message, "permanent")
            raise PermanentFailure("550 5.1.1 mailbox unavailable")
        if roll < 0.10:
            self._log("fault", message, "temporary")
            raise TemporaryFailure("503 Service Unavailable")
        if roll < 0.15:
            self._log("fault", message, "unexpected")
            raise RuntimeError("KeyError in the provider's SDK")
        if roll < 0.20:
            self._log("fault", message, "hang")
            time.sleep(HANG)  # the worker gives up after its send_timeout; this accepts later
        self._accept(message)
        self.fate.maybe_die("after_send", MESSAGE_DEATH_RATE)
        return f"{self.channel}-{message.idempotency_key}"

    def _accepted(self, message: Any) -> bool:
        import sqlalchemy as sa

        with self.engine.begin() as conn:
            row = conn.execute(
                sa.text(
                    f"SELECT 1 FROM {self.schema}.bench_accepted "
                    "WHERE channel = :c AND idempotency_key = :k"
                ),
                {"c": self.channel, "k": message.idempotency_key},
            ).first()
        return row is not None

    def _accept(self, message: Any) -> None:
        import sqlalchemy as sa

        with self.engine.begin() as conn:
            conn.execute(
                sa.text(
                    f"INSERT INTO {self.schema}.bench_accepted "
                    "(channel, idempotency_key, occurrence_key) VALUES (:c, :k, :o) "
                    "ON CONFLICT DO NOTHING"
                ),
                {"c": self.channel, "k": message.idempotency_key, "o": message.occurrence_key},
            )

    def _log(self, kind: str, message: Any, detail: str) -> None:
        import sqlalchemy as sa

        with self.engine.begin() as conn:
            conn.execute(
                sa.text(
                    f"INSERT INTO {self.schema}.bench_calls (kind, channel, occurrence_key, "
                    "detail) VALUES (:kind, :c, :o, :d)"
                ),
                {"kind": kind, "c": self.channel, "o": message.occurrence_key, "d": detail},
            )


def worker(url: str, schema: str, name: str, seed: int) -> None:
    import sqlalchemy as sa

    from regua import RetryPolicy, Scheduler
    from regua.repositories.sql import SQLRepository

    engine = sa.create_engine(url, pool_size=4)
    fate = Fate(seed, engine, schema)

    class Mortal(SQLRepository):
        def claim(self, actions: Sequence[Any], *args: Any) -> Any:
            fate.maybe_die("before_claim", BATCH_DEATH_RATE)
            granted = super().claim(actions, *args)
            fate.maybe_die("after_claim", BATCH_DEATH_RATE)
            return granted

        def record(self, deliveries: Sequence[Any]) -> None:
            if any(d.status.value == "sent" for d in deliveries):
                fate.maybe_die("before_record", BATCH_DEATH_RATE)
            super().record(deliveries)

    repository = Mortal(engine, schema=schema)
    skew = random.Random(seed).choice(SKEWS)
    scheduler = Scheduler(
        cadence(),
        repository=repository,
        senders={
            c: Provider(c, engine, schema, fate, seed * 2 + i)
            for i, c in enumerate(("email", "sms"))
        },
        worker=name,
        batch_size=BATCH,
        lease=LEASE,
        send_timeout=SEND_TIMEOUT,
        retry=RetryPolicy(
            max_attempts=6, initial=timedelta(seconds=0.2), max_delay=timedelta(seconds=1)
        ),
    )
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < 3 * LEASE.total_seconds():
        try:
            report = scheduler.tick(datetime.now(UTC) + skew)
        except Exception:  # a tick that failed: its claims expire; go on
            report = None
        if report is not None and report.evaluated:
            idle_since = time.monotonic()
        else:
            time.sleep(0.1)
    engine.dispose()


def load(url: str, schema: str, occurrences: int) -> tuple[set[str], dict[str, str]]:
    import sqlalchemy as sa

    from regua import Contact, Event
    from regua.repositories.sql import SQLRepository

    engine = sa.create_engine(url, connect_args={"options": "-c synchronous_commit=off"})
    repository = SQLRepository(engine, schema=schema)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE TABLE {schema}.bench_accepted (channel TEXT, idempotency_key TEXT, "
                "occurrence_key TEXT, PRIMARY KEY (channel, idempotency_key))"
            )
        )
        conn.execute(
            sa.text(
                f"CREATE TABLE {schema}.bench_calls (kind TEXT, channel TEXT, "
                "occurrence_key TEXT, detail TEXT)"
            )
        )
        conn.execute(sa.text(f"CREATE TABLE {schema}.bench_deaths (point TEXT)"))
    rng = random.Random(1)
    keys: set[str] = set()
    owners: dict[str, str] = {}
    contacts = [
        Contact(f"c{n}", addresses={"email": f"c{n}@example.com", "sms": f"+5511{n:09d}"})
        for n in range(occurrences // 5)
    ]
    events = []
    loaded_at = datetime.now(UTC)
    for n in range(occurrences):
        contact_id = f"c{n // 5}"
        ahead = rng.random() < 0.1  # stamped by a clock running ahead of real time
        at = loaded_at + timedelta(seconds=rng.uniform(0, 60)) if ahead else T0
        events.append(Event(contact_id, "order_placed", at, id=f"o{n}"))
        key = f"shop:confirm:{contact_id}:event=o{n}"
        keys.add(key)
        owners[key] = contact_id
    repository.bulk_load(contacts, events)
    engine.dispose()
    return keys, owners


def figures(url: str, schema: str, keys: set[str], owners: dict[str, str]) -> dict[str, Any]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        recorded = {
            row.occurrence_key: (row.status, row.channel)
            for row in conn.execute(
                sa.text(f"SELECT occurrence_key, status, channel FROM {schema}.regua_deliveries")
            )
        }
        accepted: dict[str, set[str]] = {}
        for row in conn.execute(
            sa.text(f"SELECT channel, occurrence_key FROM {schema}.bench_accepted")
        ):
            accepted.setdefault(row.occurrence_key, set()).add(row.channel)
        calls = conn.execute(
            sa.text(f"SELECT kind, detail, count(*) AS n FROM {schema}.bench_calls GROUP BY 1, 2")
        ).all()
        deaths = Counter(
            row.point for row in conn.execute(sa.text(f"SELECT point FROM {schema}.bench_deaths"))
        )
    engine.dispose()
    nothing_though_one_works = [
        key
        for key in keys
        if recorded.get(key, ("", None))[0] != "sent"
        and not (refuses("email", owners[key]) and refuses("sms", owners[key]))
    ]
    return {
        "occurrences": len(keys),
        "recorded": dict(Counter(status for status, _ in recorded.values())),
        "provider calls": sum(r.n for r in calls if r.kind == "call"),
        "provider faults": {r.detail: r.n for r in calls if r.kind == "fault"},
        "killed, by point": dict(sorted(deaths.items())),
        "lost (never recorded)": len(keys - set(recorded)),
        "effective duplicates (two channels)": sum(1 for c in accepted.values() if len(c) > 1),
        "nothing although a channel worked": len(nothing_though_one_works),
        "recorded sent, never accepted": sum(
            1
            for key, (status, channel) in recorded.items()
            if status == "sent" and channel not in accepted.get(key, set())
        ),
    }


def run(url: str, occurrences: int, workers: int, deadline: float) -> dict[str, Any]:
    import sqlalchemy as sa

    schema = f"regua_faults_{uuid.uuid4().hex[:8]}"
    keys, owners = load(url, schema, occurrences)
    context = multiprocessing.get_context("spawn")
    running: list[Any] = []
    spawned = 0
    started = time.monotonic()
    engine = sa.create_engine(url)
    try:
        while time.monotonic() - started < deadline:
            for process in [p for p in running if not p.is_alive()]:
                process.join()
                running.remove(process)
            with engine.connect() as conn:
                done = conn.execute(
                    sa.text(f"SELECT count(*) FROM {schema}.regua_deliveries")
                ).scalar_one()
            if done >= len(keys):
                break
            while len(running) < workers:
                process = context.Process(
                    target=worker, args=(url, schema, f"w{spawned}", 1000 + spawned)
                )
                process.start()
                running.append(process)
                spawned += 1
            time.sleep(0.5)
        for process in running:
            process.kill()
            process.join()
        time.sleep(HANG + 0.2)  # the last hung calls land in the ledger
        result = figures(url, schema, keys, owners)
        result["workers started"] = spawned
        result["elapsed (s)"] = round(time.monotonic() - started, 1)
        return result
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("REGUA_POSTGRES_URL", DEFAULT_URL))
    parser.add_argument("--occurrences", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--deadline", type=float, default=1800, help="seconds before giving up")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    result = run(args.url, args.occurrences, args.workers, args.deadline)
    width = max(len(k) for k in result)
    print(f"\nfaults on PostgreSQL: {args.occurrences} occurrences, {args.workers} workers")
    for name, value in result.items():
        print(f"  {name:<{width}}  {value}")
    must_be_zero = [
        "lost (never recorded)",
        "effective duplicates (two channels)",
        "nothing although a channel worked",
        "recorded sent, never accepted",
    ]
    bad = {k: result[k] for k in must_be_zero if result[k]}
    print("\nall zero" if not bad else f"\nNOT ZERO: {bad}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=2, default=str)
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
