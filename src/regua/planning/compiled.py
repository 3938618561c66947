"""A cadence compiled once for planning: parsed schedules, compiled conditions, step order.

Planning runs per contact, millions of times; nothing that depends only on the cadence is
recomputed per contact.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import attrs

from regua.definitions.cadence import Cadence
from regua.definitions.channels import Channel
from regua.definitions.conditions import Clicked, Opened
from regua.definitions.durations import Duration
from regua.definitions.policy import FrequencyCap
from regua.definitions.steps import Step
from regua.definitions.triggers import (
    AfterStepTrigger,
    DateTrigger,
    EventTrigger,
    ScheduleTrigger,
)
from regua.planning.checks import StepChecks, step_checks
from regua.planning.conditions import Predicate, compile_condition
from regua.planning.experiments import Experiments
from regua.planning.goals import StepGoals, step_goals
from regua.planning.keys import SEPARATOR, key_part
from regua.planning.occurrences import Reason
from regua.planning.schedules import Schedule

__all__ = [
    "CompiledCadence",
    "CompiledCap",
    "CompiledStep",
    "cadence_fingerprint",
    "compile_cadence",
]


@attrs.frozen(slots=True)
class CompiledCap:
    """A frequency cap with its window as elapsed time (rolling caps count UTC instants).

    A calendar cap (`period`) counts the contact's local day, week or month instead; its
    `window` is then the longest such period, a day of margin included (what a cap may look
    back on, for folds).

    A cap with `contact` set counts the contact's marketing sends of every cadence planned
    together (``FrequencyCap(scope="contact")``), not only its own cadence's.
    """

    max: int
    window: timedelta
    channel: str | None
    period: Literal["day", "week", "month"] | None = None
    contact: bool = False
    per: str = ""
    """The window as the definition gave it (``"7d"``), for explanations."""

    @classmethod
    def of(cls, cap: FrequencyCap, channel: str | None) -> CompiledCap:
        """Compile a cap; a rolling calendar duration counts months as 30 days."""
        window = cap.per.approximate()
        if cap.period is not None:
            window += timedelta(days=1)  # a month of 31 days, a day of 25 hours
        return cls(
            max=cap.max,
            window=window,
            channel=channel,
            period=cap.period,
            contact=cap.scope == "contact",
            per=str(cap.per),
        )


@attrs.frozen(slots=True)
class CompiledStep:
    """A step with everything per-cadence precomputed."""

    step: Step
    index: int
    when: Predicate | None
    routes: tuple[tuple[Predicate, tuple[str, ...]], ...]
    schedule: Schedule | None
    followers: tuple[str, ...]
    key_prefix: str = ""
    """What every occurrence key of the step starts with, but for the contact part:
    ``<cadence>:<step>:`` (see `regua.planning.keys`)."""
    delay: Duration | None = None
    """The step's delay, None when it has none (a zero delay)."""
    plain_event: str | None = None
    """The event name of an `on_event` trigger that fires on every event of that name (no
    ``where``, no ``of_step``, no digest), None for any other trigger."""
    shared_instants: bool = False
    """Whether the trigger fires at instants many contacts share: a schedule's (per
    timezone) or a date attribute's (a birthday), unlike an event's or an inactivity's."""


@attrs.frozen(slots=True)
class CompiledCadence:
    """A cadence ready for planning."""

    cadence: Cadence
    tz: ZoneInfo
    steps: tuple[CompiledStep, ...]
    channels: dict[str, Channel]
    caps: tuple[CompiledCap, ...]
    channel_caps: dict[str, tuple[CompiledCap, ...]]
    uncapped_steps: frozenset[str] = attrs.field(
        default=attrs.Factory(
            lambda self: frozenset(c.step.name for c in self.steps if not c.step.marketing),
            takes_self=True,
        )
    )
    quiet_ends: dict[tuple[str, bool, ZoneInfo, datetime], tuple[datetime, date | None] | None] = (
        attrs.field(factory=dict, eq=False, repr=False)
    )
    """Memo of the planner's quiet-hours answers: they depend only on (channel, tz, now), so
    every contact planned at one instant in one timezone shares them. Bounded by the planner."""
    followed: frozenset[str] = attrs.field(
        default=attrs.Factory(
            lambda self: frozenset(c.step.name for c in self.steps if c.followers),
            takes_self=True,
        )
    )
    """Steps that ``after_step`` steps follow."""
    rationed: frozenset[str] = attrs.field(
        default=attrs.Factory(
            lambda self: frozenset(
                c.step.name
                for c in self.steps
                if c.step.repeat == "once" or c.step.cooldown is not None
            ),
            takes_self=True,
        )
    )
    """Steps with ``repeat="once"`` or a cooldown: a send of one rations the others."""
    caps_window: timedelta | None = attrs.field(
        default=attrs.Factory(
            lambda self: max(
                (
                    cap.window
                    for cap in (*self.caps, *(c for cs in self.channel_caps.values() for c in cs))
                ),
                default=None,
            ),
            takes_self=True,
        )
    )
    """The longest window of the frequency caps (policy and channels), None without caps."""
    shares_caps: bool = attrs.field(
        default=attrs.Factory(
            lambda self: any(
                cap.contact
                for cap in (*self.caps, *(c for cs in self.channel_caps.values() for c in cs))
            ),
            takes_self=True,
        )
    )
    """Whether a cap counts the contact's sends of other cadences (``scope="contact"``)."""
    fingerprint: str = attrs.field(
        default=attrs.Factory(lambda self: cadence_fingerprint(self.cadence), takes_self=True)
    )
    """A digest of the definition: a fold (`regua.folding`) is valid for this digest only."""
    changed_by_sending: frozenset[str] = attrs.field(
        default=attrs.Factory(
            lambda self: (
                self.followed
                | frozenset(c.step.name for c in self.steps if c.step.digest is not None)
                | _engagement_read(c.step for c in self.steps)
            ),
            takes_self=True,
        )
    )
    """Steps whose sent occurrence changes more of a plan than itself: followed steps (their
    followers fire from its outcome), digests (the next window opens after it) and steps an
    ``opened``/``clicked`` condition reads (an engagement recorded before the delivery counts
    once the delivery is)."""
    goals: dict[str, StepGoals] = attrs.field(
        default=attrs.Factory(lambda self: step_goals(self.cadence), takes_self=True)
    )
    experiments: Experiments = attrs.field(
        default=attrs.Factory(lambda self: Experiments.of(self.cadence), takes_self=True)
    )
    journeys: frozenset[str] = attrs.field(
        default=attrs.Factory(
            lambda self: frozenset(
                c.step.name
                for c in self.steps
                if isinstance(c.step.trigger, AfterStepTrigger) or self.goals[c.step.name].exits
            ),
            takes_self=True,
        )
    )
    """Steps whose journey may end at an occurrence: ``after_step`` followers (of a held-out
    occurrence) and steps with a goal that exits."""
    due_times: dict[
        tuple[int, ZoneInfo, datetime], tuple[datetime, tuple[datetime | None, Reason]]
    ] = attrs.field(factory=dict, eq=False, repr=False)
    """Memo of the due instant and expiry of schedule and date triggers' firings: they
    depend only on (step, tz, trigger instant), which contacts of one timezone share (a
    schedule's firing, a birthday). Bounded by the planner."""
    checks: dict[str, StepChecks] = attrs.field(
        default=attrs.Factory(
            lambda self: {c.step.name: step_checks(c, self) for c in self.steps},
            takes_self=True,
        ),
        eq=False,
        repr=False,
    )
    """Each step's checks (`regua.planning.checks`): those that can conclude about its
    occurrences, in order."""


