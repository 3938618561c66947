"""Plain-text tables for forecasts and diffs, as the command line prints them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from regua.forecasting.result import Forecast

__all__ = ["forecast_table", "money", "render_table"]


def money(value: float) -> str:
    """A cost as printed in tables and reports: two decimals, thousands separated."""
    return f"{value:,.2f}"


def count(number: int, noun: str) -> str:
    """``1 message``, ``2 messages``, ``1,000 messages``."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def render_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns aligned under `header`; numbers (int, float) right-aligned, text left-aligned."""
    cells = [[str(h) for h in header], *([_cell(value) for value in row] for row in rows)]
    numeric = [
        bool(rows) and all(isinstance(row[i], (int, float)) for row in rows if row[i] != "")
        for i in range(len(header))
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(widths[i]) if numeric[i] else value.ljust(widths[i])
            for i, value in enumerate(values)
        ]
        return "  ".join(parts).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(values) for values in cells[1:]]
    return "\n".join(out)


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return money(value)
    return str(value)


def forecast_table(forecast: Forecast, *, top: int = 10) -> str:
    """The report `regua forecast` prints (see `Forecast.table`)."""
    period = (
        f"{forecast.days()[0].isoformat()} to {forecast.days()[-1].isoformat()}"
        if forecast.days()
        else "an empty period"
    )
    lines = [
        f"Forecast for {period} ({forecast.timezone}): {count(forecast.contacts, 'contact')}, "
        f"{count(forecast.messages, 'message')}, cost {money(forecast.cost)}",
        "",
    ]
    per_step: dict[tuple[str, str, str], list[float]] = {}
    for row in forecast.rows:
        entry = per_step.setdefault((row.cadence, row.step, row.channel), [0, 0.0])
        entry[0] += row.messages
        entry[1] += row.cost
    several = len({cadence for cadence, _, _ in per_step}) > 1
    step_rows: list[list[object]] = [
        [*([cadence] if several else []), step, channel, int(value[0]), value[1]]
        for (cadence, step, channel), value in sorted(per_step.items())
    ]
    header = [*(["cadence"] if several else []), "step", "channel", "messages", "cost"]
    if step_rows:
        lines.append(render_table(header, step_rows))
        lines.append("")
        channel_rows: list[list[object]] = [
            [channel, messages, cost] for channel, (messages, cost) in forecast.totals().items()
        ]
        channel_rows.append(["total", forecast.messages, forecast.cost])
        lines.append(render_table(["channel", "messages", "cost"], channel_rows))
        lines.append("")
    else:
        lines += ["(nothing would be sent)", ""]
    peak = forecast.peak_day
    if peak is not None:
        lines.append(
            f"peak day: {peak.day.isoformat()}, {count(peak.messages, 'message')}, "
            f"cost {money(peak.cost)}"
        )
    if forecast.failed:
        lines.append(f"failed on every channel: {forecast.failed:,}")
    most = forecast.top_contacts(top)
    if most:
        lines.append(
            "most messaged contacts: " + ", ".join(f"{who} ({count})" for who, count in most)
        )
    return "\n".join(lines).rstrip() + "\n"
