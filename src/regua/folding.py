"""Folding a contact's history: keep what plans still read, sum up the rest.

A customer who has been around for years has thousands of events and recorded outcomes, and
almost all of them are settled: every message they triggered was sent, skipped or expired
long ago. `fold` keeps the part of a history that plans can still read and sums up the rest
in a `~regua.records.Fold`, so that planning costs what is open, not how long the customer
has been around. What is kept:

* every record stamped at or after the fold's **cutoff**: the earliest trigger still open
  (an occurrence no recorded outcome closes), or the fold's ``valid_from`` when that is
  earlier, minus the cadences' **horizon** (the longest window a condition, a frequency cap
  or a digest looks back over) and a margin for clock skew;
* before the cutoff, only what later plans read: the opens and clicks of kept sends (and
  the outcomes of what they trigger), the latest send and holdout of each
  step (`repeat="once"`, `cooldown`), the first send of each step that recorded an
  experiment variant, and the outcomes of the schedule, date and inactivity firings that
  plans still produce;
* the rest becomes, per event name, a count (`event_count`, `has_event` without a window)
  and the latest instant (where an inactive period starts), and the earliest open or click
  of each step's folded sends (`opened(step)`).

A folded snapshot plans exactly as the whole history does, for the same cadences, at any
instant from ``valid_from`` on, with any records added after the fold: the property tests in
``tests/planning/test_folding.py`` check it against the full-history planner on random
cadences and histories. When a plan would need something the fold left out (a cadence
changed, ``now`` is earlier than ``valid_from``, a record stamped before the cutoff arrived
after the fold), it raises `~regua.errors.FoldTooShallow` instead of answering, and the
caller plans the whole history (and folds again).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from regua.definitions.cadence import Cadence
from regua.definitions.conditions import Compare, Condition, HasEvent
from regua.definitions.durations import Duration
from regua.errors import FoldTooShallow
from regua.planning.compiled import compile_cadence
from regua.planning.keys import parse_after_source
from regua.planning.planner import probe_for_fold
from regua.records import CLICKED, OPENED, Delivery, DeliveryStatus, Event, Fold, Snapshot

__all__ = ["FOLD_AFTER", "FOLD_MARGIN", "fold", "horizon"]

FOLD_MARGIN = timedelta(days=1)
"""How far before the fold's instant its plans stay exact: the clock skew it tolerates."""

FOLD_AFTER = 64
"""The scheduler folds a contact's history once a snapshot of it holds this many records
(events and deliveries), and again once it holds twice what its fold kept."""

_DST = timedelta(days=1)  # a calendar window is at most this much longer in real time


def horizon(cadence: Cadence) -> timedelta:
    """The longest span a plan of `cadence` looks back over from an instant it evaluates.

    Condition windows (``has_event(..., within=)``, ``event_count(..., within=)``),
    frequency caps (policy and channels) and digest windows, each as an upper bound in real
    time (a month counts 31 days, and a day of DST more).
    """
    spans: list[Duration] = [cap.per for cap in cadence.policy.caps]
    for channel in cadence.channels:
        spans += [cap.per for cap in channel.caps]
    extra = timedelta(0)
    for step in cadence.steps:
        conditions = [step.when, *(route.when for route in step.route)]
        for condition in conditions:
            spans += _windows(condition)
        if step.digest is not None:
            if step.digest.window is not None:
                spans.append(step.digest.window)
            if step.digest.until is not None:
                extra = max(extra, timedelta(days=1))
    longest = max((_bound(span) for span in spans), default=timedelta(0))
    return longest + extra


