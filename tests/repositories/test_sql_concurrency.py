"""Worker processes racing on one database never share a lease, and leave nothing behind.

Four processes (spawned, so each has its own interpreter and connections, as separate
workers would) share one SQLite file or one PostgreSQL schema. They first race to lease
contacts with `acquire_due` (each handing its contacts back with `set_wakeups`, as the
scheduler does), then in three rounds to claim 2,000 occurrences in shuffled
batches with `claim`. Within a round every claim is made at the same `now` with a lease that
outlives the round, so any occurrence granted twice in a round was granted while the other
worker's claim was live. Between rounds the clock moves past the leases; in the second round
each worker records an outcome for the even occurrences it wins, which closes them for good.
"""

from __future__ import annotations

import multiprocessing
import random
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from regua import Contact, Delivery, DeliveryStatus, DueAction
from regua.ports import Wakeup
from regua.records import idempotency_key
from regua.repositories.sql import SQLRepository

WORKERS = 4
CONTACTS = 100
OCCURRENCES = 2_000
BATCH = 250
T0 = datetime(2024, 5, 6, 12, 0, tzinfo=timezone.utc)
LEASE = timedelta(minutes=5)
ROUNDS = (T0, T0 + 2 * LEASE, T0 + 4 * LEASE)
RECORDING_ROUND = 1


def occurrence(number: int) -> DueAction:
    contact_id = f"c{number % CONTACTS}"
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


def closed_in_recording_round(key: str) -> bool:
    return int(key.rsplit(":", 1)[1]) % 2 == 0


_barrier: Any = None
"""The barrier the pool's processes meet at (set in each process by `_adopt`)."""


def _adopt(barrier: Any) -> None:  # pragma: no cover - runs in a child process
    global _barrier
    _barrier = barrier


Outcome = tuple[list[str], list[list[str]]]
"""What a worker was granted: contacts leased, then occurrence keys claimed in each round."""


def worker(index: int, url: str, schema: str | None) -> Outcome:  # pragma: no cover - child
    try:
        clock = "caller" if schema else None  # time is driven by hand: ROUNDS
        repository = SQLRepository(url, schema=schema, create=False, lease_clock=clock)
        name = f"w{index}"
        rng = random.Random(index)
        actions = [occurrence(n) for n in range(OCCURRENCES)]
        leased: list[str] = []
        rounds: list[list[str]] = [[] for _ in ROUNDS]
        _barrier.wait()
        for _ in range(CONTACTS):  # bounded: a bug must fail the test, not hang it
            batch = repository.acquire_due(name, T0, 7, LEASE)
            if not batch:
                break
            leased += [snapshot.contact.id for snapshot in batch]
            # Done with them, as a scheduler would be: not due again, lease ended.
            repository.set_wakeups([Wakeup(s.contact.id, None, s.version) for s in batch])
        for number, now in enumerate(ROUNDS):
            _barrier.wait()
            order = actions[:]
            rng.shuffle(order)
            for start in range(0, len(order), BATCH):
                granted = repository.claim(order[start : start + BATCH], name, now, LEASE)
                rounds[number] += granted
                if number == RECORDING_ROUND:
                    repository.record(
                        [
                            Delivery(
                                "shop",
                                "reminder",
                                claim.contact_id,
                                key,
                                DeliveryStatus.SENT,
                                now,
                                "email",
                            )
                            for key, claim in granted.items()
                            if closed_in_recording_round(key)
                        ]
                    )
        repository.close()
        return leased, rounds
    except BaseException:
        _barrier.abort()  # the others stop waiting for this one
        raise


@pytest.fixture(scope="module")
def pool() -> Iterator[Any]:
    """`WORKERS` spawned processes, started once for the module (spawning is the slow part).

    Each race hands them one task each: a task blocks at the barrier until all four have
    started, so no process can take two.
    """
    context = multiprocessing.get_context("spawn")
    # Bounds for a hung worker only (pytest's own timeout is 300 s): generous under load.
    barrier = context.Barrier(WORKERS, timeout=240)
    with context.Pool(WORKERS, initializer=_adopt, initargs=(barrier,)) as processes:
        yield processes


def race(pool: Any, url: str, schema: str | None) -> list[Outcome]:
    tasks = [(index, url, schema) for index in range(WORKERS)]
    outcomes: list[Outcome] = pool.starmap_async(worker, tasks, chunksize=1).get(timeout=280)
    return outcomes


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_worker_processes_never_share_a_live_lease(
    database: str, request: pytest.FixtureRequest, pool: Any
) -> None:
    repository: SQLRepository = request.getfixturevalue(f"{database}_repository")
    for number in range(CONTACTS):
        repository.upsert_contact(Contact(f"c{number}", addresses={"email": "x@example.com"}))
    url = repository.engine.url.render_as_string(hide_password=False)

    collected = race(pool, url, repository.schema)

    leased = Counter(contact_id for contacts, _ in collected for contact_id in contacts)
    assert set(leased) == {f"c{n}" for n in range(CONTACTS)}
    assert max(leased.values()) == 1, [c for c, n in leased.items() if n > 1]

    every_key = {occurrence(n).occurrence_key for n in range(OCCURRENCES)}
    for number in range(len(ROUNDS)):
        granted = Counter(key for _, rounds in collected for key in rounds[number])
        twice = [key for key, count in granted.items() if count > 1]
        assert twice == [], f"round {number}: granted to two workers at once: {twice[:5]}"
        expected = every_key
        if number > RECORDING_ROUND:
            expected = {key for key in every_key if not closed_in_recording_round(key)}
        assert set(granted) == expected, f"round {number}: left unclaimed or wrongly granted"
    # c0's occurrences (0, 100, 200...) are all even, so all closed; c1's all odd, all open.
    assert len(repository.history("c0")) == OCCURRENCES // CONTACTS
    assert repository.history("c1") == []
