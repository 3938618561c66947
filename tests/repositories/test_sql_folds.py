"""SQL repositories keep folded histories: a year of ticks sends what whole histories send."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from regua import Cadence, Channel, Contact, Event, Step, fold, on_inactivity, plan
from regua.ports import Repository
from regua.repositories.sql import SQLRepository
from tests.scheduler.test_folds import check_folding_against_whole


@pytest.mark.slow
def test_folding_on_sql_sends_what_the_whole_history_sends(sql_repository: SQLRepository) -> None:
    def stored_folds(repository: Repository) -> int:
        assert repository is sql_repository
        with sql_repository.engine.connect() as conn:
            table = sql_repository._tables.folds
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

    check_folding_against_whole(sql_repository, stored_folds)


def _folded_customer(repository: SQLRepository) -> tuple[Contact, datetime]:
    """A customer with two years of daily logins, folded at the end and stored."""
    start = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    ana = Contact("ana", addresses={"email": "ana@example.com"}, consents={"email"})
    repository.upsert_contact(ana)
    repository.bulk_load(
        [], [Event("ana", "login", start + timedelta(days=d), id=f"l{d}") for d in range(730)]
    )
    end = start + timedelta(days=731)
    [whole] = repository.load_snapshots(["ana"]).values()
    repository.store_folds([fold([WELCOME], whole, end)])
    return ana, end


WELCOME = Cadence(
    "news",
    channels=[Channel("email")],
    steps=[Step("nudge", trigger=on_inactivity("30d", activity=["login"]), channels=["email"])],
)


def test_acquire_due_reads_a_fold_and_what_came_after_it(sql_repository: SQLRepository) -> None:
    _, end = _folded_customer(sql_repository)
    assert sql_repository.record_event(Event("ana", "login", end, id="back"))
    [snapshot] = sql_repository.acquire_due("w1", end, 10, timedelta(minutes=5))
    assert snapshot.fold is not None
    # Two years of logins fold away: the inactivity step reads only the latest ones (from
    # the fold's cutoff, two days before it was folded).
    assert [e.id for e in snapshot.events] == ["l729", "back"]
    assert snapshot.fold.counts == {"login": 729}
    [whole] = sql_repository.load_snapshots(["ana"]).values()
    assert len(whole.events) == 731
    assert plan(WELCOME, snapshot, end) == plan(WELCOME, whole, end)


def test_a_stored_fold_that_cannot_be_read_is_ignored(sql_repository: SQLRepository) -> None:
    _, end = _folded_customer(sql_repository)
    with sql_repository.engine.begin() as conn:
        conn.execute(
            sa.update(sql_repository._tables.folds).values(body='{"format": 1, "events": 7}')
        )
    [snapshot] = sql_repository.acquire_due("w1", end, 10, timedelta(minutes=5))
    assert snapshot.fold is None
    assert len(snapshot.events) == 730
