"""Shared fixtures and the rule for tests that need a real service."""

from __future__ import annotations

import os

import pytest

from tests.profiles import load_profile, register_profiles

REQUIRE_SERVICES = os.environ.get("REGUA_REQUIRE_SERVICES") == "1"

# Property tests must not depend on how fast the machine is: no per-example deadline, and no
# health check that measures the time spent generating data. (Both are on by default, and
# fail a correct test on a loaded machine.) Every profile of the suite (tests/profiles.py:
# ci by default, dev and deep through HYPOTHESIS_PROFILE) says so; tests that set their own
# `settings` inherit it.
register_profiles()
load_profile()


# A test on a real PostgreSQL or Redis server is slow (a schema or a connection per test), so
# it is marked `slow` here, once for the suite: a test that uses one of these fixtures (directly
# or through another fixture), and a test parametrized with a server's name, the suite's way to
# run one test on each database (`sql_repository`'s "postgres", a `database` of "postgres",
# a `backend` of "redis"...). Its SQLite and in-memory twins stay in the core suite.
SERVICE_FIXTURES = frozenset({"postgres_engine", "redis_client"})
SERVICE_NAMES = ("postgres", "redis")


def uses_a_server(item: pytest.Item) -> bool:
    """Whether `item` runs on a PostgreSQL or Redis server (when one is reachable)."""
    if SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    params = callspec.params.values() if callspec is not None else ()
    return any(isinstance(value, str) and value.startswith(SERVICE_NAMES) for value in params)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if uses_a_server(item):
            item.add_marker(pytest.mark.slow)


def skip_or_fail(reason: str) -> None:
    """Skip a test whose service is absent; fail instead when CI requires every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"REGUA_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--celery-contacts",
        default="10000",
        help="contacts in the Celery integration test's day of ticks (default 10000)",
    )
