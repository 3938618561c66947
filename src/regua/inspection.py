"""One contact, as a support agent needs to see it: what was sent, what happened, what is next.

`inspect_contact` reads a contact's whole history from a repository, plans it under each
cadence at an instant, and returns a `ContactReport`: the contact, every recorded outcome
(with the provider's message id), the latest events, each occurrence still to come (due now
or waiting, until when, on which channels, and what it waits for), the errors recorded while
evaluating the contact, and what a folded history leaves out. It changes nothing: no lease,
no claim, no outcome is written.

The report holds the records as read, personal data included; its renderings
(`ContactReport.table`, `ContactReport.to_dict`) leave addresses, attribute values and event
data out unless asked with ``personal=True``. ``regua contact`` prints it from the command
line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs

from regua.definitions.cadence import Cadence
from regua.definitions.fields import load_timezone
from regua.errors import InvalidArgumentError, ReguaError
from regua.planning.keys import split_occurrence_key
from regua.planning.occurrences import Occurrence, OccurrenceState, Plan, Reason
from regua.planning.planner import plan, plan_contact
from regua.ports import ContactError, Repository, UnknownContactError
from regua.records import Contact, Delivery, DeliveryStatus, DueAction, Event, Fold, Snapshot

__all__ = ["CadenceStatus", "ContactReport", "PendingOccurrence", "inspect_contact"]

# How far past the last waiting occurrence `_outlook` projects a contact: quiet hours or a
# cap may defer an occurrence that far once it is due.
_OUTLOOK_MARGIN = timedelta(days=35)


@attrs.frozen(slots=True)
class PendingOccurrence:
    """An occurrence the plan at `ContactReport.now` leaves open, or closes without a record yet.

    Attributes:
        cadence: Cadence name.
        step: Step name.
        occurrence_key: The occurrence's key (see `regua.DueAction.occurrence_key`).
        source: What fired it, e.g. ``event=ord-1``, ``year=2027``, ``after=welcome/...``.
        state: `OccurrenceState.DUE` (the next tick sends it), `OccurrenceState.WAITING`
            (until `at`), or the closed state the plan gives it (cancelled, skipped,
            expired), which the next tick records.
        at: When it became due (due), becomes due (waiting, after deferrals), or closed.
        reason: Why it waits or closed (None when due).
        detail: The reason in words: the cancelling event, the quiet hours, the cap...
        channels: For a due occurrence, the channels to try, first choice first; for a
            waiting one, the channel it is sent on if nothing changes meanwhile (see
            `expected_at`); empty otherwise.
        expires_at: The instant after which it must not be sent, if any.
        claimed: A worker holds a claim on it: a send is under way, or a retry waits.
        expected_at: For a waiting occurrence: when it is sent if nothing changes meanwhile
            (no new event, consent or data change), the contact projected forward as the
            scheduler runs it. Later than `at` when quiet hours or a cap defer it then; None
            when it would not be sent (see `expected_end`) or the projection cannot tell.
        expected_end: For a waiting occurrence that the same projection closes instead of
            sending: the status, reason and instant, e.g. ``skipped (condition_false) at
            2026-04-01T13:00:00Z``; None otherwise.

    """

    cadence: str
    step: str
    occurrence_key: str
    source: str
    state: OccurrenceState
    at: datetime
    reason: Reason | None = None
    detail: str = ""
    channels: tuple[str, ...] = ()
    expires_at: datetime | None = None
    claimed: bool = False
    expected_at: datetime | None = None
    expected_end: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The occurrence as JSON-ready data (instants in ISO 8601, UTC)."""
        return {
            "cadence": self.cadence,
            "step": self.step,
            "occurrence_key": self.occurrence_key,
            "source": self.source,
            "state": self.state.value,
            "at": _iso(self.at),
            "reason": None if self.reason is None else self.reason.value,
            "detail": self.detail,
            "channels": list(self.channels),
            "expires_at": _iso(self.expires_at),
            "claimed": self.claimed,
            "expected_at": _iso(self.expected_at),
            "expected_end": self.expected_end,
        }