def _ordered(cadence: Cadence) -> list[Step]:
    # after_step followers come after the step they follow, so that outcomes the planner
    # computes (an expiry, a skip) can fire their followers within the same plan.
    placed: dict[str, Step] = {}
    remaining = list(cadence.steps)
    while remaining:
        progressed = False
        for step in list(remaining):
            trigger = step.trigger
            if not isinstance(trigger, AfterStepTrigger) or trigger.after_step in placed:
                placed[step.name] = step
                remaining.remove(step)
                progressed = True
        if not progressed:  # pragma: no cover - Cadence validation rejects cycles
            raise ValueError(f"cadence {cadence.name!r}: after_step chain forms a cycle")
    return list(placed.values())


def _compile(cadence: Cadence) -> CompiledCadence:
    ordered = _ordered(cadence)
    followers: dict[str, list[str]] = {step.name: [] for step in ordered}
    for step in ordered:
        if isinstance(step.trigger, AfterStepTrigger):
            followers[step.trigger.after_step].append(step.name)
    steps = tuple(
        CompiledStep(
            step=step,
            index=cadence.steps.index(step),
            when=None if step.when is None else compile_condition(step.when),
            routes=tuple((compile_condition(r.when), r.channels) for r in step.route),
            schedule=(
                Schedule(step.trigger.schedule)
                if isinstance(step.trigger, ScheduleTrigger)
                else None
            ),
            followers=tuple(followers[step.name]),
            key_prefix=key_part(cadence.name) + SEPARATOR + key_part(step.name) + SEPARATOR,
            delay=step.delay if step.delay else None,
            plain_event=_plain_event(step),
            shared_instants=isinstance(step.trigger, (ScheduleTrigger, DateTrigger)),
        )
        for step in ordered
    )
    return CompiledCadence(
        cadence=cadence,
        tz=ZoneInfo(cadence.timezone),
        steps=steps,
        channels={channel.name: channel for channel in cadence.channels},
        caps=tuple(CompiledCap.of(cap, None) for cap in cadence.policy.caps),
        channel_caps={
            channel.name: tuple(CompiledCap.of(cap, channel.name) for cap in channel.caps)
            for channel in cadence.channels
        },
    )


def _plain_event(step: Step) -> str | None:
    trigger = step.trigger
    if (
        isinstance(trigger, EventTrigger)
        and trigger.of_step is None
        and not trigger.where
        and step.digest is None
    ):
        return trigger.event
    return None


def _engagement_read(steps: Iterable[Step]) -> frozenset[str]:
    """The steps named by an ``opened``/``clicked`` condition of these steps or their routes."""
    named: set[str] = set()
    for step in steps:
        conditions = [step.when] if step.when is not None else []
        conditions += [route.when for route in step.route]
        for condition in conditions:
            for node in condition.walk():
                if isinstance(node, Opened):
                    named.add(node.opened)
                elif isinstance(node, Clicked):
                    named.add(node.clicked)
    return frozenset(named)


_CACHE: dict[int, tuple[Cadence, CompiledCadence]] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 256


def cadence_fingerprint(cadence: Cadence) -> str:
    """A digest of `cadence`'s definition (its JSON form)."""
    return hashlib.blake2b(cadence.model_dump_json().encode("utf-8"), digest_size=16).hexdigest()


def compile_cadence(cadence: Cadence) -> CompiledCadence:
    """The compiled form of `cadence`, built once per cadence object and cached."""
    entry = _CACHE.get(id(cadence))
    if entry is not None and entry[0] is cadence:
        return entry[1]
    compiled = _compile(cadence)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        # The cadence is kept alive by the entry, so its id cannot be reused while cached.
        _CACHE[id(cadence)] = (cadence, compiled)
    return compiled
