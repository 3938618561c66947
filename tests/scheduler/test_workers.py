"""Several worker processes on one database: every occurrence sent exactly once, none lost,
and a worker killed mid-tick leaves nothing behind that another cannot finish."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from regua import (
    Cadence,
    Channel,
    Contact,
    DeliveryStatus,
    Event,
    Message,
    Scheduler,
    Step,
    on_event,
)
from regua.records import idempotency_key
from regua.repositories.sql import SQLRepository

T0 = datetime(2026, 5, 4, 15, tzinfo=timezone.utc)
LEASE = timedelta(minutes=5)

CADENCE = Cadence(
    "shop",
    channels=[Channel("email")],
    steps=[
        Step("confirm", trigger=on_event("order_placed"), channels=["email"], transactional=True)
    ],
)


class FileSender:
    """Appends each idempotency key it is handed to a file: the provider's view."""

    def __init__(self, path: str, kill: str | None = None) -> None:
        self.path = path
        self.kill = kill  # "before" or "after" the provider accepts: die with SIGKILL

    def send(self, message: Message) -> str | None:
        if self.kill == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        with open(self.path, "a", encoding="utf-8") as log:
            log.write(message.idempotency_key + "\n")
            log.flush()
            os.fsync(log.fileno())
        if self.kill == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return None


def _worker(url: str, schema: str | None, name: str, log: str, kill: str | None) -> None:
    repository = SQLRepository(url, schema=schema)
    scheduler = Scheduler(
        CADENCE,
        repository=repository,
        senders={"email": FileSender(log, kill)},
        worker=name,
        batch_size=50,
        lease=LEASE,
    )
    idle = 0
    while idle < 3:  # others may hold leases for a moment; stop once nothing is left
        report = scheduler.tick(T0)
        idle = idle + 1 if report.evaluated == 0 else 0
    repository.close()


def _load(repository: SQLRepository, contacts: int, orders: int) -> set[str]:
    repository.bulk_load(
        [Contact(f"c{c}", addresses={"email": f"c{c}@example.com"}) for c in range(contacts)],
        [
            Event(f"c{c}", "order_placed", T0, id=f"o{c}-{o}")
            for c in range(contacts)
            for o in range(orders)
        ],
    )
    return {f"shop:confirm:c{c}:event=o{c}-{o}" for c in range(contacts) for o in range(orders)}


def _run_workers(url: str, schema: str | None, count: int, tmp_path: Path) -> list[Path]:
    context = multiprocessing.get_context("spawn")
    logs = [tmp_path / f"sent-{n}.log" for n in range(count)]
    processes = [
        context.Process(target=_worker, args=(url, schema, f"w{n}", str(logs[n]), None))
        for n in range(count)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
        assert process.exitcode == 0
    return logs


def _sent(logs: list[Path]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for log in logs:
        if log.exists():
            counts.update(log.read_text().split())
    return counts


def _postgres_url(engine: object) -> str:
    return str(engine.url.render_as_string(hide_password=False))  # type: ignore[attr-defined]


def test_four_workers_on_postgres_send_10000_occurrences_exactly_once(
    postgres_engine: object, postgres_schema: str, tmp_path: Path
) -> None:
    import sqlalchemy as sa

    url = _postgres_url(postgres_engine)
    # Test data only: skip waiting for the load's commit to reach the disk (the workers below
    # use ordinary durable commits).
    loader = sa.create_engine(url, connect_args={"options": "-c synchronous_commit=off"})
    repository = SQLRepository(loader, schema=postgres_schema)
    keys = _load(repository, contacts=1000, orders=10)
    assert len(keys) == 10_000

    counts = _sent(_run_workers(url, postgres_schema, 4, tmp_path))
    assert set(counts) == {idempotency_key(key) for key in keys}  # none lost
    assert set(counts.values()) == {1}  # none twice
    snapshots = repository.load_snapshots([f"c{c}" for c in range(1000)])
    statuses = Counter(d.status for s in snapshots.values() for d in s.deliveries)
    assert statuses == {DeliveryStatus.SENT: 10_000}
    loader.dispose()


def test_two_workers_on_one_sqlite_file_send_each_occurrence_exactly_once(
    sqlite_url: str, tmp_path: Path
) -> None:
    repository = SQLRepository(sqlite_url)
    keys = _load(repository, contacts=200, orders=5)
    counts = _sent(_run_workers(sqlite_url, None, 2, tmp_path))
    assert set(counts) == {idempotency_key(key) for key in keys}
    assert set(counts.values()) == {1}
    repository.close()


@pytest.mark.parametrize("moment", ["before", "after"])
def test_a_worker_killed_between_claim_and_record_is_finished_by_another(
    postgres_engine: object, postgres_schema: str, tmp_path: Path, moment: str
) -> None:
    url = _postgres_url(postgres_engine)
    repository = SQLRepository(url, schema=postgres_schema)
    [key] = _load(repository, contacts=1, orders=1)
    log = tmp_path / "sent.log"

    context = multiprocessing.get_context("spawn")
    doomed = context.Process(
        target=_worker, args=(url, postgres_schema, "doomed", str(log), moment)
    )
    doomed.start()
    doomed.join(timeout=120)
    assert doomed.exitcode == -signal.SIGKILL
    assert repository.load_snapshots(["c0"])["c0"].deliveries == ()  # nothing recorded

    survivor = Scheduler(
        CADENCE,
        repository=repository,
        senders={"email": FileSender(str(log))},
        worker="survivor",
        lease=LEASE,
    )
    # While the dead worker's claim is live, nobody sends.
    assert survivor.tick(T0 + timedelta(minutes=1)).sent == ()
    # Once it has expired, the survivor finishes the work with the same idempotency key.
    report = survivor.tick(T0 + LEASE + timedelta(minutes=2))
    assert [d.occurrence_key for d in report.sent] == [key]
    expected = [idempotency_key(key)] * (2 if moment == "after" else 1)
    assert log.read_text().split() == expected
    repository.close()
