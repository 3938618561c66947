"""The reference repositories pass the `Repository` contract suite.

The SQL fixtures (``sqlite_repository``, ``postgres_repository``) live in this package's
conftest.py; the PostgreSQL cases are skipped when no server is reachable.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from regua import InMemoryRepository
from regua.ports import BaseRepository, Repository
from regua.repositories.sql import SQLRepository
from regua.testing.contracts import RepositoryContract


class TestInMemoryRepository(RepositoryContract):
    @pytest.fixture
    def repository(self) -> Repository:
        return InMemoryRepository()


class TestCompactInMemoryRepository(RepositoryContract):
    """Histories packed: the same contract."""

    @pytest.fixture
    def repository(self) -> Repository:
        return InMemoryRepository(compact=True)


class DerivedRepository(InMemoryRepository):
    """The in-memory repository with what `BaseRepository` derives instead of its own."""

    get_contact = BaseRepository.get_contact
    get_versioned_contacts = BaseRepository.get_versioned_contacts
    history = BaseRepository.history


class TestBaseRepositoryDefaults(RepositoryContract):
    """What `BaseRepository` derives from the other methods keeps the contract."""

    @pytest.fixture
    def repository(self) -> Repository:
        return DerivedRepository()


class SQLContract(RepositoryContract):
    def store_unreadable(self, repository: Repository, contact_id: str) -> None:
        """A timezone this machine's tzdata lacks, as a newer one could have written."""
        assert isinstance(repository, SQLRepository)
        contacts = sa.table(
            "regua_contacts", sa.column("id"), sa.column("timezone"), schema=repository.schema
        )
        with repository.engine.begin() as conn:
            conn.execute(
                sa.update(contacts)
                .where(contacts.c.id == contact_id)
                .values(timezone="Mars/Olympus_Mons")
            )


# A SQLite file per test, seventy times: the in-memory run keeps the contract in the core suite.
@pytest.mark.slow
class TestSQLiteRepository(SQLContract):
    @pytest.fixture
    def repository(self, sqlite_repository: Repository) -> Repository:
        return sqlite_repository


class TestPostgresRepository(SQLContract):
    @pytest.fixture
    def repository(self, postgres_repository: Repository) -> Repository:
        return postgres_repository


class TestPostgresRepositoryOnItsOwnClock(SQLContract):
    """PostgreSQL as it is opened by default: leases expire by the server's clock."""

    @pytest.fixture
    def repository(self, postgres_engine: sa.Engine, postgres_schema: str) -> Repository:
        return SQLRepository(postgres_engine, schema=postgres_schema)
