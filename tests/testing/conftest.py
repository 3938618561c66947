"""The SQL fixtures of the repository tests, for simulations on a database."""

from tests.repositories.conftest import (  # noqa: F401 - fixtures
    postgres_engine,
    postgres_schema,
)
