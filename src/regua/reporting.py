"""Reports: per step and experiment variant, what was sent, opened, clicked and converted.

`report` reads recorded history (a repository, or events and deliveries) and counts, for
each step and variant of the cadences given:

- ``sent``: deliveries recorded as sent;
- ``held_out``: occurrences closed as the experiment's holdout (no message, but recorded);
- ``opened`` / ``clicked``: sent deliveries with at least one open / click event;
- ``conversions``: exposures (sent or held out) credited with a goal event, by the rule below;
- ``conversion_rate`` = conversions / exposures, with a Wilson score interval.

Attribution rule
----------------
A step is measured against its goal (its own, else the one of the step it follows, else the
cadence's for marketing steps; see `regua.planning.goals`). A goal event *E* of a contact is
credited, for each step, to **the latest exposure of that step to that contact before E**
(sent or held out, strictly earlier than E), provided E happens within the goal's `within`
after that exposure (``exposure < E <= exposure + within``, calendar units in the contact's
timezone, else the cadence's). An exposure credited with one or more goal events is one
conversion. Steps are measured independently: a purchase two days after a welcome e-mail and
one day after a reminder converts one welcome and one reminder, so conversions of different
steps do not add up to a number of purchases. Within a step each goal event is credited once,
so a contact messaged three times before buying converts the last of those three only.

Counts are per occurrence (a contact messaged twice counts twice). Recent exposures whose
window is still open may convert later: pass `until` to report only on windows that closed.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from statistics import NormalDist
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from regua.definitions.cadence import Cadence
from regua.definitions.goals import Goal
from regua.definitions.steps import Step
from regua.definitions.triggers import AfterStepTrigger
from regua.errors import ArgumentTypeError, InvalidArgumentError, NotFoundError
from regua.planning.calendar import shift
from regua.planning.compiled import compile_cadence
from regua.planning.occurrences import Reason
from regua.ports import Repository
from regua.records import CLICKED, OPENED, Delivery, DeliveryStatus, Event, Snapshot

__all__ = ["Report", "ReportRow", "report", "wilson_interval"]

_PAGE = 500


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for a proportion of `successes` out of `trials`.

    >>> low, high = wilson_interval(5, 10)
    >>> round(low, 4), round(high, 4)
    (0.2366, 0.7634)

    Unlike the normal ("Wald") interval it stays inside [0, 1] and is sound for rates near
    0 or 1 and for small samples (0 successes out of 10 gives [0, 0.278], not [0, 0]). The
    quantile comes from `statistics.NormalDist`: the formula is four lines, and the libraries
    that implement it (SciPy, statsmodels) would add NumPy and SciPy to a library whose core
    depends on neither.

    Raises:
        InvalidArgumentError: `trials` is not positive, `successes` is outside ``[0, trials]``, or
            `confidence` is outside ``(0, 1)``.

    """
    if trials <= 0:
        raise InvalidArgumentError(f"trials must be positive, got {trials}")
    if not 0 <= successes <= trials:
        raise InvalidArgumentError(f"successes must be between 0 and {trials}, got {successes}")
    if not 0 < confidence < 1:
        raise InvalidArgumentError(f"confidence must be between 0 and 1, got {confidence}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / trials
    z2n = z * z / trials
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / trials + z2n / (4 * trials)) / (1 + z2n)
    # At 0 or `trials` successes a bound is exactly 0 or 1; rounding must not nudge it off.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


