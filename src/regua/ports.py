"""Ports: the interfaces between the scheduler and the application's storage and channels.

A `Repository` stores contacts, events, deliveries, claims and wake-up times; a `Sender`
delivers one message on one channel. regua ships reference adapters (`InMemoryRepository`,
`SQLRepository`, `OutboxSender`...), and `regua.testing.contracts` holds test suites that a
custom adapter subclasses to prove it honours the contract below.

Everything here is a contract: an adapter author should learn from this module alone what each
method must do, which rows it may hand out, and when a lease expires.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import attrs

from regua.errors import (
    OutcomeUnknown,
    PermanentFailure,
    TemporaryFailure,
    Throttled,
    UnknownContactError,
)
from regua.records import Contact, Delivery, DueAction, Event, Snapshot
from regua.sharding import Shard

if TYPE_CHECKING:
    from regua.erasure import ErasureReport, Keep

LeaseClock = Literal["caller", "database"]
"""Whose clock a repository's leases and claims expire by (`SchedulerStore.lease_clock`)."""

__all__ = [
    "DIRTY",
    "AddressSuppression",
    "AsyncSender",
    "Backlog",
    "BaseRepository",
    "BulkLoading",
    "Claim",
    "ContactErasure",
    "ContactError",
    "ContactStore",
    "DeadLetterRedrive",
    "FoldStorage",
    "LeaseClock",
    "Message",
    "OutcomeUnknown",
    "PermanentFailure",
    "Repository",
    "SchedulerStore",
    "Sender",
    "TemporaryFailure",
    "Throttled",
    "UnknownContactError",
    "Wakeup",
    "history_order",
]

DIRTY = datetime(1970, 1, 1, tzinfo=timezone.utc)
"""The wake-up time of a contact that must be evaluated as soon as possible.

Repositories set it when the application changes a contact (a new event, consent, data), so
that no clock is needed to say "now".
"""


@attrs.frozen(slots=True)
class Message:
    """What a `Sender` receives: one message for one contact on one channel.

    Attributes:
        channel: The channel to deliver on (a fallback channel on a later attempt).
        address: The contact's address on that channel.
        message: The template key (the step's `message`).
        payload: Data for the template.
        contact: The contact, for personalisation (name, language...).
        cadence: Cadence name.
        step: Step name.
        occurrence_key: The occurrence being delivered.
        idempotency_key: Pass it to the provider (as an ``Idempotency-Key`` header, a
            ``Message-ID``...) so that a retried delivery is recognised as the same one. A
            sender that deduplicates by it makes delivery exactly-once in effect.
        attempt: 1 for the first attempt on this channel, then 2, 3...
        kind: The channel's kind: ``message`` (to the customer) or ``task`` (for a human).
        variant: The experiment variant assigned to the contact, for the template to pick its
            copy by; None when the step is not part of an experiment.
        transactional: Whether the message is not marketing: a transactional step (an order
            confirmation, a password reset) or a service one (a delivery window), both sent
            without marketing consent. A sender leaves marketing-only parts out of such a
            message, such as the e-mail sender's ``List-Unsubscribe`` headers.

    """

    channel: str
    address: str
    message: str
    payload: dict[str, object]
    contact: Contact
    cadence: str
    step: str
    occurrence_key: str
    idempotency_key: str
    attempt: int = 1
    kind: str = "message"
    variant: str | None = None
    transactional: bool = False


@runtime_checkable
class Sender(Protocol):
    """Delivers messages on one channel (e-mail, SMS, a webhook, a CRM task...).

    `Scheduler` calls it one message at a time, on a send thread of its own so that a send
    that hangs can be abandoned after the scheduler's `send_timeout` (on the tick's thread
    with ``send_timeout=None``); `AsyncScheduler` calls it from a pool of threads, several
    messages at once. A sender must therefore be thread-safe (every shipped sender is).

    A sender that does no I/O and cannot hang (an in-memory outbox) may say so with a class
    attribute ``in_process = True``: `Scheduler` then calls it on the tick's own thread,
    sparing the thread handoff (about 40 µs a send: ``benchmarks/send_thread.py``).
    `regua.OutboxSender` does.
    """

    def send(self, message: Message) -> str | None:
        """Deliver `message`; return the provider's message id, if any.

        Returning normally means the provider accepted the message: the occurrence is
        recorded as sent. Raise `TemporaryFailure` when it may work later and
        `PermanentFailure` when it never will on this channel. Any other exception is
        treated as a temporary failure (and its text recorded, redacted), so a bug is
        retried a bounded number of times, never silently dropped.

        The same message may come again with the same `Message.idempotency_key` (a worker
        died, or a send timed out, before its outcome was recorded). A sender that
        deduplicates answers a key its provider already accepted with that success; it
        raises `PermanentFailure` only for a message that was not delivered, since the
        scheduler then moves on to the step's next channel.
        """
        ...


