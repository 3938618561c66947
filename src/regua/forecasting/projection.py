"""Projecting one contact forward: the scheduler's loop, on the planner alone, with no I/O.

The scheduler evaluates a contact at each of its wake-ups: it plans under every cadence,
records what the planner closed, sends what is due (on the first channel that takes it),
re-plans while the contact's history changes (an ``after_step`` follower may be due at
once), and stores the earliest next wake-up. A projection does the same for one contact in
memory, over a period, with a sender that accepts everything except the failures an
`Assumptions` scripts, and collects what would be sent. Because contacts are independent
(caps, quiet hours and consent are per contact), projecting each contact alone gives what the
scheduler does for the whole base, as long as nothing outside the cadences happens: no new
events beyond the scripted ones, no consent changes, no downtime.

Scripted events are applied like `regua.testing.Scenario` applies its items: at the event's
instant, what is due at that instant is sent first, then the event is recorded and the contact
is evaluated again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs

from regua.definitions.cadence import Cadence
from regua.planning.planner import plan_contact
from regua.records import Contact, Delivery, DeliveryStatus, DueAction, Event, Snapshot

__all__ = ["ProjectedMessage", "Projection", "project"]

Fails = Callable[[str, str], bool]
"""(occurrence key, channel) -> whether sending it there fails permanently."""

# Evaluations of one contact at one instant before giving up: a cadence whose plans never
# settle (the scheduler would spin on it too). Simulation uses the same bound.
_MAX_EVALUATIONS_AT_ONE_INSTANT = 100
_MAX_ROUNDS = 64


# What a due action hands on to the delivery that records it, as the scheduler records it
# (e.g. the events a digest collected, so that they are not collected again).
_CARRIED = ("collected", "variant")


def _carried(action: DueAction) -> dict[str, Any]:
    return {name: getattr(action, name) for name in _CARRIED if hasattr(action, name)}


class ProjectionError(RuntimeError):
    """A contact's plans never settle at one instant (a cadence bug the scheduler would hit)."""


@attrs.frozen(slots=True)
class ProjectedMessage:
    """A message a projection sends.

    Attributes:
        at: The instant it is sent (UTC): a wake-up of the contact, as the scheduler's tick.
        contact_id: To whom.
        cadence: Cadence name.
        step: Step name.
        channel: The channel it goes out on (after any fallback).
        occurrence_key: The occurrence delivered.

    """

    at: datetime
    contact_id: str
    cadence: str
    step: str
    channel: str
    occurrence_key: str


@attrs.frozen(slots=True)
class Projection:
    """What one contact is sent over a period, and what fails.

    Attributes:
        contact_id: The contact.
        sent: The messages sent, in order.
        failed: Occurrences whose every channel failed (only with scripted failures).
        evaluations: How many times the contact was planned (under every cadence).

    """

    contact_id: str
    sent: tuple[ProjectedMessage, ...] = ()
    failed: tuple[Delivery, ...] = ()
    evaluations: int = 0


def project(
    cadences: Sequence[Cadence],
    snapshot: Snapshot,
    start: datetime,
    end: datetime,
    *,
    events: Iterable[Event] = (),
    fails: Fails | None = None,
) -> Projection:
    """Project one contact from its `snapshot` over [`start`, `end`).

    Args:
        cadences: The cadences, as the scheduler runs them.
        snapshot: The contact's state at `start` (its events and recorded deliveries).
        start: The first instant evaluated (aware).
        end: The end of the period (aware, excluded).
        events: Scripted events of this contact, applied at their instants.
        fails: Which (occurrence key, channel) sends fail permanently; default none.

    Raises:
        ProjectionError: the contact's plans never settle at one instant.

    """
    return _Projector(cadences, snapshot, events, fails).run(start, end)