@attrs.frozen(slots=True)
class CadenceStatus:
    """Where the contact stands under one cadence at `ContactReport.now`.

    Attributes:
        cadence: Cadence name.
        timezone: The timezone its wall-clock rules use for the contact (the contact's,
            else the cadence's).
        plan: The plan at `ContactReport.now`; None when planning failed.
        error: Why planning failed (data the cadence cannot use, a record the repository
            cannot read), as the scheduler would record it; None when it did not.

    """

    cadence: str
    timezone: str
    plan: Plan | None = None
    error: str | None = None

    @property
    def next_wakeup(self) -> datetime | None:
        """When the scheduler next evaluates the contact for this cadence, or None."""
        return None if self.plan is None else self.plan.next_wakeup

    def as_dict(self) -> dict[str, Any]:
        """The status as JSON-ready data."""
        return {
            "cadence": self.cadence,
            "timezone": self.timezone,
            "next_wakeup": _iso(self.next_wakeup),
            "next_event_at": _iso(None if self.plan is None else self.plan.next_event_at),
            "error": self.error,
        }


@attrs.frozen(slots=True)
class ContactReport:
    """One contact at one instant: its data, its history, what is pending, what went wrong.

    Built by `inspect_contact`. The records are kept as read, personal data included; the
    renderings leave it out unless asked (``personal=True``).

    Attributes:
        contact: The contact as stored.
        now: The instant the report is for (UTC).
        version: The repository's change counter for the contact.
        deliveries: Every recorded outcome (sent, failed, cancelled, skipped, expired),
            oldest first.
        events: The latest events (at most the `recent` given to `inspect_contact`), oldest
            first.
        event_count: How many events the history holds in all.
        pending: The occurrences still to come, or closed by the plan and not yet recorded,
            soonest first.
        cadences: The contact's status under each cadence, in the order given.
        errors: The latest errors recorded while evaluating the contact (at most `recent`),
            oldest first.
        error_count: How many errors are recorded for the contact in all.
        fold: What a folded history leaves out (`regua.records.Fold`), when the repository returned
            one; None for a whole history.
        unreadable: Why the repository cannot read the contact's stored data, if it cannot
            (`regua.Snapshot.unreadable`); the contact then holds its id alone.

    """

    contact: Contact
    now: datetime
    version: int
    deliveries: tuple[Delivery, ...]
    events: tuple[Event, ...]
    event_count: int
    pending: tuple[PendingOccurrence, ...]
    cadences: tuple[CadenceStatus, ...]
    errors: tuple[ContactError, ...] = ()
    error_count: int = 0
    fold: Fold | None = None
    unreadable: str | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels the contact has an address on, by name (not the addresses)."""
        return tuple(sorted(name for name, address in self.contact.addresses.items() if address))

    @property
    def sent(self) -> tuple[Delivery, ...]:
        """The deliveries recorded as sent, oldest first."""
        return tuple(d for d in self.deliveries if d.status is DeliveryStatus.SENT)

    # --- renderings ------------------------------------------------------------------------

    def to_dict(self, *, personal: bool = False) -> dict[str, Any]:
        """Everything as JSON-ready data; addresses, attributes, event data with `personal`."""
        contact = self.contact
        person: dict[str, Any] = {
            "id": contact.id,
            "timezone": contact.timezone,
            "created_at": _iso(contact.created_at),
            "version": self.version,
            "consents": sorted(contact.consents),
            "preferences": list(contact.preferences),
            "channels": list(self.channels),
            "attribute_names": sorted(contact.attributes),
        }
        if personal:
            person["addresses"] = _jsonable(contact.addresses)
            person["attributes"] = _jsonable(contact.attributes)
        events = []
        for event in self.events:
            item: dict[str, Any] = {"name": event.name, "at": _iso(event.at), "id": event.id}
            if event.ref is not None:
                item["ref"] = event.ref
            if personal:
                item["data"] = _jsonable(event.data)
            events.append(item)
        return {
            "now": _iso(self.now),
            "contact": person,
            "unreadable": self.unreadable,
            "deliveries": [_delivery_dict(d) for d in self.deliveries],
            "event_count": self.event_count,
            "events": events,
            "pending": [p.as_dict() for p in self.pending],
            "cadences": [c.as_dict() for c in self.cadences],
            "error_count": self.error_count,
            "errors": [{"at": _iso(e.at), "error": e.error} for e in self.errors],
            "fold": None if self.fold is None else _fold_dict(self.fold),
        }

    def to_json(self, *, personal: bool = False, indent: int | None = 2) -> str:
        """`to_dict` as JSON text."""
        return json.dumps(self.to_dict(personal=personal), indent=indent, ensure_ascii=False)

    def table(self, *, personal: bool = False) -> str:
        """A plain-text report, section by section; personal data only with `personal`."""
        return _table(self, personal=personal)

    def __str__(self) -> str:
        return self.table()


def inspect_contact(
    repository: Repository,
    cadences: Cadence | Iterable[Cadence],
    contact_id: str,
    now: datetime,
    *,
    recent: int = 20,
) -> ContactReport:
    """Read one contact's whole history and plan it under `cadences` at `now`; change nothing.

    Each waiting occurrence is followed forward as the scheduler would run the contact if
    nothing else happened (`PendingOccurrence.expected_at`, `PendingOccurrence.expected_end`):
    that costs a plan of the whole history at each of the contact's wake-ups until the last
    of them, so a report costs more than one plan, and is meant for one contact at a time.

    >>> from datetime import datetime, timezone
    >>> from regua import (Cadence, Channel, Contact, Event, InMemoryRepository,
    ...                    OutboxSender, Scheduler, Step, on_event)
    >>> shop = Cadence("shop", channels=[Channel("email")], steps=[
    ...     Step("confirmation", trigger=on_event("signed_up"), channels=["email"],
    ...          transactional=True),
    ...     Step("welcome", trigger=on_event("signed_up"), delay="2d", channels=["email"])])
    >>> repository = InMemoryRepository()
    >>> repository.upsert_contact(Contact("ana", consents={"email"},
    ...                                   addresses={"email": "ana@example.com"}))
    >>> t = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)
    >>> _ = repository.record_event(Event("ana", "signed_up", t, id="s-1"))
    >>> _ = Scheduler([shop], repository=repository, senders={"email": OutboxSender()}).tick(t)
    >>> report = inspect_contact(repository, shop, "ana", t)
    >>> [(d.step, d.status.value) for d in report.deliveries]
    [('confirmation', 'sent')]
    >>> [(p.step, p.state.value, p.at.isoformat(), p.channels) for p in report.pending]
    [('welcome', 'waiting', '2026-03-04T12:00:00+00:00', ('email',))]

    Args:
        repository: Where the contact is stored; read with `Repository.load_snapshots`
            (the whole history) and `Repository.errors`.
        cadences: The cadences the scheduler runs (a planning error under one is reported
            in its `CadenceStatus`, and the others are planned all the same).
        contact_id: The contact.
        now: The instant to plan at; timezone-aware.
        recent: How many of the latest events and recorded errors to keep.

    Raises:
        UnknownContactError: The repository holds no such contact.
        InvalidArgumentError: `now` is naive, or `recent` is negative.

    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidArgumentError(f"now must be a timezone-aware datetime, got {now!r}")
    if recent < 0:
        raise InvalidArgumentError(f"recent must not be negative, got {recent}")
    now = now.astimezone(timezone.utc)
    chosen = [cadences] if isinstance(cadences, Cadence) else list(cadences)
    snapshot = repository.load_snapshots([contact_id]).get(contact_id)
    if snapshot is None:
        raise UnknownContactError(f"no contact {contact_id!r} in the repository")
    statuses: list[CadenceStatus] = []
    plans: list[tuple[Cadence, Plan]] = []
    results: Sequence[Plan | ReguaError]
    try:
        results = plan_contact(chosen, snapshot, now)
    except ReguaError:  # which cadence cannot plan it: each alone says
        results = [_plan_alone(cadence, snapshot, now) for cadence in chosen]
    for cadence, result in zip(chosen, results, strict=True):
        if isinstance(result, ReguaError):
            zone = snapshot.contact.timezone or cadence.timezone
            statuses.append(CadenceStatus(cadence.name, zone, error=str(result)))
            continue
        statuses.append(CadenceStatus(cadence.name, result.timezone, plan=result))
        plans.append((cadence, result))
    waiting = [occurrence for _, result in plans for occurrence in result.waiting]
    outlook = _outlook([cadence for cadence, _ in plans], snapshot, waiting, now)
    pending = [p for _, result in plans for p in _pending(result, snapshot.claimed, outlook)]
    events = sorted(snapshot.events, key=lambda e: (e.at, e.key))
    errors = repository.errors(contact_id)
    return ContactReport(
        contact=snapshot.contact,
        now=now,
        version=snapshot.version,
        deliveries=tuple(sorted(snapshot.deliveries, key=lambda d: (d.at, d.occurrence_key))),
        events=tuple(events[len(events) - recent :] if recent else ()),
        event_count=len(events),
        pending=tuple(sorted(pending, key=lambda p: (p.at, p.cadence, p.step, p.occurrence_key))),
        cadences=tuple(statuses),
        errors=tuple(errors[len(errors) - recent :] if recent else ()),
        error_count=len(errors),
        fold=snapshot.fold,
        unreadable=snapshot.unreadable,
    )


