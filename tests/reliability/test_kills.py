"""Worker processes killed with SIGKILL at random points of their ticks, again and again.

A supervisor keeps a few worker processes running on one database (SQLite file or
PostgreSQL schema) until every occurrence has an outcome, starting a new worker whenever one
dies. Each worker dies, with a small probability, at each of five points of a tick: before
claiming, after claiming, before sending, after the provider accepted, before recording; and
until each point has seen a death, every new worker is doomed to die at one not yet seen.
Leases are short (two seconds, on the real clock: the database's on PostgreSQL), so the work
of the dead is taken over quickly.

After the dust settles: every occurrence is recorded sent, none is lost, a provider that
deduplicates by idempotency key delivered each exactly once, and what it had to deduplicate
is only what dead workers had sent without recording (outcomes are recorded once per round,
so a death mid-round hands that round's sent messages over again, with their keys). The figures are
printed (``pytest -s``). ``REGUA_RELIABILITY_SCALE`` multiplies the sizes.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    DueAction,
    Event,
    Message,
    Scheduler,
    Step,
    on_event,
)
from regua.ports import Claim
from regua.records import idempotency_key
from regua.repositories.sql import SQLRepository

# Worker processes killed by the thousand.
pytestmark = pytest.mark.slow

SCALE = max(1, int(os.environ.get("REGUA_RELIABILITY_SCALE", "1")))
UTC = timezone.utc
T0 = datetime(2026, 5, 4, 15, tzinfo=UTC)  # the orders: long due by the real clock
LEASE = timedelta(seconds=2)
BATCH = 5
"""Contacts per batch (5 orders each): small, so that every worker gets work."""
BATCH_DEATH_RATE = 0.01
"""Chance of dying at each batch-level point (before/after claiming, before recording)."""
MESSAGE_DEATH_RATE = 0.001
"""Chance of dying at each message-level point (before sending, after the provider accepted)."""
STALL = 120
"""Seconds without a new outcome after which the run is declared stuck."""

CADENCE = Cadence(
    "shop",
    channels=[Channel("email")],
    steps=[
        Step("confirm", trigger=on_event("order_placed"), channels=["email"], transactional=True)
    ],
)


POINTS = ("before_claim", "after_claim", "before_send", "after_send", "before_record")


class _Fate:
    """Rolls the dice at each point; on a death, writes the point down, then SIGKILLs.

    A worker may also be doomed to die at one point, the first time it gets there: until a
    death at every point has been seen, each new worker is doomed at a point not yet seen,
    so that every point is exercised in every run.
    """

    def __init__(self, seed: int, deaths: str, doomed_at: str | None) -> None:
        self.rng = random.Random(seed)
        self.deaths = deaths
        self.doomed_at = doomed_at
        self.countdown = 1

    def maybe_die(self, point: str, rate: float) -> None:
        if point == self.doomed_at:
            self.countdown -= 1
        if self.countdown != 0 and self.rng.random() >= rate:
            return
        with open(self.deaths, "a", encoding="utf-8") as log:
            log.write(point + "\n")
            log.flush()
            os.fsync(log.fileno())
        os.kill(os.getpid(), signal.SIGKILL)


class _MortalRepository(SQLRepository):
    fate: _Fate

    def claim(
        self, actions: Sequence[DueAction], worker: str, now: datetime, lease: timedelta
    ) -> dict[str, Claim]:
        self.fate.maybe_die("before_claim", BATCH_DEATH_RATE)
        granted = super().claim(actions, worker, now, lease)
        self.fate.maybe_die("after_claim", BATCH_DEATH_RATE)
        return granted

    def record(self, deliveries: Sequence[Delivery]) -> None:
        if any(d.status is DeliveryStatus.SENT for d in deliveries):
            self.fate.maybe_die("before_record", BATCH_DEATH_RATE)
        super().record(deliveries)


class _Provider:
    """Writes down every key it is handed (the provider's view, before deduplication)."""

    def __init__(self, log: str, fate: _Fate) -> None:
        self.log, self.fate = log, fate

    def send(self, message: Message) -> str | None:
        self.fate.maybe_die("before_send", MESSAGE_DEATH_RATE)
        with open(self.log, "a", encoding="utf-8") as log:
            log.write(message.idempotency_key + "\n")
            log.flush()
            os.fsync(log.fileno())
        self.fate.maybe_die("after_send", MESSAGE_DEATH_RATE)
        return None


def _mortal_worker(
    url: str, schema: str | None, name: str, directory: str, seed: int, doomed_at: str | None
) -> None:
    fate = _Fate(seed, os.path.join(directory, "deaths.log"), doomed_at)
    repository = _MortalRepository(url, schema=schema)
    repository.fate = fate
    scheduler = Scheduler(
        CADENCE,
        repository=repository,
        senders={"email": _Provider(os.path.join(directory, f"sent-{name}.log"), fate)},
        worker=name,
        batch_size=BATCH,
        lease=LEASE,
    )
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < 2 * LEASE.total_seconds():
        if scheduler.tick(datetime.now(UTC)).evaluated:
            idle_since = time.monotonic()
        else:
            time.sleep(0.1)
    repository.close()


def _load(url: str, schema: str | None, occurrences: int) -> set[str]:
    import sqlalchemy as sa

    options = {"options": "-c synchronous_commit=off"} if url.startswith("postgresql") else {}
    engine = sa.create_engine(url, connect_args=options)  # test data: no need to wait for disk
    loader = SQLRepository(engine, schema=schema)
    keys = set()
    for n in range(occurrences):
        contact_id = f"c{n // 5}"
        if n % 5 == 0:
            loader.upsert_contact(Contact(contact_id, addresses={"email": f"{contact_id}@x.org"}))
        loader.record_event(Event(contact_id, "order_placed", T0, id=f"o{n}"))
        keys.add(f"shop:confirm:{contact_id}:event=o{n}")
    engine.dispose()
    return keys


def _outcomes(url: str, schema: str | None, contacts: list[str]) -> dict[str, Delivery]:
    repository = SQLRepository(url, schema=schema)
    snapshots = repository.load_snapshots(contacts)
    repository.close()
    return {d.occurrence_key: d for s in snapshots.values() for d in s.deliveries}


def _lines(paths: Any) -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in paths:
        counts.update(Path(path).read_text().split())
    return counts


def _run(url: str, schema: str | None, occurrences: int, workers: int, directory: Path) -> None:
    keys = _load(url, schema, occurrences)
    contacts = sorted({key.split(":")[2] for key in keys})
    context = multiprocessing.get_context("spawn")
    deaths_log = directory / "deaths.log"
    running: list[Any] = []
    started = progressed = time.monotonic()
    spawned = 0
    done: dict[str, Delivery] = {}
    # However slow the machine, the run goes on while outcomes keep being recorded; it
    # stops only when none has been for STALL seconds (the assertions below then fail).
    while time.monotonic() - progressed < STALL:
        for process in [p for p in running if not p.is_alive()]:
            process.join()
            running.remove(process)
        recorded = len(done)
        done = _outcomes(url, schema, contacts)
        if len(done) == len(keys):
            break
        if len(done) > recorded:
            progressed = time.monotonic()
        seen = set(_lines([deaths_log])) if deaths_log.exists() else set()
        pending = [point for point in POINTS if point not in seen]
        while len(running) < workers:
            process = context.Process(
                target=_mortal_worker,
                args=(
                    url,
                    schema,
                    f"w{spawned}",
                    str(directory),
                    1000 + spawned,
                    pending[spawned % len(pending)] if pending else None,
                ),
            )
            process.start()
            running.append(process)
            spawned += 1
        time.sleep(0.5)
    for process in running:  # idle workers stop on their own
        process.join(timeout=STALL)
        if process.is_alive():
            process.kill()
            process.join()
    outcomes = list(done.values())
    deaths = _lines([deaths_log]) if deaths_log.exists() else Counter()
    sent = _lines(directory.glob("sent-*.log"))
    resent = sum(count - 1 for count in sent.values())
    print(
        f"\n[kills] {url.split(':')[0]} workers={workers}\n"
        f"  occurrences:                      {len(keys)}\n"
        f"  worker processes started:         {spawned}\n"
        f"  killed (SIGKILL), by point:       {dict(sorted(deaths.items()))}\n"
        f"  outcomes recorded:                {dict(Counter(d.status.value for d in outcomes))}\n"
        f"  sends without dedup (same key):   {resent}\n"
        f"  effective duplicates with dedup:  0 by construction: one key per occurrence\n"
        f"  losses:                           {len(keys) - len(done)}\n"
        f"  elapsed:                          {time.monotonic() - started:.1f}s"
    )
    assert len(done) == len(keys), f"{len(keys) - len(done)} occurrences never recorded"
    assert {d.status for d in done.values()} == {DeliveryStatus.SENT}
    assert set(sent) == {idempotency_key(key) for key in keys}, "a message never reached a sender"
    # A key is handed over again only when its worker died after sending it and before
    # recording its round (a batch, 5 orders a contact): at a send or just before recording.
    unrecorded = sum(
        deaths.get(point, 0) for point in ("before_send", "after_send", "before_record")
    )
    assert resent <= unrecorded * BATCH * 5
    assert set(deaths) == set(POINTS), "a point of the tick was never hit by a death"


def test_killed_workers_on_postgres(
    postgres_engine: Any, postgres_schema: str, tmp_path: Path
) -> None:
    url = postgres_engine.url.render_as_string(hide_password=False)
    _run(url, postgres_schema, 1_000 * SCALE, workers=3, directory=tmp_path)


def test_killed_workers_on_sqlite(sqlite_url: str, tmp_path: Path) -> None:
    _run(sqlite_url, None, 500 * SCALE, workers=2, directory=tmp_path)
