"""Explain: why a step is, or is not, due for a contact at an instant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from regua.definitions.cadence import Cadence
from regua.definitions.steps import Step
from regua.definitions.triggers import (
    AfterStepTrigger,
    DateTrigger,
    EventTrigger,
    InactivityTrigger,
    ScheduleTrigger,
    Trigger,
)
from regua.planning.checks import Check
from regua.planning.compiled import compile_cadence
from regua.planning.goals import StepGoals
from regua.planning.occurrences import Occurrence
from regua.planning.planner import plan_contact
from regua.records import Snapshot

__all__ = ["Explanation", "describe_trigger", "explain"]


def describe_trigger(trigger: Trigger) -> str:
    """A one-line, human-readable account of a trigger."""
    if isinstance(trigger, EventTrigger):
        if trigger.of_step is not None:
            return f"the first {trigger.event!r} of each {trigger.of_step!r} message"
        where = f" where {trigger.where}" if trigger.where else ""
        return f"each {trigger.event!r} event{where}"
    if isinstance(trigger, DateTrigger):
        when = "every year on" if trigger.every == "year" else "once on"
        offset = ""
        if trigger.offset:
            direction = "before" if trigger.offset.is_negative else "after"
            offset = f" ({-trigger.offset if trigger.offset.is_negative else trigger.offset} "
            offset += f"{direction})"
        return f"{when} the date in attribute {trigger.date!r}{offset}"
    if isinstance(trigger, ScheduleTrigger):
        return f"on the {trigger.kind} schedule {trigger.schedule!r}, in local time"
    if isinstance(trigger, InactivityTrigger):
        activity = "any event" if trigger.activity is None else ", ".join(trigger.activity)
        return f"after {trigger.inactivity} without activity ({activity})"
    if isinstance(trigger, AfterStepTrigger):
        return f"when an occurrence of {trigger.after_step!r} ends {' or '.join(trigger.outcomes)}"
    return type(trigger).__name__  # pragma: no cover


@attrs.frozen(slots=True)
class Explanation:
    """Every occurrence of one step for one contact at one instant, and why it stands so.

    Attributes:
        cadence: Cadence name.
        step: Step name.
        contact_id: The contact.
        now: The instant explained.
        timezone: The timezone used for wall-clock rules.
        timezone_source: ``"contact"`` or ``"cadence"``: whose timezone that is.
        trigger: What fires the step, in words.
        occurrences: Every occurrence, recorded or computed, in trigger order.
        next_wakeup: The contact's next wake-up under this cadence.
        experiment: The step's experiment in words (variants, weights, holdout), if any.
        goal: The goal the step is measured by (and whether reaching it ends the journey).

    """

    cadence: str
    step: str
    contact_id: str
    now: datetime
    timezone: str
    timezone_source: str
    trigger: str
    occurrences: tuple[Occurrence, ...]
    next_wakeup: datetime | None
    experiment: str | None = None
    goal: str | None = None

    def __str__(self) -> str:
        lines = [
            f"{self.cadence} / {self.step} for contact {self.contact_id} at {self.now.isoformat()}",
            f"  fires {self.trigger}",
            f"  wall-clock rules in {self.timezone} (the {self.timezone_source}'s timezone)",
        ]
        if self.experiment is not None:
            lines.append(f"  experiment {self.experiment}")
        if self.goal is not None:
            lines.append(f"  goal {self.goal}")
        if not self.occurrences:
            lines.append("  no occurrence: the trigger has not fired")
        for occurrence in self.occurrences:
            reason = f" [{occurrence.reason.value}]" if occurrence.reason is not None else ""
            detail = f": {occurrence.detail}" if occurrence.detail else ""
            variant = f" (variant {occurrence.variant})" if occurrence.variant is not None else ""
            lines.append(
                f"  - {occurrence.source}: {occurrence.state.value} at "
                f"{occurrence.at.isoformat()}{reason}{detail}{variant}"
            )
            if occurrence.collected:
                count = len(occurrence.collected)
                lines.append(
                    f"      collects {count} event{'' if count == 1 else 's'}: "
                    + ", ".join(occurrence.collected)
                )
        if self.next_wakeup is not None:
            lines.append(f"  next wake-up {self.next_wakeup.isoformat()}")
        return "\n".join(lines)


def explain(
    cadence: Cadence,
    snapshot: Snapshot,
    step: str,
    now: datetime,
    *,
    cadences: Sequence[Cadence] = (),
) -> Explanation:
    """Account for every occurrence of `step` for the snapshot's contact at `now`.

    `cadences` are the cadences planned with `cadence` (a scheduler's, in its order), for
    the frequency caps with ``scope="contact"`` they share (`regua.plan_contact`); the
    first named as `cadence` among them is replaced by it (and any other of that name left
    out). Without them, `cadence` is planned alone.

    Raises:
        UnknownStepError: the cadence has no such step (also a `KeyError`).

    """
    definition = cadence.step(step)
    # `cadence` in place of the first cadence of its name (first when there is none).
    planned = [other for other in cadences if other.name != cadence.name]
    names = [other.name for other in cadences]
    position = names.index(cadence.name) if cadence.name in names else 0
    planned.insert(position, cadence)
    occurrences: list[Occurrence] = []

    def trace(occurrence: Occurrence, check: Check | None) -> None:
        if occurrence.step == step and occurrence.cadence == cadence.name:
            occurrences.append(occurrence)

    plans = plan_contact(planned, snapshot, now, trace=trace, trace_steps=[step])
    result = plans[position]
    occurrences.sort(key=lambda o: (o.triggered_at, o.key))
    return Explanation(
        cadence=cadence.name,
        step=step,
        contact_id=snapshot.contact.id,
        now=result.now,
        timezone=result.timezone,
        timezone_source="contact" if snapshot.contact.timezone else "cadence",
        trigger=describe_trigger(definition.trigger)
        + ("" if definition.digest is None else f", collected by digest {definition.digest}"),
        occurrences=tuple(occurrences),
        next_wakeup=result.next_wakeup,
        experiment=_describe_experiment(definition),
        goal=_describe_goal(compile_cadence(cadence).goals[step]),
    )


def _describe_experiment(step: Step) -> str | None:
    if step.variants is None:
        return None
    weights = ", ".join(f"{name} {weight}" for name, weight in step.variants.items())
    holdout = f"; holdout {step.holdout!r} gets no message" if step.holdout else ""
    return f"{step.experiment_name!r}: variants {weights}{holdout}"


def _describe_goal(goals: StepGoals) -> str | None:
    if goals.measured is None:
        return None
    ends = [
        f"{goal.event!r}" + (f" where {goal.where}" if goal.where else "") for goal in goals.exits
    ]
    exits = f"; an event {' or '.join(ends)} ends the journey" if ends else ""
    return f"{goals.measured} of each message{exits}"
