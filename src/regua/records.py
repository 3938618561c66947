"""Runtime records: contacts, events, deliveries and due actions.

These are attrs classes (frozen, slotted): cheap to build in hot loops, immutable once built,
and validated on construction, so that bad data fails where it enters, naming the record and
the field. Every instant is stored as a timezone-aware datetime in UTC; a naive datetime is an
error, never a guess.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import attrs

from regua.definitions.fields import load_timezone
from regua.errors import InvalidRecordError
from regua.locales import LOCALE_ATTRIBUTE, normalise_locale

__all__ = [
    "CLICKED",
    "MAX_DATA_BYTES",
    "MAX_DATA_DEPTH",
    "OPENED",
    "Contact",
    "Delivery",
    "DeliveryStatus",
    "DueAction",
    "Event",
    "Fold",
    "Snapshot",
    "idempotency_key",
]

OPENED = "opened"
"""Event name for an open of a delivery; the event's `ref` is the delivery's occurrence key."""

CLICKED = "clicked"
"""Event name for a click in a delivery; the event's `ref` is the delivery's occurrence key."""


_UTC = timezone.utc


def _is_utc(value: object) -> bool:
    """True for a plain `datetime` already in UTC: nothing to check or convert."""
    return type(value) is datetime and value.tzinfo is _UTC


def _utc(value: datetime, *, record: str, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidRecordError(
            f"{record}.{field}: expected a timezone-aware datetime, got {type(value).__name__} "
            f"{value!r}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRecordError(
            f"{record}.{field}: naive datetime {value.isoformat()} is ambiguous; give it a "
            "timezone (e.g. datetime(..., tzinfo=timezone.utc))"
        )
    return value.astimezone(timezone.utc)


def _frozen_strings(value: Iterable[str] | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset({value})
    return frozenset(value)


def _string_tuple(value: Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _dict(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return {} if value is None else dict(value)


MAX_DATA_DEPTH = 32
"""How deeply `Contact.attributes`, `Contact.addresses` and `Event.data` may nest.

The field's own mapping is level 1; each mapping, list, tuple or set inside it adds one.
Real records nest a few levels; the limit stays far below Python's recursion limit, which
every reader of the data (JSON codecs, copies, comparisons, the SQL repository) shares with
its caller's stack, so that no stored record can make those readers fail.
"""

MAX_DATA_BYTES = 64 * 1024
"""The most `Contact.attributes`, `Contact.addresses` or `Event.data` may hold: 64 KiB.

