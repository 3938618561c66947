"""Goals in planning and reporting: which goal governs a step, and when it was reached.

A step's occurrences belong to a *journey*: a root occurrence (fired by an event, a date, a
schedule or inactivity) and the ``after_step`` followers chained from it. The goals of a step
are its own, those of the steps it follows (up the ``after_step`` chain), then the cadence's
(for marketing steps only: a transactional notice is never ended by a cadence-wide goal).

- **Measured goal**: the nearest of those goals; `regua.report` counts a step's conversions
  against it.
- **Exit goals**: all of those goals with ``exit=True``. An occurrence not yet sent is
  cancelled (reason ``goal_reached``) when an event reaching one of them happens after its
  trigger instant and by now. A follower's trigger instant is the instant the occurrence it
  follows ended, so over a journey these windows cover every instant since the journey
  began: a goal reached anywhere along it ends what remains.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime

import attrs

from regua.definitions.cadence import Cadence
from regua.definitions.goals import Goal
from regua.definitions.triggers import AfterStepTrigger
from regua.planning.history import History
from regua.records import Event

__all__ = ["StepGoals", "first_goal_event", "step_goals"]


@attrs.frozen(slots=True)
class StepGoals:
    """The goals governing one step: the one it is measured by, and those that end it."""

    measured: Goal | None
    exits: tuple[Goal, ...]


def step_goals(cadence: Cadence) -> dict[str, StepGoals]:
    """Step name -> the goals governing it (see the module docstring)."""
    by_name = {step.name: step for step in cadence.steps}
    governing: dict[str, StepGoals] = {}
    for step in cadence.steps:
        chain: list[Goal] = []
        current = step
        while True:  # Cadence validation rejects after_step cycles
            if current.goal is not None and current.goal not in chain:
                chain.append(current.goal)
            trigger = current.trigger
            if not isinstance(trigger, AfterStepTrigger):
                break
            current = by_name[trigger.after_step]
        if step.marketing and cadence.goal is not None and cadence.goal not in chain:
            chain.append(cadence.goal)
        governing[step.name] = StepGoals(
            measured=chain[0] if chain else None,
            exits=tuple(goal for goal in chain if goal.exit),
        )
    return governing


def _at(event: Event) -> datetime:
    return event.at


def first_goal_event(
    goals: Iterable[Goal], history: History, after: datetime, until: datetime
) -> tuple[Goal, Event] | None:
    """The earliest event in ``(after, until]`` reaching one of `goals`, with its goal."""
    best: tuple[Goal, Event] | None = None
    goals = tuple(goals)
    history.check_after([goal.event for goal in goals], after)
    for goal in goals:
        events = history.events_named(goal.event)
        for event in events[bisect_right(events, after, key=_at) :]:
            if event.at > until or (best is not None and event.at >= best[1].at):
                break
            if goal.matches(event.name, event.data):
                best = (goal, event)
                break
    return best
