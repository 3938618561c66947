"""Charts of forecasts and simulations, drawn with matplotlib (the ``plot`` extra).

* `forecast_figure`: the daily volume per channel, and the cumulative cost;
* `timeline_figure`: a simulation's messages, one row per contact, one mark per message,
  coloured by channel.

Figures are built with `matplotlib.figure.Figure` directly (no pyplot, no global state, no
display needed). `save_figure` writes PNG or SVG and embeds the plotted series, as JSON, in
the file's metadata (a PNG text chunk, the SVG's description), so a picture can be checked
against the numbers it was drawn from: `save_forecast_plot` and `save_timeline_plot` do both.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regua.errors import MissingDependencyError, ReguaError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from regua.forecasting.result import Forecast
    from regua.testing.simulation import Sent

__all__ = [
    "FORMATS",
    "METADATA_KEY",
    "check_picture_path",
    "forecast_chart_data",
    "forecast_figure",
    "save_figure",
    "save_forecast_plot",
    "save_timeline_plot",
    "timeline_figure",
]

FORMATS = ("png", "svg")
"""The picture formats `save_figure` writes, chosen by the file's suffix."""

METADATA_KEY = "Description"
"""The metadata entry holding the plotted series as JSON (PNG text chunk, SVG description)."""


def _matplotlib(feature: str) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise MissingDependencyError(feature, "plot", "matplotlib") from None


def forecast_figure(forecast: Forecast) -> Figure:
    """Two charts: messages per day for each channel, and the cumulative cost.

    The first axes hold one line per channel (labelled with the channel's name) whose
    y-values are `Forecast.daily`; the second holds one line, the `Forecast.cumulative_cost`.

    Raises:
        MissingDependencyError: matplotlib (the ``plot`` extra) is not installed.

    """
    _matplotlib("Forecast charts")
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    days = forecast.days()
    figure = Figure(figsize=(10, 6.5), layout="constrained")
    volume, cost = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    for channel, series in forecast.daily().items():
        volume.plot(days, series, marker="o", markersize=2.5, linewidth=1.4, label=channel)
    volume.set_ylabel("messages per day")
    volume.set_title(
        f"{forecast.messages:,} messages to {forecast.contacts:,} contacts, "
        f"{days[0].isoformat() if days else ''} to {days[-1].isoformat() if days else ''} "
        f"({forecast.timezone})",
        fontsize=11,
    )
    if forecast.rows:
        volume.legend(title="channel", loc="upper left", fontsize=9)
    volume.grid(alpha=0.3)
    volume.set_ylim(bottom=0)
    cost.plot(days, forecast.cumulative_cost(), color="tab:red", linewidth=1.8, label="cost")
    cost.set_ylabel("cumulative cost")
    cost.grid(alpha=0.3)
    cost.set_ylim(bottom=0)
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    cost.xaxis.set_major_locator(locator)
    cost.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    return figure


def forecast_chart_data(forecast: Forecast) -> dict[str, Any]:
    """The series `forecast_figure` plots: days, messages per channel, cumulative cost."""
    return {
        "days": [day.isoformat() for day in forecast.days()],
        "daily": forecast.daily(),
        "cumulative_cost": forecast.cumulative_cost(),
    }


def save_forecast_plot(forecast: Forecast, path: str | os.PathLike[str]) -> Path:
    """Draw `forecast_figure` into a PNG or SVG file, with `forecast_chart_data` embedded."""
    return save_figure(forecast_figure(forecast), path, data=forecast_chart_data(forecast))


