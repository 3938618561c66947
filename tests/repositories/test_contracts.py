"""The reference repositories pass the `Repository` contract suite.

The SQL fixtures (``sqlite_repository``, ``postgres_repository``) live in this package's
conftest.py; the PostgreSQL cases are skipped when no server is reachable.
"""

from __future__ import annotations

import pytest

from regua import InMemoryRepository
from regua.ports import Repository
from regua.testing.contracts import RepositoryContract


class TestInMemoryRepository(RepositoryContract):
    @pytest.fixture
    def repository(self) -> Repository:
        return InMemoryRepository()


class TestSQLiteRepository(RepositoryContract):
    @pytest.fixture
    def repository(self, sqlite_repository: Repository) -> Repository:
        return sqlite_repository


class TestPostgresRepository(RepositoryContract):
    @pytest.fixture
    def repository(self, postgres_repository: Repository) -> Repository:
        return postgres_repository
