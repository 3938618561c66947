"""The scheduler folds long histories, and sends exactly what it sends without folding.

Two schedulers run the same year side by side, on two in-memory repositories fed the same
events: one folds (`fold_after`), one never does. Every message, outcome and wake-up must be
the same; the folding one must read folded histories once they grow. Then the cadence
changes under the folds: the changed cadence is planned on whole histories, and agrees too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from regua import (
    Cadence,
    Contact,
    Event,
    InMemoryRepository,
    OutboxSender,
    Scheduler,
)
from regua.loading import load_cadences
from regua.ports import Repository
from regua.repositories.memory import InMemoryRepository as _Memory

UTC = timezone.utc
START = datetime(2025, 1, 6, 12, tzinfo=UTC)
CHANNELS = ("email", "sms", "whatsapp", "phone")


def _shop() -> Cadence:
    [shop] = load_cadences("examples/ecommerce_lifecycle.py:cadence")
    return shop


def _customers() -> list[Contact]:
    return [
        Contact(
            f"c{n}",
            attributes={
                "tier": ("gold", "silver", "bronze")[n % 3],
                "birth_date": f"19{70 + n}-0{1 + n % 9}-1{n % 9}",
            },
            timezone=("America/Sao_Paulo", "Europe/Lisbon", "Asia/Kolkata")[n % 3],
            consents=set(CHANNELS),
            addresses={"email": f"c{n}@example.com", "sms": "+5511999990000", "phone": "+1"},
            created_at=START,
        )
        for n in range(6)
    ]


def _events_of_day(day: int, customers: list[Contact]) -> list[Event]:
    events: list[Event] = []
    for n, customer in enumerate(customers):
        at = START + timedelta(days=day, hours=n)
        if day == 0:
            events.append(Event(customer.id, "signed_up", at, id=f"{customer.id}-signup"))
        if (day + n) % (2 + n) == 0 and day % 97 < 60:  # some customers lapse for a while
            events.append(Event(customer.id, "login", at, id=f"{customer.id}-login-{day}"))
        if (day + 3 * n) % 23 == 0:
            events.append(Event(customer.id, "order_placed", at, id=f"{customer.id}-o{day}"))
            events.append(
                Event(
                    customer.id,
                    "order_shipped",
                    at + timedelta(hours=20),
                    id=f"{customer.id}-s{day}",
                )
            )
        if (day + n) % 31 == 0:
            events.append(Event(customer.id, "cart_abandoned", at, id=f"{customer.id}-c{day}"))
    return events


def outcomes(repository: Repository, customers: list[Contact]) -> list[tuple[str, ...]]:
    snapshots = repository.load_snapshots([c.id for c in customers])
    return sorted(
        (d.occurrence_key, d.status.value, d.at.isoformat(), d.channel or "", d.reason or "")
        for snapshot in snapshots.values()
        for d in snapshot.deliveries
    )


def run(schedulers: list[Scheduler], repositories: list[Repository], days: range) -> None:
    customers = _customers()
    for day in days:
        for event in _events_of_day(day, customers):
            for repository in repositories:
                repository.record_event(event)
        for hour in (0, 9, 15, 21):
            now = START + timedelta(days=day, hours=hour)
            for scheduler in schedulers:
                scheduler.tick(now)


def pair(
    cadence: Cadence, folding: Repository | None = None
) -> tuple[list[Scheduler], list[Repository]]:
    """A scheduler that folds (on `folding`, in memory by default) and one that never does."""
    repositories: list[Repository] = [folding or InMemoryRepository(), InMemoryRepository()]
    for repository in repositories:
        for customer in _customers():
            repository.upsert_contact(customer)
    schedulers = [
        Scheduler(
            cadence,
            repository=repository,
            senders={channel: OutboxSender() for channel in CHANNELS},
            fold_after=fold_after,
            send_timeout=None,
        )
        for repository, fold_after in zip(repositories, (16, None), strict=True)
    ]
    return schedulers, repositories


def _folds(repository: Repository) -> int:
    assert isinstance(repository, _Memory)
    return sum(row.fold is not None for row in repository._rows.values())


def check_folding_against_whole(
    folding: Repository | None, stored_folds: Callable[[Repository], int]
) -> None:
    """A year with folds, then a changed cadence: the same outcomes as without folds."""
    shop = _shop()
    schedulers, repositories = pair(shop, folding)
    run(schedulers, repositories, range(240))
    customers = _customers()
    assert outcomes(repositories[0], customers) == outcomes(repositories[1], customers)
    assert len(outcomes(repositories[1], customers)) > 200
    # Every customer's history grew past the threshold and was folded.
    assert stored_folds(repositories[0]) == len(customers)

    # The cadence changes under the folds: plans of the changed cadence cannot use them,
    # read the whole history instead, and fold again for it.
    changed = shop.model_copy(update={"description": "the shop, revised"})
    schedulers, _ = pair(changed, InMemoryRepository())
    for scheduler, repository in zip(schedulers, repositories, strict=True):
        scheduler.repository = repository
    run(schedulers, repositories, range(240, 300))
    assert outcomes(repositories[0], customers) == outcomes(repositories[1], customers)
    assert stored_folds(repositories[0]) == len(customers)


@pytest.mark.slow
def test_folding_sends_what_the_whole_history_sends() -> None:
    check_folding_against_whole(None, _folds)


@pytest.mark.slow
def test_a_compact_repository_folding_sends_what_the_whole_history_sends() -> None:
    """Histories packed in chunks, folds packed, read from a fold's position: the same year."""
    check_folding_against_whole(InMemoryRepository(compact=True), _folds)
