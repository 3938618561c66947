"""A forecast as one self-contained HTML page: summary, charts, tables, cadence diagrams.

Everything is inline (styles, the charts as SVG, the diagrams as SVG, the data as JSON): the
file opens offline, can be mailed or attached to a ticket, and loads nothing from anywhere.
The charts need matplotlib (the ``plot`` extra); without it the page says so and keeps the
rest. The numbers behind the page are embedded as JSON in
``<script type="application/json" id="regua-forecast">`` (`Forecast.to_dict`).
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Sequence
from html import escape
from pathlib import Path

from regua.definitions.cadence import Cadence
from regua.errors import MissingDependencyError, ReguaError
from regua.forecasting.diagram import cadence_svg
from regua.forecasting.result import Forecast
from regua.forecasting.text import money
from regua.graph import to_mermaid

__all__ = ["forecast_html", "write_forecast_html"]

_STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #eee; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; border-top: 1px solid #999; }
.summary { font-size: 1.05em; } .note { color: #666; font-size: 0.9em; }
.diagram { overflow-x: auto; border: 1px solid #eee; padding: 0.5em; }
.chart svg { max-width: 100%; height: auto; }
.daily { max-height: 28em; overflow-y: auto; display: inline-block; }
"""


def forecast_html(
    forecast: Forecast, cadences: Sequence[Cadence], *, title: str | None = None, top: int = 10
) -> str:
    """The forecast as a self-contained HTML page (see the module).

    Args:
        forecast: The forecast to show.
        cadences: The cadences it was computed for (drawn as diagrams).
        title: The page's title (default: names the cadences).
        top: How many of the most messaged contacts to list.

    """
    names = ", ".join(c.name for c in cadences)
    heading = title or f"Forecast: {names}"
    days = forecast.days()
    peak = forecast.peak_day
    summary = (
        f"{forecast.messages:,} messages to {forecast.contacts:,} contacts from "
        f"{days[0].isoformat() if days else '-'} to {days[-1].isoformat() if days else '-'} "
        f"({escape(forecast.timezone)}), costing {money(forecast.cost)}."
    )
    if peak is not None:
        summary += (
            f" Peak day: {peak.day.isoformat()}, {peak.messages:,} messages "
            f"(cost {money(peak.cost)})."
        )
    if forecast.failed:
        summary += f" {forecast.failed:,} messages fail on every channel."
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(heading)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(heading)}</h1>",
        f'<p class="summary">{summary}</p>',
        _assumptions(forecast),
        "<h2>Charts</h2>",
        _charts(forecast),
        "<h2>By channel</h2>",
        _by_channel(forecast),
        "<h2>By step</h2>",
        _by_step(forecast),
        "<h2>Most messaged contacts</h2>",
        _top(forecast, top),
        "<h2>Per day</h2>",
        _daily(forecast),
        "<h2>The cadences</h2>",
    ]
    for cadence in cadences:
        parts += [
            f"<h3>{escape(cadence.name)}</h3>",
            f'<div class="diagram">{cadence_svg(cadence)}</div>',
            "<details><summary>Mermaid source (<code>regua graph</code>)</summary>",
            f"<pre>{escape(to_mermaid(cadence))}</pre></details>",
        ]
    data = json.dumps(forecast.to_dict(top=top), ensure_ascii=False).replace("</", "<\\/")
    parts += [
        f'<script type="application/json" id="regua-forecast">{data}</script>',
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def write_forecast_html(
    forecast: Forecast,
    cadences: Sequence[Cadence],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    top: int = 10,
) -> Path:
    """Write `forecast_html` to `path` (UTF-8).

    Raises:
        ReguaError: the file cannot be written.

    """
    target = Path(path)
    try:
        target.write_text(forecast_html(forecast, cadences, title=title, top=top), encoding="utf-8")
    except OSError as exc:
        raise ReguaError(f"cannot write {os.fspath(path)}: {exc.strerror or exc}") from None
    return target


def _assumptions(forecast: Forecast) -> str:
    assumptions = forecast.assumptions
    if assumptions is None or not (assumptions.events or assumptions.failures):
        return '<p class="note">Assumes no new events: the current state, projected forward.</p>'
    items = [
        f"<li>{rate.rate:.2%} of contacts: <code>{escape(rate.event)}</code> every "
        f"{escape(str(rate.every))}</li>"
        for rate in assumptions.events
    ]
    items += [
        f"<li>{failure.rate:.2%} of messages on <code>{escape(failure.channel)}</code> "
        "fail permanently (the next channel is tried)</li>"
        for failure in assumptions.failures
    ]
    return (
        f'<p class="note">Assumptions (seed {assumptions.seed}):</p><ul class="note">'
        + "".join(items)
        + "</ul>"
    )


def _charts(forecast: Forecast) -> str:
    from regua.forecasting.charts import forecast_figure

    try:
        figure = forecast_figure(forecast)
    except MissingDependencyError:
        return (
            '<p class="note">Charts need matplotlib: <code>pip install '
            "'regua[plot]'</code>. The tables below hold the same numbers.</p>"
        )
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    # The RDF block (creator, licence) is for standalone files; the page says what it is.
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.DOTALL)
    return f'<div class="chart">{svg}</div>'