# --- building the report ---------------------------------------------------------------------


def _plan_alone(cadence: Cadence, snapshot: Snapshot, now: datetime) -> Plan | ReguaError:
    """`cadence`'s plan of the contact, or the error that keeps it from one."""
    try:
        return plan(cadence, snapshot, now)
    except ReguaError as exc:
        return exc


def _pending(
    result: Plan, claimed: frozenset[str], outlook: Mapping[str, Delivery]
) -> list[PendingOccurrence]:
    found = [_due(action, claimed) for action in result.due]
    for occurrence in result.waiting:
        expected = outlook.get(occurrence.key)
        if expected is None:
            found.append(_from_occurrence(occurrence, claimed))
        elif expected.status is DeliveryStatus.SENT and expected.channel is not None:
            found.append(
                _from_occurrence(
                    occurrence, claimed, channels=(expected.channel,), expected_at=expected.at
                )
            )
        else:
            reason = (
                f" ({expected.reason})"
                if expected.reason and expected.reason != expected.status.value
                else ""
            )
            end = f"{expected.status.value}{reason} at {_iso(expected.at)}"
            found.append(_from_occurrence(occurrence, claimed, expected_end=end))
    found += [_from_occurrence(o, claimed) for o in result.closed]
    return found


def _due(action: DueAction, claimed: frozenset[str]) -> PendingOccurrence:
    source = split_occurrence_key(action.occurrence_key)[3]
    return PendingOccurrence(
        cadence=action.cadence,
        step=action.step,
        occurrence_key=action.occurrence_key,
        source=source,
        state=OccurrenceState.DUE,
        at=action.due_at,
        channels=action.channels,
        expires_at=action.expires_at,
        claimed=action.occurrence_key in claimed,
    )


