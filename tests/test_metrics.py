"""The metrics hook: the in-memory recorder, the guard, and the OpenTelemetry adapter."""

from __future__ import annotations

import builtins
import logging
from datetime import datetime, timezone
from typing import Any

import pytest

from regua import (
    Cadence,
    Channel,
    Contact,
    Event,
    InMemoryRepository,
    OutboxSender,
    Scheduler,
    Step,
    on_event,
)
from regua.errors import MissingDependencyError
from regua.metrics import METRICS, GuardedMetrics, InMemoryMetrics, Metrics, NullMetrics

T0 = datetime(2026, 5, 4, 15, tzinfo=timezone.utc)


def test_in_memory_metrics_sum_over_matching_attributes() -> None:
    metrics = InMemoryMetrics()
    metrics.add("regua.messages.sent", 1, {"channel": "email", "step": "a"})
    metrics.add("regua.messages.sent", 2, {"channel": "sms", "step": "a"})
    metrics.add("regua.messages.sent", 4, {"channel": "sms", "step": "b"})
    metrics.record("regua.tick.duration", 0.5)
    metrics.record("regua.send.duration", 0.1, {"channel": "sms"})
    assert metrics.count("regua.messages.sent") == 7
    assert metrics.count("regua.messages.sent", channel="sms") == 6
    assert metrics.count("regua.messages.sent", channel="sms", step="b") == 4
    assert metrics.count("regua.messages.failed") == 0
    assert metrics.values("regua.send.duration", channel="sms") == [0.1]
    assert metrics.values("regua.send.duration", channel="email") == []
    assert metrics.counters() == {"regua.messages.sent": 7}
    assert isinstance(metrics, Metrics)
    assert isinstance(NullMetrics(), Metrics)


def test_guarded_metrics_log_what_the_backend_raises(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def add(self, name: str, amount: int, attributes: Any = None) -> None:
            raise ConnectionError("statsd down")

        def record(self, name: str, value: float, attributes: Any = None) -> None:
            raise ConnectionError("statsd down")

    guarded = GuardedMetrics(Broken())
    guarded.add("regua.messages.sent", 1)
    guarded.record("regua.tick.duration", 1.0)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert all("statsd down" in str(r.exc_info[1]) for r in errors if r.exc_info)


def test_open_telemetry_adapter_records_through_the_sdk() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from regua.metrics.opentelemetry import OpenTelemetryMetrics

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    metrics = OpenTelemetryMetrics(provider.get_meter("regua-test"))
    shop = Cadence(
        "shop",
        channels=[Channel("email")],
        steps=[Step("confirm", trigger=on_event("order_placed"), channels=["email"])],
    )
    repository = InMemoryRepository()
    for name in ("ana", "bia"):
        repository.upsert_contact(Contact(name, consents={"email"}, addresses={"email": "x@y"}))
        repository.record_event(Event(name, "order_placed", T0, id=f"o-{name}"))
    outbox = OutboxSender()
    Scheduler(shop, repository=repository, senders={"email": outbox}, metrics=metrics).tick(T0)

    data = reader.get_metrics_data()
    assert data is not None
    found: dict[str, Any] = {
        metric.name: metric
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    sent = found["regua.messages.sent"]
    (point,) = sent.data.data_points
    assert point.value == 2
    assert dict(point.attributes) == {"cadence": "shop", "step": "confirm", "channel": "email"}
    assert sent.unit == METRICS["regua.messages.sent"][1]
    (tick,) = found["regua.tick.duration"].data.data_points
    assert tick.count == 1
    assert found["regua.tick.duration"].unit == "s"
    provider.shutdown()


def test_open_telemetry_adapter_names_the_extra_when_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_import = builtins.__import__

    def no_otel(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("opentelemetry"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    from regua.metrics.opentelemetry import OpenTelemetryMetrics

    monkeypatch.setattr(builtins, "__import__", no_otel)
    with pytest.raises(MissingDependencyError, match=r"pip install 'regua\[otel\]'"):
        OpenTelemetryMetrics()
