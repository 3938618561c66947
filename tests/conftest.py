"""Shared fixtures and the rule for tests that need a real service."""

from __future__ import annotations

import os

import pytest

REQUIRE_SERVICES = os.environ.get("REGUA_REQUIRE_SERVICES") == "1"


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