def _from_occurrence(
    occurrence: Occurrence,
    claimed: frozenset[str],
    *,
    channels: tuple[str, ...] = (),
    expected_at: datetime | None = None,
    expected_end: str | None = None,
) -> PendingOccurrence:
    return PendingOccurrence(
        cadence=occurrence.cadence,
        step=occurrence.step,
        occurrence_key=occurrence.key,
        source=occurrence.source,
        state=occurrence.state,
        at=occurrence.at,
        reason=occurrence.reason,
        detail=occurrence.detail,
        channels=channels,
        expires_at=occurrence.expires_at,
        claimed=occurrence.key in claimed,
        expected_at=expected_at,
        expected_end=expected_end,
    )


def _outlook(
    cadences: Sequence[Cadence], snapshot: Snapshot, waiting: Sequence[Occurrence], now: datetime
) -> dict[str, Delivery]:
    """The outcome each waiting occurrence gets if nothing changes, by occurrence key.

    The contact is projected forward as the scheduler would run it (`regua.forecast`'s
    projection: what is due is sent on the first channel that can take it, what the planner
    closes is recorded), from `now` until a while after the last of them is due: what is
    due before an occurrence takes the caps' slots it would otherwise have. An occurrence
    left out was neither sent nor closed by then, or the contact's plans cannot be run.
    """
    from regua.forecasting.projection import project

    if not waiting:
        return {}
    try:
        projection = project(cadences, snapshot, now, max(o.at for o in waiting) + _OUTLOOK_MARGIN)
    except ReguaError:  # a ProjectionError too
        return {}
    keys = {o.key for o in waiting}
    return {d.occurrence_key: d for d in projection.recorded if d.occurrence_key in keys}


