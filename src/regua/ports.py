"""Ports: the interfaces between the scheduler and the application's storage and channels.

A `Repository` stores contacts, events, deliveries, claims and wake-up times; a `Sender`
delivers one message on one channel. regua ships reference adapters (`InMemoryRepository`,
`SQLRepository`, `OutboxSender`...), and `regua.testing.contracts` holds test suites that a
custom adapter subclasses to prove it honours the contract below.

Everything here is a contract: an adapter author should learn from this module alone what each
method must do, which rows it may hand out, and when a lease expires.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Literal, Protocol, runtime_checkable

import attrs

from regua.errors import ReguaError
from regua.records import Contact, Delivery, DueAction, Event, Snapshot
from regua.sharding import Shard

__all__ = [
    "DIRTY",
    "AsyncSender",
    "Backlog",
    "Claim",
    "ContactError",
    "Message",
    "OutcomeUnknown",
    "PermanentFailure",
    "Repository",
    "Sender",
    "TemporaryFailure",
    "Throttled",
    "UnknownContactError",
    "Wakeup",
]

DIRTY = datetime(1970, 1, 1, tzinfo=timezone.utc)
"""The wake-up time of a contact that must be evaluated as soon as possible.

Repositories set it when the application changes a contact (a new event, consent, data), so
that no clock is needed to say "now".
"""


class TemporaryFailure(ReguaError):
    """Raised by a sender when delivery may succeed later ("try again later").

    For example a timeout, a 4xx SMTP reply, a 429 or 5xx HTTP status, a lost connection. The
    scheduler retries with exponential backoff and jitter up to its retry limit, then
    falls back to the next channel. `retry_after` (if the provider said so) is a lower bound
    for the next attempt.
    """

    def __init__(self, message: str, *, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OutcomeUnknown(TemporaryFailure):
    """Raised by a sender when the provider may have accepted the message after all.

    For example a timeout waiting for the answer, or a connection dropped after the request
    was written: nobody knows whether it was delivered. The scheduler retries on this
    channel only, with the same idempotency key, and moves the occurrence to no other
    channel until this one answers (a success: it was, or now is, delivered; a
    `PermanentFailure`: it was not). Raise plain `TemporaryFailure` when the message
    certainly did not reach the provider (the connection was refused).
    """


class Throttled(TemporaryFailure):
    """Raised by a sender that did not try: a rate limit has no room for the message yet.

    The provider never saw it, so it is not an attempt: the scheduler defers the occurrence
    on the same channel until `retry_after` (or its backoff, without one) and counts it
    toward neither `RetryPolicy.max_attempts` nor a move to the next channel. A provider's
    own 429 is a `TemporaryFailure` (the request was made); this is for a limit kept on the
    sending side (`regua.senders.RateLimited`, `SharedRateLimited`).
    """


class PermanentFailure(ReguaError):
    """Raised by a sender when delivery will never succeed as asked ("this will never work").

    For example an invalid address, a rejected recipient, a 4xx HTTP status other than 429, a
    template the provider refuses. The scheduler does not retry on this channel; it falls back
    to the next channel at once, and records the occurrence as failed when none is left.

    `suppress` says the failure is about the contact, not this message, so that later
    messages do not repeat it:

    - ``"address"``: the address does not exist (a hard bounce, SMTP ``5.1.1``). The
      scheduler removes it from the contact (`Repository.suppress_address`, when the
      repository has it), if it is still the address that failed: the channel is not used
      again until the application gives a new one.
    - ``"consent"``: the recipient complained (marked the message as spam) or asked to
      stop: the scheduler withdraws the contact's marketing consent on the channel
      (`Repository.set_consent`).
    """

    def __init__(
        self, message: str, *, suppress: Literal["address", "consent"] | None = None
    ) -> None:
        super().__init__(message)
        if suppress not in (None, "address", "consent"):
            raise ValueError(f"suppress must be 'address', 'consent' or None, not {suppress!r}")
        self.suppress = suppress


class UnknownContactError(ReguaError, KeyError):
    """An operation names a contact the repository does not hold."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown contact"


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
class Repository(Protocol):
    """Stores contacts, their events and deliveries, claims on occurrences and wake-ups.

    Application side: `upsert_contact`, `get_contact`, `get_contacts`, `record_event`,
    `set_consent`, `record_engagement`, `history`, `failed_deliveries`, `contact_ids`,
    `errors`. Every change to a contact (its data, consent, a new event or engagement)
    increments the contact's *version* and sets its wake-up to `DIRTY`, so that the scheduler
    evaluates it on its next tick.

    Scheduler side: `acquire_due`, `due_contact_ids`, `next_wakeup`, `backlog`,
    `load_snapshots`, `claim`, `record`, `defer`, `set_wakeups`, `record_errors`. These take
    batches: an adapter backed by a database must answer each call with a bounded number of
    statements, whatever the batch size.

    Optional, used when present: ``get_versioned_contacts(contact_ids) -> dict[str,
    tuple[Contact, int]]``, the stored contacts among `contact_ids` with their current
    versions, in one batch (bounded statements). The scheduler reads the contacts of the
    occurrences it has just claimed through it, to check consent and addresses again and to
    plan again, before sending, each contact that changed since it was planned (an order
    placed meanwhile cancels the cart reminder). Without it, the scheduler reads them with
    `load_snapshots`, which costs their whole history. ``store_folds(snapshots)`` keeps
    folded histories (`regua.fold`) that `acquire_due` then reads instead of whole ones.
    ``suppress_address(contact_id, channel, address) -> bool`` removes a contact's address
    on a channel if it is still `address` (a hard bounce, `PermanentFailure.suppress`).
    ``redrive(occurrence_keys) -> list[Delivery]`` reopens dead letters after a fix: it
    removes their `FAILED` outcomes (and only those) and marks their contacts changed, so
    that the next tick plans them again (`regua redrive` and `regua.testing.contracts`
    use it when present); it leaves the outcomes of erased contacts alone.
    ``erase_contact(contact_id, *, keep="pseudonymous", key=None, dry_run=False) ->
    regua.erasure.ErasureReport`` erases a contact (the right to erasure), atomically: the
    contact, its events, claims, errors and fold, and its deliveries, removed with
    ``keep="nothing"`` or kept in their pseudonymous form (`regua.erasure`) under the id of
    a contact with no data that is never due. An id with nothing stored is a no-op, and
    writes a worker makes afterwards for the erased id (an outcome, a claim, a wake-up)
    must neither fail nor bring the contact back (`regua erase` and
    `regua.testing.contracts` use it when present).

    Every datetime passed in and returned is timezone-aware (UTC). Implementations must be
    safe to use from several threads; database-backed ones, from several processes.
    """

    # --- application side ------------------------------------------------------------------

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
        Raises `KeyError` when no delivery has this key.
        """
        ...

    def history(self, contact_id: str) -> list[Event | Delivery]:
        """Every event and delivery of the contact, oldest first.

        Events come before deliveries at the same instant. This is what an agent answering
        the customer needs to see.
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

    # --- scheduler side ----------------------------------------------------------------------

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
