"""The result of a forecast: messages and cost per day, channel and step; per contact; the peak."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, Literal

import attrs

from regua.forecasting.assumptions import Assumptions

__all__ = ["Forecast", "ForecastRow", "PeakDay"]

Dimension = Literal["day", "cadence", "step", "channel"]


@attrs.frozen(slots=True)
class ForecastRow:
    """Messages one step sends on one channel on one day, and what they cost.

    Attributes:
        day: The local date (in the forecast's timezone).
        cadence: Cadence name.
        step: Step name.
        channel: The channel the messages go out on (after any fallback).
        messages: How many.
        cost: ``messages`` times the channel's `Channel.cost`.

    """

    day: date
    cadence: str
    step: str
    channel: str
    messages: int
    cost: float

    def as_dict(self) -> dict[str, Any]:
        """The row as a JSON-ready mapping (the day in ISO format)."""
        return {
            "day": self.day.isoformat(),
            "cadence": self.cadence,
            "step": self.step,
            "channel": self.channel,
            "messages": self.messages,
            "cost": self.cost,
        }


@attrs.frozen(slots=True)
class PeakDay:
    """The day with the most messages (the earliest, on a tie).

    Attributes:
        day: The local date.
        messages: Messages sent that day.
        cost: What they cost.

    """

    day: date
    messages: int
    cost: float


@attrs.frozen(slots=True)
class Forecast:
    """What cadences will send over a period: per day, channel and step, per contact, the cost.

    Build one with `regua.forecast`. Days are local dates in `timezone`; the period is
    [`start`, `end`): a message sent exactly at `end` belongs to the next period.

    Attributes:
        start: The first instant of the period (UTC).
        end: The end of the period, excluded (UTC).
        timezone: The timezone whose dates the days are.
        contacts: How many contacts were projected.
        rows: Messages and cost per (day, cadence, step, channel), sorted; days with
            nothing sent have no rows.
        messages_per_contact: Contact id -> messages sent to it (contacts sent nothing are
            left out).
        failed: Occurrences whose every channel failed (with scripted `ChannelFailure`).
        assumptions: The scripted assumptions, if any.

    """

    start: datetime
    end: datetime
    timezone: str
    contacts: int
    rows: tuple[ForecastRow, ...]
    messages_per_contact: Mapping[str, int]
    failed: int = 0
    assumptions: Assumptions | None = None

    # --- totals --------------------------------------------------------------------------------

    @property
    def messages(self) -> int:
        """Every message sent in the period."""
        return sum(row.messages for row in self.rows)

    @property
    def cost(self) -> float:
        """What every message of the period costs."""
        return sum(row.cost for row in self.rows)

    def totals(self, by: Dimension = "channel") -> dict[str, tuple[int, float]]:
        """(messages, cost) per channel, step, cadence or day, sorted by name.

        Steps are named ``cadence:step`` when there are several cadences; days are ISO dates.
        """
        totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        for row in self.rows:
            entry = totals[self._key(row, by)]
            entry[0] += row.messages
            entry[1] += row.cost
        return {key: (int(value[0]), value[1]) for key, value in sorted(totals.items())}

    def _key(self, row: ForecastRow, by: Dimension) -> str:
        if by == "channel":
            return row.channel
        if by == "cadence":
            return row.cadence
        if by == "day":
            return row.day.isoformat()
        if by == "step":
            return f"{row.cadence}:{row.step}" if self._several_cadences else row.step
        raise ValueError(f"by must be 'day', 'cadence', 'step' or 'channel', got {by!r}")

    @property
    def _several_cadences(self) -> bool:
        return len({row.cadence for row in self.rows}) > 1

    # --- series --------------------------------------------------------------------------------

    def days(self) -> list[date]:
        """Every local date of the period, in order (the first and last may be partial)."""
        from regua.definitions.fields import load_timezone

        tz = load_timezone(self.timezone)
        first = self.start.astimezone(tz).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(tz).date()
        if self.end <= self.start:
            return []
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def daily(self, by: Dimension = "channel") -> dict[str, list[int]]:
        """Messages per day for each channel (or step, cadence), aligned with `days`."""
        if by == "day":
            raise ValueError("daily() splits each day by channel, step or cadence, not by day")
        index = {day: n for n, day in enumerate(self.days())}
        series: dict[str, list[int]] = {}
        for row in self.rows:
            key = self._key(row, by)
            values = series.setdefault(key, [0] * len(index))
            values[index[row.day]] += row.messages
        return dict(sorted(series.items()))

    def daily_cost(self) -> list[float]:
        """The cost of each day, aligned with `days`."""
        index = {day: n for n, day in enumerate(self.days())}
        costs = [0.0] * len(index)
        for row in self.rows:
            costs[index[row.day]] += row.cost
        return costs

    def cumulative_cost(self) -> list[float]:
        """The cost spent by the end of each day, aligned with `days`."""
        total = 0.0
        cumulative = []
        for cost in self.daily_cost():
            total += cost
            cumulative.append(total)
        return cumulative

    # --- who and when ------------------------------------------------------------------------

    @property
    def peak_day(self) -> PeakDay | None:
        """The day with the most messages (the earliest on a tie), or None if none is sent."""
        per_day: dict[date, list[float]] = defaultdict(lambda: [0, 0.0])
        for row in self.rows:
            per_day[row.day][0] += row.messages
            per_day[row.day][1] += row.cost
        if not per_day:
            return None
        day = min(per_day, key=lambda d: (-per_day[d][0], d))
        return PeakDay(day, int(per_day[day][0]), per_day[day][1])

    def top_contacts(self, n: int = 10) -> list[tuple[str, int]]:
        """The `n` contacts sent the most messages, most first (ties by id): over-messaging."""
        counts = Counter(self.messages_per_contact)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]

    # --- output --------------------------------------------------------------------------------

    def to_dict(self, *, top: int = 10) -> dict[str, Any]:
        """Everything as JSON-ready data: period, totals, rows, daily series, peak, top."""
        peak = self.peak_day
        return {
            "start": _iso(self.start),
            "end": _iso(self.end),
            "timezone": self.timezone,
            "contacts": self.contacts,
            "messages": self.messages,
            "cost": self.cost,
            "failed": self.failed,
            "peak_day": None
            if peak is None
            else {"day": peak.day.isoformat(), "messages": peak.messages, "cost": peak.cost},
            "by_channel": {k: {"messages": m, "cost": c} for k, (m, c) in self.totals().items()},
            "by_step": {k: {"messages": m, "cost": c} for k, (m, c) in self.totals("step").items()},
            "days": [day.isoformat() for day in self.days()],
            "daily": self.daily(),
            "cumulative_cost": self.cumulative_cost(),
            "top_contacts": [{"contact": c, "messages": m} for c, m in self.top_contacts(top)],
            "rows": [row.as_dict() for row in self.rows],
        }

    def to_json(self, *, indent: int | None = 2, top: int = 10) -> str:
        """`to_dict` as JSON text."""
        return json.dumps(self.to_dict(top=top), indent=indent, ensure_ascii=False)

    def table(self, *, top: int = 10) -> str:
        """A plain-text report: per step and channel, per channel, the peak day, the top."""
        from regua.forecasting.text import forecast_table

        return forecast_table(self, top=top)

    def __str__(self) -> str:
        return self.table()


def _iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")
