"""Occurrences and the plan: what the planner says about one contact at one instant."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from regua.records import Delivery, DeliveryStatus, DueAction

__all__ = ["Occurrence", "OccurrenceState", "Plan", "Reason"]


class OccurrenceState(str, enum.Enum):
    """Where an occurrence stands."""

    WAITING = "waiting"
    """Triggered (or about to be), not yet due; `Occurrence.at` says until when."""
    DUE = "due"
    """Due now: a `DueAction` was produced."""
    SENT = "sent"
    """Recorded as sent."""
    FAILED = "failed"
    """Recorded as failed."""
    CANCELLED = "cancelled"
    """Cancelled by a `cancel_on` event."""
    SKIPPED = "skipped"
    """Skipped on purpose (see the reason)."""
    EXPIRED = "expired"
    """Past its expiry or deadline before it could be sent."""


class Reason(str, enum.Enum):
    """Machine-readable reasons attached to waiting and closed occurrences."""

    NOT_YET_DUE = "not_yet_due"
    """Waiting for trigger + delay (and the ``at=`` time)."""
    NOT_YET_TRIGGERED = "not_yet_triggered"
    """A date or schedule trigger that fires in the future."""
    QUIET_HOURS = "quiet_hours"
    """Deferred to the end of the quiet window, in the contact's local time."""
    DAY_OFF = "day_off"
    """A marketing message due on a day off (`DaysOff`): deferred to the next day on."""
    FREQUENCY_CAP = "frequency_cap"
    """Over a frequency cap: deferred until a slot frees up, or skipped (``on_cap="skip"``)."""
    CANCEL_EVENT = "cancel_event"
    """A `cancel_on` event happened after the trigger and before sending."""
    CONDITION_FALSE = "condition_false"
    """The step's `when` condition was false when the occurrence became due."""
    NO_CHANNEL = "no_channel"
    """No candidate channel has both an address and (for marketing) consent."""
    REPEAT_ONCE = "repeat_once"
    """The step repeats once per contact and was already sent."""
    COOLDOWN = "cooldown"
    """The step was sent to this contact within its cooldown."""
    EXPIRED = "expired"
    """Past ``due + expires_after``."""
    DEADLINE = "deadline"
    """Past ``trigger + deadline``."""
    RECORDED = "recorded"
    """Closed by a recorded delivery (see the delivery's own reason)."""
    HOLDOUT = "holdout"
    """The contact is in the experiment's holdout variant (or follows a held-out occurrence):
    no message, but the assignment is recorded."""
    GOAL_REACHED = "goal_reached"
    """The journey's goal was reached after the trigger and before sending: it ends here."""


# The status that records each closed state (the names are the same).
_STATUS: dict[OccurrenceState, DeliveryStatus] = {
    state: DeliveryStatus(state.value)
    for state in OccurrenceState
    if state not in (OccurrenceState.WAITING, OccurrenceState.DUE)
}


@attrs.frozen(slots=True)
class Occurrence:
    """One firing of a step for a contact, and what the planner concluded about it.

    Attributes:
        cadence: Cadence name.
        step: Step name.
        contact_id: The contact.
        key: The deterministic occurrence key.
        source: What fired it, e.g. ``event=ord-1``, ``year=2026``, ``after=welcome/...``.
        triggered_at: The trigger instant.
        due_at: The nominal due instant (trigger + delay, then the ``at=`` time).
        state: Where it stands.
        at: For waiting occurrences, when it becomes due (after deferrals); for closed ones,
            when they closed; for due ones, `due_at`.
        reason: Why it is waiting or closed.
        detail: A human-readable account of the reason (the cancelling event, the cap...).
        expires_at: The instant after which it must not be sent, if any.
        collected: For a digest step: the ids of the events its window holds, oldest first
            (for a waiting digest, those gathered so far).
        variant: The experiment variant: for due and held-out occurrences, and for recorded
            ones that carry one.

    """

    cadence: str
    step: str
    contact_id: str
    key: str
    source: str
    triggered_at: datetime
    due_at: datetime
    state: OccurrenceState
    at: datetime
    reason: Reason | None = None
    detail: str = ""
    expires_at: datetime | None = None
    collected: tuple[str, ...] = ()
    variant: str | None = None

    @property
    def closed(self) -> bool:
        """True for sent, failed, cancelled, skipped and expired occurrences."""
        return self.state not in (OccurrenceState.WAITING, OccurrenceState.DUE)

    def as_delivery(self) -> Delivery:
        """The `Delivery` that records this closed occurrence, with its instant and reason.

        Raises:
            ValueError: the occurrence is waiting or due, so there is no outcome to record.

        """
        if not self.closed:
            raise ValueError(f"occurrence {self.key!r} is {self.state.value}, not closed")
        return Delivery(
            self.cadence,
            self.step,
            self.contact_id,
            self.key,
            _STATUS[self.state],
            self.at,
            reason=None if self.reason is None else self.reason.value,
            collected=self.collected,
            variant=self.variant,
            detail=self.detail or None,
        )


@attrs.frozen(slots=True)
class Plan:
    """What is due for one contact under one cadence at one instant.

    Attributes:
        cadence: Cadence name.
        contact_id: The contact.
        now: The instant planned for.
        timezone: The timezone wall-clock rules used (the contact's, else the cadence's).
        due: Actions due now, highest priority first.
        waiting: Occurrences that will become due later, soonest first.
        closed: Occurrences the planner closed (cancelled, skipped, expired) that are not yet
            recorded; the scheduler records them as deliveries with these reasons.
        next_wakeup: The earliest instant at which anything can change without new input
            (None when nothing ever will): no later than `next_event_at`.
        next_event_at: The earliest instant of an event recorded for a later instant than
            `now` (the clocks of the application and the workers drift apart), or None. The
            plan leaves such an event out until then; planning again at that instant takes
            it into account.

    """

    cadence: str
    contact_id: str
    now: datetime
    timezone: str
    due: tuple[DueAction, ...] = ()
    waiting: tuple[Occurrence, ...] = ()
    closed: tuple[Occurrence, ...] = ()
    next_wakeup: datetime | None = None
    next_event_at: datetime | None = None
