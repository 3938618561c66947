"""The SQL fixtures of the repository tests, for the multi-worker scheduler tests."""

from tests.repositories.conftest import (  # noqa: F401 - fixtures
    postgres_engine,
    postgres_repository,
    postgres_schema,
    sql_repository,
    sqlite_repository,
    sqlite_url,
)
