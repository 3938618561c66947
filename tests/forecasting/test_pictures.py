"""Charts and the HTML page: what they draw is the forecast's numbers, checked in the files."""

from __future__ import annotations

import json
import re
import struct
import zlib
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from regua import ReguaError, forecast
from regua.forecasting import Assumptions, EventRate, Forecast
from regua.forecasting.charts import (
    forecast_chart_data,
    forecast_figure,
    save_forecast_plot,
    save_timeline_plot,
    timeline_figure,
)
from regua.forecasting.html_page import forecast_html
from regua.testing import Scenario
from tests.forecasting.simulated import ROOT, example_cadence
from tests.forecasting.test_matches_simulation import sample_contacts

pytest.importorskip("matplotlib")

UTC = timezone.utc
START = datetime(2026, 3, 2, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def result() -> Forecast:
    assumptions = Assumptions(
        events=[EventRate("cart_abandoned", 0.2), EventRate("order_placed", 0.1)], seed=3
    )
    return forecast(example_cadence(), sample_contacts(40), START, "30d", assumptions=assumptions)


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        assert (
            zlib.crc32(kind + body)
            == struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])[0]
        )
        chunks.append((kind, body))
        offset += 12 + length
    return chunks


def test_the_figure_plots_the_daily_series_and_the_cumulative_cost(result: Forecast) -> None:
    figure = forecast_figure(result)
    volume, cost = figure.axes
    plotted = {line.get_label(): list(line.get_ydata()) for line in volume.get_lines()}
    assert plotted == result.daily()
    assert sum(sum(series) for series in plotted.values()) == result.messages
    (cumulative,) = cost.get_lines()
    assert list(cumulative.get_ydata()) == pytest.approx(result.cumulative_cost())
    assert cumulative.get_ydata()[-1] == pytest.approx(result.cost)


def test_the_png_holds_the_picture_and_the_series(result: Forecast, tmp_path: Path) -> None:
    path = save_forecast_plot(result, tmp_path / "volume.png")
    chunks = png_chunks(path.read_bytes())
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert (width, height) == (1100, 715)  # 10 x 6.5 inches at 110 dpi
    texts = dict(body.split(b"\0", 1) for kind, body in chunks if kind == b"tEXt")
    embedded = json.loads(texts[b"Description"])
    assert embedded == json.loads(json.dumps(forecast_chart_data(result)))
    assert sum(sum(s) for s in embedded["daily"].values()) == result.messages
    # The pixels are a drawing, not a blank canvas: several distinct colours (the series).
    from PIL import Image

    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None
    assert len(colours) > 50


def test_the_svg_holds_the_series_too(result: Forecast, tmp_path: Path) -> None:
    text = save_forecast_plot(result, tmp_path / "volume.svg").read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml")
    described = re.search(r"<dc:description>(.*?)</dc:description>", text, re.DOTALL)
    assert described is not None
    data = json.loads(described.group(1).replace("&quot;", '"'))
    assert data["daily"] == result.daily()


def test_other_suffixes_are_refused(result: Forecast, tmp_path: Path) -> None:
    with pytest.raises(ReguaError, match=r"volume.pdf: a picture must be a .png or .svg file"):
        save_forecast_plot(result, tmp_path / "volume.pdf")


def test_the_timeline_has_one_row_per_contact_and_one_mark_per_message(tmp_path: Path) -> None:
    scenario = Scenario.from_file(ROOT / "examples" / "scenarios" / "ecommerce_400_days.yaml")
    sent = scenario.run(example_cadence()).outbox
    figure = timeline_figure(sent)
    (axes,) = figure.axes
    contacts = [label.get_text() for label in axes.get_yticklabels()]
    assert contacts == list(dict.fromkeys(s.contact_id for s in sent))
    marks = {c.get_label(): len(c.get_offsets()) for c in axes.collections}
    by_channel: dict[str, int] = {}
    for message in sent:
        by_channel[message.channel] = by_channel.get(message.channel, 0) + 1
    assert marks == by_channel
    path = save_timeline_plot(sent, tmp_path / "timeline.png")
    texts = dict(
        body.split(b"\0", 1) for kind, body in png_chunks(path.read_bytes()) if kind == b"tEXt"
    )
    assert len(json.loads(texts[b"Description"])["messages"]) == len(sent)


class _Tables(HTMLParser):
    """Cells of every table by id, and the external references of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.external: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if values.get(name) and not str(values[name]).startswith(("#", "data:")):
                self.external.append(str(values[name]))
        if tag == "table":
            self._table = values.get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_the_html_page_is_self_contained_and_its_numbers_agree(result: Forecast) -> None:
    cadence = example_cadence()
    page = forecast_html(result, [cadence])
    parser = _Tables()
    parser.feed(page)
    assert parser.external == []
    assert "<script src" not in page
    # Namespace names (xmlns="http://www.w3.org/...") identify, they fetch nothing.
    fetchable = re.sub(r'xmlns(:\w+)?="[^"]*"', "", page)
    assert "http://" not in fetchable
    assert "https://" not in fetchable

    data = json.loads(re.search(r'id="regua-forecast">(.*?)</script>', page, re.DOTALL).group(1))  # type: ignore[union-attr]
    by_channel = {row[0]: int(row[1].replace(",", "")) for row in parser.tables["by-channel"][1:]}
    # The series embedded in the page sum to the table's totals, channel by channel.
    for channel, series in data["daily"].items():
        assert sum(series) == by_channel[channel]
    assert by_channel["total"] == result.messages == data["messages"]
    # The per-day table agrees with the series, day by day.
    daily = parser.tables["daily"]
    header = daily[0]
    for row in daily[1:]:
        day = row[0]
        index = data["days"].index(day)
        for channel in data["daily"]:
            assert int(row[header.index(channel)].replace(",", "")) == data["daily"][channel][index]
    # And the text table the command line prints shows the same totals.
    text = result.table()
    for channel, total in by_channel.items():
        assert re.search(rf"^{channel} +{total:,}\b", text, re.MULTILINE), channel
    # The diagram of the cadence and the chart are inline SVG.
    assert page.count("<svg") == 2
    assert 'class="cadence-diagram"' in page
    for step in cadence.steps:
        assert f">{step.name}<" in page
    assert "flowchart LR" in page  # the Mermaid source, for copying


def test_a_page_escapes_what_it_shows(result: Forecast) -> None:
    page = forecast_html(result, [example_cadence()], title="<b>Q3</b> & co")
    assert "&lt;b&gt;Q3&lt;/b&gt; &amp; co" in page
    assert "<b>Q3</b>" not in page


def test_an_empty_forecast_still_makes_a_page() -> None:
    empty = forecast(example_cadence(), [], START, timedelta(days=3))
    page = forecast_html(empty, [example_cadence()])
    assert "Nothing would be sent." in page