Measured as about the size of the field's JSON encoding: the UTF-8 bytes of every key and
string (a `bytes` value counts its length), 8 bytes per other value and 2 per mapping, list,
tuple or set. The whole field is loaded with every evaluation of the contact: the limit
bounds what one contact can add to a batch. Keep large documents in your own store and put
their reference in the record.
"""

_CONTAINERS = (Mapping, list, tuple, set, frozenset)
_NUMBERS = frozenset({int, float, bool, type(None)})  # 8 bytes each, like any other leaf


class _TooDeep(Exception):
    """Raised inside `_data_size` when the data nests deeper than `MAX_DATA_DEPTH`."""


def _text_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _other_size(value: object, depth: int) -> int:
    """The size of a value that is not a str, number, dict or list, at level `depth`."""
    if isinstance(value, _CONTAINERS):
        return _data_size(value, depth + 1)
    if isinstance(value, str):
        return _text_size(value)
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    return 8


def _data_size(value: Any, depth: int) -> int:
    """About the JSON size of the container `value`, at nesting level `depth`.

    Raises `_TooDeep` past `MAX_DATA_DEPTH`, which also stops a mapping that contains
    itself. Records are built by the million: exact types are tested first (an `isinstance`
    against an abstract class costs more than the rest of the loop), and the loop over
    values sizes them inline rather than call a function per value.
    """
    if depth > MAX_DATA_DEPTH:
        raise _TooDeep
    if type(value) is not dict and isinstance(value, Mapping):
        value = dict(value)
    size = 2
    items: Iterable[Any] = value
    if type(value) is dict:
        for key in value:
            if type(key) is str and key.isascii():
                size += len(key) + 4
            else:
                size += _other_size(key, depth) + 4
        items = value.values()
    for item in items:
        kind = type(item)
        if kind is str:
            size += len(item) if item.isascii() else _text_size(item)
        elif kind in _NUMBERS:
            size += 8
        elif kind is dict or kind is list:
            size += _data_size(item, depth + 1)
        else:
            size += _other_size(item, depth)
    return size


def _data_problem(value: Mapping[str, Any]) -> str | None:
    """Why `value` cannot be stored (too deep, too large), or None: the hot path, no f-strings."""
    try:
        size = _data_size(value, 1)
    except _TooDeep:
        return (
            f"nested more than {MAX_DATA_DEPTH} levels deep (the limit, "
            "regua.records.MAX_DATA_DEPTH); flatten it"
        )
    if size > MAX_DATA_BYTES:
        return (
            f"about {size:,} bytes, over the limit of {MAX_DATA_BYTES:,} (64 KiB, "
            "regua.records.MAX_DATA_BYTES); keep large documents elsewhere and store a "
            "reference to them"
        )
    return None


@attrs.frozen(slots=True)
class Contact:
    """A customer as a cadence sees them.

    >>> Contact("c1", timezone="America/Sao_Paulo", consents={"email"},
    ...         addresses={"email": "ana@example.com"}).consents
    frozenset({'email'})

    Attributes:
        id: The application's identifier for the customer.
        attributes: Data the cadence's conditions, routes and date triggers read (``tier``,
            ``birth_date``...). Treat as read-only. At most `MAX_DATA_DEPTH` levels deep
            and `MAX_DATA_BYTES` large (like `addresses`), or `InvalidRecordError`.
        timezone: IANA name of the customer's timezone; when None, the cadence's is used.
        consents: What marketing the customer agreed to receive: a channel's name (``"email"``:
            all marketing on it), or a channel and a topic (``"email:offers"``: the
            marketing steps of that `Step.topic` only).
        preferences: Channels in the customer's order of preference.
        addresses: Where to reach the customer on each channel (e-mail, phone number...).
        created_at: When the customer entered the base; schedules never fire before it.

    """

    id: str = attrs.field(converter=str)
    attributes: dict[str, Any] = attrs.field(factory=dict, converter=_dict)
    timezone: str | None = None
    consents: frozenset[str] = attrs.field(factory=frozenset, converter=_frozen_strings)
    preferences: tuple[str, ...] = attrs.field(factory=tuple, converter=_string_tuple)
    addresses: dict[str, str] = attrs.field(factory=dict, converter=_dict)
    created_at: datetime | None = None

    def __attrs_post_init__(self) -> None:
        if not self.id:
            raise InvalidRecordError("Contact.id must not be empty")
        if self.attributes and (problem := _data_problem(self.attributes)) is not None:
            raise InvalidRecordError(f"Contact {self.id!r}.attributes: {problem}")
        if self.addresses and (problem := _data_problem(self.addresses)) is not None:
            raise InvalidRecordError(f"Contact {self.id!r}.addresses: {problem}")
        if self.timezone is not None:
            try:
                load_timezone(self.timezone)
            except ValueError as exc:
                raise InvalidRecordError(f"Contact {self.id!r}.timezone: {exc}") from None
        if self.created_at is not None and not _is_utc(self.created_at):
            object.__setattr__(
                self,
                "created_at",
                _utc(self.created_at, record=f"Contact {self.id!r}", field="created_at"),
            )

    def can_receive(self, channel: str, *, transactional: bool, topic: str | None = None) -> bool:
        """True when the contact can be sent a message on `channel`.

        It needs an address there and, unless the message is transactional (not marketing),
        consent: to the channel, or to the message's `topic` on it (``"email:offers"``).
        """
        if not self.addresses.get(channel):
            return False
        if transactional or channel in self.consents:
            return True
        return topic is not None and f"{channel}:{topic}" in self.consents

    @property
    def locale(self) -> str | None:
        """The contact's locale: its ``locale`` attribute as a BCP 47 tag, or None.

        Normalised by `regua.locales.normalise_locale` (``pt_br`` is ``pt-BR``); None when
        the attribute is missing or is not a language tag. Renderers and senders read it.

        >>> Contact("ana", attributes={"locale": "pt_br"}).locale
        'pt-BR'
        """
        return normalise_locale(self.attributes.get(LOCALE_ATTRIBUTE))


@attrs.frozen(slots=True)
class Event:
    """Something that happened to a contact: a sign-up, an order, a login, an open.

    Attributes:
        contact_id: The contact it belongs to.
        name: What happened (``order_placed``, ``login``, `OPENED`, `CLICKED`...).
        at: When it happened; must be timezone-aware (stored in UTC).
        id: A stable identifier; it makes the idempotency key of the occurrences the event
            fires. When omitted, one is derived from the name and the instant.
        data: Details (order number, total...); handed to the message as its payload. At
            most `MAX_DATA_DEPTH` levels deep and `MAX_DATA_BYTES` large, or
            `InvalidRecordError`.
        ref: For engagement events (`OPENED`, `CLICKED`): the occurrence key of the
            delivery that was opened or clicked.

    """

    contact_id: str = attrs.field(converter=str)
    name: str
    at: datetime
    id: str | None = None
    data: dict[str, Any] = attrs.field(factory=dict, converter=_dict)
    ref: str | None = None

    def __attrs_post_init__(self) -> None:
        if not self.name:
            raise InvalidRecordError(
                f"Event {self.name!r} of contact {self.contact_id!r}: name must not be empty"
            )
        if not _is_utc(self.at):  # records are built by the million: skip the common case
            record = f"Event {self.name!r} of contact {self.contact_id!r}"
            object.__setattr__(self, "at", _utc(self.at, record=record, field="at"))
        if self.data and (problem := _data_problem(self.data)) is not None:
            raise InvalidRecordError(
                f"Event {self.name!r} of contact {self.contact_id!r}.data: {problem}"
            )
        if self.id is None:
            object.__setattr__(self, "id", f"{self.name}@{self.at:%Y%m%dT%H%M%S.%fZ}")

    @property
    def key(self) -> str:
        """The event's identifier (given, or derived from name and instant)."""
        return self.id if self.id is not None else ""