def _windows(condition: Condition | None) -> list[Duration]:
    if condition is None:
        return []
    spans: list[Duration] = []
    for node in condition.walk():
        if isinstance(node, (HasEvent, Compare)) and node.within is not None:
            spans.append(node.within)
    return spans


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
    valid_from = at - margin
    digests = {cadence.name: compile_cadence(cadence).fingerprint for cadence in cadences}
    previous = snapshot.fold
    if previous is not None and previous.fingerprints != digests:
        raise FoldTooShallow("the snapshot was folded for other cadences")
    cutoff = valid_from
    produced: set[str] = set()
    for cadence in cadences:
        probe = probe_for_fold(cadence, snapshot, valid_from)
        start = valid_from if probe.open_since is None else min(valid_from, probe.open_since)
        cutoff = min(cutoff, start - horizon(cadence) - margin)
        produced |= probe.produced
    if previous is not None:
        cutoff = max(cutoff, previous.cutoff)
    names = {cadence.name for cadence in cadences}

    deliveries = sorted(snapshot.deliveries, key=lambda d: (d.at, d.occurrence_key, d.status))
    keep: set[int] = set()  # indexes into `deliveries`
    latest: dict[tuple[str, str, str], int] = {}
    first_variant: dict[tuple[str, str | None], int] = {}
    for index, delivery in enumerate(deliveries):
        if (
            delivery.cadence not in names
            or delivery.at >= cutoff
            or delivery.occurrence_key in produced
        ):
            keep.add(index)
            continue
        step = (delivery.cadence, delivery.step)
        if delivery.status is DeliveryStatus.SENT:
            latest[(delivery.cadence, delivery.step, "sent")] = index
        if delivery.reason == "holdout":
            latest[(delivery.cadence, delivery.step, "holdout")] = index
        if delivery.variant is not None:
            first_variant.setdefault(step, index)
    keep.update(latest.values())
    keep.update(first_variant.values())
    kept_deliveries = [d for i, d in enumerate(deliveries) if i in keep]
    kept_keys = {d.occurrence_key for d in kept_deliveries}
    folded_sends = {
        d.occurrence_key: (d.cadence, d.step)
        for i, d in enumerate(deliveries)
        if i not in keep and d.status is DeliveryStatus.SENT
    }

    # Events: decided per event (name and id), on its earliest copy, as plans count them.
    earliest: dict[tuple[str, str | None], Event] = {}
    for event in sorted(snapshot.events, key=lambda e: (e.at, e.name, e.id)):
        earliest.setdefault((event.name, event.id), event)
    keep_events: set[tuple[str, str | None]] = set()
    counts = dict(previous.counts) if previous is not None else {}
    last = dict(previous.last) if previous is not None else {}
    engaged = dict(previous.engaged) if previous is not None else {}
    for identity, event in earliest.items():
        if event.at >= cutoff or (event.name in (OPENED, CLICKED) and event.ref in kept_keys):
            keep_events.add(identity)
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
    # A record kept before the cutoff makes later plans produce what it fires: an event kept
    # there (an open of a kept send) its firings, a kept outcome its ``after_step`` followers.
    # Their outcomes stay too, or those firings would be planned again.
    sources = {
        f"event={e.id}"
        for identity, e in earliest.items()
        if identity in keep_events and e.at < cutoff
    }
    sources.update(_source(d.occurrence_key) for d in kept_deliveries if d.at < cutoff)
    if sources:
        for index, delivery in enumerate(deliveries):
            if index not in keep and delivery.cadence in names and _fired_by(delivery, sources):
                keep.add(index)
        kept_deliveries = [d for i, d in enumerate(deliveries) if i in keep]
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
            counts=counts,
            last=last,
            engaged=engaged,
            kept_events=frozenset((e.name, e.id) for e in kept_events if e.at < cutoff),
            size=len(kept_events) + len(kept_deliveries),
            kept_deliveries=frozenset(
                (d.occurrence_key, d.status.value, d.at) for d in kept_deliveries if d.at < cutoff
            ),
        ),
    )


def _source(occurrence_key: str) -> str:
    """The source part of an occurrence key: everything after the third ``:``."""
    return occurrence_key.split(":", 3)[-1]


def _fired_by(delivery: Delivery, sources: set[str]) -> bool:
    """Whether `delivery` closes a firing of one of `sources`, or follows one."""
    source: str | None = _source(delivery.occurrence_key)
    while source is not None:
        if source in sources:
            return True
        followed = parse_after_source(source)
        source = None if followed is None else followed[1]
    return False