@runtime_checkable
class AsyncSender(Protocol):
    """A `Sender` for asyncio: its `send` is a coroutine function (``async def``).

    Used by `regua.AsyncScheduler`, which runs many of them at once (up to its
    `concurrency`): an implementation must allow concurrent calls (an `httpx.AsyncClient`
    does). The outcomes mean what they mean for a `Sender`.
    """

    async def send(self, message: Message) -> str | None:
        """Deliver `message`; return the provider's message id, if any.

        Return normally when the provider accepted the message; raise `TemporaryFailure`
        when it may work later and `PermanentFailure` when it never will on this channel.
        Any other exception counts as a temporary failure. Cancellation
        (`asyncio.CancelledError`) is not a failure: the claim stays and expires, and the
        occurrence is sent again later, with the same idempotency key.
        """
        ...


@attrs.frozen(slots=True)
class Backlog:
    """How much work is waiting: contacts due at an instant (see `Repository.backlog`).

    Attributes:
        due: Contacts whose wake-up is at or before the instant, leased or not, changed
            ones included.
        changed: Of those, the contacts changed by the application and waiting for a first
            evaluation (wake-up `DIRTY`): they have no due time of their own.
        oldest: The earliest wake-up among the other due contacts (the longest-waiting
            scheduled work), or None when there is none.

    """

    due: int
    changed: int
    oldest: datetime | None


@attrs.frozen(slots=True)
class Claim:
    """A worker's lease on one occurrence, and its retry state.

    Attributes:
        occurrence_key: The occurrence.
        contact_id: Its contact.
        worker: Who holds the lease.
        until: The lease expires *after* this instant: at `until` it is still held, a
            moment later anyone may take it.
        attempts: Failed attempts so far on the current channel.
        channel_index: Index into the due action's channels (0: the first choice).
        last_error: The last failure's text, if any.
        sending: An attempt on `channel_index` may be under way. Every granted claim has it;
            the scheduler defers a claim with it cleared after an attempt that failed (its
            outcome is known), and with it kept when it moves to a fallback channel before
            sending there, or after an attempt of unknown outcome (a send timed out).
        unsettled: An attempt on `channel_index` may have been delivered without its
            outcome being recorded: the claim was taken over after expiring while
            `sending`, or a send there timed out. Sticky while the claim stays on that
            channel, until an outcome is recorded. The scheduler then tries no other channel
            until this one answers: a retry on the same channel carries the same idempotency
            key, which a deduplicating provider ignores, whereas another channel would
            deliver a second message. A `PermanentFailure` on that retry settles it (a
            provider that deduplicates answers a key it accepted with that success, never
            with a refusal): the occurrence then moves on to its fallback channel.
        channel: The name of the channel at `channel_index`: the action's first channel for
            a new claim, the one the scheduler stored since (None for a claim stored before
            names were kept).
            A step's channels are chosen anew at every plan (a preference or an address
            changed), so the scheduler resumes by this name, not by the index alone: an
            unsettled claim whose channel is no longer among them is never moved to another.

    """

    occurrence_key: str
    contact_id: str
    worker: str
    until: datetime
    attempts: int = 0
    channel_index: int = 0
    last_error: str | None = None
    sending: bool = False
    unsettled: bool = False
    channel: str | None = None

    @classmethod
    def granted(
        cls, action: DueAction, worker: str, until: datetime, held: Claim | None = None
    ) -> Claim:
        """The claim `SchedulerStore.claim` grants on `action`'s occurrence until `until`.

        A new claim starts on the action's first channel with fresh retry state; one that
        takes over an expired claim `held` keeps its retry state and channel, and is
        `unsettled` if that one was unsettled or still `sending`. Either is `sending`.
        """
        return cls(
            occurrence_key=action.occurrence_key,
            contact_id=action.contact_id,
            worker=worker,
            until=until,
            attempts=held.attempts if held else 0,
            channel_index=held.channel_index if held else 0,
            last_error=held.last_error if held else None,
            sending=True,
            unsettled=held is not None and (held.unsettled or held.sending),
            channel=held.channel if held else action.channel,
        )


