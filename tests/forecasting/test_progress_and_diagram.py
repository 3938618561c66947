"""Progress reporting, and the cadence diagram drawn as SVG."""

from __future__ import annotations

import io
import re

import pytest

from regua.forecasting.diagram import cadence_svg
from regua.forecasting.progress import progress_reporter
from tests.forecasting.simulated import example_cadence


def test_off_a_terminal_progress_is_a_plain_line_per_tenth() -> None:
    stream = io.StringIO()
    with progress_reporter(stream) as progress:
        for done in range(1, 1001):
            progress(done, 1000)
    lines = stream.getvalue().splitlines()
    assert [line.rsplit(", ", 1)[0] for line in lines] == [
        f"forecast: {n * 100:,} of 1,000 contacts ({n * 10}%)" for n in range(1, 11)
    ]


def test_an_unknown_total_reports_every_ten_thousand() -> None:
    stream = io.StringIO()
    with progress_reporter(stream) as progress:
        for done in range(1, 25_001):
            progress(done, None)
    assert [line.rsplit(", ", 1)[0] for line in stream.getvalue().splitlines()] == [
        "forecast: 10,000 contacts",
        "forecast: 20,000 contacts",
    ]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_terminal_rich_draws_a_bar() -> None:
    pytest.importorskip("rich")
    stream = _Terminal()
    with progress_reporter(stream) as progress:
        for done in range(1, 51):
            progress(done, 50)
    # rich drew (and, being transient, cleared) a live bar: no plain lines.
    assert "forecast:" not in stream.getvalue()
    assert "contacts" in stream.getvalue()


def test_the_diagram_places_followers_after_the_step_they_follow() -> None:
    cadence = example_cadence()
    svg = cadence_svg(cadence)
    boxes = {
        match.group(3): float(match.group(1))
        for match in re.finditer(
            r'<rect x="([\d.]+)" y="([\d.]+)"[^>]*/>\n<text[^>]*font-weight="bold">([^<]+)</text>',
            svg,
        )
    }
    assert set(boxes) == {step.name for step in cadence.steps}
    assert boxes["cart_second_reminder"] > boxes["cart_reminder"]
    assert boxes["inactive_news_sms"] > boxes["inactive_news"]
    # Triggers are in the first column, left of every step.
    trigger_x = [float(x) for x in re.findall(r'<g class="node trigger"><rect x="([\d.]+)"', svg)]
    assert trigger_x
    assert max(trigger_x) < min(boxes.values())
    # One arrow per edge of `regua graph`, dashed for the cancelling events.
    from regua.graph import to_mermaid

    mermaid = to_mermaid(cadence)
    assert svg.count('class="edge"') == mermaid.count("-->") + mermaid.count("-.->")
    assert svg.count("stroke-dasharray") == mermaid.count("-.->")
