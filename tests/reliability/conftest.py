"""The SQL fixtures of the repository tests (SQLite files, PostgreSQL schemas), reused here."""

from tests.repositories.conftest import (  # noqa: F401 - fixtures
    postgres_engine,
    postgres_repository,
    postgres_schema,
    sqlite_repository,
    sqlite_url,
)