@attrs.frozen(slots=True)
class Wakeup:
    """The next instant a contact must be evaluated, as computed from snapshot `version`.

    `at` None means "never, unless something changes".
    """

    contact_id: str
    at: datetime | None
    version: int


@attrs.frozen(slots=True)
class ContactError:
    """An error raised while evaluating one contact, recorded against that contact."""

    contact_id: str
    at: datetime
    error: str


@runtime_checkable
class ContactStore(Protocol):
    """What the application calls: its contacts, their events, consent and engagement.

    The contract:

    - every change to a contact (`upsert_contact`, `record_event`, `set_consent`,
      `record_engagement`) increments the contact's *version* and sets its wake-up to
      `DIRTY`, so that the scheduler evaluates it on its next tick;
    - `record_event` is idempotent per (contact, name, id): a replayed event feed stores
      nothing twice;
    - a call about an unknown contact raises `UnknownContactError` (`record_engagement`, of an
      unknown delivery: a `NotFoundError`); a read of one returns None or leaves it out;
    - every datetime passed in and returned is timezone-aware (UTC);
    - safe to use from several threads (database-backed adapters: several processes).
    """

    def upsert_contact(self, contact: Contact) -> None:
        """Insert or replace a contact (its events and deliveries are kept); wake it."""
        ...

    def get_contact(self, contact_id: str) -> Contact | None:
        """The contact, or None."""
        ...

    def get_contacts(self, contact_ids: Sequence[str]) -> dict[str, Contact]:
        """The stored contacts among `contact_ids`, by id (missing ones are left out).

        One batch, answered with a bounded number of statements, for the application. (The
        scheduler reads the contacts it is about to send to with ``get_versioned_contacts``,
        or `load_snapshots`: see the class.)
        """
        ...

    def record_event(self, event: Event) -> bool:
        """Store an event and wake its contact.

        Returns False, storing nothing, when the contact already has an event with this
        `name` and `id` (so that at-least-once event feeds are safe to replay). One id may
        serve several names: an order placed, shipped and delivered are three events. Raises
        `UnknownContactError` when the contact does not exist.
        """
        ...

    def set_consent(self, contact_id: str, channel: str, granted: bool) -> None:
        """Grant or revoke the contact's marketing consent on `channel`; wake it.

        Raises `UnknownContactError` when the contact does not exist.
        """
        ...

    def record_engagement(self, occurrence_key: str, kind: str, at: datetime) -> Event:
        """Record an open or click (`OPENED`/`CLICKED`) of a sent delivery; wake its contact.

        The engagement is stored as an event with ``ref=occurrence_key`` and returned.
        Raises `~regua.errors.NotFoundError` (a `KeyError`) when no delivery has this key,
        and `~regua.errors.InvalidArgumentError` for another `kind`.
        """
        ...

    def history(self, contact_id: str) -> list[Event | Delivery]:
        """Every event and delivery of the contact, oldest first.

        Events come before deliveries at the same instant. This is what an agent answering
        the customer needs to see. Raises `UnknownContactError` when the contact does not
        exist.
        """
        ...

    def failed_deliveries(self, limit: int = 100) -> list[Delivery]:
        """The dead letters: deliveries recorded as failed, most recent first."""
        ...

    def contact_ids(self, after: str | None = None, limit: int = 1000) -> list[str]:
        """Up to `limit` contact ids, in ascending order, all greater than `after`.

        Pages through the whole base (``after`` = the last id of the previous page), for
        reports and exports: with no contact added meanwhile, the pages hold every contact
        exactly once. The order is the adapter's own (a database's collation), but it must be
        the one its ``>`` compares by.
        """
        ...

    def errors(self, contact_id: str | None = None) -> list[ContactError]:
        """Errors recorded while evaluating contacts (one contact's, or all), oldest first."""
        ...


