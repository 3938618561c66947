"""Sharded workers: N shards split the base exactly, and changing N never sends twice.

Workers are threads, each with its own repository connection, so that they race for real on
SQLite and PostgreSQL; the in-memory repository covers the property tests.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regua import (
    Cadence,
    Channel,
    Contact,
    Event,
    InMemoryRepository,
    OutboxSender,
    Scheduler,
    Step,
    on_event,
)
from regua.ports import Repository
from regua.repositories.sql import SQLRepository
from regua.sharding import BUCKETS, Shard, bucket_of
from tests.profiles import examples

T0 = datetime(2026, 5, 4, 15, tzinfo=timezone.utc)

SHOP = Cadence(
    "shop",
    channels=[Channel("email")],
    steps=[
        Step("confirm", trigger=on_event("order_placed"), channels=["email"], transactional=True),
        Step(
            "review",
            trigger=on_event("order_placed"),
            delay="1h",
            channels=["email"],
            transactional=True,
        ),
    ],
)


def load(repository: Repository, contacts: int, start: int = 0, at: datetime = T0) -> None:
    for number in range(start, start + contacts):
        contact_id = f"c{number}"
        repository.upsert_contact(Contact(contact_id, addresses={"email": f"{contact_id}@x.org"}))
        repository.record_event(Event(contact_id, "order_placed", at, id=f"A-{number}"))


def worker(repository: Repository, outbox: OutboxSender, shard: Shard, name: str) -> Scheduler:
    return Scheduler(
        SHOP,
        repository=repository,
        senders={"email": outbox},
        worker=name,
        batch_size=7,
        shard=shard,
    )


def in_threads(jobs: list[Callable[[], object]]) -> None:
    barrier = threading.Barrier(len(jobs), timeout=120)  # a bound for a hung thread only
    failures: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        try:
            barrier.wait()
            job()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    if failures:
        raise failures[0]
    assert not any(thread.is_alive() for thread in threads), "a job did not finish in 240 s"


@pytest.fixture(params=["sqlite", "postgres"])
def open_repository(request: pytest.FixtureRequest) -> Iterator[Callable[[], SQLRepository]]:
    """Opens connections of their own to one fresh database, as separate workers would."""
    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_url")

        def opener() -> SQLRepository:
            return SQLRepository(url)
    else:
        engine = request.getfixturevalue("postgres_engine")
        schema = request.getfixturevalue("postgres_schema")

        def opener() -> SQLRepository:
            return SQLRepository(engine, schema=schema)

    opened: list[SQLRepository] = []

    def tracked() -> SQLRepository:
        repository = opener()
        opened.append(repository)
        return repository

    yield tracked
    for repository in opened:
        repository.close()


@pytest.mark.slow
def test_shards_of_one_count_split_the_base_exactly(
    open_repository: Callable[[], SQLRepository],
) -> None:
    load(open_repository(), 120)
    outbox = OutboxSender()
    workers = [worker(open_repository(), outbox, s, f"w{s.index}") for s in Shard.all(4)]
    reports = {}

    def tick(scheduler: Scheduler) -> None:
        reports[scheduler.worker] = scheduler.tick(T0)

    in_threads([lambda w=w: tick(w) for w in workers])

    assert len(outbox.outbox) == 120
    assert set(outbox.keys().values()) == {1}
    for scheduler in workers:
        assert scheduler.shard is not None
        sent_to = {d.contact_id for d in reports[scheduler.worker].sent}
        assert sent_to == {f"c{n}" for n in range(120) if scheduler.shard.holds(f"c{n}")}


@pytest.mark.slow
def test_changing_the_shard_count_while_old_and_new_workers_overlap_sends_once(
    open_repository: Callable[[], SQLRepository],
) -> None:
    application = open_repository()
    load(application, 60)
    outbox = OutboxSender()
    old = [worker(open_repository(), outbox, s, f"old{s.index}") for s in Shard.all(2)]
    in_threads([lambda w=w: w.tick(T0) for w in old])
    assert len(outbox.outbox) == 60

    # The deployment moves from 2 shards to 3: for a while both generations run, their
    # shards overlap, and only leases and claims keep them apart.
    load(application, 60, start=60, at=T0 + timedelta(minutes=10))
    new = [worker(open_repository(), outbox, s, f"new{s.index}") for s in Shard.all(3)]
    for minutes in (10, 30, 70, 90):
        now = T0 + timedelta(minutes=minutes)
        in_threads([lambda w=w, now=now: w.tick(now) for w in (*old, *new)])

    counts = Counter(outbox.keys())
    assert len(counts) == 240  # 120 confirmations, 120 reviews an hour later
    assert [key for key, n in counts.items() if n != 1] == []
    assert application.due_contact_ids(T0 + timedelta(hours=2), 10) == []


def test_tick_shard_argument_overrides_the_schedulers_shard() -> None:
    repository = InMemoryRepository()
    load(repository, 30)
    outbox = OutboxSender()
    scheduler = worker(repository, outbox, Shard(0, 3), "w")
    report = scheduler.tick(T0, shard=Shard(2, 3))
    assert {d.contact_id for d in report.sent} == {
        f"c{n}" for n in range(30) if Shard(2, 3).holds(f"c{n}")
    }
    assert scheduler.shard == Shard(0, 3)
    scheduler.batch_size = 100
    ids = {a.contact_id for a in scheduler.preview(T0)}
    assert ids == {f"c{n}" for n in range(30) if Shard(0, 3).holds(f"c{n}")}


@settings(max_examples=examples(40), deadline=None)
@given(
    old_count=st.integers(1, 5),
    new_count=st.integers(1, 7),
    order=st.randoms(use_true_random=False),
    contacts=st.integers(1, 25),
)
def test_any_interleaving_of_two_shard_counts_sends_each_occurrence_once(
    old_count: int, new_count: int, order: object, contacts: int
) -> None:
    import random

    assert isinstance(order, random.Random)
    repository = InMemoryRepository()
    load(repository, contacts)
    outbox = OutboxSender()
    workers = [
        worker(repository, outbox, shard, f"{count}:{shard.index}")
        for count in (old_count, new_count)
        for shard in Shard.all(count)
    ]
    for minutes in (0, 61):
        now = T0 + timedelta(minutes=minutes)
        turns = [w for w in workers for _ in range(2)]
        order.shuffle(turns)
        for scheduler in turns:
            scheduler.tick(now)
    counts = Counter(outbox.keys())
    assert len(counts) == 2 * contacts
    assert set(counts.values()) == {1}


@given(bucket=st.integers(0, BUCKETS - 1), count=st.integers(1, 10_000))
def test_every_bucket_is_in_exactly_one_shard_of_a_count(bucket: int, count: int) -> None:
    holding = bucket * count // BUCKETS
    shard = Shard(holding, count)
    assert shard.lo <= bucket < shard.hi
    assert bucket in shard
    if holding > 0:
        assert bucket not in Shard(holding - 1, count)
    if holding < count - 1:
        assert bucket not in Shard(holding + 1, count)


def test_shard_ranges_tile_the_buckets() -> None:
    for count in (1, 2, 3, 7, 1000):
        shards = Shard.all(count)
        assert shards[0].lo == 0
        assert shards[-1].hi == BUCKETS
        assert all(a.hi == b.lo for a, b in itertools.pairwise(shards))


def test_buckets_are_stable_and_spread() -> None:
    # Pinned values: a bucket must never change between versions, or stored buckets and
    # newly computed ones would disagree.
    assert bucket_of("ana") == 0x2D111EA1
    assert bucket_of("customer-42") == 0x3F44C6D3
    assert bucket_of("ção") == 0x45853B76
    sizes = Counter(Shard.of(f"customer-{n}", 4).index for n in range(10_000))
    assert sorted(sizes) == [0, 1, 2, 3]
    assert all(2_300 <= size <= 2_700 for size in sizes.values())


@pytest.mark.parametrize(
    ("index", "count", "message"),
    [
        (0, 0, "count must be a positive integer, got 0"),
        (3, 3, r"index must be an integer in \[0, 3\), got 3"),
        (-1, 2, r"index must be an integer in \[0, 2\), got -1"),
        (True, 2, r"index must be an integer in \[0, 2\), got True"),
        (0, 2**32 + 1, "count must be at most 4294967296"),
    ],
)
def test_invalid_shards_are_refused_naming_the_problem(
    index: int, count: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Shard(index, count)


def test_shard_parse() -> None:
    assert Shard.parse(" 1/4 ") == Shard(1, 4)
    assert str(Shard(1, 4)) == "1/4"
    with pytest.raises(ValueError, match=r"INDEX/COUNT, like '0/4'; got '4'"):
        Shard.parse("4")
    with pytest.raises(ValueError, match=r"got '4/4': Shard index must be"):
        Shard.parse("4/4")
