"""Durations: calendar units (months, days) kept apart from elapsed time (seconds).

A cadence speaks of "3 days later" and of "36 hours later", and across a daylight-saving
change those are not the same thing. `Duration` keeps the two apart:

* ``months`` and ``days`` are *calendar* units, applied to the contact's local wall-clock
  time (``"1d"`` after 09:00 is 09:00 the next day, 23 or 25 real hours later on a DST night);
* ``seconds`` is *elapsed* time (``"24h"`` is always 24 real hours).

Durations are accepted wherever a cadence takes one as a `datetime.timedelta`, a
`dateutil.relativedelta.relativedelta`, or a string: ``"90m"``, ``"36h"``, ``"3d"``, ``"2w"``,
``"1mo"``, ``"1y"``, combinations such as ``"1d12h"``, and ISO-8601 (``"P3D"``, ``"PT36H"``,
``"P1Y2M"``). They are normalised to `Duration` on the model and serialised back to the
short string form (``"3d"``, ``"1mo15d"``, ``"36h"``).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Final

from dateutil.relativedelta import relativedelta
from pydantic import AfterValidator, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

__all__ = [
    "Duration",
    "NonNegativeDuration",
    "PositiveDuration",
]

_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600}
_SHORT_PART = re.compile(r"(\d+)(mo|y|w|d|h|m|s)")
_SHORT = re.compile(r"(?:\d+(?:mo|y|w|d|h|m|s))+")
_ISO = re.compile(
    r"P(?!$)(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+)S)?)?"
)


class Duration:
    """An immutable span of time with calendar and elapsed parts kept apart.

    Build one with `Duration.parse` (or let a model do it); construct directly only with
    already-normalised parts. All non-zero parts share one sign.

    >>> Duration.parse("1mo15d")
    Duration('1mo15d')
    >>> Duration.parse("P1DT12H") == Duration(days=1, seconds=12 * 3600)
    True
    """

    __slots__ = ("_days", "_hash", "_months", "_seconds")

    def __init__(self, *, months: int = 0, days: int = 0, seconds: int = 0) -> None:
        signs = {part > 0 for part in (months, days, seconds) if part}
        if len(signs) > 1:
            raise ValueError(
                f"a duration's parts must share one sign, got months={months}, "
                f"days={days}, seconds={seconds}"
            )
        self._months = int(months)
        self._days = int(days)
        self._seconds = int(seconds)
        # Durations key the planner's caches: hash once (the parts never change).
        self._hash = hash((Duration, self._months, self._days, self._seconds))

    @property
    def months(self) -> int:
        """Calendar months (a year counts as 12)."""
        return self._months

    @property
    def days(self) -> int:
        """Calendar days (a week counts as 7)."""
        return self._days

    @property
    def seconds(self) -> int:
        """Elapsed seconds (hours and minutes are converted to seconds)."""
        return self._seconds

    @property
    def is_zero(self) -> bool:
        """True when every part is zero."""
        return not (self._months or self._days or self._seconds)

    @property
    def is_negative(self) -> bool:
        """True when the duration points backwards in time."""
        return min(self._months, self._days, self._seconds) < 0

    @property
    def is_calendar_free(self) -> bool:
        """True when the duration is pure elapsed time (no months or days)."""
        return not (self._months or self._days)

    def __neg__(self) -> Duration:
        return Duration(months=-self._months, days=-self._days, seconds=-self._seconds)

    def __bool__(self) -> bool:
        return bool(self._months or self._days or self._seconds)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Duration):
            return NotImplemented
        return (self._months, self._days, self._seconds) == (
            other._months,
            other._days,
            other._seconds,
        )

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[Any, tuple[int, int, int]]:
        # Rebuilt from its parts, so that the hash is computed again in the new process.
        return _rebuild, (self._months, self._days, self._seconds)

    def __repr__(self) -> str:
        return f"Duration({str(self)!r})"

    def __str__(self) -> str:
        """The short form, e.g. ``"1y2mo"``, ``"3d"``, ``"36h"``, ``"-30d"``, ``"0s"``."""
        if self.is_zero:
            return "0s"
        sign = "-" if self.is_negative else ""
        months, days, seconds = abs(self._months), abs(self._days), abs(self._seconds)
        parts: list[str] = []
        years, months = divmod(months, 12)
        if years:
            parts.append(f"{years}y")
        if months:
            parts.append(f"{months}mo")
        if days:
            parts.append(f"{days}d")
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        if hours:
            parts.append(f"{hours}h")
        if minutes:
            parts.append(f"{minutes}m")
        if secs:
            parts.append(f"{secs}s")
        return sign + "".join(parts)

    def approximate(self) -> timedelta:
        """A `timedelta` of about this length (a month as 30 days), for ordering and lint.

        Never use it for scheduling: it ignores calendars and daylight-saving time.
        """
        return timedelta(days=self._months * 30 + self._days, seconds=self._seconds)

    @classmethod
    def parse(cls, value: object) -> Duration:
        """Normalise a string, `timedelta`, `relativedelta` or `Duration`.

        Raises:
            ValueError: with a message that says what is wrong and what is accepted.

        """
        if isinstance(value, Duration):
            return value
        if isinstance(value, timedelta):
            return _from_timedelta(value)
        if isinstance(value, relativedelta):
            return _from_relativedelta(value)
        if isinstance(value, str):
            return _from_string(value)
        raise ValueError(
            f"expected a duration (timedelta, relativedelta or a string such as '3d', "
            f"'36h', '1mo', 'P3D'), got {type(value).__name__} {value!r}"
        )

    # --- pydantic integration -------------------------------------------------------------

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, when_used="always", return_schema=core_schema.str_schema()
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "title": "Duration",
            "description": (
                "A duration: a number and a unit, combinable ('90m', '36h', '3d', '2w', "
                "'1mo', '1y', '1d12h'; '-30d' where an offset may point backwards), or "
                "ISO-8601 ('P3D', 'PT36H'). Days, weeks, months and years are calendar "
                "units in the contact's local time; hours, minutes and seconds are "
                "elapsed time."
            ),
            "pattern": r"^(-?(\d+(mo|y|w|d|h|m|s))+|-?P.+)$",
            "examples": ["3d", "36h", "1mo", "P3D"],
        }


def _validate(value: object) -> Duration:
    try:
        return Duration.parse(value)
    except ValueError as exc:
        raise PydanticCustomError("duration", "{reason}", {"reason": str(exc)}) from None


def _from_string(text: str) -> Duration:
    raw = text
    text = text.strip().replace(" ", "")
    sign = 1
    if text.startswith("-"):
        sign, text = -1, text[1:]
    if text.upper().startswith("P"):
        match = _ISO.fullmatch(text.upper())
        if match is None:
            raise ValueError(f"{raw!r} is not an ISO-8601 duration such as 'P3D' or 'PT36H'")
        g = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
        months = g["y"] * 12 + g["mo"]
        days = g["w"] * 7 + g["d"]
        seconds = g["h"] * 3600 + g["mi"] * 60 + g["s"]
    elif _SHORT.fullmatch(text):
        months = days = seconds = 0
        seen: set[str] = set()
        for amount_text, unit in _SHORT_PART.findall(text):
            if unit in seen:
                raise ValueError(f"{raw!r} repeats the unit {unit!r}")
            seen.add(unit)
            amount = int(amount_text)
            if unit == "y":
                months += 12 * amount
            elif unit == "mo":
                months += amount
            elif unit == "w":
                days += 7 * amount
            elif unit == "d":
                days += amount
            else:
                seconds += _UNIT_SECONDS[unit] * amount
    else:
        raise ValueError(
            f"{raw!r} is not a duration: use a number and a unit (s, m, h, d, w, mo, y), "
            f"e.g. '90m', '36h', '3d', '2w', '1mo', '1y', '1d12h', or ISO-8601 like 'P3D'"
        )
    return Duration(months=sign * months, days=sign * days, seconds=sign * seconds)


def _from_timedelta(value: timedelta) -> Duration:
    if value.microseconds:
        raise ValueError(f"durations have a resolution of one second, got {value!r}")
    # A timedelta's days are calendar days, its seconds elapsed time (DESIGN: Durations).
    # timedelta normalises -1h to days=-1, seconds=82800; undo that so parts share a sign.
    if value < timedelta(0):
        return -_from_timedelta(-value)
    return Duration(days=value.days, seconds=value.seconds)


def _from_relativedelta(value: relativedelta) -> Duration:
    absolute = [
        name
        for name in ("year", "month", "day", "weekday", "hour", "minute", "second", "microsecond")
        if getattr(value, name) is not None
    ]
    if absolute or value.leapdays:
        raise ValueError(
            "a relativedelta used as a duration may only hold relative parts "
            f"(years, months, weeks, days, hours, minutes, seconds); got absolute {absolute}"
        )
    if value.microseconds:
        raise ValueError(f"durations have a resolution of one second, got {value!r}")
    return Duration(
        months=value.years * 12 + value.months,
        days=value.days,
        seconds=value.hours * 3600 + value.minutes * 60 + value.seconds,
    )


def _positive(value: Duration) -> Duration:
    if value.is_zero or value.is_negative:
        raise PydanticCustomError(
            "duration_not_positive",
            "must be a positive duration, got {value}",
            {"value": str(value)},
        )
    return value


def _non_negative(value: Duration) -> Duration:
    if value.is_negative:
        raise PydanticCustomError(
            "duration_negative", "must not be negative, got {value}", {"value": str(value)}
        )
    return value


PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
"""A duration greater than zero (periods, windows, expiries)."""

NonNegativeDuration = Annotated[Duration, AfterValidator(_non_negative)]
"""A duration of zero or more (delays)."""


def _rebuild(months: int, days: int, seconds: int) -> Duration:
    """A `Duration` from its parts (for pickle and copy)."""
    return Duration(months=months, days=days, seconds=seconds)