def timeline_figure(sent: Sequence[Sent], *, title: str = "") -> Figure:
    """A simulation's messages: one row per contact, one mark per message, per channel.

    Contacts are in the order of their first message, top to bottom; each channel is one
    scatter series (labelled with its name) of (instant, contact row) points, and each mark
    is annotated with the step's name when there are few enough to read.

    Raises:
        MissingDependencyError: matplotlib (the ``plot`` extra) is not installed.

    """
    _matplotlib("Timeline pictures")
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    contacts = list(dict.fromkeys(s.contact_id for s in sent))
    row = {contact: index for index, contact in enumerate(contacts)}
    height = max(3.0, 0.9 * len(contacts) + 1.5)
    figure = Figure(figsize=(11, height), layout="constrained")
    axes = figure.subplots()
    by_channel: dict[str, list[Sent]] = {}
    for message in sent:
        by_channel.setdefault(message.channel, []).append(message)
    for channel in sorted(by_channel):
        messages = by_channel[channel]
        axes.scatter(
            [m.at for m in messages],  # type: ignore[arg-type]  # matplotlib takes datetimes
            [row[m.contact_id] for m in messages],
            label=channel,
            s=36,
            zorder=3,
        )
    if len(sent) <= 80:
        _label_steps(axes, sent, row)
    axes.set_yticks(range(len(contacts)), contacts)
    axes.set_ylim(len(contacts) - 0.5, -0.8)
    axes.grid(axis="x", alpha=0.3)
    axes.set_xlabel("time (UTC)")
    axes.set_title(title or f"{len(sent)} messages to {len(contacts)} contacts", fontsize=11)
    if sent:
        axes.legend(title="channel", loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
        locator = AutoDateLocator()  # type: ignore[no-untyped-call]
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    return figure


# Label offsets (points) for marks close together on one row: above, higher, below, lower.
_LABEL_OFFSETS = ((0, 7), (0, 17), (0, -15), (0, -25))


def _label_steps(axes: Any, sent: Sequence[Sent], row: dict[str, int]) -> None:
    """Write each message's step beside its mark, staggering labels that would collide."""
    if not sent:
        return
    first = min(m.at for m in sent)
    span = max((max(m.at for m in sent) - first).total_seconds(), 1.0)
    last_at: dict[str, tuple[float, int]] = {}
    for message in sorted(sent, key=lambda m: (m.contact_id, m.at)):
        position = (message.at - first).total_seconds() / span
        previous = last_at.get(message.contact_id)
        level = 0
        if previous is not None and position - previous[0] < 0.1:
            level = (previous[1] + 1) % len(_LABEL_OFFSETS)
        last_at[message.contact_id] = (position, level)
        axes.annotate(
            message.step,
            (message.at, row[message.contact_id]),
            textcoords="offset points",
            xytext=_LABEL_OFFSETS[level],
            ha="center",
            fontsize=6.5,
        )


def save_timeline_plot(
    sent: Sequence[Sent], path: str | os.PathLike[str], *, title: str = ""
) -> Path:
    """Draw `timeline_figure` into a PNG or SVG file, with the messages embedded."""
    data = {
        "messages": [
            {
                "at": m.at.isoformat().replace("+00:00", "Z"),
                "contact": m.contact_id,
                "step": m.step,
                "channel": m.channel,
            }
            for m in sent
        ]
    }
    return save_figure(timeline_figure(sent, title=title), path, data=data)


def check_picture_path(path: str | os.PathLike[str]) -> str:
    """The format (``png`` or ``svg``) of a picture path; check matplotlib is there too.

    Raises:
        ReguaError: the suffix is not ``.png`` or ``.svg``.
        MissingDependencyError: matplotlib (the ``plot`` extra) is not installed.

    """
    kind = Path(path).suffix.lower().lstrip(".")
    if kind not in FORMATS:
        raise ReguaError(f"{os.fspath(path)}: a picture must be a .png or .svg file")
    _matplotlib("Pictures")
    return kind


def save_figure(figure: Figure, path: str | os.PathLike[str], *, data: Any = None) -> Path:
    """Write `figure` as PNG or SVG (by the suffix), with `data` as JSON in its metadata.

    Raises:
        ReguaError: the suffix is not ``.png`` or ``.svg``, or the file cannot be written.

    """
    target = Path(path)
    kind = check_picture_path(path)
    metadata = {} if data is None else {METADATA_KEY: json.dumps(data, separators=(",", ":"))}
    try:
        figure.savefig(target, format=kind, dpi=110, metadata=metadata)
    except OSError as exc:
        raise ReguaError(f"cannot write {os.fspath(path)}: {exc.strerror or exc}") from None
    return target
