"""The reference a forecast must match: the same period on `Simulation` (the real scheduler)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from regua import Cadence, Contact, Message, PermanentFailure
from regua.forecasting import Assumptions
from regua.testing import Simulation

ROOT = Path(__file__).resolve().parents[2]

Row = tuple[datetime, str, str, str, str]  # at, contact, cadence, step, channel


def example_cadence(module: str = "ecommerce_lifecycle") -> Cadence:
    """An example's cadence; by default the e-commerce lifecycle example: quiet hours, caps,
    routes, fallbacks, follow-ups."""
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        cadence = __import__(module).cadence
    finally:
        sys.path.remove(str(ROOT / "examples"))
    assert isinstance(cadence, Cadence)
    return cadence


class _AssumedSender:
    """Accepts a message unless the assumptions say it fails on that channel; records it."""

    def __init__(self, simulation: Simulation, assumptions: Assumptions | None) -> None:
        self.simulation = simulation
        self.assumptions = assumptions
        self.sent: list[Row] = []

    def send(self, message: Message) -> str | None:
        if self.assumptions is not None and self.assumptions.fails(
            message.occurrence_key, message.channel
        ):
            raise PermanentFailure("assumed failure")
        self.sent.append(
            (
                self.simulation.now,
                message.contact.id,
                message.cadence,
                message.step,
                message.channel,
            )
        )
        return None


def simulate(
    cadences: Sequence[Cadence],
    contacts: Iterable[Contact],
    start: datetime,
    end: datetime,
    assumptions: Assumptions | None = None,
) -> list[Row]:
    """What a Simulation sends in [start, end) with the assumptions' events and failures."""
    people = list(contacts)
    simulation = Simulation(cadences, start=start)
    sender = _AssumedSender(simulation, assumptions)
    channels = {channel.name for cadence in cadences for channel in cadence.channels}
    simulation.scheduler.senders.update(dict.fromkeys(channels, sender))
    for contact in people:
        simulation.repository.upsert_contact(contact)
    if assumptions is not None:
        events = sorted(
            (e for c in people for e in assumptions.events_for(c.id, start, end)),
            key=lambda e: e.at,
        )
        for event in events:
            simulation.advance_to(event.at)
            simulation.repository.record_event(event)
    simulation.advance_to(end)
    return sorted(row for row in sender.sent if row[0] < end)
