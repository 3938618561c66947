"""Projecting one contact forward: the scheduler's tick, on a virtual clock, with no I/O.

The scheduler evaluates a contact at each of its wake-ups: it plans under every cadence,
records what the planner closed, claims and sends what is due (on the first channel that
takes it), re-plans while the contact's history changes (an ``after_step`` follower may be
due at once), and stores the earliest next wake-up. A projection runs that very tick
(`regua.tick.TickPlan`) for one contact, driven against an in-memory store of that contact
alone and senders that accept everything except the failures an `Assumptions` scripts, over
a period, and collects what would be sent: what a forecast counts is what the scheduler does,
by construction. Because contacts are independent (caps, quiet hours and consent are per
contact), projecting each contact alone gives what the scheduler does for the whole base, as
long as nothing outside the cadences happens: no new events beyond the scripted ones, no
consent changes, no downtime.

Scripted events are applied like `regua.testing.Scenario` applies its items: at the event's
instant, what is due at that instant is sent first, then the event is recorded and the contact
is evaluated again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import cast

import attrs

from regua.definitions.cadence import Cadence
from regua.errors import ProjectionError
from regua.metrics import NullMetrics
from regua.ports import Claim, ContactError, Message, PermanentFailure, Repository, Wakeup
from regua.records import Contact, Delivery, DeliveryStatus, DueAction, Event, Snapshot
from regua.tick import SAME_INSTANT_LIMIT, TickPlan, run_steps

__all__ = ["ProjectedMessage", "Projection", "ProjectionError", "project"]

Fails = Callable[[str, str], bool]
"""(occurrence key, channel) -> whether sending it there fails permanently."""

# The projection's tick logs nothing: what it "sends" is a forecast, not a message.
_SILENT = logging.Logger("regua.forecasting.projection", logging.CRITICAL + 1)
_WORKER = "forecast"
_LEASE = timedelta(minutes=5)


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
        recorded: Every outcome the scheduler would record over the period, in order: the
            messages sent, the occurrences that failed, and those the planner closed
            (expired, cancelled, skipped...).

    """

    contact_id: str
    sent: tuple[ProjectedMessage, ...] = ()
    failed: tuple[Delivery, ...] = ()
    evaluations: int = 0
    recorded: tuple[Delivery, ...] = ()


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
    """Runs the scheduler's tick for one contact at each of its wake-ups (see the module)."""

    def __init__(
        self,
        cadences: Sequence[Cadence],
        snapshot: Snapshot,
        events: Iterable[Event],
        fails: Fails | None,
    ) -> None:
        from regua.scheduler import RetryPolicy  # the scheduler's module imports forecasts

        self.contact: Contact = snapshot.contact
        self.store = _ContactStore(snapshot)
        self.scripted = sorted(events, key=lambda e: e.at)
        self.fails = fails
        self.now: datetime | None = None  # the virtual clock: set before every tick
        self.sent: list[ProjectedMessage] = []
        self.failed: list[Delivery] = []
        self.evaluations = 0
        channels = {ch.name: ch.kind for cadence in cadences for ch in cadence.channels}
        self.plan = TickPlan(
            cadences=tuple(cadences),
            senders={name: _ScriptedSender(self, name) for name in channels},
            worker=_WORKER,
            batch_size=1,
            claim_batch_size=1_000,
            lease=_LEASE,
            retry=RetryPolicy(),
            metrics=NullMetrics(),
            kinds=channels,
            fold_after=None,
            log=_SILENT,
        )

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
                self.store.events.append(scripted[next_event])
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
                if repeats > SAME_INSTANT_LIMIT:
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
            recorded=tuple(self.store.deliveries[self.store.given :]),
        )

    def _tick(self, now: datetime) -> datetime | None:
        """Evaluate the contact at `now` as a tick does; return its next wake-up."""
        self.now = now
        recorded = len(self.store.deliveries)
        # `TickPlan.evaluate` asks only for the methods `_ContactStore` has.
        store = cast("Repository", self.store)
        tally = run_steps(self.plan.evaluate([self.store.snapshot()], now), store)
        self.evaluations += tally.evaluated
        self.failed.extend(
            d for d in self.store.deliveries[recorded:] if d.status is DeliveryStatus.FAILED
        )
        return self.store.wakeup


@attrs.define(eq=False)
class _ScriptedSender:
    """Accepts every message but the failures the assumptions script, as a projected send."""

    projector: _Projector
    channel: str
    in_process = True  # no I/O: the tick's driver calls it on its own thread

    def send(self, message: Message) -> None:
        fails, now = self.projector.fails, self.projector.now
        if fails is not None and fails(message.occurrence_key, self.channel):
            raise PermanentFailure("permanent failure (assumed)")
        assert now is not None  # set by the tick that sends it
        self.projector.sent.append(
            ProjectedMessage(
                at=now,
                contact_id=message.contact.id,
                cadence=message.cadence,
                step=message.step,
                channel=self.channel,
                occurrence_key=message.occurrence_key,
            )
        )


class _ContactStore:
    """One contact's records in memory: what a tick asks of a repository, for that contact.

    There is one worker and one contact, so every claim is granted unless a retry holds it;
    an outcome, once recorded, releases its claim.
    """

    def __init__(self, snapshot: Snapshot) -> None:
        self.contact = snapshot.contact
        self.version = snapshot.version
        self.events: list[Event] = list(snapshot.events)
        self.deliveries: list[Delivery] = list(snapshot.deliveries)
        self.given = len(self.deliveries)  # the snapshot's; those after, recorded here
        self.claims: dict[str, Claim] = {}
        self.closed: set[str] = {d.occurrence_key for d in self.deliveries}
        self.held = snapshot.claimed  # claims of other workers the snapshot was read with
        self.wakeup: datetime | None = None

    def snapshot(self) -> Snapshot:
        claimed = self.held | self.claims.keys() if self.claims else self.held
        return Snapshot(
            self.contact, self.events, self.deliveries, claimed=claimed, version=self.version
        )

    # --- the repository methods a tick calls -------------------------------------------------

    def load_snapshots(self, contact_ids: Sequence[str]) -> dict[str, Snapshot]:
        return {self.contact.id: self.snapshot()} if self.contact.id in contact_ids else {}

    def get_versioned_contacts(self, ids: Sequence[str]) -> dict[str, tuple[Contact, int]]:
        return {self.contact.id: (self.contact, self.version)} if self.contact.id in ids else {}

    def claim(
        self, actions: Sequence[DueAction], worker: str, now: datetime, lease: timedelta
    ) -> dict[str, Claim]:
        granted: dict[str, Claim] = {}
        for action in actions:
            key = action.occurrence_key
            held = self.claims.get(key)
            if key in self.closed or (held is not None and held.until >= now):
                continue
            granted[key] = self.claims[key] = Claim.granted(action, worker, now + lease, held)
        return granted

    def defer(self, claims: Sequence[Claim]) -> None:
        for claim in claims:
            if claim.occurrence_key not in self.closed:
                self.claims[claim.occurrence_key] = claim

    def record(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            self.claims.pop(delivery.occurrence_key, None)
            if delivery.occurrence_key not in self.closed:
                self.closed.add(delivery.occurrence_key)
                self.deliveries.append(delivery)

    def set_wakeups(self, wakeups: Sequence[Wakeup]) -> None:
        for wakeup in wakeups:
            self.wakeup = wakeup.at

    def record_errors(self, errors: Sequence[ContactError]) -> None:
        raise ProjectionError(f"contact {errors[0].contact_id!r}: {errors[0].error}")
