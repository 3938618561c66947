"""A contact's history, indexed once per plan for the lookups the planner makes."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Hashable, Iterable, Mapping
from datetime import datetime
from operator import attrgetter
from typing import Any

from regua.errors import FoldTooShallow
from regua.planning.keys import current_key, key_part
from regua.records import CLICKED, OPENED, Delivery, DeliveryStatus, Event, Fold, Snapshot

__all__ = ["History"]


# The total order of events: instant, name, id (`Event.id` is never None: an event without
# one gets a generated id). attrgetter builds the key in C, without a Python call per event.
_event_order = attrgetter("at", "name", "id")
_event_at = attrgetter("at")


# Deliveries: instant, occurrence key, status (a `str` enum, so it orders as its value).
_delivery_order = attrgetter("at", "occurrence_key", "status")


class History:
    """Events up to `now` and one cadence's deliveries, indexed by name, step and key.

    Events later than `now` are left out, so a plan depends only on what had happened by
    the instant it is computed for; the earliest of them is kept as `next_event_at`, the
    instant at which the plan changes (an event is stamped after `now` when the clocks of
    the application and the workers drift apart). Deliveries are all kept, whatever their
    instant: one recorded later than `now` was made, by a worker whose clock is ahead.

    A folded snapshot (`Snapshot.fold`) adds what its `Fold` summed up to the answers, and
    raises `FoldTooShallow` for a question that reaches before the fold's cutoff into what
    it left out.
    """

    __slots__ = (
        "_cadence",
        "_engaged",
        "_event_times",
        "_events_by_name",
        "_fold",
        "activity_times",
        "by_key",
        "events",
        "memo",
        "next_event_at",
        "sent_by_step",
    )

    def __init__(self, snapshot: Snapshot, cadence: str, now: datetime) -> None:
        # A total order (not the order given), so that the plan does not depend on the order
        # events come in; an event given twice (the same name and id: ingested twice) counts
        # once, as its earliest copy. One pass then indexes them by name.
        past = [e for e in snapshot.events if e.at <= now]
        # By instant alone, cheaper than by the whole key, and the same order when no two
        # events share an instant; when some do, by the whole key.
        past.sort(key=_event_at)
        instants = [e.at for e in past]
        if len(set(instants)) < len(instants):
            past.sort(key=_event_order)
            instants = [e.at for e in past]
        self.next_event_at: datetime | None = None
        unique: dict[tuple[str, str | None], Event] | None = None
        events = past
        if len({e.id for e in past}) < len(past):
            # An id comes twice (with the same name: an event ingested twice). Without
            # that, as almost always, every (name, id) is distinct: no need to look.
            unique = {}
            for event in past:
                unique.setdefault((event.name, event.id), event)
            events = list(unique.values())
        if len(past) < len(snapshot.events):
            # A copy later than `now` of an event already here changes nothing.
            here = unique if unique is not None else {(e.name, e.id) for e in events}
            self.next_event_at = min(
                (e.at for e in snapshot.events if e.at > now and (e.name, e.id) not in here),
                default=None,
            )
        self.events: list[Event] = events
        self.activity_times: list[datetime] = instants if unique is None else [e.at for e in events]
        by_name: dict[str, list[Event]] = {}
        times: dict[str, list[datetime]] = {}
        engaged: dict[str, dict[str, datetime]] = {OPENED: {}, CLICKED: {}}
        for event, at in zip(events, self.activity_times, strict=True):
            name = event.name
            group = by_name.get(name)
            if group is None:
                by_name[name] = [event]
                times[name] = [at]
            else:
                group.append(event)
                times[name].append(at)
            if event.ref is not None and name in engaged:
                engaged[name].setdefault(event.ref, at)
        self._events_by_name = by_name
        self._event_times = times
        self._engaged = engaged
        self._cadence = cadence
        self._fold = snapshot.fold
        if self._fold is not None:
            _check_fold(self._fold, snapshot, now)

        # Deliveries too are indexed in a total order, not the order given: the planner
        # follows them (after_step) in this order.
        ordered = [d for d in snapshot.deliveries if d.cadence == cadence]
        ordered.sort(key=_delivery_order)
        # Keys written before their parts were escaped differ from today's only when the
        # contact id (or a name) holds a character that is escaped: read those as today's.
        if key_part(snapshot.contact.id) != snapshot.contact.id or key_part(cadence) != cadence:
            self.by_key: dict[str, Delivery] = {
                current_key(d.occurrence_key, cadence, d.step, d.contact_id): d for d in ordered
            }
        else:
            self.by_key = {d.occurrence_key: d for d in ordered}
        sent = DeliveryStatus.SENT
        sent_by_step: dict[str, list[Delivery]] = {}
        for delivery in ordered:
            if delivery.status is sent:
                sends = sent_by_step.get(delivery.step)
                if sends is None:
                    sent_by_step[delivery.step] = [delivery]
                else:
                    sends.append(delivery)  # oldest first
        self.sent_by_step = sent_by_step
        # What the planner derives from this history once and reuses across steps (the
        # firings of an event name), keyed by its users.
        self.memo: dict[Hashable, Any] = {}

    def events_named(self, name: str) -> list[Event]:
        """Events of one name, oldest first."""
        return self._events_by_name.get(name, [])

    @property
    def fold(self) -> Fold | None:
        """The fold of a folded snapshot (`Snapshot.fold`), None for a whole history."""
        return self._fold

    def count(self, name: str, *, since: datetime | None, until: datetime) -> int:
        """How many events of `name` happened in ``(since, until]`` (since None: ever)."""
        folded = 0
        if self._fold is not None:
            folded = self._fold.counts.get(name, 0)
            cutoff = self._fold.cutoff_of(name)
            if folded and (until < cutoff or (since is not None and since < cutoff)):
                raise FoldTooShallow(f"counting {name!r} events reaches before the fold's cutoff")
            if since is not None:
                folded = 0
        times = self._event_times.get(name)
        if not times:
            return folded
        end = bisect_right(times, until)
        start = 0 if since is None else bisect_right(times, since)
        return folded + max(0, end - start)

    def has(self, name: str, *, since: datetime | None, until: datetime) -> bool:
        """Whether an event of `name` happened in ``(since, until]`` (since None: ever).

        A fold answers it from the latest event it left out, whatever the window's start.
        """
        fold = self._fold
        if fold is not None and fold.counts.get(name):
            if until < fold.cutoff_of(name):
                raise FoldTooShallow(f"looking for {name!r} events before the fold's cutoff")
            latest = fold.last[name]  # every event left out is older than the cutoff
            if since is None or latest > since:
                return True
        times = self._event_times.get(name)
        if not times:
            return False
        return bisect_right(times, until) > (0 if since is None else bisect_right(times, since))

    def check_after(self, names: Iterable[str], after: datetime) -> None:
        """Raise `FoldTooShallow` when events of `names` after `after` may have been folded."""
        fold = self._fold
        if fold is not None and any(
            fold.counts.get(n) and after < fold.cutoff_of(n) for n in names
        ):
            raise FoldTooShallow(f"looking for {sorted(names)} reaches before the fold's cutoff")

    @property
    def cadence(self) -> str:
        """The name of the cadence whose deliveries this history holds."""
        return self._cadence

    def first_after(self, names: Iterable[str], after: datetime, until: datetime) -> Event | None:
        """The earliest event of any of `names` in ``(after, until]``."""
        self.check_after(names, after)
        best: Event | None = None
        for name in names:
            times = self._event_times.get(name)
            if not times:
                continue
            index = bisect_right(times, after)
            if index < len(times) and times[index] <= until:
                candidate = self._events_by_name[name][index]
                if best is None or candidate.at < best.at:
                    best = candidate
        return best

    def first_cancel(
        self,
        names: Iterable[str],
        after: datetime,
        until: datetime,
        key: str | None,
        data: Mapping[str, Any],
    ) -> Event | None:
        """The earliest event of `names` in ``(after, until]`` that cancels an occurrence.

        Without `key`, any such event (`first_after`). With one, and the occurrence's
        triggering `data` holding it, only an event whose data holds the same value there,
        or does not hold the key at all (it does not say which occurrence it concerns, so it
        concerns every one). A trigger without the key is cancelled by any such event.
        """
        if key is None or key not in data:
            return self.first_after(names, after, until)
        self.check_after(names, after)
        value = data[key]
        best: Event | None = None
        for name in names:
            times = self._event_times.get(name)
            if not times:
                continue
            events = self._events_by_name[name]
            for index in range(bisect_right(times, after), len(times)):
                if times[index] > until or (best is not None and times[index] >= best.at):
                    break
                event = events[index]
                if key not in event.data or event.data[key] == value:
                    best = event
                    break
        return best

    def last_activity(self, names: tuple[str, ...] | None, until: datetime) -> datetime | None:
        """The latest instant <= `until` of an event in `names` (any event when None)."""
        folded: datetime | None = None
        fold = self._fold
        if fold is not None and fold.last:
            relevant = [
                (name, at) for name, at in fold.last.items() if names is None or name in names
            ]
            if any(until < fold.cutoff_of(name) for name, _ in relevant):
                raise FoldTooShallow("the last activity before the fold's cutoff was folded")
            folded = max((at for _, at in relevant), default=None)
        best = self._last_activity(names, until)
        if folded is not None and (best is None or folded > best):
            return folded
        return best

    def _last_activity(self, names: tuple[str, ...] | None, until: datetime) -> datetime | None:
        if names is None:
            index = bisect_right(self.activity_times, until)
            return self.activity_times[index - 1] if index else None
        best: datetime | None = None
        for name in names:
            times = self._event_times.get(name)
            if not times:
                continue
            index = bisect_right(times, until)
            if index and (best is None or times[index - 1] > best):
                best = times[index - 1]
        return best

    def engaged(self, kind: str, occurrence_key: str, until: datetime) -> bool:
        """True when the delivery `occurrence_key` was opened/clicked by `until`."""
        at = self._engaged.get(kind, {}).get(occurrence_key)
        return at is not None and at <= until

    def step_engaged(self, kind: str, step: str, until: datetime) -> bool:
        """True when a send of `step` was opened/clicked (`kind`) by `until`."""
        if self._fold is not None:
            folded = self._fold.engaged.get((self._cadence, kind, step))
            if folded is not None and folded <= until:
                return True
        # Every delivery of the step, whatever its recorded instant: the engagement event's
        # own instant says whether it happened by `until` (a delivery may be stamped later
        # than the open it received when the clocks of the workers and the application
        # drift apart).
        return any(self.engaged(kind, d.occurrence_key, until) for d in self.sent(step))

    def sent(self, step: str) -> list[Delivery]:
        """Sent deliveries of `step`, oldest first, those recorded later than `now` included."""
        return self.sent_by_step.get(step, [])


def _check_fold(fold: Fold, snapshot: Snapshot, now: datetime) -> None:
    """Raise `FoldTooShallow` unless the folded snapshot can be planned exactly at `now`."""
    if now < fold.valid_from:
        raise FoldTooShallow(
            f"now {now.isoformat()} is before the fold's {fold.valid_from.isoformat()}"
        )
    cutoff = fold.cutoff
    # A record stamped before the cutoff that the fold did not keep arrived after it (an old
    # event replayed, a worker clock far behind): what it changes was folded away.
    for event in snapshot.events:
        if event.at < fold.cutoff_of(event.name) and (event.name, event.id) not in fold.kept_events:
            raise FoldTooShallow(
                f"event {event.name!r} {event.id!r} at {event.at.isoformat()} arrived after "
                f"the fold, before its cutoff {fold.cutoff_of(event.name).isoformat()}"
            )
    # An open or click of a send the fold left out, arrived after it: `opened(step)` would
    # miss it (the fold's summary of that step's opens predates it).
    recorded = {delivery.occurrence_key for delivery in snapshot.deliveries}
    for event in snapshot.events:
        if (
            event.name in (OPENED, CLICKED)
            and event.ref is not None
            and event.ref not in recorded
            and (event.name, event.id) not in fold.kept_events
        ):
            raise FoldTooShallow(
                f"{event.name} event {event.id!r} of a send the fold left out arrived after it"
            )
    for delivery in snapshot.deliveries:
        if (
            delivery.at < cutoff
            and (delivery.occurrence_key, delivery.status.value, delivery.at)
            not in fold.kept_deliveries
        ):
            raise FoldTooShallow(
                f"delivery {delivery.occurrence_key!r} at {delivery.at.isoformat()} arrived "
                f"after the fold, before its cutoff {cutoff.isoformat()}"
            )