@runtime_checkable
class SchedulerStore(Protocol):
    """What the scheduler calls: due contacts, snapshots, claims, outcomes and wake-ups.

    The contract:

    - every method takes a batch and answers with a bounded number of statements (a database
      adapter), whatever the batch size;
    - due contacts are found through an index on the wake-up time (and the shard bucket):
      never a scan of every contact;
    - a contact is leased to one worker at a time (`acquire_due`), an occurrence claimed by
      one worker at a time (`claim`), and an outcome recorded once (`record`): the first wins;
    - leases and claims expire by the clock `lease_clock` names: the ``now`` each call is
      given (``"caller"``), or the database server's (``"database"``: a worker's clock
      cannot then end another's lease early);
    - a stored row that cannot be decoded fails that contact (`Snapshot.unreadable`), never
      the call;
    - every datetime passed in and returned is timezone-aware (UTC).
    """

    @property
    def lease_clock(self) -> LeaseClock:
        """Whose clock leases and claims expire by: ``"caller"`` or ``"database"``."""
        ...

    def get_versioned_contacts(self, contact_ids: Sequence[str]) -> dict[str, tuple[Contact, int]]:
        """The stored contacts among `contact_ids` with their current versions, by id.

        One batch, with a bounded number of statements. The scheduler reads the contacts of
        the occurrences it has just claimed through it, to check consent and addresses again
        and to plan again, before sending, each contact that changed since it was planned
        (an order placed meanwhile cancels the cart reminder). `BaseRepository` derives it
        from `load_snapshots`, which costs the contacts' whole histories.
        """
        ...

    def acquire_due(
        self,
        worker: str,
        now: datetime,
        limit: int,
        lease: timedelta,
        *,
        shard: Shard | None = None,
    ) -> list[Snapshot]:
        """Lease up to `limit` contacts whose wake-up is at or before `now` and load them.

        Only contacts not leased by another worker (or whose lease ended before `now`) may
        be handed out; each is leased to `worker` until ``now + lease``. Earliest wake-ups
        first. Each snapshot carries the contact's current version, and in `Snapshot.claimed`
        the keys of the contact's occurrences that have a claim (held, deferred or expired)
        and no recorded outcome. A contact whose stored row cannot be decoded must not fail
        the call: its snapshot carries the reason in `Snapshot.unreadable` (and no data),
        which the scheduler records as that contact's error. Must use an index on the
        wake-up time where one can exist: never a scan of every contact.

        With `shard`, only the contacts of that shard are considered (`Shard.holds`: the
        contact's stable bucket lies in the shard's range); the index must then cover the
        bucket too, so that other shards' due contacts cost no row reads. Ties between equal
        wake-ups may then come in another order than without a shard.
        """
        ...

    def due_contact_ids(
        self, now: datetime, limit: int, *, shard: Shard | None = None
    ) -> list[str]:
        """Ids of up to `limit` contacts (of `shard`, if given) whose wake-up is at or before `now`.

        Earliest first, leased or not, and without leasing them (for previews). Uses the
        wake-up index.
        """
        ...

    def next_wakeup(self, *, shard: Shard | None = None) -> datetime | None:
        """The earliest wake-up of any contact (of `shard`, if given), leased or not.

        None when none has one. Lets a worker or a simulation sleep until something is due.
        `DIRTY` when a contact changed and waits for evaluation.
        """
        ...

    def backlog(self, now: datetime) -> Backlog:
        """How many contacts are due at `now`, how many of them changed, and the oldest due.

        Counts contacts whose wake-up is at or before `now`, leased or not; those whose
        wake-up is `DIRTY` are counted in `Backlog.changed` too and left out of
        `Backlog.oldest`. For health checks: it must be cheap, one query answered from the
        wake-up index, costing what is due rather than the size of the base.
        """
        ...

    def load_snapshots(self, contact_ids: Sequence[str]) -> dict[str, Snapshot]:
        """Snapshots of these contacts (missing ones are left out), without leasing them.

        Like `acquire_due`'s, each snapshot carries the contact's current version and, in
        `Snapshot.claimed`, the keys of its claimed occurrences with no recorded outcome.
        """
        ...

    def claim(
        self, actions: Sequence[DueAction], worker: str, now: datetime, lease: timedelta
    ) -> dict[str, Claim]:
        """Atomically claim the occurrences of `actions`; return the claims granted, by key.

        An occurrence is granted when no delivery is recorded for it and it has no claim,
        or its claim's `until` is before `now` (expired). A live claim is refused to every
        worker, its holder included: a claim deferred for a retry must not be retried before
        its `until`. A granted claim keeps the retry state (`attempts`, `channel_index`,
        `last_error`) of an expired one and is held until ``now + lease``. Two workers can
        never both be granted the same occurrence at once.

        A granted claim is `sending`. It is `unsettled` when the expired claim it takes over
        was unsettled or still `sending` (its holder may have sent without recording). A new
        claim's `channel` is the name of the action's first channel; a claim taken over
        keeps its own.
        """
        ...

    def record(self, deliveries: Sequence[Delivery]) -> None:
        """Record outcomes and drop their claims.

        The first outcome recorded for an occurrence key wins; recording it again is a
        no-op. Every field reads back as written, `Delivery.collected` (a digest's event
        ids, in order) included. The contacts are not woken (the scheduler sets their
        wake-up itself).
        """
        ...

    def defer(self, claims: Sequence[Claim]) -> None:
        """Store the retry state of claims after a temporary failure.

        Each claim is held by its worker until its `until` (the next attempt's time), so no
        other worker retries it earlier. Its `sending` is stored as given. `unsettled` stays
        set once set while `channel_index` stays the same, whatever the claim says; a claim
        deferred onto another channel stores it as given (the scheduler moves a claim only
        once the channel it was unsettled on has answered).
        """
        ...

    def set_wakeups(self, wakeups: Sequence[Wakeup]) -> None:
        """Store each contact's next wake-up and end the worker's lease on it.

        A wake-up computed from an older version than the contact's current one must not
        hide the change: the contact then keeps (or gets) a wake-up no later than `DIRTY`'s
        meaning, i.e. it stays due.
        """
        ...

    def record_errors(self, errors: Sequence[ContactError]) -> None:
        """Record errors raised while evaluating contacts."""
        ...


