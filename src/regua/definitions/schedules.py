"""Schedule syntax: cron expressions and RRULEs, checked once, with errors that name the field.

`parse_schedule` is the single validator of a schedule's text: `ScheduleTrigger` calls it
when a cadence is built, and the planner's `~regua.planning.schedules.Schedule` compiles
what it returns. A schedule that the definition accepts can therefore always be planned, and
one that could never fire is refused when the cadence is built, not at every tick.

The rules:

* **Cron** takes the five standard fields, ``minute hour day-of-month month day-of-week``,
  with croniter's syntax: lists, ranges, steps, names (``JAN``, ``MON``), ``L`` (the last day
  of the month; ``L5``, the month's last Friday), ``15W`` (the weekday nearest the 15th) and
  ``#`` (``MON#1``, the month's first Monday). A range may wrap around: ``22-2`` in the hour
  field is 22, 23, 0, 1 and 2; ``FRI-MON`` is Friday to Monday; ``5-5`` is 5 alone, as
  POSIX says (croniter would read it as the whole cycle). Hashed and random values
  (``H``, ``R``) are refused: a schedule must fire at the same instants on every worker.
* **Day-of-month and day-of-week** follow crontab(5): when both are *restricted* (neither
  starts with ``*`` or ``?``) a day matching either fires; otherwise a day must match both
  (``*/2`` in one of them keeps its meaning, so ``0 9 */2 * MON`` is odd-numbered Mondays).
  This holds with ``L`` and ``#`` too: ``0 0 13 * L5`` fires on every 13th and on every last
  Friday.
* **Impossible dates** (``* * 30 2 *``, ``0 0 31 4,6,9,11 *``; an RRULE with
  ``BYMONTH=2;BYMONTHDAY=30``) are refused, as is any cron expression that would never fire.
* **RRULE** text follows RFC 5545 through `dateutil.rrule.rrulestr`, with at most one naive
  ``DTSTART``; a timezone anywhere (``TZID``, a UTC ``...Z`` time in ``DTSTART``, ``RDATE``,
  ``EXDATE`` or ``UNTIL``) is refused, because the contact's timezone applies.
* **Every real instant on a fall-back night**: as Vixie and Debian cron do, a cron schedule
  whose minute or hour field is a wildcard or a step (``*``, ``*/15``, ``0-59/5``) fires at
  every real instant it matches, so both halves of a repeated hour; one whose minute and
  hour are fixed (``30 1 * * *``, ``0,30 1 * * *``) fires once per local date. An RRULE of
  ``FREQ=HOURLY`` or finer is of the first kind.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from typing import Final, Literal

import attrs
from croniter import CroniterBadDateError, CroniterError, croniter
from dateutil.parser import isoparse
from dateutil.rrule import rrulebase, rrulestr

__all__ = ["CronSchedule", "RRuleSchedule", "is_rrule", "parse_schedule"]

RRULE_ANCHOR: Final = datetime(2000, 1, 1)
"""The DTSTART of an RRULE that gives none, and where cron's never-fires check starts."""

_FIELDS: Final = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
)
_CRON_HINT: Final = (
    "expected five fields 'minute hour day-of-month month day-of-week', e.g. '0 9 * * MON', "
    "or an RRULE such as 'RRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=9'"
)
_NAMES: Final = re.compile(
    r"JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|SUN|MON|TUE|WED|THU|FRI|SAT"
)
# Numbers that are values of the field: not a step (after "/") nor an nth (after "#").
_VALUES: Final = re.compile(r"(?<![/#\d])\d+")
_MONTH_DAYS: Final = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February in a leap year

_TZ_IN_RRULE: Final = re.compile(r"TZID|\dZ\b")
_SUB_DAILY: Final = frozenset({"HOURLY", "MINUTELY", "SECONDLY"})
_SECOND_STEPS: Final = {
    "WEEKLY": 7 * 86400,
    "DAILY": 86400,
    "HOURLY": 3600,
    "MINUTELY": 60,
    "SECONDLY": 1,
}
_MONTH_STEPS: Final = {"YEARLY": 12, "MONTHLY": 1}


def is_rrule(expression: str) -> bool:
    """True when `expression` is written as an RRULE rather than a cron expression."""
    upper = expression.strip().upper()
    return "FREQ=" in upper or upper.startswith(("RRULE:", "DTSTART"))


@attrs.frozen
class CronSchedule:
    """A checked cron expression.

    `parts` are croniter expressions whose firings together are the schedule's, each to be
    evaluated with ``day_or=False``: one part, or two when day-of-month and day-of-week are
    both restricted (one part per field, so the OR never depends on croniter's handling of
    ``L`` and ``#``). A part that can never fire is left out.
    """

    expression: str
    parts: tuple[str, ...]
    every_instant: bool
    """Fires at every real instant it matches (both halves of a repeated hour)."""


@attrs.frozen
class RRuleSchedule:
    """A checked RRULE: its body (every line but DTSTART) and its naive start."""

    expression: str
    body: str
    dtstart: datetime
    every_instant: bool
    """FREQ=HOURLY or finer: fires at every real instant it matches."""
    restart: tuple[Literal["seconds", "months"], int] | None
    """The period after which the rule repeats its pattern, when it can be restarted later."""


