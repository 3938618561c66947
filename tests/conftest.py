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
