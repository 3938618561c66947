"""The fixtures of the Django project's tests: a clean regua per test, closed at the end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from regua import SQLRepository
from regua.integrations.django import get_repository, reset

TABLES = ("events", "deliveries", "claims", "errors", "folds", "contacts")


@pytest.fixture(scope="session", autouse=True)
def _regua_closed_before_the_test_database_goes(django_db_setup: Any) -> Iterator[None]:
    yield
    reset()  # no connection of regua's may outlive the test database


@pytest.fixture(autouse=True)
def _regua_rebuilt_for_each_test() -> Iterator[None]:
    yield
    reset()


@pytest.fixture
def repository(transactional_db: Any) -> Iterator[SQLRepository]:
    """regua's repository, emptied after the test.

    Every test touching regua commits for real (`transactional_db`): regua writes through
    connections of its own, which see only what Django committed.
    """
    repository = get_repository()
    yield repository
    schema = f'"{repository.schema}".' if repository.schema else ""
    with repository.engine.begin() as conn:
        for table in TABLES:
            conn.execute(sa.text(f"DELETE FROM {schema}regua_{table}"))
    repository.close()  # a test may have replaced it: close this one whatever happened
    reset()