# --- JSON ------------------------------------------------------------------------------------


def _iso(instant: datetime | None) -> str | None:
    if instant is None:
        return None
    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _jsonable(value: Any) -> Any:
    """`value` (attributes, addresses, event data) as JSON can hold it."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_jsonable(v) for v in value), key=repr)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    return str(value)


def _delivery_dict(delivery: Delivery) -> dict[str, Any]:
    return {
        "at": _iso(delivery.at),
        "cadence": delivery.cadence,
        "step": delivery.step,
        "status": delivery.status.value,
        "channel": delivery.channel,
        "reason": delivery.reason,
        "detail": delivery.detail,
        "variant": delivery.variant,
        "message_id": delivery.message_id,
        "occurrence_key": delivery.occurrence_key,
        "collected": list(delivery.collected),
    }


def _fold_dict(fold: Fold) -> dict[str, Any]:
    return {
        "cutoff": _iso(fold.cutoff),
        "event_cutoff": _iso(fold.event_cutoff),
        "events_left_out": dict(sorted(fold.counts.items())),
        "kept": fold.size,
    }


# --- the table -------------------------------------------------------------------------------


def _table(report: ContactReport, *, personal: bool) -> str:
    from regua.forecasting.text import render_table

    contact = report.contact
    several = len({c.cadence for c in report.cadences} | {d.cadence for d in report.deliveries}) > 1
    zones = {c.cadence: c.timezone for c in report.cadences}

    def local(instant: datetime | None, cadence: str) -> str:
        if instant is None:
            return ""
        zone = contact.timezone or zones.get(cadence, "UTC")
        try:
            tz = load_timezone(zone)
        except ValueError:
            return ""
        return instant.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")

    def step(cadence: str, name: str) -> str:
        return f"{cadence}/{name}" if several else name

    cadence_names = ", ".join(c.cadence for c in report.cadences) or "no cadence"
    lines = [
        f"contact {contact.id} at {_iso(report.now)} (version {report.version}; {cadence_names})",
    ]
    if report.unreadable is not None:
        lines.append(f"  UNREADABLE: {report.unreadable}")
    channels = ", ".join(report.channels) or "none"
    names = ", ".join(sorted(contact.attributes)) or "none"
    details = [
        ("timezone", contact.timezone or "(none: the cadence's)"),
        ("created at", _iso(contact.created_at) or "(not recorded)"),
        ("consents", ", ".join(sorted(contact.consents)) or "none"),
        ("preferences", ", ".join(contact.preferences) or "none"),
    ]
    if personal:
        addresses = [f"{name}: {contact.addresses[name]}" for name in report.channels]
        details.append(("addresses", "; ".join(addresses) or "none"))
        values = [
            f"{name}={_jsonable(contact.attributes[name])!r}" for name in sorted(contact.attributes)
        ]
        details.append(("attributes", ", ".join(values) or "none"))
    else:
        details.append(("addresses on", f"{channels} (addresses not shown)"))
        details.append(("attributes", f"{names} (values not shown)"))
    width = max(len(label) for label, _ in details)
    lines += [f"  {label.ljust(width)}  {value}" for label, value in details]

    lines += ["", f"Sent and closed ({len(report.deliveries)}):"]
    if report.deliveries:
        variants = any(d.variant for d in report.deliveries)
        lines.append(
            render_table(
                [
                    "at (UTC)",
                    "local time",
                    "step",
                    "status",
                    "channel",
                    "reason",
                    *(["variant"] if variants else []),
                    "message id",
                ],
                [
                    [
                        _iso(d.at),
                        local(d.at, d.cadence),
                        step(d.cadence, d.step),
                        d.status.value,
                        d.channel or "",
                        d.reason or "",
                        *([d.variant or ""] if variants else []),
                        d.message_id or "",
                    ]
                    for d in report.deliveries
                ],
            )
        )
    else:
        lines.append("  none")

    lines += ["", f"Pending ({len(report.pending)}):"]
    if report.pending:
        lines.append(
            render_table(
                ["at (UTC)", "local time", "step", "state", "channels", "fired by", "why"],
                [
                    [
                        _iso(p.at),
                        local(p.at, p.cadence),
                        step(p.cadence, p.step),
                        p.state.value,
                        ", ".join(p.channels),
                        p.source,
                        _why(p),
                    ]
                    for p in report.pending
                ],
            )
        )
    else:
        lines.append("  none")
    for status in report.cadences:
        if status.error is not None:
            lines.append(f"  {status.cadence}: cannot be planned: {status.error}")
            continue
        wakeup = _iso(status.next_wakeup) or "never, unless something changes"
        if status.plan is not None and status.plan.due:
            wakeup += " (once what is due now is sent)"
        lines.append(
            f"  {status.cadence}: next wake-up {wakeup}, wall-clock rules in {status.timezone}"
        )
        if status.plan is not None and status.plan.next_event_at is not None:
            lines.append(
                f"  {status.cadence}: an event is recorded for {_iso(status.plan.next_event_at)}, "
                "later than now; plans take it into account from then"
            )

    shown = len(report.events)
    lines += ["", f"Recent events ({shown} of {report.event_count}):"]
    if report.events:
        lines.append(
            render_table(
                ["at (UTC)", "event", "id", *(["data"] if personal else [])],
                [
                    [
                        _iso(e.at),
                        e.name,
                        e.id or "",
                        *(
                            [json.dumps(_jsonable(e.data), ensure_ascii=False) if e.data else ""]
                            if personal
                            else []
                        ),
                    ]
                    for e in report.events
                ],
            )
        )
    else:
        lines.append("  none")

    lines += ["", f"Errors ({len(report.errors)} of {report.error_count}):"]
    if report.errors:
        lines += [f"  {_iso(e.at)}  {e.error}" for e in report.errors]
    else:
        lines.append("  none")

    if report.fold is not None:
        lines += ["", _fold_note(report.fold)]
    return "\n".join(lines) + "\n"


def _why(pending: PendingOccurrence) -> str:
    if pending.state is OccurrenceState.DUE:
        return "due now; a worker is sending or retrying it" if pending.claimed else "due now"
    reason = "" if pending.reason is None else pending.reason.value
    text = f"{reason}: {pending.detail}" if pending.detail else reason
    if pending.state is not OccurrenceState.WAITING:
        return f"{text}; recorded at the next tick"
    if pending.expected_end is not None:
        return f"{text}; then {pending.expected_end}, if nothing changes"
    if pending.expected_at is not None and pending.expected_at != pending.at:
        return f"{text}; then sent {_iso(pending.expected_at)}, if nothing changes"
    return text


def _fold_note(fold: Fold) -> str:
    left = sum(fold.counts.values())
    per_name = ", ".join(f"{name} {count}" for name, count in sorted(fold.counts.items()))
    events = fold.event_cutoff or fold.cutoff
    return (
        f"Folded history: outcomes before {_iso(fold.cutoff)} and events before "
        f"{_iso(events)} are summed up, not listed ({left} events left out"
        + (f": {per_name}" if per_name else "")
        + ")."
    )
