"""`forecast_diff`: what a change to a cadence would do to the contacts already in flight.

Both versions are projected over the same period for the same contacts (with the same
scripted assumptions), and their messages are matched by occurrence key, which names the
cadence, the step, the contact and what fired the step:

* **added**: the new version sends an occurrence the old one does not;
* **removed**: the old version sends an occurrence the new one does not;
* **moved**: both send it, at a different instant or on a different channel.

Since occurrences are keyed by step name, renaming a step shows as its messages removed and
the renamed step's added.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

import attrs

from regua.definitions.cadence import Cadence
from regua.definitions.durations import Duration
from regua.forecasting.assumptions import Assumptions
from regua.forecasting.forecaster import Progress, as_cadences, period, projections
from regua.forecasting.projection import ProjectedMessage
from regua.forecasting.sources import ContactSource
from regua.forecasting.text import render_table

__all__ = ["ForecastDiff", "MessageChange", "StepChange", "forecast_diff"]

ChangeKind = Literal["added", "removed", "moved"]


@attrs.frozen(slots=True)
class StepChange:
    """How many messages of one step the change adds, removes and moves.

    Attributes:
        cadence: Cadence name.
        step: Step name.
        added: Messages only the new version sends.
        removed: Messages only the old version sends.
        moved: Messages both send, at another instant or on another channel.

    """

    cadence: str
    step: str
    added: int = 0
    removed: int = 0
    moved: int = 0


@attrs.frozen(slots=True)
class MessageChange:
    """One message the change adds, removes or moves for one contact.

    Attributes:
        contact_id: The contact.
        cadence: Cadence name.
        step: Step name.
        kind: ``added``, ``removed`` or ``moved``.
        occurrence_key: The occurrence.
        old_at: When the old version sends it (None when added).
        new_at: When the new version sends it (None when removed).
        old_channel: On which channel the old version sends it.
        new_channel: On which channel the new version sends it.

    """

    contact_id: str
    cadence: str
    step: str
    kind: ChangeKind
    occurrence_key: str
    old_at: datetime | None = None
    new_at: datetime | None = None
    old_channel: str | None = None
    new_channel: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The change as JSON-ready data."""
        return {
            "contact": self.contact_id,
            "cadence": self.cadence,
            "step": self.step,
            "kind": self.kind,
            "occurrence_key": self.occurrence_key,
            "old_at": None if self.old_at is None else _iso(self.old_at),
            "new_at": None if self.new_at is None else _iso(self.new_at),
            "old_channel": self.old_channel,
            "new_channel": self.new_channel,
        }