@lru_cache(maxsize=1024)
def parse_schedule(expression: str) -> CronSchedule | RRuleSchedule:
    """Check a schedule's text and return what the planner compiles.

    Raises:
        ValueError: naming the field at fault, when the text is not a valid five-field cron
            expression or RRULE, or when it could never fire.

    """
    text = expression.strip()
    if is_rrule(text):
        return _parse_rrule(text)
    return _parse_cron(text)


@lru_cache(maxsize=512)
def compile_rrule(body: str, dtstart: datetime) -> rrulebase:
    """An RRULE body (no DTSTART) compiled with a naive `dtstart`; shared, read-only."""
    return rrulestr(body, dtstart=dtstart, cache=False)


# --- cron -------------------------------------------------------------------------------------


def _parse_cron(text: str) -> CronSchedule:
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"invalid cron expression {text!r}: {_CRON_HINT} (got {len(fields)})")
    fields = [_single_ranges(field) for field in fields]
    minute, hour, dom, month, dow = fields
    # croniter cannot mix an nth weekday (MON#1, L5) with plain weekdays in one field: the
    # list is a union, so each kind becomes its own part.
    weekdays = _weekday_groups(dow)
    for position, field in enumerate(fields[:4]):
        _check_field(text, position, field)
    for group in weekdays:
        _check_field(text, 4, group)
    if _restricted(dom) and _restricted(dow):
        candidates = [f"{minute} {hour} {dom} {month} *"]
        candidates += [f"{minute} {hour} * {month} {group}" for group in weekdays]
    else:
        candidates = [f"{minute} {hour} {dom} {month} {group}" for group in weekdays]
    try:
        parts = tuple(part for part in candidates if _ever_fires(part))
    except (CroniterError, TypeError, ValueError) as exc:
        raise ValueError(f"invalid cron expression {text!r}: {exc}") from None
    if not parts:
        raise ValueError(f"cron expression {text!r} never fires: {_why_never(dom, month, dow)}")
    return CronSchedule(
        expression=text,
        parts=parts,
        every_instant=_wildcard_or_step(minute) or _wildcard_or_step(hour),
    )


_SINGLE_RANGE: Final = re.compile(r"^(\w+)-(\w+)(?:/\d+)?$")


def _single_ranges(field: str) -> str:
    """``5-5`` (or ``MON-MON/2``) as the single value it names, as POSIX and Vixie cron read it.

    croniter reads an equal range as the whole cycle; passed on as written, ``5-5 * * * *``
    would fire every minute.
    """
    items = []
    for item in field.split(","):
        match = _SINGLE_RANGE.match(item)
        if match and match[1].upper() == match[2].upper():
            item = match[1]
        items.append(item)
    return ",".join(items)


def _weekday_groups(dow: str) -> list[str]:
    items = dow.split(",")
    nth = [item for item in items if "#" in item or "L" in item.upper()]
    plain = [item for item in items if item not in nth]
    if not nth or not plain:
        return [dow]
    return [",".join(plain), ",".join(nth)]


def _check_field(text: str, position: int, field: str) -> None:
    name, low, high = _FIELDS[position]
    upper = field.upper()
    if re.search(r"[HR]", _NAMES.sub("", upper)):
        raise ValueError(
            f"invalid cron expression {text!r}: the {name} field {field!r} uses a hashed or "
            "random value (H, R); a schedule must fire at the same instants on every worker"
        )
    for value in _VALUES.findall(_NAMES.sub("", upper)):
        if not low <= int(value) <= high:
            raise ValueError(
                f"invalid cron expression {text!r}: the {name} {value} is out of range {low}-{high}"
            )
    probe = ["*"] * 5
    probe[position] = field
    try:
        croniter.expand(" ".join(probe))
    except (CroniterError, TypeError, ValueError) as exc:
        raise ValueError(
            f"invalid cron expression {text!r}: the {name} field {field!r} is not valid "
            f"({low}-{high}{_EXTRAS[position]}): {exc}"
        ) from None


_EXTRAS: Final = (
    "",
    "",
    ", L for the last day, 15W for the weekday nearest the 15th",
    " or JAN-DEC",
    " or SUN-SAT, MON#1 for the first Monday, L5 for the last Friday",
)


def _restricted(field: str) -> bool:
    """Whether a day field restricts the days, as crontab(5) reads it (no leading * or ?)."""
    return not field.startswith(("*", "?"))


def _wildcard_or_step(field: str) -> bool:
    return field.startswith("*") or "/" in field


def _ever_fires(part: str) -> bool:
    # A cron pattern repeats every 400 years; croniter looks 50 years ahead, more than the
    # longest gap between two firings of any pattern (40 years: a Monday Feb 29 in 2072,
    # then 2112).
    try:
        croniter(part, RRULE_ANCHOR, ret_type=datetime, day_or=False).get_next(datetime)
    except CroniterBadDateError:  # a subclass of CroniterError: catch it first
        return False
    return True