@attrs.frozen(slots=True)
class ReportRow:
    """The figures of one step and variant.

    Attributes:
        cadence: Cadence name.
        step: Step name.
        variant: The experiment variant, or None (the step is not part of an experiment).
        goal: The goal event the step is measured by, or None when no goal governs it.
        sent: Deliveries recorded as sent.
        held_out: Occurrences closed as the experiment's holdout.
        opened: Sent deliveries opened at least once.
        clicked: Sent deliveries clicked at least once.
        conversions: Exposures credited with a goal event (None without a goal).
        conversion_rate: ``conversions / exposed`` (None without a goal or exposure).
        interval: The Wilson interval of the rate at the report's confidence (or None).

    """

    cadence: str
    step: str
    variant: str | None
    goal: str | None
    sent: int
    held_out: int
    opened: int
    clicked: int
    conversions: int | None
    conversion_rate: float | None
    interval: tuple[float, float] | None

    @property
    def exposed(self) -> int:
        """Sent plus held out: the occurrences a conversion rate is computed over."""
        return self.sent + self.held_out

    def as_dict(self) -> dict[str, Any]:
        """The row as a plain mapping (for CSV, JSON, a dataframe)."""
        low, high = self.interval if self.interval is not None else (None, None)
        return {
            "cadence": self.cadence,
            "step": self.step,
            "variant": self.variant,
            "goal": self.goal,
            "sent": self.sent,
            "held_out": self.held_out,
            "opened": self.opened,
            "clicked": self.clicked,
            "conversions": self.conversions,
            "conversion_rate": self.conversion_rate,
            "interval_low": low,
            "interval_high": high,
        }


