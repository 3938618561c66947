"""Folding a contact's history: keep what plans still read, sum up the rest.

A customer who has been around for years has thousands of events and recorded outcomes, and
almost all of them are settled: every message they triggered was sent, skipped or expired
long ago. `fold` keeps the part of a history that plans can still read and sums up the rest
in a `~regua.records.Fold`, so that planning costs what is open, not how long the customer
has been around. Let *start* be the earliest trigger still open (an occurrence no recorded
outcome closes) or the fold's ``valid_from``, whichever is earlier, less a margin for clock
skew. What is kept:

* the events from *start* on, and for the names a condition counts over a window
  (``event_count(name, within=...)``) or a digest collects, from that window before it;
* the deliveries from the frequency caps' longest window before *start* on;
* before those cutoffs, only what later plans read: the latest send and holdout of each step
  (`repeat="once"`, `cooldown`), the first send of each step that recorded an experiment
  variant, the outcomes of every firing later plans produce again (of the events kept, of
  the schedule, date and inactivity firings plans still produce, and their ``after_step``
  followers), and the opens and clicks of the sends kept;
* the rest becomes, per event name, a count (`event_count`, `has_event` without a window)
  and the latest instant (where an inactive period starts, and what ``has_event(...,
  within=...)`` reads before the cutoff), and the earliest open or click of each step's
  folded sends (`opened(step)`).

A folded snapshot plans exactly as the whole history does, for the same cadences, at any
instant from ``valid_from`` on, with any records added after the fold: the property tests in
``tests/planning/test_folding.py`` check it against the full-history planner on random
cadences and histories. When a plan would need something the fold left out (a cadence
changed, ``now`` is earlier than ``valid_from``, a record stamped before the cutoff arrived
after the fold, a window that reaches before the cutoff), it raises
`~regua.errors.FoldTooShallow` instead of answering, and the caller plans the whole history
(and folds again).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from regua.definitions.cadence import Cadence
from regua.definitions.conditions import Compare
from regua.definitions.durations import Duration
from regua.definitions.triggers import DateTrigger, EventTrigger
from regua.errors import FoldTooShallow
from regua.planning.compiled import compile_cadence
from regua.planning.keys import current_key, parse_after_source
from regua.planning.planner import probe_for_fold
from regua.records import CLICKED, OPENED, DeliveryStatus, Event, Fold, Snapshot

__all__ = ["FOLD_AFTER", "FOLD_MARGIN", "caps_window", "event_windows", "fold"]

FOLD_MARGIN = timedelta(days=1)
"""How far before the fold's instant its plans stay exact: the clock skew it tolerates."""

FOLD_AFTER = 64
"""The scheduler folds a contact's history once a snapshot of it holds this many records
(events and deliveries), and again once it holds twice what its fold kept."""

_DST = timedelta(days=1)  # a calendar window is at most this much longer in real time
_ZERO = timedelta(0)


def caps_window(cadence: Cadence) -> timedelta:
    """The longest window of `cadence`'s frequency caps (policy and channels).

    The elapsed window the planner's caps count over (`CompiledCadence.caps_window`).
    """
    return compile_cadence(cadence).caps_window or _ZERO


def event_windows(cadence: Cadence) -> dict[str, timedelta]:
    """Event name -> how far back from an instant it evaluates a plan counts those events.

    ``event_count(name, within=...)`` counts them over its window; a digest collects its
    trigger's events over its window. (``has_event`` needs no window of events: whether one
    happened before a fold's cutoff, the fold's latest instant of the name says.)
    """
    windows: dict[str, timedelta] = {}

    def widen(name: str, span: timedelta) -> None:
        windows[name] = max(windows.get(name, _ZERO), span)

    for step in cadence.steps:
        for condition in (step.when, *(route.when for route in step.route)):
            if condition is None:
                continue
            for node in condition.walk():
                if isinstance(node, Compare) and node.event_count and node.within is not None:
                    widen(node.event_count, _bound(node.within))
        digest = step.digest
        if digest is not None and isinstance(step.trigger, EventTrigger):
            span = _ZERO if digest.window is None else _bound(digest.window)
            widen(step.trigger.event, span + (_DST if digest.until is not None else _ZERO))
    return windows


def _bound(span: Duration) -> timedelta:
    return timedelta(days=31 * abs(span.months) + abs(span.days), seconds=abs(span.seconds)) + _DST