def _why_never(dom: str, month: str, dow: str) -> str:
    expanded = croniter.expand(f"* * {dom} {month} *")[0]  # both checked already
    days, months = expanded[2], expanded[3]
    if days != ["*"] and "l" not in days:
        lengths = [_MONTH_DAYS[int(m) - 1] for m in months if m != "*"] or list(_MONTH_DAYS)
        if not any(int(day) <= length for day in days for length in lengths):
            named = "month" if months == ["*"] else f"month {month!r}"
            return f"no {named} has a day-of-month {dom!r}"
    return f"no date matches day-of-month {dom!r}, month {month!r} and day-of-week {dow!r}"


# --- RRULE ------------------------------------------------------------------------------------


def _parse_rrule(text: str) -> RRuleSchedule:
    if _TZ_IN_RRULE.search(text.upper()):
        raise ValueError(
            f"RRULE {text!r} must not carry a timezone (TZID or a UTC 'Z' time): schedules "
            "run in the contact's local time"
        )
    tokens = text.split()
    starts = [token for token in tokens if token.upper().startswith("DTSTART")]
    if len(starts) > 1:
        raise ValueError(f"RRULE {text!r} has more than one DTSTART")
    dtstart = _parse_dtstart(starts[0], text) if starts else RRULE_ANCHOR
    body = " ".join(token for token in tokens if not token.upper().startswith("DTSTART"))
    try:
        compile_rrule(body, dtstart)  # validates, and warms the cache
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"invalid RRULE {text!r}: {exc}") from None
    rules = [(name, _rule_parts(value)) for name, value in _rule_lines(tokens)]
    for name, parts in rules:
        if name == "RRULE":
            _check_dates(text, parts)
    return RRuleSchedule(
        expression=text,
        body=body,
        dtstart=dtstart,
        every_instant=any(
            name == "RRULE" and parts.get("FREQ") in _SUB_DAILY for name, parts in rules
        ),
        restart=_restart_step([parts for _, parts in rules]),
    )


def _check_dates(text: str, parts: dict[str, str]) -> None:
    """Refuse a rule whose BYMONTH and BYMONTHDAY name no real date.

    dateutil would otherwise search until the year 9999, seconds per evaluation.
    """
    if "BYMONTHDAY" not in parts:
        return
    try:
        months = [int(m) for m in parts["BYMONTH"].split(",")] if "BYMONTH" in parts else []
        days = [abs(int(d)) for d in parts["BYMONTHDAY"].split(",")]
    except ValueError:  # pragma: no cover - rrulestr refused the text already
        return
    lengths = [_MONTH_DAYS[m - 1] for m in months] or list(_MONTH_DAYS)
    if not any(day <= length for day in days for length in lengths):
        raise ValueError(
            f"RRULE {text!r} never fires: no month in BYMONTH={parts.get('BYMONTH', '1-12')} "
            f"has a day {parts['BYMONTHDAY']}"
        )


def _parse_dtstart(token: str, text: str) -> datetime:
    name, separator, value = token.partition(":")
    params = name.upper().split(";")[1:]
    if (
        not separator
        or not value
        or any(p not in ("VALUE=DATE", "VALUE=DATE-TIME") for p in params)
    ):
        raise ValueError(f"invalid DTSTART {token!r} in RRULE {text!r}")
    try:
        start = isoparse(value)
    except ValueError:
        start = None
    if start is None or start.tzinfo is not None:
        raise ValueError(
            f"invalid DTSTART {token!r} in RRULE {text!r}: expected a naive local date-time "
            "such as DTSTART:20250101T090000"
        )
    return start


def _rule_lines(tokens: list[str]) -> Iterator[tuple[str, str]]:
    """(RRULE or EXRULE, its value) for each recurrence rule among the tokens."""
    for token in tokens:
        name, separator, value = token.partition(":")
        if not separator:  # a bare "FREQ=...;..." is an RRULE, as rrulestr reads it
            yield "RRULE", token
        elif name.upper() in ("RRULE", "EXRULE"):
            yield name.upper(), value


def _rule_parts(value: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for pair in value.split(";"):
        key, _, item = pair.partition("=")
        parts[key.upper()] = item.upper()
    return parts


def _restart_step(rules: list[dict[str, str]]) -> tuple[Literal["seconds", "months"], int] | None:
    """The period after which every rule repeats its pattern, in seconds or in months.

    None when the rules cannot be restarted later (COUNT, a mix of month- and second-based
    rules, or no rule at all).
    """
    if not rules or any("COUNT" in parts for parts in rules):
        return None
    seconds: list[int] = []
    months: list[int] = []
    for parts in rules:
        freq = parts.get("FREQ", "")
        interval = int(parts.get("INTERVAL", "1"))
        if freq in _SECOND_STEPS:
            seconds.append(_SECOND_STEPS[freq] * interval)
        elif freq in _MONTH_STEPS:
            months.append(_MONTH_STEPS[freq] * interval)
        else:
            return None
    if seconds and months:
        return None
    if seconds:
        return "seconds", math.lcm(*seconds)
    return "months", math.lcm(*months)