class _Projector:
    def __init__(
        self,
        cadences: Sequence[Cadence],
        snapshot: Snapshot,
        events: Iterable[Event],
        fails: Fails | None,
    ) -> None:
        self.cadences = cadences
        self.contact: Contact = snapshot.contact
        self.base_events = snapshot.events
        self.claimed = snapshot.claimed
        self.deliveries: list[Delivery] = list(snapshot.deliveries)
        self.scripted = sorted(events, key=lambda e: e.at)
        self.applied: list[Event] = []
        self.fails = fails
        self.sent: list[ProjectedMessage] = []
        self.failed: list[Delivery] = []
        self.evaluations = 0

    def run(self, start: datetime, end: datetime) -> Projection:
        now = start
        scripted = self.scripted
        next_event = 0
        repeats = 0
        # Every contact is evaluated at the start, as a scheduler evaluates a changed one.
        wakeup: datetime | None = start
        while True:
            # Like the scheduler, look at the contact only when its wake-up has come (an
            # evaluation at any other instant could close occurrences at a different time).
            if wakeup is not None and wakeup <= now:
                wakeup = self._tick(now)
            while next_event < len(scripted) and scripted[next_event].at <= now:
                self.applied.append(scripted[next_event])
                next_event += 1
                wakeup = self._tick(now)
            upcoming = scripted[next_event].at if next_event < len(scripted) else None
            following = min(
                (at for at in (wakeup, upcoming) if at is not None),
                default=None,
            )
            if following is None or following >= end:
                break
            if following <= now:
                repeats += 1
                if repeats > _MAX_EVALUATIONS_AT_ONE_INSTANT:
                    raise ProjectionError(
                        f"contact {self.contact.id!r}: its plans do not settle at {now.isoformat()}"
                    )
            else:
                repeats = 0
                now = following
        return Projection(
            contact_id=self.contact.id,
            sent=tuple(self.sent),
            failed=tuple(self.failed),
            evaluations=self.evaluations,
        )

    def _snapshot(self) -> Snapshot:
        events = (*self.base_events, *self.applied) if self.applied else self.base_events
        return Snapshot(self.contact, events, self.deliveries, claimed=self.claimed)

    def _tick(self, now: datetime) -> datetime | None:
        """Evaluate the contact at `now` until it settles; return its next wake-up."""
        snapshot = self._snapshot()
        for _ in range(_MAX_ROUNDS):
            self.evaluations += 1
            plans = plan_contact(self.cadences, snapshot, now)
            outcomes = [
                occurrence.as_delivery() for result in plans for occurrence in result.closed
            ]
            for result in plans:
                for action in result.due:
                    outcomes.append(self._dispatch(action, now))
            if not outcomes:
                return min(
                    (p.next_wakeup for p in plans if p.next_wakeup is not None), default=None
                )
            self.deliveries.extend(outcomes)
            snapshot = self._snapshot()
        raise ProjectionError(
            f"contact {self.contact.id!r}: its plans keep changing at {now.isoformat()}"
        )

    def _dispatch(self, action: DueAction, now: datetime) -> Delivery:
        # The scheduler's dispatch with a sender that accepts everything but the scripted
        # failures: consent and address are checked again, a permanent failure moves on to
        # the next channel, and when none is left the occurrence fails.
        tried = False
        last_error = ""
        for channel in action.channels:
            if not self.contact.can_receive(
                channel, transactional=action.transactional, topic=action.topic
            ):
                last_error = f"{channel}: no consent or address at sending time"
                continue
            tried = True
            if self.fails is not None and self.fails(action.occurrence_key, channel):
                last_error = f"{channel}: permanent failure (assumed)"
                continue
            self.sent.append(
                ProjectedMessage(
                    at=now,
                    contact_id=action.contact_id,
                    cadence=action.cadence,
                    step=action.step,
                    channel=channel,
                    occurrence_key=action.occurrence_key,
                )
            )
            return Delivery(
                action.cadence,
                action.step,
                action.contact_id,
                action.occurrence_key,
                DeliveryStatus.SENT,
                now,
                channel=channel,
                **_carried(action),
            )
        delivery = Delivery(
            action.cadence,
            action.step,
            action.contact_id,
            action.occurrence_key,
            DeliveryStatus.FAILED if tried else DeliveryStatus.SKIPPED,
            now,
            reason=last_error if tried else f"no_channel: {last_error}",
            **_carried(action),
        )
        if tried:
            self.failed.append(delivery)
        return delivery