class DeliveryStatus(str, enum.Enum):
    """How an occurrence ended."""

    SENT = "sent"
    """Accepted by a sender."""
    FAILED = "failed"
    """Every candidate channel failed, or retries ran out (a dead letter)."""
    CANCELLED = "cancelled"
    """A `cancel_on` event happened after the trigger and before sending, or the journey's
    goal was reached (reason ``goal_reached``)."""
    SKIPPED = "skipped"
    """Not sent on purpose: condition false, no consented channel, cap, repeat, cooldown, or
    an experiment's holdout (reason ``holdout``)."""
    EXPIRED = "expired"
    """Past its `expires_after` or `deadline` before it could be sent."""


def _status(value: DeliveryStatus | str) -> DeliveryStatus:
    # The enum's constructor costs a microsecond even for one of its own members.
    return value if type(value) is DeliveryStatus else DeliveryStatus(value)


@attrs.frozen(slots=True)
class Delivery:
    """The recorded outcome of one occurrence of a step for a contact.

    Attributes:
        cadence: Cadence name.
        step: Step name.
        contact_id: The contact.
        occurrence_key: The occurrence this outcome closes (see `DueAction`).
        status: How it ended.
        at: When it ended (sent, failed, cancelled...); timezone-aware.
        channel: The channel used (for sent and failed deliveries).
        reason: A machine-readable reason for cancelled, skipped, expired and failed.
        collected: For a digest step: the ids of the events this outcome closes (those the
            message listed, when sent). The planner leaves them out of later digests.
        variant: The experiment variant the contact was assigned (sent, failed, or skipped
            with reason ``holdout``); None outside experiments. Recorded, it is the
            contact's assignment from then on.
        message_id: For a sent delivery: the id the sender returned for it (the provider's
            message id: an SMTP ``Message-ID``, a webhook's ``"id"``), to match the
            provider's delivery reports and support tickets to the occurrence; None when the
            sender returned none, and for every other status.
        detail: Why, in words, beside the `reason` code: the condition that was false, the
            channels refused and why, the event that cancelled it, what held it before it
            expired; for a message sent on a fallback channel, the earlier channels'
            failures. None when there is nothing to add.

    """

    cadence: str
    step: str
    contact_id: str = attrs.field(converter=str)
    occurrence_key: str
    status: DeliveryStatus = attrs.field(converter=_status)
    at: datetime
    channel: str | None = None
    reason: str | None = None
    collected: tuple[str, ...] = attrs.field(default=(), converter=_string_tuple)
    variant: str | None = None
    message_id: str | None = None
    detail: str | None = None

    def __attrs_post_init__(self) -> None:
        if not _is_utc(self.at):
            record = f"Delivery {self.occurrence_key!r}"
            object.__setattr__(self, "at", _utc(self.at, record=record, field="at"))


