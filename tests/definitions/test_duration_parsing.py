"""Durations: the spellings a user may write, and how they normalise."""

from __future__ import annotations

import pickle
import re
from datetime import timedelta

import pytest
from dateutil.relativedelta import MO, relativedelta
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from regua import FrequencyCap, Step, on_event
from regua.definitions import Duration

HOUR = 3600
DAY_SECONDS = 24 * HOUR


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", Duration(seconds=90 * 60)),
        ("36h", Duration(seconds=36 * HOUR)),
        ("3d", Duration(days=3)),
        ("2w", Duration(days=14)),
        ("1mo", Duration(months=1)),
        ("1y", Duration(months=12)),
        ("1d12h", Duration(days=1, seconds=12 * HOUR)),
        ("1y2mo3d4h5m6s", Duration(months=14, days=3, seconds=4 * HOUR + 5 * 60 + 6)),
        ("45s", Duration(seconds=45)),
        ("-30d", Duration(days=-30)),
        ("0s", Duration()),
    ],
)
def test_short_strings(text: str, expected: Duration) -> None:
    assert Duration.parse(text) == expected


def test_m_is_minutes_and_mo_is_months() -> None:
    assert Duration.parse("1m") == Duration(seconds=60)
    assert Duration.parse("1mo") == Duration(months=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P3D", Duration(days=3)),
        ("PT36H", Duration(seconds=36 * HOUR)),
        ("PT90M", Duration(seconds=90 * 60)),
        ("P1M", Duration(months=1)),
        ("P1Y2M3DT4H5M6S", Duration(months=14, days=3, seconds=4 * HOUR + 5 * 60 + 6)),
        ("P2W", Duration(days=14)),
        ("P1DT12H", Duration(days=1, seconds=12 * HOUR)),
        ("-P3D", Duration(days=-3)),
    ],
)
def test_iso_8601_strings(text: str, expected: Duration) -> None:
    assert Duration.parse(text) == expected


@pytest.mark.parametrize(
    "text", ["3 days", "5x", "", "-", "--3d", "3", "d", "1d1d", "P", "PT", "P1.5D", "PT1D", "1.5h"]
)
def test_garbage_strings_are_rejected_with_guidance(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        Duration.parse(text)


def test_the_error_for_a_garbage_string_lists_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match="number and a unit") as excinfo:
        Duration.parse("3 days")
    assert "'3d'" in str(excinfo.value)
    assert "P3D" in str(excinfo.value)


@pytest.mark.parametrize("value", [3, 2.5, None, ["3d"]])
def test_other_types_are_rejected(value: object) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        Duration.parse(value)


# --- timedelta and relativedelta ------------------------------------------------------------------


def test_timedelta_days_are_calendar_days_and_seconds_elapsed() -> None:
    assert Duration.parse(timedelta(days=3)) == Duration(days=3)
    assert Duration.parse(timedelta(days=2, hours=3)) == Duration(days=2, seconds=3 * HOUR)
    assert Duration.parse(timedelta(minutes=90)) == Duration(seconds=90 * 60)
    # timedelta itself folds 36h into 1 day + 12h: the day is then a calendar day.
    assert Duration.parse(timedelta(hours=36)) == Duration(days=1, seconds=12 * HOUR)


def test_negative_timedelta_keeps_one_sign() -> None:
    # timedelta(hours=-1) is stored as days=-1, seconds=82800; the duration must be -1h.
    minus_one_hour = Duration.parse(timedelta(hours=-1))
    assert minus_one_hour == Duration(seconds=-HOUR)
    assert str(minus_one_hour) == "-1h"
    assert Duration.parse(timedelta(days=-1, hours=-2)) == Duration(days=-1, seconds=-2 * HOUR)
    assert Duration.parse(timedelta(days=-3)) == Duration(days=-3)


def test_sub_second_timedelta_is_rejected() -> None:
    with pytest.raises(ValueError, match="resolution of one second"):
        Duration.parse(timedelta(milliseconds=5))


def test_relativedelta_relative_parts() -> None:
    value = relativedelta(years=1, months=2, weeks=1, days=3, hours=4, minutes=5, seconds=6)
    assert Duration.parse(value) == Duration(months=14, days=10, seconds=4 * HOUR + 5 * 60 + 6)
    assert Duration.parse(relativedelta(months=1)) == Duration(months=1)
    assert Duration.parse(relativedelta(weeks=2)) == Duration(days=14)
    assert Duration.parse(relativedelta(months=-1, days=-1)) == Duration(months=-1, days=-1)


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (relativedelta(month=2), "month"),
        (relativedelta(day=31), "day"),
        (relativedelta(weekday=MO), "weekday"),
        (relativedelta(hour=9), "hour"),
        (relativedelta(months=1, year=2024), "year"),
    ],
)
def test_relativedelta_with_absolute_fields_is_rejected(value: relativedelta, field: str) -> None:
    with pytest.raises(ValueError, match=f"absolute.*'{field}'"):
        Duration.parse(value)


