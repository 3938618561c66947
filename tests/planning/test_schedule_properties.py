"""Every accepted schedule fires, when its text says it does; every other one is refused.

Cron expressions are drawn together with a model of what they mean, built from the same
drawn parts (never by parsing the text): the minutes, hours and months they name, and a day
test that follows crontab(5) — day-of-month and day-of-week OR-ed when both are restricted
(neither starts with ``*`` or ``?``), AND-ed otherwise — with ``L`` (last day; ``L5`` last
Friday), ``#`` (``1#2`` second Monday) and wrap-around ranges (``22-2``, ``5-1``). A
brute-force walk over dates is the oracle. RRULEs are drawn with BYMONTH and BYMONTHDAY
combinations, possible or not.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from regua.planning.calendar import UTC
from regua.planning.schedules import Schedule
from tests.profiles import examples

ZULU = ZoneInfo("UTC")  # DST is covered in test_schedules.py; here the calendar is the point
HORIZON_YEARS = 50  # croniter's search horizon, longer than any pattern's longest gap (40 y)
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


@attrs.frozen
class Field:
    """One cron field: its text and the values it names."""

    text: str
    values: frozenset[int]


@attrs.frozen
class Cron:
    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    day: Callable[[date], bool]

    def walls_from(self, start: date, days: int) -> Iterator[datetime]:
        for offset in range(days):
            current = start + timedelta(days=offset)
            if current.month in self.months and self.day(current):
                for hour in self.hours:
                    for minute in self.minutes:
                        yield datetime(current.year, current.month, current.day, hour, minute)

    def next_after(self, wall: datetime) -> datetime | None:
        walls = self.walls_from(wall.date(), HORIZON_YEARS * 366)
        return next((w for w in walls if w > wall), None)

    def last_at_or_before(self, wall: datetime) -> datetime | None:
        for offset in range(HORIZON_YEARS * 366):
            current = wall.date() - timedelta(days=offset)
            found = [w for w in self.walls_from(current, 1) if w <= wall]
            if found:
                return found[-1]
        return None


def _span(low: int, high: int, first: int, last: int) -> list[int]:
    """A cron range low-high over the values first..last, wrapping around when low > high."""
    if low <= high:
        return list(range(low, high + 1))
    return list(range(low, last + 1)) + list(range(first, high + 1))


@st.composite
def numeric_items(draw: st.DrawFn, first: int, last: int) -> Field:
    kind = draw(st.sampled_from(["value", "range", "wrap", "step", "range-step"]))
    low = draw(st.integers(first, last))
    if kind == "value":
        return Field(str(low), frozenset({low}))
    high = draw(st.integers(first, last))
    if kind == "wrap":
        return Field(f"{low}-{high}", frozenset(_span(low, high, first, last)))
    low, high = min(low, high), max(low, high)
    if kind == "range":
        return Field(f"{low}-{high}", frozenset(range(low, high + 1)))
    step = draw(st.integers(1, max(1, last - first)))
    if kind == "step":
        return Field(f"*/{step}", frozenset(range(first, last + 1, step)))
    return Field(f"{low}-{high}/{step}", frozenset(range(low, high + 1, step)))


def numeric_field(first: int, last: int) -> st.SearchStrategy[Field]:
    every = Field("*", frozenset(range(first, last + 1)))
    listed = st.lists(numeric_items(first, last), min_size=1, max_size=3).map(
        lambda items: Field(
            ",".join(item.text for item in items), frozenset().union(*(i.values for i in items))
        )
    )
    return st.one_of(st.just(every), listed)


@st.composite
def month_fields(draw: st.DrawFn) -> Field:
    if draw(st.integers(0, 2)) == 0:  # months of 30 days or fewer, where late days are rare
        short = draw(st.lists(st.sampled_from([2, 4, 6, 9, 11]), min_size=1, max_size=2))
        return Field(",".join(map(str, short)), frozenset(short))
    field = draw(numeric_field(1, 12))
    if draw(st.booleans()) and field.text != "*" and "/" not in field.text:
        # The same months by name (ranges of names wrap too: NOV-FEB).
        text = "".join(MONTHS[int(p) - 1] if p.isdigit() else p for p in _tokens(field.text))
        return Field(text, field.values)
    return field


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for char in text:
        if tokens and char.isdigit() and tokens[-1].isdigit():
            tokens[-1] += char
        else:
            tokens.append(char)
    return tokens


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _cron_weekday(day: date) -> int:
    return (day.weekday() + 1) % 7  # cron: 0 (and 7) is Sunday


@st.composite
def day_of_month(draw: st.DrawFn) -> tuple[str, Callable[[date], bool]]:
    kind = draw(st.sampled_from(["*", "?", "numbers", "late", "L", "L-and-numbers"]))
    if kind in ("*", "?"):
        return kind, lambda day: True
    if kind == "late":  # days that some months lack
        late = draw(st.lists(st.sampled_from([29, 30, 31]), min_size=1, max_size=2))
        return ",".join(map(str, late)), lambda day: day.day in late
    field = draw(numeric_field(1, 31))
    if kind == "numbers":
        return field.text, lambda day: day.day in field.values
    if kind == "L":
        return "L", lambda day: day.day == _last_day(day)
    if field.text.startswith("*"):
        return field.text, lambda day: day.day in field.values
    return f"{field.text},L", lambda day: day.day in field.values or day.day == _last_day(day)


@st.composite
def day_of_week(draw: st.DrawFn) -> tuple[str, Callable[[date], bool]]:
    kind = draw(st.sampled_from(["*", "*", "?", "numbers", "names", "nth", "last", "mixed"]))
    if kind in ("*", "?"):
        return kind, lambda day: True
    if kind in ("numbers", "names"):
        field = draw(numeric_field(0, 6))
        values = field.values
        text = field.text
        if kind == "names" and "/" not in text and text != "*":
            text = "".join(DAYS[int(p)] if p.isdigit() else p for p in _tokens(text))
        elif draw(st.booleans()) and text == "0":
            text, values = "7", frozenset({0})  # 7 is Sunday too
        return text, lambda day: _cron_weekday(day) in values
    weekday = draw(st.integers(0, 6))
    if kind == "nth":
        nth = draw(st.integers(1, 5))
        return (
            f"{weekday}#{nth}",
            lambda day: _cron_weekday(day) == weekday and (day.day - 1) // 7 + 1 == nth,
        )
    if kind == "last":
        return (
            f"L{weekday}",
            lambda day: _cron_weekday(day) == weekday and day.day + 7 > _last_day(day),
        )
    # A plain weekday listed with an nth one: a union.
    plain, nth = draw(st.integers(0, 6)), draw(st.integers(1, 4))
    return (
        f"{plain},{weekday}#{nth}",
        lambda day: (
            _cron_weekday(day) == plain
            or (_cron_weekday(day) == weekday and (day.day - 1) // 7 + 1 == nth)
        ),
    )


@st.composite
def crons(draw: st.DrawFn) -> Cron:
    minute = draw(numeric_field(0, 59))
    hour = draw(numeric_field(0, 23))
    dom_text, dom = draw(day_of_month())
    month = draw(month_fields())
    dow_text, dow = draw(day_of_week())
    restricted = not dom_text.startswith(("*", "?")) and not dow_text.startswith(("*", "?"))

    def day(current: date) -> bool:
        return (dom(current) or dow(current)) if restricted else (dom(current) and dow(current))

    return Cron(
        text=f"{minute.text} {hour.text} {dom_text} {month.text} {dow_text}",
        minutes=tuple(sorted(minute.values)),
        hours=tuple(sorted(hour.values)),
        months=month.values,
        day=day,
    )


def _accepted(text: str) -> Schedule | None:
    """The schedule, or None when it is refused for never firing (any other error fails)."""
    try:
        return Schedule(text)
    except ValueError as error:
        if "never fires" not in str(error):
            raise
        return None


def _utc(wall: datetime | None) -> datetime | None:
    return None if wall is None else wall.replace(tzinfo=UTC)


@pytest.mark.slow
@settings(max_examples=examples(300), deadline=None)
@given(
    cron=crons(),
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
)
def test_every_accepted_cron_fires_as_its_fields_say(cron: Cron, start: datetime) -> None:
    start = start.replace(second=0, microsecond=0)
    schedule = _accepted(cron.text)
    if schedule is None:
        event("refused")
        assert cron.next_after(datetime(2000, 1, 1)) is None, cron.text
        return
    _, _, dom, _, dow = cron.text.split()
    both = not dom.startswith(("*", "?")) and not dow.startswith(("*", "?"))
    event("day-of-month OR day-of-week" if both else "one day field, or AND")
    expected = cron.next_after(start)
    assert expected is not None, f"{cron.text} was accepted but never fires"
    assert schedule.next_fire(start.replace(tzinfo=UTC), ZULU) == _utc(expected), cron.text
    assert schedule.last_fire(start.replace(tzinfo=UTC), ZULU) == _utc(
        cron.last_at_or_before(start)
    ), cron.text


MONTH_LENGTHS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@pytest.mark.slow
@settings(max_examples=examples(150), deadline=None)
@given(
    freq=st.sampled_from(["YEARLY", "MONTHLY", "DAILY"]),
    months=st.lists(st.integers(1, 12), min_size=1, max_size=3, unique=True),
    days=st.lists(
        st.integers(1, 31).flatmap(lambda d: st.sampled_from([d, -d])),
        min_size=1,
        max_size=3,
        unique=True,
    ),
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
)
def test_every_accepted_rrule_fires_within_its_period(
    freq: str, months: list[int], days: list[int], start: datetime
) -> None:
    text = (
        f"RRULE:FREQ={freq};BYMONTH={','.join(map(str, months))};"
        f"BYMONTHDAY={','.join(map(str, days))};BYHOUR=9;BYMINUTE=0"
    )
    possible = any(abs(d) <= MONTH_LENGTHS[m - 1] for d in days for m in months)
    schedule = _accepted(text)
    if schedule is None:
        assert not possible, text
        return
    assert possible, text
    instant = start.replace(tzinfo=UTC)
    following = schedule.next_fire(instant, ZULU)
    # The rarest possible date is Feb 29: at most eight years apart (2096, then 2104).
    assert following is not None, text
    assert instant < following <= instant + timedelta(days=8 * 366), text