@attrs.frozen(slots=True)
class DueAction:
    """A message that is due now: what the scheduler claims and hands to a sender.

    Attributes:
        cadence: Cadence name.
        step: Step name.
        contact_id: The contact.
        occurrence_key: Deterministic key of this occurrence: cadence, step, contact and what
            fired it (event id, year of a birthday, scheduled instant, start of an inactive
            period, source delivery), as ``<cadence>:<step>:<contact>:<source>`` with
            ``%``, ``:`` and ``/`` percent-encoded in the first three parts, so that no two
            occurrences share one. Delivered at most once, ever.
        idempotency_key: A short, opaque digest of `occurrence_key`, safe for HTTP headers;
            senders pass it to providers so they can deduplicate too.
        due_at: When it became due (after delay and ``at=``; before any deferral).
        channel: The channel to try first.
        fallbacks: The next channels to try, in order, on a permanent failure.
        message: The template key.
        payload: Data for the template: the step's payload, then the triggering event's data.
        address: The contact's address on `channel`.
        transactional: Whether the message is not marketing: True for a transactional or
            service step (`Step.marketing` is False), which needs no marketing consent.
        priority: The step's priority.
        expires_at: The instant after which it must not be sent, if any.
        collected: For a digest step: the ids of the events the payload lists, recorded
            with the outcome (`Delivery.collected`).
        variant: The experiment variant to send (None outside experiments).
        topic: The step's topic (`Step.topic`): the consent ``"<channel>:<topic>"`` allows it.

    """

    cadence: str
    step: str
    contact_id: str
    occurrence_key: str
    idempotency_key: str
    due_at: datetime
    channel: str
    fallbacks: tuple[str, ...]
    message: str
    payload: dict[str, Any]
    address: str | None = None
    transactional: bool = False
    priority: int = 0
    expires_at: datetime | None = None
    collected: tuple[str, ...] = ()
    variant: str | None = None
    topic: str | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        """`channel` followed by the `fallbacks`."""
        return (self.channel, *self.fallbacks)

    def outcome(
        self,
        status: DeliveryStatus | str,
        at: datetime,
        *,
        channel: str | None = None,
        reason: str | None = None,
        message_id: str | None = None,
        detail: str | None = None,
    ) -> Delivery:
        """The `Delivery` that records how this action ended, as the scheduler records it.

        It carries on what later plans read from the action: the events a digest collected
        and the experiment variant.

        >>> from datetime import datetime, timezone
        >>> t = datetime(2026, 5, 4, 12, tzinfo=timezone.utc)
        >>> action = DueAction("shop", "welcome", "ana", "shop:welcome:ana:event=e1", "k",
        ...                    t, "email", (), "welcome", {})
        >>> action.outcome("sent", t, channel="email").status.value
        'sent'
        """
        return Delivery(
            self.cadence,
            self.step,
            self.contact_id,
            self.occurrence_key,
            status,
            at,
            channel=channel,
            reason=reason,
            collected=self.collected,
            variant=self.variant,
            message_id=message_id,
            detail=detail,
        )


