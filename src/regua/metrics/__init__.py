"""Metrics: what the scheduler counts and measures, through a small hook you implement.

A scheduler reports to a `Metrics` object: counters (`Metrics.add`) and measurements for a
histogram (`Metrics.record`), each with a name and a few attributes (labels). The default,
`NullMetrics`, does nothing; `InMemoryMetrics` keeps everything for tests; the optional
`regua.metrics.opentelemetry.OpenTelemetryMetrics` (extra ``otel``) forwards to OpenTelemetry.
Adapting another system (statsd, Prometheus' client) is a class with two methods.

What is reported is listed in `METRICS` (name, kind, unit, meaning) and explained in
``docs/operations.md``: messages sent, deferred, failed and skipped, send attempts that
failed, the duration of each send and of each tick, the due occurrences per tick, contacts
evaluated and contacts in error. Attributes are the cadence, the step, the channel and the
outcome: never personal data.

Calls come from the scheduler's thread (and, with `regua.AsyncScheduler`, from its event
loop): an implementation must be cheap and must not raise.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

__all__ = ["METRICS", "GuardedMetrics", "InMemoryMetrics", "Metrics", "NullMetrics"]

_log = logging.getLogger("regua.metrics")

METRICS: Mapping[str, tuple[str, str, str]] = {
    "regua.messages.sent": ("counter", "1", "Messages accepted by a sender"),
    "regua.messages.deferred": ("counter", "1", "Temporary failures retried later"),
    "regua.messages.failed": ("counter", "1", "Occurrences recorded as failed"),
    "regua.messages.skipped": ("counter", "1", "Occurrences closed without sending"),
    "regua.attempts.temporary_failure": ("counter", "1", "Sends that failed temporarily"),
    "regua.attempts.permanent_failure": ("counter", "1", "Sends that failed permanently"),
    "regua.send.duration": ("histogram", "s", "Duration of one call to a sender"),
    "regua.contacts.evaluated": ("counter", "1", "Contact evaluations"),
    "regua.contacts.errors": ("counter", "1", "Contacts whose evaluation raised"),
    "regua.tick.duration": ("histogram", "s", "Duration of a tick"),
    "regua.tick.due": ("histogram", "1", "Due occurrences planned in a tick"),
}
"""Every metric regua reports: name -> (kind, unit, description)."""

Attributes = Mapping[str, str]


@runtime_checkable
class Metrics(Protocol):
    """Receives the scheduler's counters and measurements (see the table in `regua.metrics`).

    Both methods must be cheap, safe to call from several threads, and must never raise: a
    metrics backend that is down must not stop messages from being sent.
    """

    def add(self, name: str, amount: int, attributes: Attributes | None = None) -> None:
        """Add `amount` (a non-negative integer) to the counter `name`."""
        ...

    def record(self, name: str, value: float, attributes: Attributes | None = None) -> None:
        """Record one measurement `value` of the histogram `name`."""
        ...


class NullMetrics:
    """The default `Metrics`: discards everything."""

    def add(self, name: str, amount: int, attributes: Attributes | None = None) -> None:
        """Do nothing."""

    def record(self, name: str, value: float, attributes: Attributes | None = None) -> None:
        """Do nothing."""

    def __repr__(self) -> str:
        return "NullMetrics()"


def _label(attributes: Attributes | None) -> frozenset[tuple[str, str]]:
    return frozenset((attributes or {}).items())


class InMemoryMetrics:
    """A `Metrics` that keeps every counter and measurement, for tests and debugging.

    >>> from regua.metrics import InMemoryMetrics
    >>> metrics = InMemoryMetrics()
    >>> metrics.add("regua.messages.sent", 1, {"channel": "email", "step": "welcome"})
    >>> metrics.add("regua.messages.sent", 2, {"channel": "sms", "step": "welcome"})
    >>> metrics.count("regua.messages.sent"), metrics.count("regua.messages.sent", channel="sms")
    (3, 2)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[tuple[str, frozenset[tuple[str, str]]], int] = {}
        self._values: list[tuple[str, frozenset[tuple[str, str]], float]] = []

    def add(self, name: str, amount: int, attributes: Attributes | None = None) -> None:
        """Add `amount` to the counter `name` with these attributes."""
        key = (name, _label(attributes))
        with self._lock:
            self._counters[key] = self._counters.get(key, 0) + amount

    def record(self, name: str, value: float, attributes: Attributes | None = None) -> None:
        """Keep the measurement."""
        with self._lock:
            self._values.append((name, _label(attributes), value))

    def count(self, name: str, **attributes: str) -> int:
        """The sum of counter `name` over every attribute set that includes `attributes`."""
        wanted = set(attributes.items())
        with self._lock:
            return sum(
                amount
                for (counter, labels), amount in self._counters.items()
                if counter == name and wanted <= labels
            )

    def values(self, name: str, **attributes: str) -> list[float]:
        """The measurements of histogram `name` whose attributes include `attributes`."""
        wanted = set(attributes.items())
        with self._lock:
            return [v for n, labels, v in self._values if n == name and wanted <= labels]

    def counters(self) -> dict[str, int]:
        """Every counter's total, by name."""
        totals: dict[str, int] = {}
        with self._lock:
            for (name, _), amount in self._counters.items():
                totals[name] = totals.get(name, 0) + amount
        return totals

    def __repr__(self) -> str:
        return f"InMemoryMetrics({self.counters()!r})"


class GuardedMetrics:
    """Wraps a `Metrics` so that an exception it raises is logged, never propagated.

    The schedulers wrap whatever they are given in it: a message accepted by a provider must
    be recorded as sent even when the metrics backend fails at that moment.
    """

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def add(self, name: str, amount: int, attributes: Attributes | None = None) -> None:
        """Forward to the wrapped `Metrics.add`; log what it raises."""
        try:
            self.metrics.add(name, amount, attributes)
        except Exception:
            _log.exception("metrics %r: add(%r) failed; ignored", self.metrics, name)

    def record(self, name: str, value: float, attributes: Attributes | None = None) -> None:
        """Forward to the wrapped `Metrics.record`; log what it raises."""
        try:
            self.metrics.record(name, value, attributes)
        except Exception:
            _log.exception("metrics %r: record(%r) failed; ignored", self.metrics, name)

    def __repr__(self) -> str:
        return f"GuardedMetrics({self.metrics!r})"