@runtime_checkable
class Repository(ContactStore, SchedulerStore, Protocol):
    """Stores contacts, their events and deliveries, claims on occurrences and wake-ups.

    The application uses its `ContactStore` side, the scheduler its `SchedulerStore` side;
    one adapter serves both, and each side's contract is listed there. Subclass
    `BaseRepository` to get the methods that follow from others (`get_contact`,
    `get_versioned_contacts`, `history`, `lease_clock`) and write the rest.

    Optional capabilities, each a protocol of its own, used when the adapter has them:
    `BulkLoading` (`bulk_load`: a base loaded at once), `FoldStorage` (`store_folds`: folded
    histories that `acquire_due` reads instead of whole ones), `AddressSuppression`
    (`suppress_address`: a hard bounce removes the address), `DeadLetterRedrive`
    (`redrive`: dead letters reopened after a fix) and `ContactErasure` (`erase_contact`:
    the right to erasure). `regua.testing.contracts.RepositoryContract` proves an adapter,
    each capability included when it has it.
    """


@runtime_checkable
class BulkLoading(Protocol):
    """A repository that loads a base at once (a first import, a migration)."""

    def bulk_load(
        self,
        contacts: Iterable[Contact] = (),
        events: Iterable[Event] = (),
        deliveries: Iterable[Delivery] = (),
    ) -> int:
        """Store these contacts, events and deliveries in batches; how many records were stored.

        The same outcome as `ContactStore.upsert_contact` for each contact, then
        `ContactStore.record_event` for each event and `SchedulerStore.record` for the
        deliveries: every loaded contact is due.
        """
        ...


@runtime_checkable
class FoldStorage(Protocol):
    """A repository that keeps folded histories (`regua.fold`) for `acquire_due` to read."""

    def store_folds(self, snapshots: Sequence[Snapshot]) -> None:
        """Keep each folded snapshot as its contact's fold.

        A fold replaces the stored one unless that one covers more of the history; a
        snapshot that is not folded, has no `Snapshot.position`, or whose contact is gone
        or changed since it was read (another `Snapshot.version`) is ignored. `acquire_due`
        then returns the fold and the records stored after it instead of the whole history.
        """
        ...