@attrs.frozen(slots=True)
class Fold:
    """What a folded snapshot left out of a contact's history (see `regua.fold`).

    A folded snapshot holds the records stamped at or after their cutoffs, and the few
    before them that plans still read (the latest send of each step, the opens of the sends
    kept...); the rest is summed up here. It plans exactly as the whole history does, for
    the cadences it was folded for (`fingerprints`) and at any instant from `valid_from` on,
    with any records added after it; a plan that would need more raises `FoldTooShallow`.

    Attributes:
        cutoff: Deliveries stamped before this instant were left out, unless listed in
            `kept_deliveries`.
        valid_from: The earliest `now` a plan may use it for.
        fingerprints: Cadence name -> a digest of the definition it was folded for.
        event_cutoff: Events stamped before this instant were left out, unless listed in
            `kept_events` (or their name has its own cutoff in `event_cutoffs`).
        event_cutoffs: Event name -> the cutoff of the events of that name, where a
            condition counts them over a window (``event_count(name, within=...)``) or a
            digest collects them.
        counts: Event name -> how many distinct events of that name were left out.
        last: Event name -> the latest instant of an event of that name left out (where an
            inactive period starts, and what ``has_event`` reads before the cutoff).
        engaged: (cadence, kind, step) -> the earliest ``opened``/``clicked`` event of a
            send of that step that was left out.
        kept_events: (name, id) of the events before their cutoff that were kept.
        kept_deliveries: (occurrence key, status, instant) of the deliveries before `cutoff`
            that were kept.
        size: How many events and deliveries the folded snapshot kept.

    """

    cutoff: datetime
    valid_from: datetime
    fingerprints: Mapping[str, str]
    event_cutoff: datetime | None = None
    event_cutoffs: Mapping[str, datetime] = attrs.field(factory=dict)
    counts: Mapping[str, int] = attrs.field(factory=dict)
    last: Mapping[str, datetime] = attrs.field(factory=dict)
    engaged: Mapping[tuple[str, str, str], datetime] = attrs.field(factory=dict)
    kept_events: frozenset[tuple[str, str | None]] = frozenset()
    kept_deliveries: frozenset[tuple[str, str, datetime]] = frozenset()
    size: int = 0

    def cutoff_of(self, name: str) -> datetime:
        """The cutoff of the events named `name`."""
        found = self.event_cutoffs.get(name)
        if found is not None:
            return found
        return self.cutoff if self.event_cutoff is None else self.event_cutoff


def _events(value: Iterable[Event]) -> tuple[Event, ...]:
    return tuple(value)


def _deliveries(value: Iterable[Delivery]) -> tuple[Delivery, ...]:
    return tuple(value)


@attrs.frozen(slots=True)
class Snapshot:
    """Everything the planner needs about one contact: the contact, events and deliveries.

    Events and deliveries may come in any order and may include other cadences' deliveries
    (they are filtered by cadence name). `version` is the repository's change counter for the
    contact when the snapshot was loaded (see `regua.ports.Repository`). `claimed` holds the
    occurrence keys of the contact (any cadence) with an open claim and no recorded outcome:
    the planner keeps those occurrences alive until they close, even when catch-up would no
    longer produce them (a deferred retry overtaken by the next firing of a schedule).

    `fold` is set on a folded snapshot (`regua.fold`): its events and deliveries are the
    part of the history that plans still read, and the `Fold` sums up the rest. `position`
    is the repository's own mark of which of its records the snapshot holds (for the
    shipped repositories, how many events and deliveries, or the last of their row ids):
    it travels with a fold back to `store_folds`, so that the records added since are read
    on top of it.

    `unreadable` is set by a repository whose stored data for the contact cannot be read
    (written by hand, by another program, or by a machine whose timezone database knows
    zones this one does not): it says which record and field, and why. The snapshot then
    holds the contact's id, version and claims, and nothing else; planning it raises
    `InvalidRecordError` with that message, which a tick records as the contact's error
    (`Repository.errors`) while it goes on with the other contacts.
    """

    contact: Contact
    events: tuple[Event, ...] = attrs.field(factory=tuple, converter=_events)
    deliveries: tuple[Delivery, ...] = attrs.field(factory=tuple, converter=_deliveries)
    version: int = 0
    claimed: frozenset[str] = attrs.field(factory=frozenset, converter=_frozen_strings)
    unreadable: str | None = None
    fold: Fold | None = None
    position: tuple[int, int] | None = None


def idempotency_key(occurrence_key: str) -> str:
    """The idempotency key for an occurrence: 32 hex characters, stable across versions."""
    return hashlib.blake2b(occurrence_key.encode("utf-8"), digest_size=16).hexdigest()
