"""Fixtures for the SQL repository: SQLite files and PostgreSQL schemas, one fresh per test.

`sql_repository` runs a test on both databases; the contract suite reuses it. PostgreSQL is
expected at ``REGUA_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/
test``); when it is not reachable the PostgreSQL cases are skipped, or fail under
``REGUA_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from regua.repositories.sql import SQLRepository
from tests.conftest import skip_or_fail

if TYPE_CHECKING:
    import sqlalchemy as sa

POSTGRES_URL = os.environ.get(
    "REGUA_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file URL in the test's temporary directory (the file does not exist yet)."""
    return f"sqlite:///{tmp_path / 'regua.db'}"


@pytest.fixture
def sqlite_repository(sqlite_url: str) -> Iterator[SQLRepository]:
    """A fresh SQLRepository on a new SQLite file."""
    repository = SQLRepository(sqlite_url)
    yield repository
    repository.close()


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[sa.Engine]:
    """One engine for the session; skips (or fails) when PostgreSQL is not reachable."""
    try:
        import psycopg  # noqa: F401
        import sqlalchemy as sa
    except ImportError as exc:
        skip_or_fail(f"PostgreSQL tests need the 'postgres' extra ({exc})")
        raise  # pragma: no cover - skip_or_fail raises
    engine = sa.create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError:
        engine.dispose()
        skip_or_fail("PostgreSQL is not reachable on 127.0.0.1:5432")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_schema(postgres_engine: sa.Engine) -> Iterator[str]:
    """The name of a schema private to this test (created by the repository), dropped after."""
    import sqlalchemy as sa

    name = f"regua_test_{uuid.uuid4().hex[:12]}"
    yield name
    with postgres_engine.begin() as conn:
        conn.execute(sa.schema.DropSchema(name, cascade=True, if_exists=True))


@pytest.fixture
def postgres_repository(postgres_engine: sa.Engine, postgres_schema: str) -> SQLRepository:
    """A fresh SQLRepository in a new PostgreSQL schema.

    Its leases run on the caller's clock: the suites using it drive time by hand (frozen and
    virtual instants). The database's clock, the default on PostgreSQL, has its own tests.
    """
    return SQLRepository(postgres_engine, schema=postgres_schema, lease_clock="caller")


@pytest.fixture(params=["sqlite", "postgres"])
def sql_repository(request: pytest.FixtureRequest) -> SQLRepository:
    """A fresh SQLRepository, on SQLite and on PostgreSQL."""
    repository: SQLRepository = request.getfixturevalue(f"{request.param}_repository")
    return repository
