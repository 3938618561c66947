"""Scenario files: a scripted story of contacts and what they do, run on a `Simulation`.

A scenario says when the story starts and ends, who the contacts are and what happens to
them (events, opens, clicks, consent changes), in YAML or JSON::

    start: 2026-03-02T12:00:00Z          # aware, or naive and read in `timezone`
    days: 30                             # or: until: 2026-04-01T12:00:00Z
    timezone: America/Sao_Paulo          # for naive datetimes in this file (default UTC)
    contacts:
      - id: ana
        timezone: America/Sao_Paulo
        attributes: {tier: gold, birth_date: 1990-03-10}
        consents: [email, sms]           # default: every channel of the cadences
    events:                              # in any order; applied in time order
      - {at: 2026-03-02T12:00:00Z, contact: ana, event: signed_up, id: ana-1}
      - {at: 2026-03-05T09:00:00-03:00, contact: ana, open: welcome}

`Scenario.run(cadences)` builds the `Simulation`, adds the contacts, applies each item at its
instant (advancing the virtual clock to it first, so that everything due by then, that
instant included, is sent first) and advances to the end.

>>> from regua import Cadence, Channel, Step, on_event
>>> shop = Cadence("shop", channels=[Channel("email")], steps=[
...     Step("welcome", trigger=on_event("signed_up"), delay="2d", channels=["email"])])
>>> scenario = Scenario.model_validate({
...     "start": "2026-03-02T12:00:00Z", "days": 5,
...     "contacts": [{"id": "ana"}],
...     "events": [{"at": "2026-03-02T13:00:00Z", "contact": "ana", "event": "signed_up"}],
... })
>>> [(s.step, s.at.isoformat()) for s in scenario.run(shop).outbox]
[('welcome', '2026-03-04T13:00:00+00:00')]
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from regua.contact_documents import ScenarioContact
from regua.definitions.cadence import Cadence
from regua.definitions.durations import Duration
from regua.definitions.fields import TimezoneName, load_timezone
from regua.documents import LoadLimits, load_yaml, read_document
from regua.errors import ScenarioError
from regua.planning.calendar import shift
from regua.testing.simulation import Simulation

__all__ = ["ConsentChange", "Scenario", "ScenarioContact", "ScenarioError", "ScenarioItem"]

UTC = timezone.utc


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConsentChange(_Model):
    """Grant or revoke the marketing consent on one channel."""

    channel: str = Field(min_length=1)
    granted: bool


class ScenarioItem(_Model):
    """One scripted item: at `at`, `contact` does exactly one of the four things.

    Attributes:
        at: The instant (aware, or naive in the scenario's timezone).
        contact: The contact's id (declared under ``contacts``).
        event: An event name; with an optional `id` and `data`.
        open: A step name: the contact opens the latest message of that step sent to them.
        click: A step name: the contact clicks in the latest message of that step.
        consent: A consent change.

    """

    at: datetime
    contact: str
    event: str | None = Field(default=None, min_length=1)
    id: str | None = Field(default=None, min_length=1)
    data: dict[str, Any] = Field(default_factory=dict)
    open: str | None = Field(default=None, min_length=1)
    click: str | None = Field(default=None, min_length=1)
    consent: ConsentChange | None = None

    @model_validator(mode="after")
    def _one_action(self) -> ScenarioItem:
        given = [name for name in _ACTIONS if getattr(self, name) is not None]
        if len(given) != 1:
            found = f"got {', '.join(given)}" if given else "got none"
            raise ValueError(f"give exactly one of event, open, click or consent ({found})")
        if self.event is None and (self.id is not None or self.data):
            raise ValueError("id and data go with an event")
        return self

    @property
    def action(self) -> Literal["event", "open", "click", "consent"]:
        """Which of the four things the item does."""
        if self.event is not None:
            return "event"
        if self.open is not None:
            return "open"
        if self.click is not None:
            return "click"
        return "consent"

    def describe(self) -> str:
        """``ana event 'signed_up'``, ``ana opens 'welcome'``, ``ana revokes sms consent``."""
        if self.event is not None:
            return f"{self.contact} event {self.event!r}"
        if self.open is not None:
            return f"{self.contact} opens {self.open!r}"
        if self.click is not None:
            return f"{self.contact} clicks {self.click!r}"
        assert self.consent is not None
        verb = "grants" if self.consent.granted else "revokes"
        return f"{self.contact} {verb} {self.consent.channel} consent"


_ACTIONS = ("event", "open", "click", "consent")


class Scenario(_Model):
    """A scripted scenario: contacts and what happens to them, from `start` to `until`.

    Attributes:
        start: Where the virtual clock starts.
        until: Where it stops (or give `days`).
        days: The length of the scenario in calendar days (in `timezone`), instead of `until`.
        timezone: The timezone of naive datetimes in the file (default UTC).
        contacts: The contacts, added at `start`.
        events: The scripted items, in any order; run in time order (file order for ties).

    Naive datetimes are read in `timezone`; every datetime is UTC after validation.

    """

    start: datetime
    until: datetime | None = None
    days: int | None = Field(default=None, gt=0, le=36_500)
    timezone: TimezoneName = "UTC"
    contacts: list[ScenarioContact] = Field(default_factory=list)
    events: list[ScenarioItem] = Field(default_factory=list)

    @model_validator(mode="after")
    def _normalise(self) -> Scenario:
        tz = load_timezone(self.timezone)

        def aware(value: datetime) -> datetime:
            if value.tzinfo is None or value.utcoffset() is None:
                value = value.replace(tzinfo=tz)
            return value.astimezone(UTC)

        self.start = aware(self.start)
        if (self.until is None) == (self.days is None):
            raise ValueError("give either until or days (not both)")
        if self.days is not None:
            self.until = shift(self.start, Duration.parse(f"{self.days}d"), tz)
        assert self.until is not None
        self.until = aware(self.until)
        if self.until < self.start:
            raise ValueError(
                f"until ({self.until.isoformat()}) is before start ({self.start.isoformat()})"
            )
        ids = [contact.id for contact in self.contacts]
        for index, contact in enumerate(self.contacts):
            if contact.id in ids[:index]:
                raise ValueError(f"contacts[{index}]: duplicate contact id {contact.id!r}")
            if contact.created_at is not None:
                contact.created_at = aware(contact.created_at)
        for index, item in enumerate(self.events):
            item.at = aware(item.at)
            where = f"events[{index}] ({item.describe()})"
            if item.contact not in ids:
                known = ", ".join(ids) or "none"
                raise ValueError(f"{where}: unknown contact {item.contact!r} (contacts: {known})")
            if not self.start <= item.at <= self.until:
                raise ValueError(
                    f"{where}: at {item.at.isoformat()} is outside the scenario "
                    f"({self.start.isoformat()} to {self.until.isoformat()})"
                )
        return self

    @property
    def end(self) -> datetime:
        """The instant the scenario ends (`until`, or `start` plus `days`), in UTC."""
        assert self.until is not None  # set by validation
        return self.until

    # --- reading -----------------------------------------------------------------------------

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, limits: LoadLimits | None = None
    ) -> Scenario:
        """Read a scenario from a ``.yaml``/``.yml`` or ``.json`` file.

        Raises:
            OSError: the file cannot be read.
            ValueError: bad JSON, or an unknown suffix.
            LoadError: the file is past one of its `limits` (default `LoadLimits()`).
            pydantic.ValidationError: the scenario is invalid; the message names the field.

        """
        return cls.from_dict(read_document(path, limits=limits, kind="scenario"))

    @classmethod
    def from_yaml(cls, text: str, *, limits: LoadLimits | None = None) -> Scenario:
        """Parse and validate a YAML scenario (needs the ``yaml`` extra).

        Raises:
            LoadError: the text is past one of its `limits` (default `LoadLimits()`).

        """
        return cls.from_dict(load_yaml(text, limits=limits, feature="YAML scenarios"))

    @classmethod
    def from_dict(cls, data: Any) -> Scenario:
        """Validate a mapping (loaded from YAML or JSON)."""
        return cls.model_validate(data)

    # --- running -----------------------------------------------------------------------------

    def timeline(self) -> list[ScenarioItem]:
        """The scripted items in the order they are applied: by instant, then file order."""
        return sorted(self.events, key=lambda item: item.at)

    def instant(self, value: datetime) -> datetime:
        """`value` as a UTC instant, reading a naive datetime in the scenario's timezone."""
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=load_timezone(self.timezone))
        return value.astimezone(UTC)

    def run(
        self, cadences: Cadence | Iterable[Cadence], *, until: datetime | None = None
    ) -> Simulation:
        """Play the scenario on a new `Simulation` of `cadences`; return the simulation.

        With `until`, stop there instead of at the scenario's end (items after it are not
        applied): the state of the story at that instant, e.g. to explain a step.

        Raises:
            ScenarioError: an item cannot be applied (an open or click of a step never sent
                to that contact, a consent on a channel no cadence declares); the message
                names the item.

        """
        stop = self.end if until is None else self.instant(until)
        if stop < self.start:
            raise ScenarioError(
                f"cannot stop at {stop.isoformat()}: the scenario starts at "
                f"{self.start.isoformat()}"
            )
        simulation = Simulation(cadences, start=self.start, timezone=self.timezone)
        channels = {ch.name for cadence in simulation.cadences for ch in cadence.channels}
        for contact in self.contacts:
            simulation.add_contact(
                contact.id,
                timezone=contact.timezone,
                consents=contact.consents,
                preferences=contact.preferences,
                addresses=contact.addresses,
                created_at=contact.created_at,
                **contact.attributes,
            )
        order = {id(item): index for index, item in enumerate(self.events)}
        for item in self.timeline():
            if item.at > stop:
                break
            simulation.advance_to(item.at)
            where = f"events[{order[id(item)]}] at {item.at.isoformat()} ({item.describe()})"
            self._apply(simulation, item, where, channels)
        simulation.advance_to(stop)
        return simulation

    @staticmethod
    def _apply(simulation: Simulation, item: ScenarioItem, where: str, channels: set[str]) -> None:
        if item.event is not None:
            simulation.emit(item.contact, item.event, id=item.id, **item.data)
            return
        if item.consent is not None:
            if item.consent.channel not in channels:
                raise ScenarioError(
                    f"{where}: no cadence declares the channel {item.consent.channel!r} "
                    f"(channels: {', '.join(sorted(channels))})"
                )
            simulation.set_consent(item.contact, item.consent.channel, item.consent.granted)
            return
        step = item.open if item.open is not None else item.click
        assert step is not None
        known = {s.name for cadence in simulation.cadences for s in cadence.steps}
        if step not in known:
            raise ScenarioError(f"{where}: no cadence has a step {step!r}")
        sent = simulation.sent(step, to=item.contact)
        if not sent:
            raise ScenarioError(
                f"{where}: no {step!r} message was sent to {item.contact!r} by then, so there "
                "is nothing to open or click"
            )
        latest = sent[-1]
        if item.open is not None:
            simulation.open(latest)
        else:
            simulation.click(latest)
