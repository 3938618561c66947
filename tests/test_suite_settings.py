"""The suite's own rules: a property test passes or fails whatever the machine's load, a
Hypothesis profile chosen by name sets how hard every property test searches, and the plain
command runs every test while ``-m "not slow"`` leaves out the slow ones."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from tests.conftest import uses_a_server
from tests.profiles import examples, load_profile, property_examples


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


# --- the profiles: how hard the property tests search (tests/profiles.py) ---------------------


@pytest.fixture
def choose_profile(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str | None], None]]:
    """Load the profile HYPOTHESIS_PROFILE names, as conftest does; the run's own afterwards."""

    def choose(name: str | None) -> None:
        if name is None:
            monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
        else:
            monkeypatch.setenv("HYPOTHESIS_PROFILE", name)
        load_profile()

    yield choose
    monkeypatch.undo()
    chosen = request.config.getoption("--hypothesis-profile", None)
    settings.load_profile(chosen) if chosen else load_profile()


@pytest.mark.parametrize("name", ["dev", "ci", "deep"])
def test_every_profile_has_no_deadline_and_no_timed_health_check(name: str) -> None:
    profile = settings.get_profile(name)
    assert profile.deadline is None
    assert HealthCheck.too_slow in profile.suppress_health_check


def test_dev_searches_less_than_ci_and_deep_more() -> None:
    dev, ci, deep = (settings.get_profile(name).max_examples for name in ("dev", "ci", "deep"))
    assert ci == settings.get_profile("default").max_examples  # Hypothesis's own default
    assert dev <= 10
    assert deep >= 10 * ci


def test_ci_is_the_profile_when_none_is_chosen(
    choose_profile: Callable[[str | None], None],
) -> None:
    choose_profile("dev")
    choose_profile(None)
    assert settings.default.max_examples == settings.get_profile("ci").max_examples
    assert examples(200) == 200


def test_an_explicit_count_scales_with_the_profile(
    choose_profile: Callable[[str | None], None],
) -> None:
    choose_profile("dev")
    assert settings.default.max_examples == settings.get_profile("dev").max_examples
    assert settings.default.deadline is None
    assert (examples(200), examples(15), examples(2)) == (20, 2, 1)
    choose_profile("deep")
    assert settings.default.deadline is None
    assert examples(200) == 2000


def test_regua_property_examples_is_an_exact_count_under_any_profile(
    choose_profile: Callable[[str | None], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGUA_PROPERTY_EXAMPLES", "7")
    for name in ("dev", "ci", "deep"):
        choose_profile(name)
        assert property_examples(30) == 7
    monkeypatch.delenv("REGUA_PROPERTY_EXAMPLES")
    assert property_examples(30) == 300


def test_an_unknown_profile_is_refused(choose_profile: Callable[[str | None], None]) -> None:
    with pytest.raises(InvalidArgument, match="fast"):
        choose_profile("fast")


def test_a_test_without_a_count_of_its_own_tries_the_profiles_examples(
    choose_profile: Callable[[str | None], None],
) -> None:
    choose_profile("dev")
    seen: list[int] = []

    @given(st.integers())
    def record(number: int) -> None:
        seen.append(number)

    record()
    assert 1 <= len(seen) <= settings.get_profile("dev").max_examples


# --- the slow marker: `pytest` runs everything, `pytest -m "not slow"` the core suite -------------


def test_slow_is_a_registered_marker_and_the_plain_command_deselects_nothing(
    request: pytest.FixtureRequest,
) -> None:
    assert any(line.startswith("slow:") for line in request.config.getini("markers"))
    addopts = request.config.getini("addopts")
    assert not any(option.startswith("-m") for option in addopts), addopts


@pytest.mark.parametrize(
    ("fixturenames", "params", "slow"),
    [
        (["postgres_repository", "postgres_engine"], {}, True),
        (["redis_backend", "redis_client"], {}, True),
        (["sql_repository"], {"sql_repository": "postgres"}, True),
        (["backend"], {"backend": "postgres-database-clock"}, True),
        (["sql_repository"], {"sql_repository": "sqlite"}, False),
        (["repository"], {"repository": "memory"}, False),
        (["tmp_path"], {}, False),
    ],
)
def test_a_test_on_a_postgresql_or_redis_server_is_slow(
    fixturenames: list[str], params: dict[str, object], slow: bool
) -> None:
    item = SimpleNamespace(fixturenames=fixturenames, callspec=SimpleNamespace(params=params))
    assert uses_a_server(item) is slow
