"""The checks an occurrence goes through, in order, and the trace that reports them.

The planner assesses each occurrence a step's trigger fires (a firing before the step's
``active_from`` is no occurrence at all) with the checks below, in this order. The first
that concludes about it (it waits, or it closes) ends its assessment, and one that passes
them all is due. Checks 1 to 9 run as its step is assessed; checks 10 to 13 run in the caps
pass, once every step of every cadence planned together has been, over the occurrences that
passed the first nine, highest priority first (then the earliest due). A check that cannot
conclude about a step's occurrences (``cancel_on`` for a step without cancelling events,
quiet hours for a transactional step) is left out of that step's list when the cadence is
compiled (`checks_of` gives the list).

1. ``recorded``: a recorded delivery closes it (it is then not in `Plan.closed`: it is
   recorded already).
2. ``not_yet_triggered``: its trigger fires later (a date, a schedule, an outcome
   recorded with a worker's clock ahead): it waits.
3. ``journey``: it follows a held-out occurrence (skipped, ``holdout``), or its step's
   goal was reached after its trigger (cancelled, ``goal_reached``).
4. ``cancel_on``: a ``cancel_on`` event after its trigger, and by now, cancels it.
5. ``not_yet_due``: its trigger + delay (then the ``at=`` time) is later than now: it
   waits.
6. ``expiry``: now is past its ``deadline`` or ``expires_after``: expired.
7. ``condition``: its ``when`` condition, evaluated as of the due instant, is false:
   skipped.
8. ``channels``: no channel has an address (and, for marketing, consent): skipped.
9. ``quiet_hours``: a marketing or service message inside quiet hours, or a marketing
   message on a day off, waits for them to end.
10. ``repeat``: the step repeats once per contact and was sent already (or is due already
    in this plan): skipped.
11. ``cooldown``: the step was sent to the contact within its cooldown: skipped.
12. ``frequency_cap``: a marketing message over a frequency cap waits for a slot to free
    up (skipped, with ``on_cap="skip"``).
13. ``holdout``: the contact's experiment variant is the step's holdout: skipped, with no
    message and no cap slot taken (it stands for a send for ``repeat`` and ``cooldown``).

A `Trace` given to `regua.plan` or `regua.plan_contact` sees each conclusion as it is
reached, with the check that reached it; `regua.explain` is built on it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import attrs

from regua.definitions.policy import WEEKDAYS
from regua.planning.calendar import shift
from regua.planning.channels import resolve_channels
from regua.planning.conditions import Context
from regua.planning.firings import Firing
from regua.planning.occurrences import Occurrence, OccurrenceState, Reason
from regua.records import DeliveryStatus

if TYPE_CHECKING:
    from regua.definitions.cadence import Cadence
    from regua.planning.compiled import CompiledCadence, CompiledStep
    from regua.planning.planner import _Planner

__all__ = ["Check", "Trace", "checks_of"]


class Check(str, enum.Enum):
    """The checks of an occurrence's assessment, in the order they run (see the module).

    A `Trace` is told which of them concluded about each occurrence.
    """

    RECORDED = "recorded"
    """A recorded delivery closes the occurrence."""
    NOT_YET_TRIGGERED = "not_yet_triggered"
    """Its trigger fires later: it waits."""
    JOURNEY = "journey"
    """It follows a held-out occurrence, or its goal was reached: the journey ends."""
    CANCEL_ON = "cancel_on"
    """A ``cancel_on`` event after its trigger cancels it."""
    NOT_YET_DUE = "not_yet_due"
    """Trigger + delay (and the ``at=`` time) is later than now: it waits."""
    EXPIRY = "expiry"
    """Past its ``deadline`` or ``expires_after``: expired."""
    CONDITION = "condition"
    """Its ``when`` condition is false as of the due instant: skipped."""
    CHANNELS = "channels"
    """No channel can carry it to the contact: skipped."""
    QUIET_HOURS = "quiet_hours"
    """Inside quiet hours, or a marketing message on a day off: it waits."""
    REPEAT = "repeat"
    """``repeat="once"`` and sent already: skipped."""
    COOLDOWN = "cooldown"
    """Sent within the step's cooldown: skipped."""
    FREQUENCY_CAP = "frequency_cap"
    """Over a frequency cap: it waits for a slot (or is skipped)."""
    HOLDOUT = "holdout"
    """The contact is in the step's holdout variant: skipped, no message."""


