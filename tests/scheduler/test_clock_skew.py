"""Clocks drift: between the application and the workers, and between workers.

An event the application stamps after a worker's `now` is sent at its instant; a promotion
sent by a worker whose clock is ahead counts for the cap of a worker whose clock is behind.
On the in-memory repository and on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import pytest

from regua import (
    Cadence,
    Channel,
    Contact,
    Event,
    FrequencyCap,
    InMemoryRepository,
    OutboxSender,
    Policy,
    Repository,
    Scheduler,
    Step,
    on_event,
)
from regua.repositories.sql import SQLRepository

T0 = datetime(2026, 5, 4, 15, tzinfo=timezone.utc)

CADENCE = Cadence(
    "shop",
    channels=[Channel("email")],
    policy=Policy(caps=[FrequencyCap(max=1, per="7d")]),
    steps=[
        Step("confirm", trigger=on_event("order_placed"), channels=["email"], transactional=True),
        Step("promo", trigger=on_event("promo_eligible"), channels=["email"]),
    ],
)


@pytest.fixture(params=["memory", "sqlite"])
def repository(request: pytest.FixtureRequest) -> Iterator[Repository]:
    if request.param == "memory":
        yield InMemoryRepository()
        return
    sql = SQLRepository(request.getfixturevalue("sqlite_url"))
    yield sql
    sql.close()


def workers(repository: Repository, outbox: OutboxSender, *names: str) -> list[Scheduler]:
    return [
        Scheduler(CADENCE, repository=repository, senders={"email": outbox}, worker=name)
        for name in names
    ]


def add_ana(repository: Repository) -> None:
    repository.upsert_contact(
        Contact("ana", consents={"email"}, addresses={"email": "ana@example.com"})
    )


def sent(outbox: OutboxSender, step: str) -> list[str]:
    return [m.occurrence_key for m in outbox.outbox if m.step == step]


def test_an_event_stamped_after_the_tick_is_sent_at_its_instant(repository: Repository) -> None:
    outbox = OutboxSender()
    [scheduler] = workers(repository, outbox, "w1")
    add_ana(repository)
    at = T0 + timedelta(milliseconds=500)
    repository.record_event(Event("ana", "order_placed", at, id="o1"))

    scheduler.tick(T0)
    assert outbox.outbox == []
    assert repository.next_wakeup() == at

    scheduler.tick(at)
    assert sent(outbox, "confirm") == ["shop:confirm:ana:event=o1"]
    assert repository.next_wakeup() is None


def test_an_event_stamped_after_the_tick_beside_one_sent_now_is_sent_at_its_instant(
    repository: Repository,
) -> None:
    # The tick sends o1 and must still come back for o2, stamped a second ahead.
    outbox = OutboxSender()
    [scheduler] = workers(repository, outbox, "w1")
    add_ana(repository)
    ahead = T0 + timedelta(seconds=1)
    repository.record_event(Event("ana", "order_placed", T0, id="o1"))
    repository.record_event(Event("ana", "order_placed", ahead, id="o2"))

    scheduler.tick(T0)
    assert sent(outbox, "confirm") == ["shop:confirm:ana:event=o1"]
    assert repository.next_wakeup() == ahead

    scheduler.tick(ahead)
    assert sent(outbox, "confirm") == ["shop:confirm:ana:event=o1", "shop:confirm:ana:event=o2"]


@pytest.mark.parametrize(
    "skew",
    [timedelta(minutes=-10), timedelta(hours=-1)],
    ids=["ten minutes behind", "an hour behind"],
)
def test_two_workers_whose_clocks_differ_send_one_promotion_under_a_cap_of_one(
    repository: Repository, skew: timedelta
) -> None:
    # The first worker's clock reads T0, the second's T0 + skew (ten minutes behind, or
    # stepped back an hour): to the second, the first's promotion is stamped in its future.
    # Each worker is handed a promotion; the cap allows one a week.
    outbox = OutboxSender()
    first, second = workers(repository, outbox, "w1", "w2")
    clocks: list[tuple[Scheduler, Callable[[timedelta], datetime]]] = [
        (first, lambda elapsed: T0 + elapsed),
        (second, lambda elapsed: T0 + skew + elapsed),
    ]
    add_ana(repository)
    repository.record_event(Event("ana", "promo_eligible", T0 + skew - timedelta(hours=2), id="p1"))
    first.tick(T0)
    assert sent(outbox, "promo") == ["shop:promo:ana:event=p1"]
    repository.record_event(Event("ana", "promo_eligible", T0 + skew - timedelta(hours=1), id="p2"))
    second.tick(T0 + skew)
    # Both keep ticking through the day, each on its own clock: still one promotion.
    for hours in range(1, 25):
        for scheduler, clock in clocks:
            scheduler.tick(clock(timedelta(hours=hours)))
    assert sent(outbox, "promo") == ["shop:promo:ana:event=p1"]

    # The slot frees up a week after the promotion sent, by the instant it was recorded at.
    slot = T0 + timedelta(days=7)
    assert repository.next_wakeup() == slot
    second.tick(slot)
    assert sent(outbox, "promo") == ["shop:promo:ana:event=p1", "shop:promo:ana:event=p2"]
