"""How hard the property tests search: the Hypothesis profiles of the suite.

Three profiles, chosen with ``HYPOTHESIS_PROFILE=<name>`` (or pytest's
``--hypothesis-profile=<name>``):

- ``ci``, the default: the number of examples each test was written with;
- ``dev``, for the inner loop: a tenth of them (at least one);
- ``deep``, for a nightly search: ten times as many.

Every profile has no per-example deadline and no health check that times data generation
(both fail a correct test on a loaded machine).

A test that sets ``max_examples`` itself overrides the profile, so it asks `examples` for
its count instead: ``@settings(max_examples=examples(200))`` tries 200 examples under ``ci``,
20 under ``dev`` and 2,000 under ``deep``. ``REGUA_PROPERTY_EXAMPLES`` (an exact count, for
the tests that honour it) and ``REGUA_RELIABILITY_SCALE`` (a multiplier of the reliability
tests' sizes) still work, on top of the profile.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

CI_EXAMPLES = 100
"""The examples of a test without a count of its own under ``ci``: Hypothesis's default."""

PROFILE_EXAMPLES = {"dev": 10, "ci": CI_EXAMPLES, "deep": 1000}
"""Each profile's examples for a test without a count of its own."""

DEFAULT_PROFILE = "ci"


def register_profiles() -> None:
    """Register the suite's profiles, and ``regua`` (the former name of ``ci``)."""
    for name, max_examples in PROFILE_EXAMPLES.items():
        settings.register_profile(
            name,
            max_examples=max_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
    settings.register_profile("regua", settings.get_profile(DEFAULT_PROFILE))


def load_profile() -> None:
    """Load the profile ``HYPOTHESIS_PROFILE`` names, ``ci`` when it names none."""
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or DEFAULT_PROFILE)


def scale() -> float:
    """How many times the ``ci`` examples the loaded profile tries: 0.1, 1 or 10."""
    return settings.default.max_examples / CI_EXAMPLES


def examples(base: int) -> int:
    """The examples for a test written for `base` under ``ci``, under the loaded profile."""
    return max(1, round(base * scale()))


def property_examples(base: int) -> int:
    """`examples`, unless ``REGUA_PROPERTY_EXAMPLES`` sets an exact count."""
    exact = os.environ.get("REGUA_PROPERTY_EXAMPLES")
    return int(exact) if exact else examples(base)