@attrs.frozen(slots=True)
class ForecastDiff:
    """What changes between two versions of cadences over one period, for the same contacts.

    Attributes:
        start: The first instant of the period (UTC).
        end: The end of the period, excluded (UTC).
        contacts: How many contacts were projected.
        affected: How many of them get at least one message added, removed or moved.
        old_messages: Messages the old version sends in the period.
        new_messages: Messages the new version sends in the period.
        steps: Changes per step, sorted by cadence and step (steps with none are left out).
        sample: Every change of the first affected contacts, in the order they were projected
            (a repository's by id), up to the sample size.

    """

    start: datetime
    end: datetime
    contacts: int
    affected: int
    old_messages: int
    new_messages: int
    steps: tuple[StepChange, ...]
    sample: tuple[MessageChange, ...]

    @property
    def added(self) -> int:
        """Messages only the new version sends."""
        return sum(s.added for s in self.steps)

    @property
    def removed(self) -> int:
        """Messages only the old version sends."""
        return sum(s.removed for s in self.steps)

    @property
    def moved(self) -> int:
        """Messages both send, at another instant or on another channel."""
        return sum(s.moved for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready data."""
        return {
            "start": _iso(self.start),
            "end": _iso(self.end),
            "contacts": self.contacts,
            "affected": self.affected,
            "old_messages": self.old_messages,
            "new_messages": self.new_messages,
            "added": self.added,
            "removed": self.removed,
            "moved": self.moved,
            "steps": [attrs.asdict(step) for step in self.steps],
            "sample": [change.as_dict() for change in self.sample],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def table(self) -> str:
        """A plain-text report: the totals, the changes per step, then the sample."""
        lines = [
            f"From {_iso(self.start)} to {_iso(self.end)}, {self.contacts:,} contacts: "
            f"{self.old_messages:,} messages before, {self.new_messages:,} after; "
            f"{self.added:,} added, {self.removed:,} removed, {self.moved:,} moved, "
            f"for {self.affected:,} contacts",
            "",
        ]
        if not self.steps:
            lines.append("(no change)")
            return "\n".join(lines) + "\n"
        several = len({s.cadence for s in self.steps}) > 1
        lines.append(
            render_table(
                [*(["cadence"] if several else []), "step", "added", "removed", "moved"],
                [
                    [*([s.cadence] if several else []), s.step, s.added, s.removed, s.moved]
                    for s in self.steps
                ],
            )
        )
        if self.sample:
            lines += ["", "Sample of contacts:"]
            lines.append(
                render_table(
                    ["contact", "step", "change", "before", "after"],
                    [
                        [
                            c.contact_id,
                            c.step,
                            c.kind,
                            _when(c.old_at, c.old_channel),
                            _when(c.new_at, c.new_channel),
                        ]
                        for c in self.sample
                    ],
                )
            )
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.table()


def forecast_diff(
    old: Cadence | Iterable[Cadence],
    new: Cadence | Iterable[Cadence],
    contacts: ContactSource,
    start: datetime,
    end: datetime | Duration | timedelta | str,
    *,
    assumptions: Assumptions | None = None,
    sample: int = 10,
    contact_ids: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> ForecastDiff:
    """What changing `old` into `new` would add, remove or move for `contacts` over a period.

    >>> from datetime import datetime, timezone
    >>> from regua import Cadence, Channel, Contact, Event, Snapshot, Step, on_event
    >>> def shop(delay):
    ...     return Cadence("shop", channels=[Channel("email")], steps=[
    ...         Step("welcome", trigger=on_event("signed_up"), delay=delay, channels=["email"])])
    >>> t = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)
    >>> ana = Contact("ana", consents={"email"}, addresses={"email": "ana@example.com"})
    >>> mid_journey = Snapshot(ana, [Event("ana", "signed_up", t, id="s1")])
    >>> change = forecast_diff(shop("3d"), shop("1d"), [mid_journey], t, "30d")
    >>> [(c.step, c.kind, c.old_at.day, c.new_at.day) for c in change.sample]
    [('welcome', 'moved', 5, 3)]

    Args:
        old: The cadences as they run now.
        new: The changed cadences.
        contacts: As for `regua.forecast`: a repository's current state, or contacts.
        start: The first instant of the period (aware).
        end: The end (excluded): an aware datetime or a duration after `start`.
        assumptions: Scripted events and failures, the same for both versions.
        sample: How many affected contacts to list every change of.
        contact_ids: Only these contacts.
        progress: Called as ``progress(done, total)`` after each contact.

    """
    old_cadences = as_cadences(old)
    new_cadences = as_cadences(new)
    start, stop = period(start, end, new_cadences[0].timezone)
    per_step: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    sampled: list[MessageChange] = []
    projected = affected = old_count = new_count = 0
    for old_run, new_run in projections(
        [old_cadences, new_cadences],
        contacts,
        start,
        stop,
        assumptions,
        contact_ids=contact_ids,
        progress=progress,
    ):
        projected += 1
        old_count += len(old_run.sent)
        new_count += len(new_run.sent)
        changes = _compare(old_run.sent, new_run.sent)
        if changes:
            affected += 1
            for change in changes:
                counts = per_step[(change.cadence, change.step)]
                counts[("added", "removed", "moved").index(change.kind)] += 1
            if affected <= sample:
                sampled.extend(changes)
    return ForecastDiff(
        start=start,
        end=stop,
        contacts=projected,
        affected=affected,
        old_messages=old_count,
        new_messages=new_count,
        steps=tuple(
            StepChange(cadence, step, *counts)
            for (cadence, step), counts in sorted(per_step.items())
        ),
        sample=tuple(sampled),
    )


def _compare(
    before: Sequence[ProjectedMessage], after: Sequence[ProjectedMessage]
) -> list[MessageChange]:
    old = {m.occurrence_key: m for m in before}
    new = {m.occurrence_key: m for m in after}
    changes: list[MessageChange] = []
    for key, message in old.items():
        other = new.get(key)
        if other is None:
            changes.append(_change(message, "removed", old=message))
        elif (other.at, other.channel) != (message.at, message.channel):
            changes.append(_change(message, "moved", old=message, new=other))
    for key, message in new.items():
        if key not in old:
            changes.append(_change(message, "added", new=message))
    changes.sort(key=_order)
    return changes


def _order(change: MessageChange) -> tuple[datetime, str]:
    at = change.new_at if change.new_at is not None else change.old_at
    assert at is not None
    return at, change.occurrence_key


def _change(
    message: ProjectedMessage,
    kind: ChangeKind,
    *,
    old: ProjectedMessage | None = None,
    new: ProjectedMessage | None = None,
) -> MessageChange:
    return MessageChange(
        contact_id=message.contact_id,
        cadence=message.cadence,
        step=message.step,
        kind=kind,
        occurrence_key=message.occurrence_key,
        old_at=None if old is None else old.at,
        new_at=None if new is None else new.at,
        old_channel=None if old is None else old.channel,
        new_channel=None if new is None else new.channel,
    )


def _when(at: datetime | None, channel: str | None) -> str:
    if at is None:
        return "-"
    return f"{at.strftime('%Y-%m-%d %H:%M')}Z {channel}"


def _iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")