class Trace(Protocol):
    """A hook that follows a plan: each conclusion the planner reaches, as it reaches it.

    Given as ``trace=`` to `regua.plan` or `regua.plan_contact`, it is called once for
    each occurrence the triggers fire (at or after the step's ``active_from``), with the
    `Check` that concluded about it, or with None for an occurrence due now (state
    ``due``: it passed every check; its detail lists the channels to try). That includes
    the occurrences the history records as closed (check ``recorded``, with the recorded
    outcome), so a traced step costs more to plan than an untraced one; ``trace_steps=``
    traces only the steps it names. A traced plan is the same `Plan` as an untraced one.
    An exception the hook raises stops the plan.

    >>> from datetime import datetime, timezone
    >>> from regua import Cadence, Channel, Contact, Delivery, Event, Snapshot, Step, on_event
    >>> from regua import plan
    >>> cadence = Cadence("shop", channels=[Channel("email")], steps=[
    ...     Step("receipt", trigger=on_event("order_placed"), channels=["email"],
    ...          transactional=True)])
    >>> ana = Contact("ana", addresses={"email": "ana@example.com"})
    >>> t = datetime(2026, 5, 4, 12, tzinfo=timezone.utc)
    >>> orders = [Event("ana", "order_placed", t, id=n) for n in ("o1", "o2")]
    >>> sent = Delivery("shop", "receipt", "ana", "shop:receipt:ana:event=o1", "sent", t)
    >>> def trace(occurrence, check):
    ...     print(occurrence.source, occurrence.state.value, check and check.value)
    >>> result = plan(cadence, Snapshot(ana, orders, [sent]), t, trace=trace)
    event=o1 sent recorded
    event=o2 due None

    """

    def __call__(self, occurrence: Occurrence, check: Check | None, /) -> None:
        """Take note of `occurrence`, which `check` concluded about (None: it is due)."""


def checks_of(cadence: Cadence, step: str) -> tuple[Check, ...]:
    """The checks an occurrence of `step` goes through, in order (see the module).

    >>> from regua import Cadence, Channel, Step, on_event
    >>> cadence = Cadence("shop", channels=[Channel("email")], steps=[
    ...     Step("receipt", trigger=on_event("order_placed"), channels=["email"],
    ...          transactional=True)])
    >>> [check.value for check in checks_of(cadence, "receipt")]
    ['recorded', 'not_yet_triggered', 'not_yet_due', 'channels']

    Raises:
        UnknownStepError: the cadence has no such step (also a `KeyError`).

    """
    from regua.planning.compiled import compile_cadence

    cadence.step(step)
    listed = compile_cadence(cadence).checks[step]
    return tuple(check for check, _ in (*listed.assess, *listed.caps))


@attrs.define(slots=True)
class Assessment:
    """One occurrence as the checks see it: what fired, its key and instants, and so far.

    `channels` and `ctx` are filled in by the checks that compute them; `variant` once the
    occurrence has passed the checks of its step's assessment.
    """

    cstep: CompiledStep
    firing: Firing
    key: str
    due_at: datetime
    expires_at: datetime | None
    expiry_reason: Reason
    channels: tuple[str, ...] = ()
    variant: str | None = None
    ctx: Context | None = None


CheckFunction = Callable[["_Planner", Assessment], "Occurrence | None"]
"""A check: an occurrence that concludes the assessment (it waits, or closes), or None."""


@attrs.frozen(slots=True)
class StepChecks:
    """The checks that apply to one step: those of its assessment, then the caps pass's."""

    assess: tuple[tuple[Check, CheckFunction], ...]
    caps: tuple[tuple[Check, CheckFunction], ...]
    unrecorded: tuple[tuple[Check, CheckFunction], ...] = attrs.field(
        default=attrs.Factory(
            lambda self: tuple(c for c in self.assess if c[0] is not Check.RECORDED),
            takes_self=True,
        )
    )
    """`assess` but ``recorded``: for an occurrence known to have no recorded delivery
    (an untraced plan looks its key up before assessing it)."""


_CLOSED_STATE = {
    DeliveryStatus.SENT: OccurrenceState.SENT,
    DeliveryStatus.FAILED: OccurrenceState.FAILED,
    DeliveryStatus.CANCELLED: OccurrenceState.CANCELLED,
    DeliveryStatus.SKIPPED: OccurrenceState.SKIPPED,
    DeliveryStatus.EXPIRED: OccurrenceState.EXPIRED,
}


