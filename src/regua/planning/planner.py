"""The planner: (cadence, one contact's snapshot, now) -> what is due, what waits, what closed.

Pure: no I/O, no clock reads; the same inputs always give the same plan. The planner
recomputes everything from history, so the current definition of a cadence rules for every
contact in flight.

For each step, in an order where ``after_step`` followers come after the step they follow,
the trigger's firings give occurrences, each with a deterministic key (a digest step's
firings are its windows: see `regua.planning.digests`). An occurrence with an open claim
(`Snapshot.claimed`) that catch-up no longer yields (a deferred retry of a schedule,
overtaken by its next firing) is rebuilt from its key, so that it is retried or closed,
never forgotten. Each occurrence then goes through the checks of `regua.planning.checks`,
in their order: a recorded delivery, the trigger and the journey (`regua.planning.goals`),
``cancel_on``, the due instant, the expiry, the ``when`` condition, the channels, quiet
hours. Each occurrence standing at the end is given its experiment variant
(`regua.planning.experiments`).

The occurrences still standing then compete, highest priority first, in the caps pass:
`repeat="once"`, `cooldown`, the frequency caps and holdouts are checked in one pass, so
that two occurrences due together cannot both slip through. `plan_contact` plans several
cadences for one contact: each as `plan` does, but with one caps pass over the occurrences
of all of them, so that a cap with ``scope="contact"`` counts (and rations) the marketing
messages of every cadence.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from operator import attrgetter
from zoneinfo import ZoneInfo

import attrs

from regua.definitions.cadence import Cadence
from regua.definitions.policy import WEEKDAYS
from regua.definitions.steps import Step
from regua.definitions.triggers import (
    AfterStepTrigger,
    DateTrigger,
    EventTrigger,
    InactivityTrigger,
    ScheduleTrigger,
)
from regua.errors import FoldTooShallow, InvalidArgumentError, InvalidRecordError
from regua.planning.calendar import from_local, next_at, quiet_until, shift, to_local
from regua.planning.checks import Assessment, Check, Trace
from regua.planning.compiled import CompiledCadence, CompiledCap, CompiledStep, compile_cadence
from regua.planning.conditions import Context
from regua.planning.digests import SOURCE_PREFIX, Closure, digest_close, digest_firings
from regua.planning.experiments import assign_variant, recorded_assignments
from regua.planning.firings import (
    Firing,
    after_step_source,
    claimed_firing,
    date_firings,
    event_firing,
    event_firings,
    event_sources,
    inactivity_firing,
    schedule_firings,
)
from regua.planning.goals import first_goal_event
from regua.planning.history import History
from regua.planning.keys import SEPARATOR, key_part, occurrence_prefix, parse_after_source
from regua.planning.occurrences import Occurrence, OccurrenceState, Plan, Reason
from regua.records import Delivery, DueAction, Snapshot, idempotency_key

__all__ = [
    "FoldProbe",
    "next_wakeup",
    "plan",
    "plan_contact",
    "probe_for_fold",
    "settled",
    "settled_once_sent",
]

_MEMO_SIZE = 4096

# A plan's waiting occurrences: soonest first, then by key.
_waiting_order = attrgetter("at", "key")


def plan(
    cadence: Cadence,
    snapshot: Snapshot,
    now: datetime,
    *,
    trace: Trace | None = None,
    trace_steps: Collection[str] | None = None,
) -> Plan:
    """Compute what is due for one contact under `cadence` at the instant `now`.

    >>> from datetime import datetime, timezone
    >>> from regua import Cadence, Channel, Contact, Event, Snapshot, Step, on_event, plan
    >>> cadence = Cadence("shop", channels=[Channel("email")], steps=[
    ...     Step("order_confirmation", trigger=on_event("order_placed"),
    ...          channels=["email"], transactional=True)])
    >>> ana = Contact("ana", addresses={"email": "ana@example.com"})
    >>> t = datetime(2026, 5, 4, 12, tzinfo=timezone.utc)
    >>> result = plan(cadence, Snapshot(ana, [Event("ana", "order_placed", t, id="o1")]), t)
    >>> [(a.step, a.channel, a.occurrence_key) for a in result.due]
    [('order_confirmation', 'email', 'shop:order_confirmation:ana:event=o1')]

    Raises:
        InvalidArgumentError: `now` is naive (also a `ValueError`).
        InvalidRecordError: the contact's data cannot be used (e.g. a date attribute that
            is not a date), or the repository could not read it (`Snapshot.unreadable`);
            the error names the contact and the attribute.

    A frequency cap with ``scope="contact"`` counts this cadence's messages alone here:
    `plan_contact` plans the cadences that share one together, as the scheduler does.

    `trace` (a `regua.planning.Trace`) is told of every occurrence the plan concludes about
    and of the check that concluded (the checks and their order: `regua.planning.checks`);
    with `trace_steps`, of the occurrences of the steps so named only, the others being
    planned at the cost of an untraced plan.

    """
    return _Planner(cadence, snapshot, now, trace, trace_steps).run()


def plan_contact(
    cadences: Sequence[Cadence],
    snapshot: Snapshot,
    now: datetime,
    *,
    trace: Trace | None = None,
    trace_steps: Collection[str] | None = None,
) -> tuple[Plan, ...]:
    """Plan one contact under several cadences at once: one `Plan` per cadence, in order.

    Each cadence is planned as `plan` plans it, except for the frequency caps declared with
    ``scope="contact"``: they count the contact's marketing messages of every cadence given,
    and the due occurrences of all of them compete for their slots, highest step priority
    first (then the earliest due, then the cadence given first). The scheduler, its
    `~regua.Scheduler.preview`, forecasts and simulations plan their cadences this way.

    >>> from datetime import datetime, timezone
    >>> from regua import Cadence, Channel, Contact, Event, FrequencyCap, Policy, Snapshot
    >>> from regua import Step, on_event
    >>> daily = Policy(caps=[FrequencyCap(max=1, per="1d", scope="contact")])
    >>> def cadence(name, event, priority):
    ...     step = Step(name, trigger=on_event(event), channels=["email"], priority=priority)
    ...     return Cadence(name, channels=[Channel("email")], policy=daily, steps=[step])
    >>> ana = Contact("ana", consents={"email"}, addresses={"email": "ana@example.com"})
    >>> t = datetime(2026, 5, 4, 12, tzinfo=timezone.utc)
    >>> events = [Event("ana", "signed_up", t, id="e1"), Event("ana", "cart_abandoned", t, id="e2")]
    >>> welcome, cart = plan_contact(
    ...     [cadence("welcome", "signed_up", 0), cadence("cart", "cart_abandoned", 10)],
    ...     Snapshot(ana, events), t)
    >>> [a.step for a in cart.due], [(o.step, o.reason.value) for o in welcome.waiting]
    (['cart'], [('welcome', 'frequency_cap')])

    `trace` is told of the occurrences of every cadence, as `plan` tells it (`trace_steps`
    names steps of any of them).

    Raises:
        InvalidArgumentError: `now` is naive (also a `ValueError`).
        InvalidRecordError: as `plan`, for any of the cadences.

    """
    return _plan_together([_Planner(c, snapshot, now, trace, trace_steps) for c in cadences])


def _plan_together(planners: Sequence[_Planner]) -> tuple[Plan, ...]:
    """Run `planners` (one contact, one instant) with one caps pass over all of them.

    Without a cap they share, each planner's caps pass is its own: nothing one accepts
    changes what another may, so each runs alone.
    """
    shares = len(planners) > 1 and any(p.compiled.shares_caps for p in planners)
    if shares:
        shared = _Sends()
        for planner in planners:
            shared.extend(planner.history, planner.compiled.uncapped_steps)
        shared.sort()
        for planner in planners:
            planner.shared = shared
    for planner in planners:
        planner.collect()
    if shares:
        _allocate_together(planners)
    else:
        for planner in planners:
            planner.allocate()
    return tuple(planner.finish() for planner in planners)


def _allocate_together(planners: Sequence[_Planner]) -> None:
    """The caps pass over the candidates of every planner, highest priority first."""
    entries = [
        (index, planner, candidate)
        for index, planner in enumerate(planners)
        for candidate in planner.candidates
    ]
    if not entries:
        return
    for planner in planners:
        if planner.candidates:
            planner.prepare_allocation()
    entries.sort(
        key=lambda e: (-e[2].cstep.step.priority, e[2].due_at, e[0], e[2].cstep.index, e[2].key)
    )
    for _, planner, candidate in entries:
        planner.allocate_one(candidate)


@attrs.define
class FoldProbe:
    """What a plan tells a fold (`regua.folding`): what is open, and what rebuilds firings.

    Attributes:
        open_since: The earliest trigger instant of an occurrence no recorded outcome closes
            (waiting, due, or closed by this plan), None when there is none.
        produced: The keys of the firings of schedule, date and inactivity triggers (and
            claimed occurrences) the plan produced: their recorded outcomes must be kept,
            since later plans produce these firings again.

    """

    open_since: datetime | None = None
    produced: set[str] = attrs.field(factory=set)

    def open(self, at: datetime) -> None:
        """Note an open occurrence triggered at `at`."""
        if self.open_since is None or at < self.open_since:
            self.open_since = at


def probe_for_fold(cadence: Cadence, snapshot: Snapshot, now: datetime) -> FoldProbe:
    """Plan `snapshot` at `now` and report what a fold must keep (see `FoldProbe`).

    What is open does not depend on the caps pass (an occurrence it defers or closes was
    open before it), so each cadence is probed alone, whatever caps it shares.
    """
    planner = _Planner(cadence, snapshot, now)
    planner.probe = FoldProbe()
    planner.run()
    return planner.probe


# The reasons the caps pass gives the occurrences it closes. That pass runs after every step
# was assessed, so the followers of what it closes fire only in the next plan.
_LATE_REASONS = frozenset(
    {Reason.REPEAT_ONCE, Reason.COOLDOWN, Reason.FREQUENCY_CAP, Reason.HOLDOUT}
)


def settled(cadence: Cadence, result: Plan) -> bool:
    """Whether recording `result`'s closed occurrences leaves the plan as it is.

    Planning again at the same instant with them recorded gives the same due actions,
    waiting occurrences and wake-up, and closes nothing more, unless the caps pass closed an
    occurrence of a step that other steps follow (``after_step``): the followers of those
    fire only once it is recorded. (A held-out follower of a held-out occurrence is counted
    too, though its own followers fire at once: this errs on the side of planning again.)
    Nor when it held out an occurrence of a `repeat="once"` or cooldown step with another
    one waiting: a recorded holdout stands for a send there, and closes the waiting one.
    """
    compiled = compile_cadence(cadence)
    followed = compiled.followed
    if any(
        occurrence.reason in _LATE_REASONS and occurrence.step in followed
        for occurrence in result.closed
    ):
        return False
    if not compiled.rationed:
        return True
    held_out = {o.step for o in result.closed if o.reason is Reason.HOLDOUT}
    return not _rationed_and_waiting(compiled, result, held_out)


def _rationed_and_waiting(compiled: CompiledCadence, result: Plan, steps: set[str]) -> bool:
    """Whether one of `steps` has `repeat="once"` or a cooldown and an occurrence waiting.

    The caps pass counts a send (or a holdout) of such a step for the occurrences it assesses
    after it; one assessed before it and deferred (by a cap) sees it only on the next plan.
    """
    rationed = compiled.rationed & steps
    return bool(rationed) and any(o.step in rationed for o in result.waiting)


def settled_once_sent(cadence: Cadence, result: Plan) -> bool:
    """Whether sending every due action of `result` leaves the rest of the plan as it is.

    That is: planning again at the same instant, with the plan's closures recorded and each
    due action recorded as sent at that instant on its first channel, gives no due action,
    closes nothing more and keeps the same waiting occurrences, none of them sooner (a
    cadence-wide cap slot that a send took may defer one further), so that waking the
    contact at `next_wakeup` of the waiting occurrences is never late. It holds when
    `result` is `settled`, no due action is of a step whose outcome other steps read (an
    ``after_step`` follower's trigger, a digest's next window, an ``opened``/``clicked``
    condition), and none is of a `repeat="once"` or cooldown step with an occurrence
    waiting: the plan's caps, cooldowns and ``repeat="once"`` count its due actions as sent
    at that instant, on their first channel, for the occurrences assessed after them. Nor
    when an event recorded later than the plan's instant (`Plan.next_event_at`) comes before
    that wake-up: the plan changes at the event's instant, which the waiting occurrences
    alone do not say.
    """
    if not settled(cadence, result):
        return False
    if result.next_event_at is not None:
        wake = next_wakeup(result.waiting, ())
        if wake is None or result.next_event_at < wake:
            return False
    compiled = compile_cadence(cadence)
    steps = {action.step for action in result.due}
    return not (
        steps & compiled.changed_by_sending or _rationed_and_waiting(compiled, result, steps)
    )


# Deferred occurrences (quiet hours, a frequency cap) wake their contact at their expiry too,
# if it comes first: they are recorded as expired then.
_DEFERRED = frozenset({Reason.QUIET_HOURS, Reason.DAY_OFF, Reason.FREQUENCY_CAP})


def next_wakeup(waiting: Iterable[Occurrence], due: Iterable[DueAction]) -> datetime | None:
    """The earliest instant a plan of these waiting occurrences and due actions can change.

    Without new input: the instant a waiting occurrence becomes due (or, deferred, expires)
    and the expiry of a due action not sent by then. A plan's `Plan.next_wakeup` is this of
    its own `waiting` and `due` (or its `Plan.next_event_at`, when earlier); once some due
    actions are sent, it is this of the rest.
    """
    wakes = [
        occurrence.expires_at
        if occurrence.expires_at is not None
        and occurrence.reason in _DEFERRED
        and occurrence.expires_at < occurrence.at
        else occurrence.at
        for occurrence in waiting
    ]
    wakes += [action.expires_at for action in due if action.expires_at is not None]
    return min(wakes) if wakes else None


def _earliest(first: datetime | None, second: datetime | None) -> datetime | None:
    """The earlier of two instants, either of which may be None (never)."""
    if first is None:
        return second
    if second is None:
        return first
    return min(first, second)


def _collected(firing: Firing, state: OccurrenceState, at: datetime) -> tuple[str, ...]:
    """The ids of a digest's events (see `regua.planning.digests`).

    While it waits, or when it is sent now, every event it gathered; when it closes unsent at
    `at`, those before `at` (at least its opening event).
    """
    if not firing.collected:
        return ()
    if state in (OccurrenceState.WAITING, OccurrenceState.DUE):
        return tuple(event.key for event in firing.collected)
    held = tuple(event.key for event in firing.collected if event.at < at)
    return held or (firing.source.removeprefix(SOURCE_PREFIX),)


class _Sends:
    """The instants of marketing sends the frequency caps count: all channels, and per channel.

    Sorted, every one recorded (those later than now too: a worker whose clock is ahead made
    them), and the plan's accepted due actions added at now as the caps pass accepts them.
    """

    __slots__ = ("every", "on")

    def __init__(self) -> None:
        self.every: list[datetime] = []
        self.on: defaultdict[str, list[datetime]] = defaultdict(list)

    def extend(self, history: History, uncapped: frozenset[str]) -> None:
        """Add the recorded sends of `history`'s cadence, but for the `uncapped` steps'."""
        for step_name, deliveries in history.sent_by_step.items():
            if step_name in uncapped:
                continue
            for delivery in deliveries:
                self.every.append(delivery.at)
                if delivery.channel is not None:
                    self.on[delivery.channel].append(delivery.at)

    def sort(self) -> None:
        """Order every list (after `extend`)."""
        self.every.sort()
        for times in self.on.values():
            times.sort()

    def add(self, at: datetime, channel: str) -> None:
        """Count a send at `at` on `channel`, keeping the order."""
        insort(self.every, at)
        insort(self.on[channel], at)

    def counted_by(self, cap: CompiledCap) -> list[datetime]:
        """The sends `cap` counts: all of them, or its channel's."""
        return self.every if cap.channel is None else self.on[cap.channel]