def test_relativedelta_with_mixed_signs_is_rejected() -> None:
    with pytest.raises(ValueError, match="share one sign"):
        Duration.parse(relativedelta(months=1, days=-1))


def test_duration_parts_must_share_one_sign() -> None:
    with pytest.raises(ValueError, match="share one sign"):
        Duration(months=1, seconds=-1)


# --- rendering, equality, properties --------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (Duration(days=3), "3d"),
        (Duration(days=14), "14d"),
        (Duration(seconds=36 * HOUR), "36h"),
        (Duration(seconds=90 * 60), "1h30m"),
        (Duration(months=1, days=15), "1mo15d"),
        (Duration(months=14), "1y2mo"),
        (Duration(months=12), "1y"),
        (Duration(days=1, seconds=12 * HOUR + 61), "1d12h1m1s"),
        (Duration(days=-30), "-30d"),
        (Duration(months=-1, days=-1), "-1mo1d"),
        (Duration(), "0s"),
    ],
)
def test_str_is_the_short_form(duration: Duration, text: str) -> None:
    assert str(duration) == text
    assert repr(duration) == f"Duration({text!r})"


def test_equality_and_hash() -> None:
    assert Duration.parse("2w") == Duration.parse("14d") == Duration.parse("P2W")
    assert Duration.parse("1y") == Duration.parse("12mo")
    assert Duration.parse("24h") != Duration.parse("1d")  # elapsed vs calendar
    assert Duration.parse("1mo") != Duration.parse("30d")
    assert Duration(days=1) != "1d"
    assert len({Duration.parse("2w"), Duration.parse("14d"), Duration.parse("P14D")}) == 1
    assert {Duration.parse("3d"): "x"}[Duration(days=3)] == "x"


def test_sign_and_zero_properties() -> None:
    assert Duration.parse("-1d").is_negative
    assert not Duration.parse("1d").is_negative
    assert Duration().is_zero
    assert not Duration()
    assert Duration.parse("1s")
    assert -Duration.parse("1mo2d") == Duration(months=-1, days=-2)
    assert Duration.parse("36h").is_calendar_free
    assert not Duration.parse("1d").is_calendar_free


def test_approximate_orders_durations() -> None:
    assert Duration.parse("1mo").approximate() == timedelta(days=30)
    assert Duration.parse("1d12h").approximate() == timedelta(days=1, hours=12)


_PART = st.tuples(
    st.integers(0, 10_000), st.integers(0, 100_000), st.integers(0, 10 * 365 * DAY_SECONDS)
)


@given(parts=_PART, negative=st.booleans())
def test_str_round_trips_through_parse(parts: tuple[int, int, int], negative: bool) -> None:
    sign = -1 if negative else 1
    months, days, seconds = (sign * part for part in parts)
    duration = Duration(months=months, days=days, seconds=seconds)
    assert Duration.parse(str(duration)) == duration


# --- on models ------------------------------------------------------------------------------------


def _step(**fields: object) -> Step:
    return Step("s", trigger=on_event("signed_up"), channels=["email"], **fields)


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("P2D", Duration(days=2)),
        ("2d", Duration(days=2)),
        (timedelta(days=2), Duration(days=2)),
        (relativedelta(days=2), Duration(days=2)),
        (Duration(days=2), Duration(days=2)),
        ("48h", Duration(seconds=48 * HOUR)),  # elapsed time, not two calendar days
        ("PT48H", Duration(seconds=48 * HOUR)),
    ],
)
def test_models_normalise_durations(spelling: object, expected: Duration) -> None:
    step = _step(delay=spelling)
    assert isinstance(step.delay, Duration)
    assert step.delay == expected


def test_models_serialise_durations_in_the_short_form() -> None:
    step = _step(delay="P1DT12H", expires_after=relativedelta(months=1))
    dumped = step.model_dump(mode="json")
    assert dumped["delay"] == "1d12h"
    assert dumped["expires_after"] == "1mo"


def test_a_bad_duration_on_a_model_names_the_field() -> None:
    with pytest.raises(ValidationError) as excinfo:
        FrequencyCap(max=3, per="a week")
    message = str(excinfo.value)
    assert "per" in message
    assert "'a week' is not a duration" in message
    assert excinfo.value.errors()[0]["loc"] == ("per",)


@given(months=st.integers(0, 50), days=st.integers(0, 400), seconds=st.integers(0, 10**6))
def test_equal_durations_hash_alike_and_survive_pickling(
    months: int, days: int, seconds: int
) -> None:
    duration = Duration(months=months, days=days, seconds=seconds)
    twin = Duration(months=months, days=days, seconds=seconds)
    assert hash(duration) == hash(twin)
    assert {duration: "cached"}[twin] == "cached"
    restored = pickle.loads(pickle.dumps(duration))
    assert restored == duration
    assert hash(restored) == hash(duration)
    assert bool(duration) == (months + days + seconds > 0)