def _recorded(p: _Planner, a: Assessment) -> Occurrence | None:
    recorded = p.history.by_key.get(a.key)
    if recorded is None:
        return None
    details = (
        f"channel {recorded.channel}" if recorded.channel else "",
        recorded.reason or "",
        recorded.detail or "",
        f"message id {recorded.message_id}" if recorded.message_id else "",
    )
    return Occurrence(
        cadence=p.cadence.name,
        step=a.cstep.step.name,
        contact_id=p.contact.id,
        key=a.key,
        source=a.firing.source,
        triggered_at=a.firing.at,
        due_at=a.due_at,
        state=_CLOSED_STATE[recorded.status],
        at=recorded.at,
        reason=Reason.RECORDED,
        variant=recorded.variant,
        detail=", ".join(part for part in details if part),
        collected=tuple(event.key for event in a.firing.collected),
    )


def _not_yet_triggered(p: _Planner, a: Assessment) -> Occurrence | None:
    if not a.firing.upcoming:
        return None
    return p.occurrence(a, OccurrenceState.WAITING, a.due_at, Reason.NOT_YET_TRIGGERED)


def _journey(p: _Planner, a: Assessment) -> Occurrence | None:
    ended = p.journey_end(a.cstep, a.firing)
    if ended is None:
        return None
    state, at, reason, detail, variant = ended
    return p.occurrence(a, state, at, reason, detail, variant)


def _cancel_on(p: _Planner, a: Assessment) -> Occurrence | None:
    step, firing = a.cstep.step, a.firing
    cancel = p.history.first_cancel(step.cancel_on, firing.at, p.now, step.cancel_key, firing.data)
    if cancel is None:
        return None
    tie = step.cancel_key
    tied = (
        f" ({tie} {firing.data[tie]!r})"
        if tie is not None and tie in firing.data and tie in cancel.data
        else ""
    )
    detail = f"{cancel.name} at {cancel.at.isoformat()}{tied}"
    return p.occurrence(a, OccurrenceState.CANCELLED, cancel.at, Reason.CANCEL_EVENT, detail)


def _not_yet_due(p: _Planner, a: Assessment) -> Occurrence | None:
    if a.due_at <= p.now:
        return None
    return p.occurrence(a, OccurrenceState.WAITING, a.due_at, Reason.NOT_YET_DUE)


def _expiry(p: _Planner, a: Assessment) -> Occurrence | None:
    expires_at = a.expires_at
    if expires_at is None or p.now < expires_at:
        return None
    holder = p.held_when_due(a.cstep.step, a.due_at)
    detail = f"due {a.due_at.isoformat()}, not sent by {expires_at.isoformat()}"
    if holder:
        detail += f"; when due, {holder}"
    return p.occurrence(a, OccurrenceState.EXPIRED, expires_at, a.expiry_reason, detail)


def _condition(p: _Planner, a: Assessment) -> Occurrence | None:
    when = a.cstep.when
    assert when is not None  # listed for steps with a condition only
    if when(p.context(a)):
        return None
    condition = str(a.cstep.step.when)
    return p.occurrence(a, OccurrenceState.SKIPPED, a.due_at, Reason.CONDITION_FALSE, condition)


def _channels(p: _Planner, a: Assessment) -> Occurrence | None:
    ctx = p.context(a) if a.cstep.routes else None
    channels, why = resolve_channels(p.compiled, a.cstep, p.contact, ctx)
    if not channels:
        return p.occurrence(a, OccurrenceState.SKIPPED, a.due_at, Reason.NO_CHANNEL, why)
    a.channels = channels
    return None


def _quiet_hours(p: _Planner, a: Assessment) -> Occurrence | None:
    held = p.quiet_end(a.channels[0], a.cstep.step.marketing)
    if held is None:
        return None
    held_until, day_off = held
    if day_off is None:
        reason, detail = Reason.QUIET_HOURS, f"quiet hours until {held_until.isoformat()}"
    else:
        reason = Reason.DAY_OFF
        detail = (
            f"no marketing on {WEEKDAYS[day_off.weekday()]} {day_off.isoformat()} "
            f"(a day off); held until {held_until.isoformat()}"
        )
    return p.occurrence(a, OccurrenceState.WAITING, held_until, reason, detail)