@runtime_checkable
class AddressSuppression(Protocol):
    """A repository that drops an address a provider refused for good (a hard bounce)."""

    def suppress_address(self, contact_id: str, channel: str, address: str) -> bool:
        """Remove the contact's address on `channel` if it is still `address`; wake it.

        Returns whether it was removed (False: the contact is gone, or has another address
        there now, which the bounce does not concern). Used for `PermanentFailure.suppress`.
        """
        ...


@runtime_checkable
class DeadLetterRedrive(Protocol):
    """A repository that reopens dead letters after a fix (`regua redrive`)."""

    def redrive(self, occurrence_keys: Sequence[str]) -> list[Delivery]:
        """Remove the `FAILED` outcomes of these keys and mark their contacts changed.

        Only failed outcomes (and none of an erased contact's) are removed; the next tick
        plans each reopened occurrence again. Returns the deliveries removed.
        """
        ...


@runtime_checkable
class ContactErasure(Protocol):
    """A repository that erases a contact (the right to erasure; `regua erase`)."""

    def erase_contact(
        self,
        contact_id: str,
        *,
        keep: Keep = "pseudonymous",
        key: str | bytes | None = None,
        dry_run: bool = False,
    ) -> ErasureReport:
        """Erase the contact atomically: its data, events, claims, errors and fold.

        Its deliveries are removed with ``keep="nothing"``, or kept in their pseudonymous
        form (`regua.erasure`) under the id of a contact with no data that is never due. An
        id with nothing stored is a no-op, and writes a worker makes afterwards for the
        erased id (an outcome, a claim, a wake-up) neither fail nor bring the contact back.
        """
        ...


class BaseRepository:
    """A base for a custom repository: what follows from the other methods, derived.

    Subclass it and write the `Repository` methods it lacks. It derives `get_contact` from
    `get_contacts`, `get_versioned_contacts` and `history` from `load_snapshots`, and sets
    `lease_clock` to ``"caller"``; override any of them where the store answers better (a
    version read without the history, say).
    """

    lease_clock: LeaseClock = "caller"
    """Leases and claims expire by the ``now`` each call is given."""

    def get_contact(self, contact_id: str) -> Contact | None:
        """The contact, or None: `get_contacts` of one id."""
        return self.get_contacts([contact_id]).get(contact_id)

    def get_contacts(self, contact_ids: Sequence[str]) -> dict[str, Contact]:
        """The stored contacts among `contact_ids`; written by the subclass."""
        raise NotImplementedError

    def load_snapshots(self, contact_ids: Sequence[str]) -> dict[str, Snapshot]:
        """Snapshots of these contacts; written by the subclass."""
        raise NotImplementedError

    def get_versioned_contacts(self, contact_ids: Sequence[str]) -> dict[str, tuple[Contact, int]]:
        """The stored, readable contacts among `contact_ids` with their versions.

        Read with `load_snapshots`, which costs their whole histories.
        """
        if not contact_ids:
            return {}
        snapshots = self.load_snapshots(contact_ids).items()
        return {cid: (s.contact, s.version) for cid, s in snapshots if s.unreadable is None}

    def history(self, contact_id: str) -> list[Event | Delivery]:
        """Every event and delivery of the contact, oldest first, events first at a tie.

        Raises `UnknownContactError` when the contact does not exist.
        """
        snapshot = self.load_snapshots([contact_id]).get(contact_id)
        if snapshot is None:
            raise UnknownContactError(f"no contact {contact_id!r}")
        return history_order(snapshot.events, snapshot.deliveries)


def history_order(
    events: Iterable[Event], deliveries: Iterable[Delivery]
) -> list[Event | Delivery]:
    """Events and deliveries in the order `ContactStore.history` returns them.

    Oldest first, events before deliveries at the same instant, in their given order
    otherwise.
    """
    records: list[tuple[datetime, int, Event | Delivery]] = [(e.at, 0, e) for e in events]
    records += [(d.at, 1, d) for d in deliveries]
    records.sort(key=lambda r: (r[0], r[1]))
    return [record for _, _, record in records]
