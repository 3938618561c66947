"""`SQLRepository.within`: an order and its event commit together, or not at all."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from regua import Cadence, Channel, Contact, Event, OutboxSender, Scheduler, Step, on_event
from regua.errors import ReguaError
from regua.repositories.sql import SQLRepository

sa = pytest.importorskip("sqlalchemy")
from sqlalchemy.orm import Session  # noqa: E402

T0 = datetime(2026, 5, 4, 15, tzinfo=timezone.utc)
SHOP = Cadence(
    "shop",
    channels=[Channel("email")],
    steps=[
        Step("confirm", trigger=on_event("order_placed"), channels=["email"], transactional=True)
    ],
)


class Oops(Exception):
    """The application fails after writing its order and the event."""


@pytest.fixture
def shop(sql_repository: SQLRepository) -> tuple[SQLRepository, Any]:
    """The repository, and the application's own `orders` table next to regua's."""
    app = sa.MetaData(schema=sql_repository.schema)
    orders = sa.Table(
        "orders",
        app,
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("customer_id", sa.String, nullable=False),
    )
    app.create_all(sql_repository.engine)
    sql_repository.upsert_contact(
        Contact("ana", consents={"email"}, addresses={"email": "ana@example.com"})
    )
    return sql_repository, orders


def _orders(repository: SQLRepository, orders: Any) -> list[str]:
    with repository.engine.connect() as conn:
        return list(conn.execute(sa.select(orders.c.id)).scalars())


def _events(repository: SQLRepository) -> list[str]:
    return [e.key for e in repository.load_snapshots(["ana"])["ana"].events]


def _place_order_then_fail(repository: SQLRepository, orders: Any) -> None:
    with repository.engine.begin() as conn:
        conn.execute(orders.insert().values(id="1042", customer_id="ana"))
        stored = repository.within(conn).record_event(Event("ana", "order_placed", T0, id="1042"))
        assert stored
        assert [e.key for e in repository.within(conn).history("ana")] == ["1042"]
        raise Oops


def test_a_rolled_back_order_leaves_no_event(shop: tuple[SQLRepository, Any]) -> None:
    repository, orders = shop
    with pytest.raises(Oops):
        _place_order_then_fail(repository, orders)
    assert _orders(repository, orders) == []
    assert _events(repository) == []


def test_the_event_is_unseen_until_the_order_commits_then_sent(
    shop: tuple[SQLRepository, Any],
) -> None:
    repository, orders = shop
    scheduler = Scheduler(SHOP, repository=repository, senders={"email": OutboxSender()})
    scheduler.tick(T0)  # ana, evaluated: nothing to send
    with repository.engine.begin() as conn:
        conn.execute(orders.insert().values(id="1042", customer_id="ana"))
        repository.within(conn).record_event(Event("ana", "order_placed", T0, id="1042"))
        assert _events(repository) == []  # no worker sees it yet
        if repository.engine.dialect.name == "postgresql":  # SQLite has one writer at a time
            assert scheduler.tick(T0).sent == ()
    assert _orders(repository, orders) == ["1042"]
    assert _events(repository) == ["1042"]
    [sent] = scheduler.tick(T0).sent
    assert sent.step == "confirm"


def test_an_orm_session_commits_the_order_and_the_event_together(
    shop: tuple[SQLRepository, Any],
) -> None:
    repository, orders = shop
    with Session(repository.engine) as session, session.begin():
        session.execute(orders.insert().values(id="1043", customer_id="ana"))
        host = repository.within(session)
        host.set_consent("ana", "sms", True)
        host.record_event(Event("ana", "order_placed", T0, id="1043"))
    assert _orders(repository, orders) == ["1043"]
    assert _events(repository) == ["1043"]
    contact = repository.get_contact("ana")
    assert contact is not None
    assert "sms" in contact.consents


def test_within_refuses_what_is_not_a_connection(sql_repository: SQLRepository) -> None:
    with pytest.raises(ReguaError, match="takes a SQLAlchemy Connection or Session, not str"):
        sql_repository.within("postgresql://...")


def test_within_refuses_a_connection_to_another_kind_of_database(
    postgres_repository: SQLRepository, tmp_path: Path
) -> None:
    other = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    with other.connect() as conn, pytest.raises(ReguaError, match="to sqlite, the repository's"):
        postgres_repository.within(conn)
    other.dispose()
