"""The suite's own rule: a property test passes or fails whatever the machine's load."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def test_no_deadline_and_no_timed_health_check_by_default() -> None:
    assert settings.default.deadline is None
    assert HealthCheck.too_slow in settings.default.suppress_health_check


@settings(max_examples=2)  # as a test with settings of its own: the rest is inherited
@given(st.integers())
def test_a_slow_example_is_not_a_failure(number: int) -> None:
    # As slow as any example gets on a loaded machine: beyond hypothesis's default deadline
    # of 200 ms, which would fail it with DeadlineExceeded.
    time.sleep(0.25)
    assert isinstance(number, int)
