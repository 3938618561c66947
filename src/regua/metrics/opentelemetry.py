"""`Metrics` for OpenTelemetry: regua's counters and histograms as OpenTelemetry instruments.

Needs the optional extra ``otel`` (``pip install 'regua[otel]'``), which installs only
``opentelemetry-api``; the application configures the SDK and its exporters (OTLP,
Prometheus...) as usual, and regua records through the API::

    from regua.metrics.opentelemetry import OpenTelemetryMetrics

    scheduler = Scheduler(cadences, repository=..., senders=...,
                          metrics=OpenTelemetryMetrics())

Without an SDK configured, the API's instruments do nothing, cheaply.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from regua.errors import MissingDependencyError
from regua.metrics import METRICS, Attributes

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter

__all__ = ["OpenTelemetryMetrics"]


class OpenTelemetryMetrics:
    """A `regua.metrics.Metrics` that records through an OpenTelemetry `Meter`.

    Instruments are created on first use, one per metric name, with the unit and description
    listed in `regua.metrics.METRICS` (a name regua does not list gets a plain counter or
    histogram).

    Args:
        meter: The meter to create instruments on; by default
            ``opentelemetry.metrics.get_meter("regua")`` from the global meter provider.

    Raises:
        MissingDependencyError: opentelemetry-api (the extra ``otel``) is not installed.

    """

    def __init__(self, meter: Meter | None = None) -> None:
        try:
            from opentelemetry import metrics
        except ImportError as exc:
            raise MissingDependencyError(
                "OpenTelemetryMetrics", "otel", "opentelemetry-api"
            ) from exc
        from regua import __version__

        self.meter: Meter = meter if meter is not None else metrics.get_meter("regua", __version__)
        self._lock = threading.Lock()
        self._instruments: dict[str, Any] = {}

    def _instrument(self, name: str, kind: str) -> Any:
        instrument = self._instruments.get(name)
        if instrument is None:
            with self._lock:
                instrument = self._instruments.get(name)
                if instrument is None:
                    _, unit, description = METRICS.get(name, (kind, "1", ""))
                    create = (
                        self.meter.create_counter
                        if kind == "counter"
                        else self.meter.create_histogram
                    )
                    instrument = create(name, unit=unit, description=description)
                    self._instruments[name] = instrument
        return instrument

    def add(self, name: str, amount: int, attributes: Attributes | None = None) -> None:
        """Add to the OpenTelemetry counter `name`."""
        self._instrument(name, "counter").add(amount, dict(attributes or {}))

    def record(self, name: str, value: float, attributes: Attributes | None = None) -> None:
        """Record on the OpenTelemetry histogram `name`."""
        self._instrument(name, "histogram").record(value, dict(attributes or {}))

    def __repr__(self) -> str:
        return f"OpenTelemetryMetrics({self.meter!r})"
