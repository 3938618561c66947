"""The PostgreSQL fixtures of the repository tests, for the Celery example project's test."""

from tests.repositories.conftest import (  # noqa: F401 - fixtures
    postgres_engine,
    postgres_schema,
)
