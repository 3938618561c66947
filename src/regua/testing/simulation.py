"""Simulation: run cadences on the real scheduler with a virtual clock, and assert on the outbox.

>>> from datetime import datetime, timezone
>>> from regua import Cadence, Channel, Step, on_event
>>> from regua.testing import Simulation
>>> shop = Cadence("shop", channels=[Channel("email")], steps=[
...     Step("welcome", trigger=on_event("signed_up"), delay="2d", channels=["email"])])
>>> sim = Simulation(shop, start=datetime(2026, 3, 2, 12, tzinfo=timezone.utc))
>>> _ = sim.add_contact("ana")
>>> _ = sim.emit("ana", "signed_up")
>>> _ = sim.advance("3d")
>>> sim.assert_sent("welcome", to="ana", at=datetime(2026, 3, 4, 12, tzinfo=timezone.utc))
Sent(... step='welcome', ...)

The clock only moves when you say so, and between two instants the scheduler ticks at every
instant something becomes due (each contact's next wake-up), so nothing is sent late.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from regua.definitions.cadence import Cadence
from regua.definitions.durations import Duration
from regua.definitions.fields import load_timezone
from regua.errors import (
    ArgumentTypeError,
    ConfigurationError,
    InvalidArgumentError,
    SimulationAssertionError,
)
from regua.planning.calendar import shift
from regua.planning.explain import Explanation
from regua.ports import Message, Repository, Sender
from regua.records import CLICKED, OPENED, Contact, Delivery, Event
from regua.reporting import Report, report
from regua.repositories.memory import InMemoryRepository
from regua.scheduler import RetryPolicy, Scheduler, TickReport
from regua.tick import SAME_INSTANT_LIMIT

__all__ = ["Sent", "Simulation", "SimulationAssertionError"]

UTC = timezone.utc


@attrs.frozen(slots=True)
class Sent:
    """A message the simulation's senders accepted, and when (virtual time).

    Attributes:
        at: The virtual instant it was sent (UTC).
        contact_id: To whom.
        cadence: Cadence name.
        step: Step name.
        channel: The channel used.
        address: The address on that channel.
        message: The template key.
        payload: The template data.
        occurrence_key: The occurrence delivered.
        idempotency_key: Its idempotency key.
        local_at: `at` in the contact's local time.
        variant: The experiment variant the message was sent in (None outside experiments).

    """

    at: datetime
    contact_id: str
    cadence: str
    step: str
    channel: str
    address: str
    message: str
    payload: dict[str, Any]
    occurrence_key: str
    idempotency_key: str
    local_at: datetime
    variant: str | None = None


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class _Outbox:
    """The default sender of every channel: records what goes out at the virtual now."""

    def __init__(self, simulation: Simulation) -> None:
        self._simulation = simulation

    def send(self, message: Message) -> str | None:
        self._simulation._record(message)
        return message.idempotency_key


class Simulation:
    """Cadences running on the real `Scheduler` and an `InMemoryRepository`, on a virtual clock.

    Args:
        cadences: One cadence or several.
        start: The virtual instant the simulation starts at (aware, or naive in `timezone`).
        timezone: The timezone naive datetimes given to this simulation are read in
            (default UTC). Contacts have their own timezone (or the cadence's).
        repository: Another repository to run on (default: a new `InMemoryRepository`).
        senders: Senders to use instead of the built-in outbox for some channels (e.g. one
            that fails, to test fallbacks); messages they accept are not in `outbox`.
        retry: The scheduler's retry policy.

    Raises:
        ConfigurationError: `repository` lets leases expire by a database server's clock
            (`SQLRepository` on PostgreSQL by default), which a virtual clock cannot move;
            open it with ``lease_clock="caller"``.

    """

    def __init__(
        self,
        cadences: Cadence | Iterable[Cadence],
        *,
        start: datetime,
        timezone: str = "UTC",
        repository: Repository | None = None,
        senders: dict[str, Sender] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.tz: ZoneInfo = load_timezone(timezone)
        self.cadences: tuple[Cadence, ...] = (
            (cadences,) if isinstance(cadences, Cadence) else tuple(cadences)
        )
        self._clock = _Clock(self._instant(start, "start"))
        if repository is not None and repository.lease_clock != "caller":
            raise ConfigurationError(
                f"{type(repository).__name__} expires leases by the database's clock, which "
                "a simulation's virtual clock cannot move: open it with lease_clock='caller'"
            )
        self.repository: Repository = repository or InMemoryRepository()
        outbox = _Outbox(self)
        channels = {channel.name for c in self.cadences for channel in c.channels}
        wired: dict[str, Sender] = dict.fromkeys(channels, outbox)
        wired.update(senders or {})
        self.scheduler = Scheduler(
            self.cadences,
            repository=self.repository,
            senders=wired,
            clock=self._clock,
            worker="simulation",
            retry=retry,
        )
        self.outbox: list[Sent] = []
        self.reports: list[TickReport] = []
        self._contacts: dict[str, Contact] = {}
        self._cadence_tz = ZoneInfo(self.cadences[0].timezone)
        self._event_count = 0

    # --- time ----------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The virtual current instant (UTC)."""
        return self._clock.now

    def _instant(self, value: datetime, name: str) -> datetime:
        if not isinstance(value, datetime):
            raise ArgumentTypeError(
                f"{name} must be a datetime, got {type(value).__name__} {value!r}"
            )
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.tz)
        return value.astimezone(UTC)

    def advance(self, duration: Duration | timedelta | str) -> list[Sent]:
        """Move the clock forward by `duration` (``"3d"``, ``"36h"``...); return what was sent.

        Calendar units count in the simulation's timezone.
        """
        target = shift(self.now, Duration.parse(duration), self.tz)
        return self.advance_to(target)

    def advance_to(self, instant: datetime) -> list[Sent]:
        """Move the clock to `instant`, ticking at every instant something becomes due."""
        target = self._instant(instant, "instant")
        if target < self.now:
            raise InvalidArgumentError(
                f"the simulation is at {self.now.isoformat()}; it cannot go back to "
                f"{target.isoformat()}"
            )
        before = len(self.outbox)
        self._tick()
        same_instant = 0
        while True:
            wakeup = self.repository.next_wakeup()
            if wakeup is None or wakeup > target:
                break
            if wakeup <= self.now:
                same_instant += 1
                if same_instant > SAME_INSTANT_LIMIT:  # pragma: no cover - it never settles
                    raise RuntimeError(f"the simulation does not settle at {self.now}")
            else:
                same_instant = 0
                self._clock.now = wakeup
            self._tick()
        self._clock.now = target
        self._tick()
        return self.outbox[before:]

    def downtime(self, duration: Duration | timedelta | str) -> None:
        """Let `duration` pass with every worker stopped: nothing is evaluated or sent.

        The next `advance` catches up, as a restarted worker would: missed recurring firings
        coalesce, and what is past its expiry or deadline is recorded as expired.
        """
        target = shift(self.now, Duration.parse(duration), self.tz)
        self._clock.now = max(target, self.now)

    def run_until(self, instant: datetime) -> list[Sent]:
        """Same as `advance_to`: run the cadences until `instant`."""
        return self.advance_to(instant)

    def _tick(self) -> None:
        report = self.scheduler.tick()
        if report.evaluated:
            self.reports.append(report)
        if report.errors:
            details = "; ".join(f"{who}: {error}" for who, error in report.errors.items())
            raise SimulationAssertionError(f"evaluating contacts failed at {self.now}: {details}")

    # --- the application side ----------------------------------------------------------------

    def add_contact(
        self,
        contact_id: str,
        *,
        timezone: str | None = None,
        consents: Iterable[str] | None = None,
        preferences: Sequence[str] = (),
        addresses: dict[str, str] | None = None,
        created_at: datetime | None = None,
        **attributes: Any,
    ) -> Contact:
        """Add (or replace) a contact, created now unless `created_at` says otherwise.

        By default the contact consents to every channel of the cadences and has a made-up
        address on each, so that tests only spell out what matters to them. Other keyword
        arguments are the contact's attributes: ``add_contact("ana", tier="gold")``.
        """
        channels = sorted({ch.name for c in self.cadences for ch in c.channels})
        contact = Contact(
            contact_id,
            attributes=attributes,
            timezone=timezone,
            consents=set(channels) if consents is None else set(consents),
            preferences=list(preferences),
            addresses=(
                {channel: f"{contact_id}@{channel}.example" for channel in channels}
                if addresses is None
                else addresses
            ),
            created_at=self.now if created_at is None else self._instant(created_at, "created_at"),
        )
        self.repository.upsert_contact(contact)
        self._contacts[contact_id] = contact
        return contact

    def emit(self, contact_id: str, name: str, *, id: str | None = None, **data: Any) -> Event:
        """Record that `name` happened to the contact now, with `data`."""
        self._event_count += 1
        event = Event(
            contact_id, name, self.now, id=id or f"sim-{self._event_count}-{name}", data=data
        )
        self.repository.record_event(event)
        return event

    def set_consent(self, contact_id: str, channel: str, granted: bool) -> None:
        """Grant or revoke the contact's consent on `channel`, now."""
        self.repository.set_consent(contact_id, channel, granted)

    def open(self, delivery: Sent | str) -> Event:
        """The contact opens a sent message (a `Sent` or an occurrence key), now."""
        key = delivery.occurrence_key if isinstance(delivery, Sent) else delivery
        return self.repository.record_engagement(key, OPENED, self.now)

    def click(self, delivery: Sent | str) -> Event:
        """The contact clicks in a sent message (a `Sent` or an occurrence key), now."""
        key = delivery.occurrence_key if isinstance(delivery, Sent) else delivery
        return self.repository.record_engagement(key, CLICKED, self.now)

    # --- reading the results -----------------------------------------------------------------

    def sent(
        self,
        step: str | None = None,
        *,
        to: str | None = None,
        channel: str | None = None,
        cadence: str | None = None,
    ) -> list[Sent]:
        """What was sent, filtered by step, contact, channel and cadence."""
        return [
            s
            for s in self.outbox
            if (step is None or s.step == step)
            and (to is None or s.contact_id == to)
            and (channel is None or s.channel == channel)
            and (cadence is None or s.cadence == cadence)
        ]

    def deliveries(self, contact_id: str) -> list[Delivery]:
        """Every recorded outcome for the contact (sent, failed, skipped...), oldest first."""
        return [d for d in self.repository.history(contact_id) if isinstance(d, Delivery)]

    def report(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        confidence: float = 0.95,
    ) -> Report:
        """`regua.report` of the simulation's cadences over what it recorded so far."""
        return report(
            self.repository, self.cadences, since=since, until=until, confidence=confidence
        )

    def explain(self, contact_id: str, step: str, cadence: str | None = None) -> Explanation:
        """Why `step` is, or is not, due for the contact now."""
        name = cadence or self.cadences[0].name
        return self.scheduler.explain(contact_id, name, step, self.now)

    # --- assertions ----------------------------------------------------------------------------

    def assert_sent(
        self,
        step: str,
        *,
        to: str | None = None,
        at: datetime | None = None,
        local: time | None = None,
        channel: str | None = None,
        times: int | None = None,
    ) -> Sent:
        """Assert `step` was sent; return the first matching message.

        Narrow it down to a contact (`to`), an instant (`at`), a local time of day (`local`,
        in the contact's timezone), a channel, and an exact number of `times`.
        """
        instant = None if at is None else self._instant(at, "at")
        matches = [
            s
            for s in self.sent(step, to=to, channel=channel)
            if (instant is None or s.at == instant)
            and (local is None or s.local_at.time().replace(second=0, microsecond=0) == local)
        ]
        wanted = _describe(step, to=to, at=instant, local=local, channel=channel)
        if not matches:
            raise SimulationAssertionError(
                f"expected {wanted} to have been sent, but it was not.\n{self._context(step, to)}"
            )
        if times is not None and len(matches) != times:
            raise SimulationAssertionError(
                f"expected {wanted} to have been sent {times} time(s), but it was sent "
                f"{len(matches)} time(s).\n{self._context(step, to)}"
            )
        return matches[0]

    def assert_not_sent(
        self, step: str, *, to: str | None = None, channel: str | None = None
    ) -> None:
        """Assert `step` was never sent (to the contact, on the channel)."""
        matches = self.sent(step, to=to, channel=channel)
        if matches:
            wanted = _describe(step, to=to, channel=channel)
            raise SimulationAssertionError(
                f"expected {wanted} not to have been sent, but it was sent "
                f"{len(matches)} time(s).\n{self._context(step, to)}"
            )

    def assert_sequence(self, steps: Sequence[str], *, to: str | None = None) -> None:
        """Assert these steps were sent in this order (and nothing else, to that contact)."""
        actual = [s.step for s in self.sent(to=to)]
        if actual != list(steps):
            who = f" to {to!r}" if to else ""
            raise SimulationAssertionError(
                f"expected the sequence{who} {list(steps)}, got {actual}.\n{self.timeline(to=to)}"
            )

    def _context(self, step: str, to: str | None) -> str:
        lines = [self.timeline(to=to)]
        if to is not None and to in self._contacts:
            for cadence in self.cadences:
                if any(s.name == step for s in cadence.steps):
                    lines.append(str(self.explain(to, step, cadence.name)))
        return "\n".join(lines)

    # --- the timeline --------------------------------------------------------------------------

    def timeline(self, *, to: str | None = None, format: str = "table") -> str:
        """What was sent, in order: a table (default), ``"json"`` or ``"csv"``."""
        rows = [
            {
                "at": s.at.isoformat().replace("+00:00", "Z"),
                "local": s.local_at.strftime("%Y-%m-%d %H:%M %Z"),
                "contact": s.contact_id,
                "cadence": s.cadence,
                "step": s.step,
                "channel": s.channel,
                "message": s.message,
            }
            for s in self.sent(to=to)
        ]
        if format == "json":
            return json.dumps(rows, indent=2, ensure_ascii=False)
        if format == "csv":
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=list(_COLUMNS), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            return buffer.getvalue()
        if format != "table":
            raise InvalidArgumentError(f"format must be 'table', 'json' or 'csv', got {format!r}")
        if not rows:
            return "(nothing sent)"
        widths = {
            column: max(len(_COLUMNS[column]), *(len(str(r[column])) for r in rows))
            for column in _COLUMNS
        }
        header = "  ".join(_COLUMNS[c].ljust(widths[c]) for c in _COLUMNS).rstrip()
        lines = [header, "  ".join("-" * widths[c] for c in _COLUMNS)]
        lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in _COLUMNS).rstrip() for r in rows]
        return "\n".join(lines)

    # --- internal ------------------------------------------------------------------------------

    def _record(self, message: Message) -> None:
        tz = (
            ZoneInfo(message.contact.timezone) if message.contact.timezone else self._tz_of(message)
        )
        self.outbox.append(
            Sent(
                at=self.now,
                contact_id=message.contact.id,
                cadence=message.cadence,
                step=message.step,
                channel=message.channel,
                address=message.address,
                message=message.message,
                payload=dict(message.payload),
                occurrence_key=message.occurrence_key,
                idempotency_key=message.idempotency_key,
                local_at=self.now.astimezone(tz),
                variant=message.variant,
            )
        )

    def _tz_of(self, message: Message) -> ZoneInfo:
        for cadence in self.cadences:
            if cadence.name == message.cadence:
                return ZoneInfo(cadence.timezone)
        return self._cadence_tz  # pragma: no cover


_COLUMNS = {
    "at": "at (UTC)",
    "local": "local time",
    "contact": "contact",
    "cadence": "cadence",
    "step": "step",
    "channel": "channel",
    "message": "message",
}


def _describe(
    step: str,
    *,
    to: str | None = None,
    at: datetime | None = None,
    local: time | None = None,
    channel: str | None = None,
) -> str:
    parts = [repr(step)]
    if to is not None:
        parts.append(f"to {to!r}")
    if at is not None:
        parts.append(f"at {at.isoformat()}")
    if local is not None:
        parts.append(f"at {local.isoformat('minutes')} local time")
    if channel is not None:
        parts.append(f"on {channel!r}")
    return " ".join(parts)