class _Planner:
    def __init__(
        self,
        cadence: Cadence,
        snapshot: Snapshot,
        now: datetime,
        trace: Trace | None = None,
        trace_steps: Collection[str] | None = None,
    ) -> None:
        if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
            raise InvalidArgumentError(f"now must be a timezone-aware datetime, got {now!r}")
        if snapshot.unreadable is not None:  # the repository could not read the contact
            raise InvalidRecordError(snapshot.unreadable)
        self.now = now.astimezone(timezone.utc)
        self.compiled: CompiledCadence = compile_cadence(cadence)
        self.cadence = cadence
        self.contact = snapshot.contact
        self.timezone = self.contact.timezone or cadence.timezone
        self.tz = ZoneInfo(self.timezone) if self.contact.timezone else self.compiled.tz
        fold = snapshot.fold
        if fold is not None and fold.fingerprints.get(cadence.name) != self.compiled.fingerprint:
            raise FoldTooShallow(
                f"the snapshot was not folded for cadence {cadence.name!r} as it is"
            )
        self.history = History(snapshot, cadence.name, self.now)
        # Open claims of this cadence (usually none: then nothing below costs anything).
        self.claimed: tuple[str, ...] = ()
        if snapshot.claimed:
            cadence_prefix = key_part(cadence.name) + SEPARATOR
            self.claimed = tuple(
                sorted(k for k in snapshot.claimed if k.startswith(cadence_prefix))
            )
        self.trace = trace
        # The steps whose occurrences the trace is told of (none without a trace).
        self.traced: frozenset[str] = frozenset()
        if trace is not None:
            names = frozenset(step.name for step in cadence.steps)
            self.traced = names if trace_steps is None else names & frozenset(trace_steps)
        self.probe: FoldProbe | None = None
        # Every step's key prefix for this contact (``<cadence>:<step>:<contact>:``): the
        # compiled ``<cadence>:<step>:`` and the contact's part.
        contact_part = key_part(self.contact.id) + SEPARATOR
        self._prefixes: dict[str, str] = {
            cstep.step.name: cstep.key_prefix + contact_part for cstep in self.compiled.steps
        }
        self.due: list[DueAction] = []
        self.waiting: list[Occurrence] = []
        self.closed: list[Occurrence] = []
        self.candidates: list[Assessment] = []
        # The caps pass's counts: this cadence's marketing sends (built when first needed),
        # and, planned with other cadences under a contact-wide cap, the contact's.
        self.sends: _Sends | None = None
        self.shared: _Sends | None = None
        self.accepted_steps: defaultdict[str, int] = defaultdict(int)
        self._closed_keys: dict[str, Occurrence] = {}
        self._assigned: dict[str, str] | None = None
        # Followed step -> [(source part, outcome, instant)] for its after_step followers.
        # (Outcomes are str enums: equal to the strings `AfterStepTrigger.outcomes` holds.)
        self.outcomes: dict[str, list[tuple[str, str, datetime]]] = defaultdict(list)
        followed = self.compiled.followed
        if followed:
            for key, delivery in self.history.by_key.items():
                if delivery.step in followed:
                    source = key.removeprefix(self._prefix(delivery.step))
                    self.outcomes[delivery.step].append((source, delivery.status, delivery.at))

    def _prefix(self, step: str) -> str:
        prefix = self._prefixes.get(step)
        if prefix is None:  # a step this cadence does not have, named in a recorded key
            prefix = self._prefixes[step] = occurrence_prefix(
                self.cadence.name, step, self.contact.id
            )
        return prefix

    # --- the pass over steps -----------------------------------------------------------------

    def run(self) -> Plan:
        """Plan this cadence alone."""
        self.collect()
        self.allocate()
        return self.finish()

    def collect(self) -> None:
        """Assess every occurrence of every step; what stands is left in `candidates`."""
        recorded = self.history.by_key
        for cstep in self.compiled.steps:
            prefix = self._prefixes[cstep.step.name]
            traced = cstep.step.name in self.traced
            if cstep.plain_event is not None and not traced:
                # The firings `event_firings` yields, in its order, but a key is looked up
                # before its firing is built: most events of a long history fired an
                # occurrence already recorded. (No claim nor probe concerns event triggers.)
                for source, event in event_sources(cstep.plain_event, self.history):
                    key = prefix + source
                    if key not in recorded:
                        self._assess(cstep, event_firing(source, event), key)
                continue
            firings: Iterable[Firing] = self._firings(cstep)
            if self.claimed:
                firings = self._with_claimed(cstep, firings)
            if traced:  # every occurrence, the recorded ones too
                for firing in firings:
                    self._assess(cstep, firing, prefix + firing.source)
                continue
            if self.probe is not None and not isinstance(
                cstep.step.trigger, (EventTrigger, AfterStepTrigger)
            ):
                firings = list(firings)
                self.probe.produced.update(prefix + firing.source for firing in firings)
            for firing in firings:
                key = prefix + firing.source
                # Most firings of a long history are closed by a recorded delivery: the
                # cheapest check first (a trace, above, is told of those too).
                if key not in recorded:
                    self._assess(cstep, firing, key)

    def finish(self) -> Plan:
        """The plan, once the caps pass has run."""
        if len(self.due) > 1:
            self.due.sort(key=lambda a: (-a.priority, a.due_at, a.occurrence_key))
        self.waiting.sort(key=_waiting_order)
        return Plan(
            cadence=self.cadence.name,
            contact_id=self.contact.id,
            now=self.now,
            timezone=self.timezone,
            due=tuple(self.due),
            waiting=tuple(self.waiting),
            closed=tuple(self.closed),
            next_wakeup=_earliest(next_wakeup(self.waiting, self.due), self.history.next_event_at),
            next_event_at=self.history.next_event_at,
        )

    def _not_before(self, cstep: CompiledStep) -> datetime | None:
        bounds = [b for b in (cstep.step.active_from, self.contact.created_at) if b is not None]
        return max(bounds) if bounds else None

    def _firings(self, cstep: CompiledStep) -> Iterable[Firing]:
        trigger = cstep.step.trigger
        if isinstance(trigger, EventTrigger):
            if cstep.step.digest is not None:
                # Lazy: a window's end depends on how the one before it closed.
                return self._digest_firings(cstep, trigger)
            return event_firings(trigger, self.history)
        if isinstance(trigger, DateTrigger):
            return date_firings(trigger, self.contact, self.tz, self.now, self._not_before(cstep))
        if isinstance(trigger, ScheduleTrigger):
            assert cstep.schedule is not None
            return schedule_firings(
                cstep.schedule,
                trigger,
                self.tz,
                self.now,
                self._not_before(cstep),
                delay_pending=bool(cstep.step.delay),
            )
        if isinstance(trigger, InactivityTrigger):
            firing = inactivity_firing(trigger, self.contact, self.history, self.tz, self.now)
            return () if firing is None else (firing,)
        assert isinstance(trigger, AfterStepTrigger)
        now = self.now
        # An occurrence of the step followed ends once: one firing at most, whichever of the
        # outcomes it ended with, keyed by that occurrence alone.
        followed = trigger.outcomes
        return [
            Firing(source=after_step_source(trigger, source), at=at, upcoming=at > now)
            for source, outcome, at in self.outcomes.get(trigger.after_step, ())
            if outcome in followed
        ]

    def _with_claimed(self, cstep: CompiledStep, firings: Iterable[Firing]) -> Iterator[Firing]:
        """`firings`, then the claimed occurrences of the step they left out, rebuilt.

        Event and after_step triggers yield every occurrence already; the others coalesce
        catch-up, which must not lose an occurrence a worker has claimed (and deferred).
        """
        trigger = cstep.step.trigger
        prefix = self._prefix(cstep.step.name)
        sources = [key[len(prefix) :] for key in self.claimed if key.startswith(prefix)]
        if not sources or not isinstance(
            trigger, (ScheduleTrigger, DateTrigger, InactivityTrigger)
        ):
            yield from firings
            return
        produced: set[str] = set()
        for firing in firings:
            produced.add(firing.source)
            yield firing
        for source in sources:
            if source in produced:
                continue
            rebuilt = claimed_firing(trigger, source, self.contact, self.tz, self.now)
            if rebuilt is not None:
                yield rebuilt

    def _digest_firings(self, cstep: CompiledStep, trigger: EventTrigger) -> Iterator[Firing]:
        prefix = self._prefix(cstep.step.name)
        digest_prefix = prefix + SOURCE_PREFIX

        def recorded() -> Iterator[tuple[str, Closure]]:
            for key, delivery in self.history.by_key.items():
                if key.startswith(digest_prefix):
                    yield key[len(prefix) :], (delivery.at, delivery.collected)

        def closed(source: str) -> Closure | None:
            key = prefix + source
            delivery = self.history.by_key.get(key)
            if delivery is not None:
                return delivery.at, delivery.collected
            # The open window's firing has just been assessed: if this plan closed it, it
            # is the last occurrence closed.
            if self.closed and self.closed[-1].key == key:
                return self.closed[-1].at, self.closed[-1].collected
            return None

        claimed = [k[len(digest_prefix) :] for k in self.claimed if k.startswith(digest_prefix)]
        return digest_firings(
            trigger, self.history, cstep.step.active_from, recorded, closed, claimed
        )

    def _due_at(self, cstep: CompiledStep, triggered_at: datetime) -> datetime:
        step = cstep.step
        if step.digest is not None:
            return digest_close(triggered_at, step.digest, self.tz)
        delay = cstep.delay
        due = triggered_at if delay is None else shift(triggered_at, delay, self.tz)
        if step.at is not None:
            due = next_at(due, step.at, self.tz)
        return due

    def _shared_due(
        self, cstep: CompiledStep, triggered_at: datetime
    ) -> tuple[datetime, tuple[datetime | None, Reason]]:
        """`_due_at` and `_expires_at` of a firing many contacts share (`shared_instants`)."""
        memo = self.compiled.due_times
        memo_key = (cstep.index, self.tz, triggered_at)
        try:
            return memo[memo_key]
        except KeyError:
            pass
        due_at = self._due_at(cstep, triggered_at)
        times = due_at, self._expires_at(cstep, triggered_at, due_at)
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[memo_key] = times
        return times

    def _expires_at(
        self, cstep: CompiledStep, triggered_at: datetime, due_at: datetime
    ) -> tuple[datetime | None, Reason]:
        step = cstep.step
        deadline, expires_after = step.deadline, step.expires_after
        if expires_after is None:
            if deadline is None:
                return None, Reason.EXPIRED
            return shift(triggered_at, deadline, self.tz), Reason.DEADLINE
        expiry = shift(due_at, expires_after, self.tz)
        if deadline is None:
            return expiry, Reason.EXPIRED
        # min() of (instant, reason) pairs: the earlier instant, DEADLINE on a tie.
        return min(
            (shift(triggered_at, deadline, self.tz), Reason.DEADLINE), (expiry, Reason.EXPIRED)
        )

    def _assess(self, cstep: CompiledStep, firing: Firing, key: str) -> None:
        """Run the checks of `cstep`'s assessment (`regua.planning.checks`) on an occurrence.

        The first that concludes about it ends it; one that passes them all is a candidate
        of the caps pass.
        """
        active_from = cstep.step.active_from
        if active_from is not None and firing.at < active_from:
            return  # no occurrence at all
        if cstep.shared_instants:
            due_at, (expires_at, expiry_reason) = self._shared_due(cstep, firing.at)
        else:
            due_at = self._due_at(cstep, firing.at)
            expires_at, expiry_reason = self._expires_at(cstep, firing.at, due_at)
        assessment = Assessment(cstep, firing, key, due_at, expires_at, expiry_reason)
        checks = self.compiled.checks[cstep.step.name]
        if cstep.step.name not in self.traced:
            # Untraced, `collect` assesses no occurrence with a recorded delivery.
            if self.probe is not None:
                self.probe.open(firing.at)
            listed = checks.unrecorded
        else:
            listed = checks.assess
        for check, run in listed:
            occurrence = run(self, assessment)
            if occurrence is not None:
                self._conclude(occurrence, check)
                return
        assessment.variant = self.variant(cstep, firing)
        self.candidates.append(assessment)

    def context(self, assessment: Assessment) -> Context:
        """What the step's condition and routes read about this occurrence (built once)."""
        if assessment.ctx is None:
            assessment.ctx = Context(
                contact=self.contact,
                history=self.history,
                at=assessment.due_at,
                tz=self.tz,
                lineage=self.lineage(assessment.firing.source),
            )
        return assessment.ctx

    # --- journeys: holdouts, goals and variants -----------------------------------------------

    def _predecessor(self, cstep: CompiledStep, source: str) -> tuple[str | None, str | None]:
        """(reason, variant) of the occurrence a follower's occurrence follows, once closed."""
        trigger = cstep.step.trigger
        assert isinstance(trigger, AfterStepTrigger)
        followed = parse_after_source(source)
        assert followed is not None  # the source of an after_step firing
        key = self._prefix(trigger.after_step) + followed[1]
        recorded = self.history.by_key.get(key)
        if recorded is not None:
            return recorded.reason, recorded.variant
        closed = self._closed_keys.get(key)
        if closed is not None:
            return (None if closed.reason is None else closed.reason.value), closed.variant
        return None, None

    def journey_end(
        self, cstep: CompiledStep, firing: Firing
    ) -> tuple[OccurrenceState, datetime, Reason, str, str | None] | None:
        """How the journey ends at this occurrence (held out, goal reached), if it does."""
        step = cstep.step
        if isinstance(step.trigger, AfterStepTrigger):
            reason, variant = self._predecessor(cstep, firing.source)
            if reason == Reason.HOLDOUT.value:
                detail = f"follows a held-out occurrence of {step.trigger.after_step!r}"
                return OccurrenceState.SKIPPED, firing.at, Reason.HOLDOUT, detail, variant
        exits = self.compiled.goals[step.name].exits
        if not exits:
            return None
        reached = first_goal_event(exits, self.history, firing.at, self.now)
        if reached is None:
            return None
        goal, event = reached
        if step.cancel_on:
            cancel = self.history.first_cancel(
                step.cancel_on, firing.at, self.now, step.cancel_key, firing.data
            )
            if cancel is not None and cancel.at < event.at:
                return None  # the cancel_on event came first
        detail = f"goal {goal} reached: {event.name} at {event.at.isoformat()}"
        return OccurrenceState.CANCELLED, event.at, Reason.GOAL_REACHED, detail, None

    def variant(self, cstep: CompiledStep, firing: Firing) -> str | None:
        """The occurrence's variant: the contact's assignment, or the one it follows."""
        step = cstep.step
        experiment = step.experiment_name
        if experiment is not None and step.variants is not None:
            if self._assigned is None:
                experiments = self.compiled.experiments
                self._assigned = recorded_assignments(
                    self.history.by_key.values(),
                    experiments.experiment_of,
                    experiments.variants_of,
                )
            recorded = self._assigned.get(experiment)
            if recorded is not None:
                return recorded
            return assign_variant(self.cadence.name, experiment, self.contact.id, step.variants)
        if isinstance(step.trigger, AfterStepTrigger):
            return self._predecessor(cstep, firing.source)[1]
        return None

    def lineage(self, source: str) -> Mapping[str, str]:
        # "after=b/after=a/event=e1" -> {"b": key of b's occurrence "after=a/event=e1",
        #                                "a": key of a's occurrence "event=e1"}
        lineage: dict[str, str] = {}
        followed = parse_after_source(source)
        while followed is not None:
            step, rest = followed
            lineage.setdefault(step, self._prefix(step) + rest)
            followed = parse_after_source(rest)
        return lineage

    def held_when_due(self, step: Step, due_at: datetime) -> str | None:
        """What of the cadence's policy held an occurrence back at `due_at`, in words.

        For an expiry's explanation: quiet hours or a day off at its due time, or a full
        frequency cap of the cadence's (counted as the cap pass counts). A channel's own
        quiet hours and caps are not looked at: the channels are chosen after expiry.
        """
        if step.transactional:
            return None
        policy = self.cadence.policy
        if policy.days_off is not None and step.marketing:
            day = to_local(due_at, self.tz).date()
            if policy.days_off.covers(day):
                return f"a day off ({WEEKDAYS[day.weekday()]} {day.isoformat()})"
        if policy.quiet_hours is not None:
            until = quiet_until(due_at, policy.quiet_hours, self.tz)
            if until is not None:
                return f"quiet hours until {until.isoformat()}"
        if not step.marketing:
            return None
        for cap in self.compiled.caps:
            if self._frees_at(cap, due_at, through=True) is not None:
                whose = "the contact's frequency cap" if cap.contact else "the frequency cap"
                return f"{whose} of {cap.max} per {cap.per} was full"
        return None

    def quiet_end(self, channel: str, marketing: bool) -> tuple[datetime, date | None] | None:
        """Until when a message on `channel` is held now, and the first day off it met.

        None when it is not held. Quiet hours hold marketing and service messages; days off
        hold marketing ones only.
        """
        # Depends only on (channel, marketing, tz, now): computed once per tick and timezone.
        memo = self.compiled.quiet_ends
        memo_key = (channel, marketing, self.tz, self.now)
        try:
            return memo[memo_key]
        except KeyError:
            pass
        end = self._compute_quiet_end(channel, marketing)
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[memo_key] = end
        return end

    def _compute_quiet_end(
        self, channel: str, marketing: bool
    ) -> tuple[datetime, date | None] | None:
        windows = [self.cadence.policy.quiet_hours, self.compiled.channels[channel].quiet_hours]
        days_off = self.cadence.policy.days_off if marketing else None
        end: datetime | None = None
        first_off: date | None = None
        # Two windows may chain (21:00-08:00 then 07:00-09:00), and days off with them (a
        # Saturday night, then Sunday): follow until outside every one. Days off leave at
        # least one weekday on, so a run of them is a week long at most, plus listed dates.
        for _ in range(8 + 2 * (len(days_off.dates) if days_off else 0)):
            moved = False
            if days_off is not None:
                local_day = to_local(end or self.now, self.tz).date()
                if days_off.covers(local_day):
                    first_off = first_off or local_day
                    next_day = datetime.combine(local_day + timedelta(days=1), time())
                    end, moved = from_local(next_day, self.tz), True
            for window in windows:
                if window is None:
                    continue
                until = quiet_until(end or self.now, window, self.tz)
                if until is not None:
                    end, moved = until, True
            if not moved:
                break
        return None if end is None else (end, first_off)

    # --- the caps pass ------------------------------------------------------------------------

    def allocate(self) -> None:
        """The caps pass over this planner's candidates alone."""
        if not self.candidates:
            return
        self.prepare_allocation()
        self.candidates.sort(key=lambda c: (-c.cstep.step.priority, c.due_at, c.cstep.index, c.key))
        for candidate in self.candidates:
            self.allocate_one(candidate)

    def prepare_allocation(self) -> None:
        """Check that the fold holds what the caps count, and count this cadence's sends."""
        fold, window = self.history.fold, self.compiled.caps_window
        if fold is not None and window is not None and self.now - window < fold.cutoff:
            raise FoldTooShallow("a frequency cap's window reaches before the fold's cutoff")
        self._own_sends()

    def _own_sends(self) -> _Sends:
        if self.sends is None:
            self.sends = _Sends()
            self.sends.extend(self.history, self.compiled.uncapped_steps)
            self.sends.sort()
        return self.sends

    def allocate_one(self, candidate: Assessment) -> None:
        """Run the caps pass's checks on `candidate`: it is due, or held, or closed."""
        step = candidate.cstep.step
        for check, run in self.compiled.checks[step.name].caps:
            occurrence = run(self, candidate)
            if occurrence is not None:
                self._conclude(occurrence, check)
                if check is Check.HOLDOUT:  # it stands for a send for repeat and cooldown
                    self.accepted_steps[step.name] += 1
                return
        if step.marketing:
            channel = candidate.channels[0]
            # Kept in order: a send recorded later than now may already be there.
            self._own_sends().add(self.now, channel)
            if self.shared is not None:
                self.shared.add(self.now, channel)
        self.accepted_steps[step.name] += 1
        self._accept(candidate)

    def rationing_sends(self, candidate: Assessment) -> Sequence[Delivery]:
        """What `repeat="once"` and `cooldown` count for `candidate`'s step, oldest first.

        Its sends, those recorded later than now too (they were made: a worker's clock is
        ahead); for a contact in the step's holdout, its recorded holdouts, which stand
        for sends, so that the holdout group is thinned out exactly as the others are.
        """
        step = candidate.cstep.step
        if step.holdout is not None and candidate.variant == step.holdout:
            return sorted(
                (
                    d
                    for d in self.history.by_key.values()
                    if d.step == step.name and d.reason == Reason.HOLDOUT.value
                ),
                key=lambda d: d.at,
            )
        return self.history.sent(step.name)

    def cap_block(self, channel: str) -> tuple[datetime, CompiledCap] | None:
        """When the caps a send on `channel` now is under free a slot, and the last to."""
        blocked: tuple[datetime, CompiledCap] | None = None
        caps = self.compiled.caps
        channel_caps = self.compiled.channel_caps.get(channel)
        if channel_caps:
            caps += channel_caps
        for cap in caps:
            frees_at = self._frees_at(cap, self.now)
            if frees_at is not None and (blocked is None or frees_at > blocked[0]):
                blocked = (frees_at, cap)
        return blocked

    def _frees_at(
        self, cap: CompiledCap, at: datetime, *, through: bool = False
    ) -> datetime | None:
        """When `cap` frees a slot if it is full at `at`; None when it is not full.

        A cap counts every send after ``at - window`` (those recorded later than `at` too: a
        send at `at` and one stamped after it would share a window later on), or, `through`
        set, those up to `at` only (what held an occurrence back at `at`). A calendar cap
        counts the sends of `at`'s local day, week or month, and frees at its end.
        """
        ledger = self.shared if cap.contact and self.shared is not None else self._own_sends()
        times = ledger.counted_by(cap)
        if cap.period is not None:
            first, end = self._period(cap.period, at)
            last = bisect_right(times, at) if through else bisect_left(times, end)
            return end if last - bisect_left(times, first) >= cap.max else None
        start = bisect_right(times, at - cap.window)
        stop = bisect_right(times, at) if through else len(times)
        if stop - start < cap.max:
            return None
        # A slot frees up when the oldest send that keeps the count at the cap leaves the
        # window: computed from its instant, even when that is later than `at`.
        return times[stop - cap.max] + cap.window

    def _period(self, period: str, instant: datetime) -> tuple[datetime, datetime]:
        """The contact's local day, week (Monday first) or month holding `instant`, in UTC."""
        day = to_local(instant, self.tz).date()
        if period == "day":
            first, after = day, day + timedelta(days=1)
        elif period == "week":
            first = day - timedelta(days=day.weekday())
            after = first + timedelta(days=7)
        else:
            first = day.replace(day=1)
            after = (first + timedelta(days=32)).replace(day=1)
        start = from_local(datetime.combine(first, time()), self.tz)
        return start, from_local(datetime.combine(after, time()), self.tz)

    def occurrence(
        self,
        assessment: Assessment,
        state: OccurrenceState,
        at: datetime,
        reason: Reason | None,
        detail: str = "",
        variant: str | None = None,
    ) -> Occurrence:
        """An occurrence the plan concludes about (waiting, due, or closed by it)."""
        firing = assessment.firing
        return Occurrence(
            cadence=self.cadence.name,
            step=assessment.cstep.step.name,
            contact_id=self.contact.id,
            key=assessment.key,
            source=firing.source,
            triggered_at=firing.at,
            due_at=assessment.due_at,
            state=state,
            at=at,
            reason=reason,
            detail=detail,
            expires_at=assessment.expires_at,
            collected=_collected(firing, state, at),
            variant=variant,
        )

    def _accept(self, candidate: Assessment) -> None:
        step = candidate.cstep.step
        channel = candidate.channels[0]
        payload = (
            {**step.payload, **candidate.firing.data}
            if candidate.firing.data
            else dict(step.payload)
        )
        self.due.append(
            DueAction(
                cadence=self.cadence.name,
                step=step.name,
                contact_id=self.contact.id,
                occurrence_key=candidate.key,
                idempotency_key=idempotency_key(candidate.key),
                due_at=candidate.due_at,
                channel=channel,
                fallbacks=candidate.channels[1:],
                message=step.message_key,
                payload=payload,
                address=self.contact.addresses.get(channel),
                transactional=not step.marketing,
                priority=step.priority,
                expires_at=candidate.expires_at,
                collected=_collected(candidate.firing, OccurrenceState.DUE, self.now),
                variant=candidate.variant,
                topic=step.topic,
            )
        )
        if self.trace is not None and step.name in self.traced:
            detail = "channels " + ", ".join(candidate.channels)
            due = OccurrenceState.DUE
            self.trace(
                self.occurrence(candidate, due, candidate.due_at, None, detail, candidate.variant),
                None,
            )

    # --- bookkeeping --------------------------------------------------------------------------

    def _conclude(self, occurrence: Occurrence, check: Check) -> None:
        """Keep what `check` concluded: a waiting or closed occurrence (a recorded one is)."""
        if occurrence.state is OccurrenceState.WAITING:
            self.waiting.append(occurrence)
        elif check is not Check.RECORDED:
            self.closed.append(occurrence)
            self._closed_keys[occurrence.key] = occurrence
            if occurrence.step in self.compiled.followed:
                self.outcomes[occurrence.step].append(
                    (occurrence.source, occurrence.state, occurrence.at)
                )
        if self.trace is not None and occurrence.step in self.traced:
            self.trace(occurrence, check)