def fold(
    cadences: Sequence[Cadence],
    snapshot: Snapshot,
    at: datetime,
    *,
    margin: timedelta = FOLD_MARGIN,
) -> Snapshot:
    """Fold `snapshot` for planning under `cadences` from ``at - margin`` on.

    `snapshot` may itself be folded (by the same cadences): the result folds it further.

    Raises:
        FoldTooShallow: `snapshot` is folded for other cadences, or cannot be planned at
            ``at - margin``: fold the whole history instead.
        InvalidRecordError: the contact's data cannot be planned.

    """
    engaging = [
        f"step {each.name!r} of cadence {cadence.name!r}"
        for cadence in cadences
        for each in cadence.steps
        if isinstance(each.trigger, EventTrigger) and each.trigger.of_step is not None
    ]
    if engaging:
        raise FoldTooShallow(
            f"{engaging[0]} fires on engagements with messages (on_open, on_click): its "
            "contacts are planned from their whole history"
        )
    valid_from = at - margin
    digests = {cadence.name: compile_cadence(cadence).fingerprint for cadence in cadences}
    previous = snapshot.fold
    if previous is not None and previous.fingerprints != digests:
        raise FoldTooShallow("the snapshot was folded for other cadences")
    start = valid_from
    produced: set[str] = set()
    for cadence in cadences:
        probe = probe_for_fold(cadence, snapshot, valid_from)
        if probe.open_since is not None:
            start = min(start, probe.open_since)
        produced |= probe.produced
    # Everything a plan from `start` on evaluates looks back at most this far.
    cutoff = start - margin - max((caps_window(c) for c in cadences), default=_ZERO)
    event_cutoff = start - margin
    event_cutoffs: dict[str, datetime] = {}
    for cadence in cadences:
        for name, span in event_windows(cadence).items():
            event_cutoffs[name] = min(event_cutoffs.get(name, event_cutoff), start - margin - span)
    if previous is not None:  # never later than before: what it left out stays out
        cutoff = max(cutoff, previous.cutoff)
        event_cutoff = max(event_cutoff, previous.event_cutoff or previous.cutoff)
        event_cutoffs = {
            name: max(when, previous.cutoff_of(name)) for name, when in event_cutoffs.items()
        }
        for name in previous.event_cutoffs:
            event_cutoffs.setdefault(name, max(event_cutoff, previous.cutoff_of(name)))

    def cutoff_of(name: str) -> datetime:
        return event_cutoffs.get(name, event_cutoff)

    names = {cadence.name for cadence in cadences}
    # Date steps keep every outcome (one a year at most): a date attribute edited after the
    # fold moves its firings onto years whose outcomes would otherwise be gone.
    dated = {
        (cadence.name, step.name)
        for cadence in cadences
        for step in cadence.steps
        if isinstance(step.trigger, DateTrigger)
    }
    declared = {
        (cadence.name, step.name): frozenset(step.variants or ())
        for cadence in cadences
        for step in cadence.steps
    }
    deliveries = sorted(snapshot.deliveries, key=lambda d: (d.at, d.occurrence_key, d.status))
    # Keys as plans read them (a key recorded before its parts were escaped, as today's).
    keys = [current_key(d.occurrence_key, d.cadence, d.step, d.contact_id) for d in deliveries]
    keep: set[int] = set()  # indexes into `deliveries`
    latest: dict[tuple[str, str, str], int] = {}
    assigned: set[tuple[str, str]] = set()
    for index, delivery in enumerate(deliveries):
        step = (delivery.cadence, delivery.step)
        if (
            delivery.cadence not in names
            or delivery.at >= cutoff
            or keys[index] in produced
            or step in dated
        ):
            keep.add(index)
            continue
        if delivery.status is DeliveryStatus.SENT:
            latest[(delivery.cadence, delivery.step, "sent")] = index
        if delivery.reason == "holdout":
            latest[(delivery.cadence, delivery.step, "holdout")] = index
        if delivery.variant is not None and step not in assigned:
            # The experiment's assignment is the first recorded variant it still declares:
            # keep that one, and any before it whose variant it no longer declares.
            keep.add(index)
            if delivery.variant in declared.get(step, ()):
                assigned.add(step)
    keep.update(latest.values())

    # Events: decided per event (name and id), on its earliest copy, as plans count them.
    earliest: dict[tuple[str, str | None], Event] = {}
    for event in sorted(snapshot.events, key=lambda e: (e.at, e.name, e.id)):
        earliest.setdefault((event.name, event.id), event)
    kept_keys = {deliveries[i].occurrence_key for i in keep} | {keys[i] for i in keep}
    keep_events = {
        identity
        for identity, event in earliest.items()
        if event.at >= cutoff_of(event.name)
        or (event.name in (OPENED, CLICKED) and event.ref in kept_keys)
    }
    # A kept record makes later plans produce what it fires: a kept event its firings, a
    # kept outcome its ``after_step`` followers, a schedule, date or inactivity firing plans
    # still produce its own. Their outcomes stay too, or those firings would be planned again.
    sources = {f"event={e.id}" for i, e in earliest.items() if i in keep_events}
    sources.update(f"digest={e.key}" for i, e in earliest.items() if i in keep_events)
    sources.update(_source(key) for key in produced)
    sources.update(_source(keys[i]) for i in keep)
    held = {e.key for i, e in earliest.items() if i in keep_events}
    for index, delivery in enumerate(deliveries):
        if (
            index not in keep
            and delivery.cadence in names
            and (_fired_by(keys[index], sources) or not held.isdisjoint(delivery.collected))
        ):
            keep.add(index)
    kept_deliveries = [d for i, d in enumerate(deliveries) if i in keep]
    kept_keys = {d.occurrence_key for d in kept_deliveries} | {keys[i] for i in keep}
    folded_sends = {
        d.occurrence_key: (d.cadence, d.step)
        for i, d in enumerate(deliveries)
        if i not in keep and d.status is DeliveryStatus.SENT
    }

    counts = dict(previous.counts) if previous is not None else {}
    last = dict(previous.last) if previous is not None else {}
    engaged = dict(previous.engaged) if previous is not None else {}
    for identity, event in earliest.items():
        if identity in keep_events:
            continue
        if event.name in (OPENED, CLICKED) and event.ref in kept_keys:
            keep_events.add(identity)  # an open of a send kept by its firing's source
            continue
        counts[event.name] = counts.get(event.name, 0) + 1
        if event.name not in last or event.at > last[event.name]:
            last[event.name] = event.at
    # The opens and clicks of folded sends, kept or not, answer `opened(step)` from now on.
    for event in earliest.values():
        if event.name in (OPENED, CLICKED) and event.ref in folded_sends:
            cadence_name, step_name = folded_sends[event.ref]
            slot = (cadence_name, event.name, step_name)
            if slot not in engaged or event.at < engaged[slot]:
                engaged[slot] = event.at
    kept_events = [e for e in snapshot.events if (e.name, e.id) in keep_events]
    return Snapshot(
        snapshot.contact,
        kept_events,
        kept_deliveries,
        version=snapshot.version,
        claimed=snapshot.claimed,
        position=snapshot.position,
        fold=Fold(
            cutoff=cutoff,
            valid_from=valid_from,
            fingerprints=digests,
            event_cutoff=event_cutoff,
            event_cutoffs=event_cutoffs,
            counts=counts,
            last=last,
            engaged=engaged,
            # Before their cutoff; and every open or click of a send left out, whatever its
            # instant, so that one arriving after the fold is told apart.
            kept_events=frozenset(
                (e.name, e.id)
                for e in kept_events
                if e.at < cutoff_of(e.name)
                or (e.name in (OPENED, CLICKED) and e.ref not in kept_keys)
            ),
            kept_deliveries=frozenset(
                (d.occurrence_key, d.status.value, d.at) for d in kept_deliveries if d.at < cutoff
            ),
            size=len(kept_events) + len(kept_deliveries),
        ),
    )


def _source(occurrence_key: str) -> str:
    """The source part of an occurrence key: everything after the third ``:``."""
    return occurrence_key.split(":", 3)[-1]


def _fired_by(occurrence_key: str, sources: set[str]) -> bool:
    """Whether the occurrence closes a firing of one of `sources`, or follows one."""
    source: str | None = _source(occurrence_key)
    while source is not None:
        if source in sources:
            return True
        followed = parse_after_source(source)
        source = None if followed is None else followed[1]
    return False