@attrs.frozen(slots=True)
class Report:
    """What `report` returns: one row per step and variant, in the cadences' order.

    Attributes:
        rows: The rows: each step of each cadence (each declared variant of an experiment
            step), then any step or variant found in history but no longer declared.
        confidence: The confidence level of the intervals.

    """

    rows: tuple[ReportRow, ...]
    confidence: float

    def row(
        self, step: str, variant: str | None = None, *, cadence: str | None = None
    ) -> ReportRow:
        """The row of `step` (and `variant`); `NotFoundError` (a `KeyError`) listing the rows."""
        for row in self.rows:
            if row.step == step and row.variant == variant and cadence in (None, row.cadence):
                return row
        known = ", ".join(f"{r.step}/{r.variant}" for r in self.rows)
        raise NotFoundError(f"no report row for step {step!r}, variant {variant!r} (rows: {known})")

    def as_dicts(self) -> list[dict[str, Any]]:
        """Every row as a plain mapping."""
        return [row.as_dict() for row in self.rows]

    def __str__(self) -> str:
        header = ["cadence", "step", "variant", "sent", "held out", "opened", "clicked"]
        header += ["goal", "conversions", "rate", f"{self.confidence:.0%} interval"]
        table = [header]
        for row in self.rows:
            converted = row.conversions is not None
            table.append(
                [
                    row.cadence,
                    row.step,
                    row.variant or "-",
                    str(row.sent),
                    str(row.held_out),
                    str(row.opened),
                    str(row.clicked),
                    row.goal or "-",
                    str(row.conversions) if converted else "-",
                    f"{row.conversion_rate:.1%}" if row.conversion_rate is not None else "-",
                    (
                        f"{row.interval[0]:.1%} - {row.interval[1]:.1%}"
                        if row.interval is not None
                        else "-"
                    ),
                ]
            )
        widths = [max(len(line[i]) for line in table) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
            for line in table
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


@attrs.define(slots=True)
class _Tally:
    sent: int = 0
    held_out: int = 0
    opened: int = 0
    clicked: int = 0
    conversions: int = 0


@attrs.frozen(slots=True)
class _History:
    """One contact's recorded history, as the report reads it."""

    timezone: str | None
    events: list[Event]
    deliveries: list[Delivery]


def report(
    source: Repository | Iterable[Event | Delivery | Snapshot],
    cadences: Cadence | Iterable[Cadence],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    confidence: float = 0.95,
) -> Report:
    """Count deliveries, opens, clicks and conversions per step and variant.

    >>> from datetime import datetime, timedelta, timezone
    >>> from regua import Cadence, Channel, Delivery, Event, Step, on_event, report
    >>> from regua.definitions import Goal
    >>> shop = Cadence("shop", channels=[Channel("email")], goal=Goal("order_placed", within="7d"),
    ...     steps=[Step("cart", trigger=on_event("cart_abandoned"), channels=["email"])])
    >>> t = datetime(2026, 5, 4, 12, tzinfo=timezone.utc)
    >>> history = [
    ...     Delivery("shop", "cart", "ana", "k1", "sent", t, channel="email"),
    ...     Event("ana", "order_placed", t + timedelta(days=2), id="o1"),
    ...     Delivery("shop", "cart", "bob", "k2", "sent", t, channel="email"),
    ... ]
    >>> row = report(history, shop).row("cart")
    >>> row.sent, row.conversions, row.conversion_rate
    (2, 1, 0.5)

    Args:
        source: A repository (every contact is read, a page at a time, through
            `Repository.contact_ids` and `Repository.load_snapshots`), or events, deliveries
            and snapshots (e.g. `Repository.history` of some contacts).
        cadences: The cadences whose steps to report on, and whose goals to measure.
        since: Count only exposures at or after this instant.
        until: Count only exposures before this instant (goal events after it still count).
        confidence: The confidence level of the Wilson intervals.

    The attribution rule is in this module's documentation (and in docs/goals.md).

    """
    if not 0 < confidence < 1:
        raise InvalidArgumentError(f"confidence must be between 0 and 1, got {confidence}")
    for name, bound in (("since", since), ("until", until)):
        if bound is not None and (bound.tzinfo is None or bound.utcoffset() is None):
            raise InvalidArgumentError(f"{name} must be a timezone-aware datetime, got {bound!r}")
    chosen = (cadences,) if isinstance(cadences, Cadence) else tuple(cadences)
    tallies: dict[tuple[str, str, str | None], _Tally] = defaultdict(_Tally)
    for history in _histories(source):
        for cadence in chosen:
            _count(cadence, history, since, until, tallies)
    return _build(chosen, tallies, confidence)


def _histories(source: Repository | Iterable[Event | Delivery | Snapshot]) -> Iterator[_History]:
    if isinstance(source, Repository):
        after: str | None = None
        while True:
            ids = source.contact_ids(after=after, limit=_PAGE)
            if not ids:
                return
            snapshots = source.load_snapshots(ids)
            for contact_id in ids:
                snapshot = snapshots.get(contact_id)
                if snapshot is not None:
                    yield _History(
                        snapshot.contact.timezone, list(snapshot.events), list(snapshot.deliveries)
                    )
            after = ids[-1]
    if hasattr(source, "load_snapshots"):
        raise ArgumentTypeError(
            f"{type(source).__name__} lacks methods of regua.ports.Repository (report() pages "
            "through contacts with Repository.contact_ids); implement them, or pass records"
        )
    events: dict[str, list[Event]] = defaultdict(list)
    deliveries: dict[str, list[Delivery]] = defaultdict(list)
    timezones: dict[str, str | None] = {}
    for item in source:
        if isinstance(item, Snapshot):
            timezones[item.contact.id] = item.contact.timezone
            events[item.contact.id].extend(item.events)
            deliveries[item.contact.id].extend(item.deliveries)
        elif isinstance(item, Event):
            events[item.contact_id].append(item)
        elif isinstance(item, Delivery):
            deliveries[item.contact_id].append(item)
        else:
            raise ArgumentTypeError(
                f"report() reads a Repository, or Event, Delivery and Snapshot records; got "
                f"{type(item).__name__}"
            )
    for contact_id in sorted(set(events) | set(deliveries)):
        yield _History(timezones.get(contact_id), events[contact_id], deliveries[contact_id])


def _count(
    cadence: Cadence,
    history: _History,
    since: datetime | None,
    until: datetime | None,
    tallies: dict[tuple[str, str, str | None], _Tally],
) -> None:
    exposures: dict[str, list[Delivery]] = defaultdict(list)
    seen: set[str] = set()
    for delivery in history.deliveries:
        if delivery.cadence != cadence.name or delivery.occurrence_key in seen:
            continue
        held_out = (
            delivery.status is DeliveryStatus.SKIPPED and delivery.reason == Reason.HOLDOUT.value
        )
        if delivery.status is not DeliveryStatus.SENT and not held_out:
            continue
        if (since is not None and delivery.at < since) or (
            until is not None and delivery.at >= until
        ):
            continue
        seen.add(delivery.occurrence_key)
        exposures[delivery.step].append(delivery)
    if not exposures:
        return
    engaged: dict[str, set[str]] = {OPENED: set(), CLICKED: set()}
    unique: dict[tuple[str, str | None], Event] = {}
    for event in sorted(history.events, key=lambda e: (e.at, e.name, e.key)):
        if event.ref is not None and event.name in engaged:
            engaged[event.name].add(event.ref)
        unique.setdefault((event.name, event.id), event)
    events = list(unique.values())
    goals = compile_cadence(cadence).goals
    tz = ZoneInfo(history.timezone or cadence.timezone)
    for step, group in exposures.items():
        group.sort(key=lambda d: (d.at, d.occurrence_key))
        converted = _converted(group, goals[step].measured if step in goals else None, events, tz)
        for delivery in group:
            tally = tallies[(cadence.name, step, delivery.variant)]
            if delivery.status is DeliveryStatus.SENT:
                tally.sent += 1
                tally.opened += delivery.occurrence_key in engaged[OPENED]
                tally.clicked += delivery.occurrence_key in engaged[CLICKED]
            else:
                tally.held_out += 1
            tally.conversions += delivery.occurrence_key in converted


def _converted(
    exposures: Sequence[Delivery], goal: Goal | None, events: Sequence[Event], tz: ZoneInfo
) -> set[str]:
    """Keys of the exposures (one step's, oldest first) credited with a goal event."""
    if goal is None:
        return set()
    times = [d.at for d in exposures]
    converted: set[str] = set()
    for event in events:
        if not goal.matches(event.name, event.data):
            continue
        index = bisect_left(times, event.at) - 1  # the latest exposure strictly before it
        if index < 0:
            continue
        exposure = exposures[index]
        if event.at <= shift(exposure.at, goal.within, tz):
            converted.add(exposure.occurrence_key)
    return converted


def _declared_variants(cadence: Cadence, step: Step) -> Sequence[str | None]:
    """A step's rows: its variants; a follower's, those it inherits (but the holdout)."""
    if step.variants is not None:
        return list(step.variants)
    current = step
    while isinstance(current.trigger, AfterStepTrigger):
        current = cadence.step(current.trigger.after_step)
        if current.variants is not None:
            return [name for name in current.variants if name != current.holdout]
    return [None]


def _build(
    cadences: Sequence[Cadence],
    tallies: dict[tuple[str, str, str | None], _Tally],
    confidence: float,
) -> Report:
    order: list[tuple[str, str, str | None]] = []
    goal_of: dict[tuple[str, str], str | None] = {}
    for cadence in cadences:
        goals = compile_cadence(cadence).goals
        for step in cadence.steps:
            measured = goals[step.name].measured
            goal_of[(cadence.name, step.name)] = None if measured is None else measured.event
            order.extend((cadence.name, step.name, v) for v in _declared_variants(cadence, step))
    declared = set(order)
    order += sorted(
        (key for key in tallies if key not in declared),
        key=lambda k: (k[0], k[1], k[2] or ""),
    )
    rows = []
    for key in order:
        tally = tallies.get(key, _Tally())
        goal = goal_of.get(key[:2])
        exposed = tally.sent + tally.held_out
        rated = goal is not None and exposed > 0
        rows.append(
            ReportRow(
                cadence=key[0],
                step=key[1],
                variant=key[2],
                goal=goal,
                sent=tally.sent,
                held_out=tally.held_out,
                opened=tally.opened,
                clicked=tally.clicked,
                conversions=tally.conversions if goal is not None else None,
                conversion_rate=tally.conversions / exposed if rated else None,
                interval=wilson_interval(tally.conversions, exposed, confidence) if rated else None,
            )
        )
    return Report(rows=tuple(rows), confidence=confidence)
