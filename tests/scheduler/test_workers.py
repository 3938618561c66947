"""Several worker processes on one database: every occurrence sent exactly once, none lost,
and a worker killed mid-tick leaves nothing behind that another cannot finish."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

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

# Worker processes and threads racing over thousands of occurrences.
pytestmark = pytest.mark.slow

T0 = datetime(2026, 5, 4, 15, tzinfo=timezone.utc)
LEASE = timedelta(minutes=5)

CADENCE = Cadence(
    "shop",
    channels=[Channel("email")],
    steps=[
        Step("confirm", trigger=on_event("order_placed"), channels=["email"], transactional=True)
    ],
)


MARKETING = Cadence(
    "shop",
    channels=[Channel("email")],
    steps=[
        *CADENCE.steps,
        Step("thanks", trigger=on_event("order_placed"), channels=["email"]),  # needs consent
    ],
)
CADENCES = {"transactional": CADENCE, "marketing": MARKETING}
"""What `_worker` runs, by name (a child process imports this module)."""

KILL_POINTS = ("before_claim", "after_claim", "before_send", "after_send", "before_record")
"""Where in a tick a doomed worker dies with SIGKILL."""


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class FileSender:
    """Appends each idempotency key it is handed to a file: the provider's view."""

    def __init__(self, path: str, kill: str | None = None) -> None:
        self.path = path
        self.kill = kill

    def send(self, message: Message) -> str | None:
        if self.kill == "before_send":
            _die()
        with open(self.path, "a", encoding="utf-8") as log:
            log.write(message.idempotency_key + "\n")
            log.flush()
            os.fsync(log.fileno())
        if self.kill == "after_send":
            _die()
        return None


class DyingRepository(SQLRepository):
    """Dies with SIGKILL before or after claiming, or before recording what was sent."""

    kill: str | None = None

    def claim(
        self, actions: Sequence[DueAction], worker: str, now: datetime, lease: timedelta
    ) -> dict[str, Claim]:
        if self.kill == "before_claim":
            _die()
        granted = super().claim(actions, worker, now, lease)
        if self.kill == "after_claim":
            _die()
        return granted

    def record(self, deliveries: Sequence[Delivery]) -> None:
        if self.kill == "before_record":
            _die()
        super().record(deliveries)


def _worker(
    url: str,
    schema: str | None,
    name: str,
    log: str,
    kill: str | None,
    clock: str | None = None,
    cadence: str = "transactional",
) -> None:
    repository = DyingRepository(url, schema=schema, lease_clock=clock)  # type: ignore[arg-type]
    repository.kill = kill
    scheduler = Scheduler(
        CADENCES[cadence],
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


def _run_workers(
    url: str,
    schema: str | None,
    count: int,
    tmp_path: Path,
    cadence: str = "transactional",
    meanwhile: Callable[[], None] | None = None,
) -> list[Path]:
    context = multiprocessing.get_context("spawn")
    logs = [tmp_path / f"sent-{n}.log" for n in range(count)]
    processes = [
        context.Process(
            target=_worker, args=(url, schema, f"w{n}", str(logs[n]), None, None, cadence)
        )
        for n in range(count)
    ]
    for process in processes:
        process.start()
    if meanwhile is not None:
        meanwhile()
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


@pytest.mark.parametrize("moment", KILL_POINTS)
@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_worker_killed_mid_tick_is_finished_by_another(
    request: pytest.FixtureRequest, tmp_path: Path, database: str, moment: str
) -> None:
    if database == "postgres":
        url = _postgres_url(request.getfixturevalue("postgres_engine"))
        schema: str | None = request.getfixturevalue("postgres_schema")
    else:
        url, schema = request.getfixturevalue("sqlite_url"), None
    # The survivor's clock is driven by hand (past the lease): leases on the caller's clock.
    repository = SQLRepository(url, schema=schema, lease_clock="caller")
    [key] = _load(repository, contacts=1, orders=1)
    log = tmp_path / "sent.log"

    context = multiprocessing.get_context("spawn")
    doomed = context.Process(
        target=_worker, args=(url, schema, "doomed", str(log), moment, "caller")
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
    # Sent before dying: sent again by the survivor, with the same idempotency key.
    expected = [idempotency_key(key)] * (2 if moment in ("after_send", "before_record") else 1)
    assert log.read_text().split() == expected
    repository.close()


@pytest.mark.parametrize(("database", "workers"), [("sqlite", 2), ("postgres", 4)])
def test_workers_racing_while_orders_and_consent_changes_arrive(
    request: pytest.FixtureRequest, tmp_path: Path, database: str, workers: int
) -> None:
    """Orders and consent revocations land while the workers tick: every occurrence is sent
    at most once (exactly once once drained), and nobody who revoked consent before an order
    gets its marketing message."""
    if database == "postgres":
        url = _postgres_url(request.getfixturevalue("postgres_engine"))
        schema: str | None = request.getfixturevalue("postgres_schema")
    else:
        url, schema = request.getfixturevalue("sqlite_url"), None
    repository = SQLRepository(url, schema=schema)
    contacts = 100 * workers
    for c in range(contacts):
        repository.upsert_contact(
            Contact(f"c{c}", consents={"email"}, addresses={"email": f"c{c}@example.com"})
        )
        repository.record_event(Event(f"c{c}", "order_placed", T0, id=f"o{c}"))
    revoked = {f"c{c}" for c in range(0, contacts, 3)}

    def meanwhile() -> None:
        for c in range(contacts):
            contact_id = f"c{c}"
            if contact_id in revoked:
                repository.set_consent(contact_id, "email", False)
            repository.record_event(Event(contact_id, "order_placed", T0, id=f"n{c}"))

    logs = _run_workers(url, schema, workers, tmp_path, "marketing", meanwhile)
    drain = Scheduler(
        MARKETING, repository=repository, senders={"email": FileSender(str(tmp_path / "d.log"))}
    )
    while drain.tick(T0).evaluated:  # what arrived after the workers stopped
        pass
    counts = _sent([*logs, tmp_path / "d.log"])
    assert set(counts.values()) == {1}, "an occurrence was sent twice"

    def key(step: str, c: int, order: str) -> str:
        return idempotency_key(f"shop:{step}:c{c}:event={order}{c}")

    new_orders = {key("confirm", c, "n") for c in range(contacts)}
    assert new_orders & set(_sent(logs)), "the workers never met an order arriving meanwhile"
    confirms = {key("confirm", c, order) for c in range(contacts) for order in ("o", "n")}
    assert confirms <= set(counts), "a transactional confirmation was lost"
    late_thanks = {key("thanks", int(cid[1:]), "n") for cid in revoked}
    assert not late_thanks & set(counts), "marketing sent after consent was revoked"
    granted_thanks = {
        key("thanks", c, order)
        for c in range(contacts)
        if f"c{c}" not in revoked
        for order in ("o", "n")
    }
    assert granted_thanks <= set(counts), "a marketing message to a consenting contact was lost"
    repository.close()
