"""Zones, DST transitions and instant strategies shared by the calendar and schedule tests.

Expected instants are worked out by hand in the tests' comments. The transitions used:

* America/New_York: 2025-03-09 02:00 EST (-05) -> 03:00 EDT (-04), i.e. at 07:00Z;
  2025-11-02 02:00 EDT -> 01:00 EST, at 06:00Z (01:00-01:59 happens twice).
* Europe/Lisbon: 2025-03-30 01:00 WET (+00) -> 02:00 WEST (+01), at 01:00Z;
  2025-10-26 02:00 WEST -> 01:00 WET, at 01:00Z.
* America/Sao_Paulo (DST until 2019): 2018-11-04 00:00 (-03) -> 01:00 (-02), at 03:00Z;
  2019-02-17 00:00 (-02) -> 2019-02-16 23:00 (-03), at 02:00Z.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from regua.planning.calendar import UTC

NEW_YORK = ZoneInfo("America/New_York")
LISBON = ZoneInfo("Europe/Lisbon")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
HAVANA = ZoneInfo("America/Havana")
ZULU = ZoneInfo("UTC")

# For the properties: DST north and south, a half-hour DST shift (Lord Howe), an odd offset
# with DST (Chatham, +12:45/+13:45) and a zone without DST.
ZONES = [
    NEW_YORK,
    LISBON,
    SAO_PAULO,
    ZoneInfo("Australia/Lord_Howe"),
    ZoneInfo("Pacific/Chatham"),
    ZoneInfo("Asia/Tokyo"),
]


def z(text: str) -> datetime:
    """A UTC instant from 'YYYY-MM-DDTHH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def wall(text: str) -> datetime:
    """A naive local wall time from 'YYYY-MM-DDTHH:MM'."""
    return datetime.fromisoformat(text)


instants = st.datetimes(min_value=datetime(2010, 1, 1), max_value=datetime(2035, 1, 1)).map(
    lambda naive: naive.replace(tzinfo=UTC, microsecond=0)
)


def _transitions(tz: ZoneInfo, year: int) -> list[datetime]:
    """The instants `tz` changed its UTC offset in `year`, found by day scan and bisection."""
    found: list[datetime] = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    while day.year == year:
        low, high = day, day + timedelta(days=1)
        if low.astimezone(tz).utcoffset() != high.astimezone(tz).utcoffset():
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if middle.astimezone(tz).utcoffset() == low.astimezone(tz).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high.replace(second=0, microsecond=0))
        day += timedelta(days=1)
    return found


# Random instants rarely land near a DST change, so half the examples are drawn within two
# days of one (2018 for Sao Paulo's last DST, 2025 for the others).
TRANSITIONS = [
    (tz, instant)
    for tz in [*ZONES, HAVANA]
    for year in (2018, 2025)
    for instant in _transitions(tz, year)
]


def zoned_instants(zones: list[ZoneInfo]) -> st.SearchStrategy[tuple[ZoneInfo, datetime]]:
    near = [pair for pair in TRANSITIONS if pair[0] in zones]
    return st.one_of(
        st.tuples(st.sampled_from(zones), instants),
        st.tuples(st.sampled_from(near), st.integers(-2 * 86400, 2 * 86400)).map(
            lambda drawn: (drawn[0][0], drawn[0][1] + timedelta(seconds=drawn[1]))
        ),
    )
