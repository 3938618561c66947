"""Field types shared by the definition models: names, timezones, times of day."""

from __future__ import annotations

import re
from datetime import datetime, time, timezone
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
)
from pydantic_core import PydanticCustomError

from regua.errors import ArgumentTypeError

__all__ = [
    "DefinitionModel",
    "Instant",
    "Name",
    "TimeOfDay",
    "TimezoneName",
    "load_timezone",
    "positional_name",
]


class DefinitionModel(BaseModel):
    """Base of the definition models: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


def _check_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise PydanticCustomError(
            "name",
            "'{value}' is not a valid name: use letters, digits, '_', '-' and '.', "
            "starting with a letter or digit",
            {"value": value},
        )
    return value


Name = Annotated[str, AfterValidator(_check_name)]
"""A name for a cadence, step, channel or event: letters, digits, ``_ - .``."""


def load_timezone(name: str) -> ZoneInfo:
    """The `ZoneInfo` for an IANA name, or `ValueError` naming the bad value."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {name!r}: use an IANA name such as 'America/Sao_Paulo' or 'UTC'"
        ) from None


def _check_timezone(value: str) -> str:
    try:
        load_timezone(value)
    except ValueError as exc:
        raise PydanticCustomError("timezone", "{reason}", {"reason": str(exc)}) from None
    return value


TimezoneName = Annotated[str, AfterValidator(_check_timezone)]
"""An IANA timezone name, checked against the system's timezone database."""


def _check_time_of_day(value: time) -> time:
    if value.tzinfo is not None:
        raise PydanticCustomError(
            "time_of_day",
            "a time of day is local wall-clock time and carries no timezone, got {value}",
            {"value": value.isoformat()},
        )
    if value.second or value.microsecond:
        raise PydanticCustomError(
            "time_of_day",
            "a time of day is given to the minute, got {value}",
            {"value": value.isoformat()},
        )
    return value


def _reject_numbers(value: object) -> object:
    # YAML 1.1 reads an unquoted 21:00 as the base-60 number 1260, which pydantic would
    # otherwise accept as 00:21 (seconds since midnight).
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise PydanticCustomError(
            "time_of_day",
            "a time of day is written 'HH:MM', got the number {value} (in YAML, quote times: "
            "'21:00', since an unquoted 21:00 is read as a number)",
            {"value": value},
        )
    return value


TimeOfDay = Annotated[
    time,
    BeforeValidator(_reject_numbers),
    AfterValidator(_check_time_of_day),
    PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str, when_used="json"),
]
"""A local wall-clock time to the minute, e.g. ``time(9)`` or ``"09:00"`` in YAML."""


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


Instant = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware instant, normalised to UTC (a naive datetime is an error, never a guess).

Normalising keeps equality exact: Python never finds a datetime in a fall-back hour equal to
the same instant written with another offset, so a local time read back from YAML would not
compare equal to the one written; and ISO-8601 offsets cannot carry the seconds of a
historical local mean time.
"""


def positional_name(name: str | None, data: dict[str, Any]) -> dict[str, Any]:
    """Merge an optional positional `name` argument into keyword data."""
    if name is not None:
        if "name" in data:
            raise ArgumentTypeError("name given both positionally and as a keyword")
        data["name"] = name
    return data
