"""Scripted assumptions: what customers are expected to do during a forecast, reproducibly.

A forecast with no assumptions projects the current state forward with no new events. To ask
"what if 2% of customers place an order each week?", give an `Assumptions` with an
`EventRate`; to see fallbacks at work, a `ChannelFailure` makes a share of the messages on a
channel fail permanently, so that they go out on the step's next channel.

Every draw comes from a hash of the seed, the contact id and what is drawn (never from a
shared random stream), so a contact's scripted events do not depend on which other contacts
are in the forecast or in what order they are projected, and the same seed always gives the
same forecast.

>>> from datetime import datetime, timezone
>>> rate = EventRate("order_placed", 0.5, every="1w")
>>> start = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> a = Assumptions(events=[rate], seed=7).events_for("ana", start, start.replace(day=30))
>>> b = Assumptions(events=[rate], seed=7).events_for("ana", start, start.replace(day=30))
>>> a == b
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from regua.definitions.durations import Duration
from regua.planning.calendar import shift
from regua.records import Event

__all__ = ["Assumptions", "ChannelFailure", "EventRate"]

UTC = timezone.utc
_UTC_ZONE = ZoneInfo("UTC")


def _duration(value: Duration | timedelta | str) -> Duration:
    duration = Duration.parse(value)
    if duration.is_zero or duration.is_negative:
        raise ValueError(f"EventRate.every must be a positive duration, got {value!r}")
    return duration


def _rate(value: float, name: str) -> float:
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{name} must be a share between 0 and 1, got {value!r}")
    return rate


def _check_event_rate(instance: EventRate, attribute: Any, value: float) -> None:
    _rate(value, "EventRate.rate")


def _check_failure_rate(instance: ChannelFailure, attribute: Any, value: float) -> None:
    _rate(value, "ChannelFailure.rate")


def _uniforms(*parts: object) -> tuple[float, float]:
    """Two independent uniform draws in [0, 1) from a hash of `parts`."""
    digest = hashlib.blake2b(
        "\x1f".join(str(part) for part in parts).encode(), digest_size=16
    ).digest()
    return (
        int.from_bytes(digest[:8], "big") / 2**64,
        int.from_bytes(digest[8:], "big") / 2**64,
    )


@attrs.frozen(slots=True)
class EventRate:
    """A share of the contacts does `event` once in each period of length `every`.

    ``EventRate("order_placed", 0.02, every="1w")`` reads "2% of customers place an order each
    week". The periods are counted from the forecast's start; in each one every contact draws
    whether it does the event (probability `rate`) and, if so, when (uniformly within the
    period, to the second).

    Attributes:
        event: The event's name.
        rate: The probability, per contact and period, between 0 and 1.
        every: The period (``"1w"``, ``"30d"``, ``"1mo"``...); calendar units count in UTC.
        data: The event's data (e.g. an order total read by a condition).

    """

    event: str
    rate: float = attrs.field(converter=float, validator=_check_event_rate)
    every: Duration = attrs.field(default=Duration(days=7), converter=_duration)
    data: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)

    def __attrs_post_init__(self) -> None:
        if not self.event:
            raise ValueError("EventRate.event must name an event")

    @classmethod
    def parse(cls, text: str) -> EventRate:
        """``"order_placed=2%/1w"`` (or ``"order_placed=0.02/7d"``; the period defaults to 1w).

        >>> EventRate.parse("order_placed=2%/1w")
        EventRate(event='order_placed', rate=0.02, every=Duration('7d'), data={})

        Raises:
            ValueError: not of the form ``EVENT=RATE[/PERIOD]``.

        """
        event, equals, rest = text.partition("=")
        rate_text, _, every = rest.partition("/")
        if not equals or not event.strip() or not rate_text.strip():
            raise ValueError(f"expected EVENT=RATE[/PERIOD], e.g. order_placed=2%/1w; got {text!r}")
        return cls(event.strip(), _parse_rate(rate_text), every.strip() or "1w")


@attrs.frozen(slots=True)
class ChannelFailure:
    """A share of the messages on `channel` fails permanently, so the next channel is tried.

    The draw is made per occurrence (and channel), so the same message fails in every
    forecast with the same seed. A message whose channels all fail is counted as failed.

    Attributes:
        channel: The channel's name.
        rate: The probability that a message on it fails, between 0 and 1.

    """

    channel: str
    rate: float = attrs.field(converter=float, validator=_check_failure_rate)

    @classmethod
    def parse(cls, text: str) -> ChannelFailure:
        """``"sms=5%"`` or ``"sms=0.05"``.

        >>> ChannelFailure.parse("sms=5%")
        ChannelFailure(channel='sms', rate=0.05)

        Raises:
            ValueError: not of the form ``CHANNEL=RATE``.

        """
        channel, equals, rate_text = text.partition("=")
        if not equals or not channel.strip() or not rate_text.strip():
            raise ValueError(f"expected CHANNEL=RATE, e.g. sms=5%; got {text!r}")
        return cls(channel.strip(), _parse_rate(rate_text))


def _event_rates(value: Iterable[EventRate]) -> tuple[EventRate, ...]:
    return tuple(value)


def _failures(value: Iterable[ChannelFailure]) -> tuple[ChannelFailure, ...]:
    return tuple(value)


@attrs.frozen(slots=True)
class Assumptions:
    """What customers are assumed to do during a forecast; seeded, so reproducible.

    Attributes:
        events: Events contacts do at a given rate (`EventRate`).
        failures: Channels on which a share of messages fails permanently (`ChannelFailure`).
        seed: Any integer; two forecasts with the same seed and inputs are identical.

    """

    events: tuple[EventRate, ...] = attrs.field(factory=tuple, converter=_event_rates)
    failures: tuple[ChannelFailure, ...] = attrs.field(factory=tuple, converter=_failures)
    seed: int = 0

    def __attrs_post_init__(self) -> None:
        channels = [failure.channel for failure in self.failures]
        repeated = sorted({c for c in channels if channels.count(c) > 1})
        if repeated:
            raise ValueError(
                f"Assumptions.failures: one ChannelFailure per channel; repeated: "
                f"{', '.join(repeated)}"
            )

    def events_for(self, contact_id: str, start: datetime, end: datetime) -> list[Event]:
        """The scripted events of one contact in [`start`, `end`), oldest first.

        Event ids are ``forecast-<event>-<period>``, so they are stable and unique.
        """
        events: list[Event] = []
        for index, rate in enumerate(self.events):
            if rate.rate == 0.0:
                continue
            period = 0
            period_start = start
            while period_start < end:
                period_end = shift(start, _times(rate.every, period + 1), _UTC_ZONE)
                happens, when = _uniforms(self.seed, "event", index, rate.event, contact_id, period)
                if happens < rate.rate:
                    span = (period_end - period_start).total_seconds()
                    at = period_start + timedelta(seconds=int(when * span))
                    if at < end:
                        events.append(
                            Event(
                                contact_id,
                                rate.event,
                                at,
                                id=f"forecast-{rate.event}-{period}",
                                data=dict(rate.data),
                            )
                        )
                period += 1
                period_start = period_end
        events.sort(key=lambda e: (e.at, e.name))
        return events

    def fails(self, occurrence_key: str, channel: str) -> bool:
        """Whether the message of this occurrence fails permanently on `channel`."""
        for failure in self.failures:
            if failure.channel == channel:
                draw, _ = _uniforms(self.seed, "failure", channel, occurrence_key)
                return draw < failure.rate
        return False


def _parse_rate(text: str) -> float:
    text = text.strip()
    try:
        if text.endswith("%"):
            return float(text[:-1]) / 100
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a rate (2%, or 0.02)") from None


def _times(duration: Duration, count: int) -> Duration:
    return Duration(
        months=duration.months * count, days=duration.days * count, seconds=duration.seconds * count
    )