def _repeat(p: _Planner, a: Assessment) -> Occurrence | None:
    step = a.cstep.step
    if not (p.rationing_sends(a) or p.accepted_steps[step.name]):
        return None
    return p.occurrence(
        a, OccurrenceState.SKIPPED, a.due_at, Reason.REPEAT_ONCE, "sent once already"
    )


def _cooldown(p: _Planner, a: Assessment) -> Occurrence | None:
    step = a.cstep.step
    assert step.cooldown is not None  # listed for steps with a cooldown only
    sent = p.rationing_sends(a)
    last = sent[-1].at if sent else None
    if p.accepted_steps[step.name] and (last is None or last < p.now):
        last = p.now
    if last is None or p.now >= shift(last, step.cooldown, p.tz):
        return None
    detail = f"last sent {last.isoformat()}, cooldown {step.cooldown}"
    return p.occurrence(a, OccurrenceState.SKIPPED, a.due_at, Reason.COOLDOWN, detail)


def _frequency_cap(p: _Planner, a: Assessment) -> Occurrence | None:
    blocked = p.cap_block(a.channels[0])
    if blocked is None:
        return None
    blocked_until, cap = blocked
    whose = "the contact's frequency cap" if cap.contact else "frequency cap"
    detail = f"{whose} reached; a slot frees up at {blocked_until.isoformat()}"
    if a.cstep.step.on_cap == "skip":
        return p.occurrence(a, OccurrenceState.SKIPPED, a.due_at, Reason.FREQUENCY_CAP, detail)
    return p.occurrence(a, OccurrenceState.WAITING, blocked_until, Reason.FREQUENCY_CAP, detail)


def _holdout(p: _Planner, a: Assessment) -> Occurrence | None:
    step = a.cstep.step
    if a.variant != step.holdout:
        return None
    detail = f"holdout of experiment {step.experiment_name!r}: no message"
    return p.occurrence(
        a, OccurrenceState.SKIPPED, p.now, Reason.HOLDOUT, detail, variant=a.variant
    )


# Every check, in order, with what a step needs for the check to be able to conclude.
_APPLIES: Sequence[tuple[Check, CheckFunction, Callable[[CompiledStep, CompiledCadence], bool]]] = (
    (Check.RECORDED, _recorded, lambda c, cc: True),
    (Check.NOT_YET_TRIGGERED, _not_yet_triggered, lambda c, cc: True),
    (Check.JOURNEY, _journey, lambda c, cc: c.step.name in cc.journeys),
    (Check.CANCEL_ON, _cancel_on, lambda c, cc: bool(c.step.cancel_on)),
    (Check.NOT_YET_DUE, _not_yet_due, lambda c, cc: True),
    (
        Check.EXPIRY,
        _expiry,
        lambda c, cc: c.step.deadline is not None or c.step.expires_after is not None,
    ),
    (Check.CONDITION, _condition, lambda c, cc: c.when is not None),
    (Check.CHANNELS, _channels, lambda c, cc: True),
    (Check.QUIET_HOURS, _quiet_hours, lambda c, cc: not c.step.transactional),
    (Check.REPEAT, _repeat, lambda c, cc: c.step.repeat == "once"),
    (Check.COOLDOWN, _cooldown, lambda c, cc: c.step.cooldown is not None),
    (
        Check.FREQUENCY_CAP,
        _frequency_cap,
        lambda c, cc: c.step.marketing and cc.caps_window is not None,
    ),
    (
        Check.HOLDOUT,
        _holdout,
        lambda c, cc: c.step.marketing and c.step.holdout is not None,
    ),
)

# The checks of the caps pass.
_CAPS_PASS = frozenset({Check.REPEAT, Check.COOLDOWN, Check.FREQUENCY_CAP, Check.HOLDOUT})


def step_checks(cstep: CompiledStep, compiled: CompiledCadence) -> StepChecks:
    """The checks that can conclude about `cstep`'s occurrences, in order."""
    listed = [(check, run) for check, run, applies in _APPLIES if applies(cstep, compiled)]
    return StepChecks(
        assess=tuple((check, run) for check, run in listed if check not in _CAPS_PASS),
        caps=tuple((check, run) for check, run in listed if check in _CAPS_PASS),
    )