def _num(value: int | float) -> str:
    text = f"{value:,}" if isinstance(value, int) else money(value)
    return f'<td class="num">{text}</td>'


def _by_channel(forecast: Forecast) -> str:
    rows = [
        f'<tr data-channel="{escape(channel)}"><td>{escape(channel)}</td>'
        f"{_num(messages)}{_num(cost)}</tr>"
        for channel, (messages, cost) in forecast.totals().items()
    ]
    rows.append(
        f'<tr class="total"><td>total</td>{_num(forecast.messages)}{_num(forecast.cost)}</tr>'
    )
    return (
        '<table id="by-channel"><tr><th>channel</th><th class="num">messages</th>'
        '<th class="num">cost</th></tr>' + "".join(rows) + "</table>"
    )


def _by_step(forecast: Forecast) -> str:
    per_step: dict[tuple[str, str, str], list[float]] = {}
    for row in forecast.rows:
        entry = per_step.setdefault((row.cadence, row.step, row.channel), [0, 0.0])
        entry[0] += row.messages
        entry[1] += row.cost
    if not per_step:
        return "<p>Nothing would be sent.</p>"
    rows = [
        f"<tr><td>{escape(cadence)}</td><td>{escape(step)}</td><td>{escape(channel)}</td>"
        f"{_num(int(value[0]))}{_num(value[1])}</tr>"
        for (cadence, step, channel), value in sorted(per_step.items())
    ]
    return (
        '<table id="by-step"><tr><th>cadence</th><th>step</th><th>channel</th>'
        '<th class="num">messages</th><th class="num">cost</th></tr>' + "".join(rows) + "</table>"
    )


def _top(forecast: Forecast, top: int) -> str:
    most = forecast.top_contacts(top)
    if not most:
        return "<p>Nobody would be sent anything.</p>"
    rows = [f"<tr><td>{escape(who)}</td>{_num(count)}</tr>" for who, count in most]
    return (
        '<table id="top-contacts"><tr><th>contact</th><th class="num">messages</th></tr>'
        + "".join(rows)
        + "</table>"
    )


def _daily(forecast: Forecast) -> str:
    days = forecast.days()
    series = forecast.daily()
    channels = list(series)
    costs = forecast.daily_cost()
    cumulative = forecast.cumulative_cost()
    header = (
        "<tr><th>day</th>"
        + "".join(f'<th class="num">{escape(c)}</th>' for c in channels)
        + '<th class="num">total</th><th class="num">cost</th>'
        '<th class="num">cumulative cost</th></tr>'
    )
    rows = []
    for index, day in enumerate(days):
        counts = [series[c][index] for c in channels]
        rows.append(
            f'<tr data-day="{day.isoformat()}"><td>{day.isoformat()}</td>'
            + "".join(_num(n) for n in counts)
            + f"{_num(sum(counts))}{_num(costs[index])}{_num(cumulative[index])}</tr>"
        )
    return '<div class="daily"><table id="daily">' + header + "".join(rows) + "</table></div>"
