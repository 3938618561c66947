"""One tick, written once without I/O, for `Scheduler` and `AsyncScheduler` alike.

A tick is a generator that *yields requests* and receives their results: `Store` (call the
repository), `Send` (hand a message to a sender) and `SendAll` (dispatch several claimed
occurrences, each a generator of its own). Everything else, the planning, the claims'
bookkeeping, retries and fallbacks, the records of each outcome, is here, once.

`Scheduler` runs the requests in order on its thread (`run_steps`); `AsyncScheduler` runs
the repository calls in a thread and the dispatches of a `SendAll` concurrently. Both
therefore have the same semantics by construction: the same claims, the same fallback moves
stored before sending, the same retry delays, the same records. The exception a sender raises
is thrown back into the generator at the `Send` it answered.

This module is internal: its names may change without notice.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from datetime import datetime
from operator import methodcaller
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from regua.definitions.cadence import Cadence
from regua.metrics import Metrics
from regua.planning.planner import next_wakeup, plan, settled, settled_once_sent
from regua.ports import (
    Claim,
    ContactError,
    Message,
    PermanentFailure,
    Repository,
    TemporaryFailure,
    Wakeup,
)
from regua.records import Contact, Delivery, DeliveryStatus, DueAction, Snapshot, idempotency_key
from regua.sharding import Shard

if TYPE_CHECKING:
    from datetime import timedelta

    from regua.planning.occurrences import Plan
    from regua.scheduler import RetryPolicy

log = logging.getLogger("regua.scheduler")

_T = TypeVar("_T")

_MAX_ROUNDS = 8  # re-plans per contact per tick: the depth of after_step chains firing at once


# --- requests ------------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Store:
    """Call the repository: the driver answers with ``call(repository)``."""

    call: Callable[[Repository], Any]


@attrs.frozen(slots=True)
class Send:
    """Hand `message` to `sender`: the driver answers with its result or throws its error."""

    sender: object
    message: Message


@attrs.frozen(slots=True)
class SendAll:
    """Run each dispatch (in any order, or at once): the driver answers with their results."""

    dispatches: Sequence[Generator[Request, Any, Delivery | Claim]]


def _store(method: str, *args: object, **kwargs: object) -> Store:
    """A request to call ``repository.<method>(*args, **kwargs)``."""
    return Store(methodcaller(method, *args, **kwargs))


Request = Store | Send | SendAll
"""What a tick asks its driver to do."""

Steps = Generator[Request, Any, _T]
"""A piece of a tick: yields requests, receives their answers, returns a `_T`."""


@attrs.frozen(slots=True)
class Done:
    """What `resume` returns when the steps are over: their return value."""

    value: Any


def resume(steps: Steps[Any], answer: object, error: Exception | None) -> Request | Done:
    """Answer the last request of `steps` (or throw `error` into it); the next request."""
    try:
        return steps.send(answer) if error is None else steps.throw(error)
    except StopIteration as stop:
        return Done(stop.value)


def run_steps(steps: Steps[_T], repository: Repository) -> _T:
    """Run `steps` in order on this thread: the synchronous driver."""
    answer: Any = None
    error: Exception | None = None
    while not isinstance(request := resume(steps, answer, error), Done):
        answer, error = None, None
        if isinstance(request, Store):
            answer = request.call(repository)
        elif isinstance(request, Send):
            try:
                answer = request.sender.send(request.message)  # type: ignore[attr-defined]
            except Exception as exc:  # thrown back: the dispatch decides what it means
                error = exc
        else:
            answer = [run_steps(dispatch, repository) for dispatch in request.dispatches]
    result: _T = request.value
    return result


# --- the tally of a tick -------------------------------------------------------------------------


@attrs.define(slots=True)
class Tally:
    """What a tick did so far; `Scheduler` turns it into a `TickReport`."""

    evaluated: int = 0
    due: int = 0
    sent: list[Delivery] = attrs.field(factory=list)
    deferred: list[Claim] = attrs.field(factory=list)
    failed: list[Delivery] = attrs.field(factory=list)
    skipped: list[Delivery] = attrs.field(factory=list)
    errors: dict[str, str] = attrs.field(factory=dict)

    def add(self, delivery: Delivery) -> None:
        """Count a recorded outcome under its status."""
        if delivery.status is DeliveryStatus.SENT:
            self.sent.append(delivery)
        elif delivery.status is DeliveryStatus.FAILED:
            self.failed.append(delivery)
        else:
            self.skipped.append(delivery)


# --- the tick ------------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class TickPlan:
    """What one scheduler does in a tick: its configuration, and the tick as `steps`."""

    cadences: tuple[Cadence, ...]
    senders: Mapping[str, object]
    worker: str
    batch_size: int
    claim_batch_size: int
    lease: timedelta
    retry: RetryPolicy
    metrics: Metrics
    kinds: Mapping[str, str]
    shard: Shard | None = None

    @property
    def sharded(self) -> dict[str, Shard]:
        """The ``shard=`` keyword for the repository's due-contact queries.

        Empty without a shard, so that a repository written before shards existed still
        works for an unsharded scheduler.
        """
        return {} if self.shard is None else {"shard": self.shard}

    def steps(self, now: datetime) -> Steps[Tally]:
        """Evaluate every due contact (of `shard`, when there is one) once: claim, send, record."""
        tally = Tally()
        seen: set[str] = set()
        sharded = self.sharded
        while True:
            acquired: list[Snapshot] = yield _store(
                "acquire_due", self.worker, now, self.batch_size, self.lease, **sharded
            )
            fresh = [s for s in acquired if s.contact.id not in seen]
            if not fresh:
                break
            seen.update(s.contact.id for s in fresh)
            yield from self._process(fresh, now, tally)
            if len(acquired) < self.batch_size:
                break
        return tally

    def evaluate(self, snapshots: Sequence[Snapshot], now: datetime) -> Steps[Tally]:
        """Evaluate these contacts, due or not, as `steps` evaluates due ones."""
        tally = Tally()
        if snapshots:
            yield from self._process(list(snapshots), now, tally)
        return tally

    def _process(self, snapshots: Sequence[Snapshot], now: datetime, tally: Tally) -> Steps[None]:
        pending = list(snapshots)
        wakeups: dict[str, Wakeup] = {}
        # Retry times of deferred claims, kept across rounds: a contact re-planned in a later
        # round sees its deferred occurrence as claimed (refused), which says nothing of when
        # the retry is due.
        retries: dict[str, datetime] = {}
        for _ in range(_MAX_ROUNDS):
            if not pending:
                break
            pending = yield from self._round(pending, now, tally, wakeups, retries)
        for snapshot in pending:  # still changing after every round: come back at once
            wakeups[snapshot.contact.id] = Wakeup(snapshot.contact.id, now, snapshot.version)
        for contact_id, retry_at in retries.items():
            wakeup = wakeups.get(contact_id)
            if wakeup is not None and (wakeup.at is None or retry_at < wakeup.at):
                wakeups[contact_id] = attrs.evolve(wakeup, at=retry_at)
        yield _store("set_wakeups", list(wakeups.values()))

    def _round(
        self,
        snapshots: Sequence[Snapshot],
        now: datetime,
        tally: Tally,
        wakeups: dict[str, Wakeup],
        retries: dict[str, datetime],
    ) -> Steps[list[Snapshot]]:
        """Plan; claim, send and record the due actions a chunk at a time; what to re-plan."""
        closures: list[Delivery] = []
        due: list[DueAction] = []
        next_at: dict[str, datetime | None] = {}
        errors: list[ContactError] = []
        unsettled: set[str] = set()
        # The plans of contacts with due actions that need no second plan once all are sent.
        sendable: dict[str, list[Plan]] = {}
        for snapshot in snapshots:
            contact_id = snapshot.contact.id
            tally.evaluated += 1
            try:
                plans = [plan(cadence, snapshot, now) for cadence in self.cadences]
            except Exception as exc:
                log.warning(
                    "contact %r could not be evaluated: %s",
                    contact_id,
                    exc,
                    extra={"regua_worker": self.worker, "regua_outcome": "error"},
                )
                self.metrics.add("regua.contacts.errors", 1)
                tally.errors[contact_id] = f"{type(exc).__name__}: {exc}"
                errors.append(ContactError(contact_id, now, f"{type(exc).__name__}: {exc}"))
                # Bad data stays bad until the application changes the contact, which wakes it.
                wakeups[contact_id] = Wakeup(contact_id, None, snapshot.version)
                continue
            wakes = [p.next_wakeup for p in plans if p.next_wakeup is not None]
            next_at[contact_id] = min(wakes) if wakes else None
            for cadence, result in zip(self.cadences, plans, strict=True):
                if result.closed:
                    closures.extend(occurrence.as_delivery() for occurrence in result.closed)
                    if not settled(cadence, result):
                        unsettled.add(contact_id)
                due.extend(result.due)
            if (
                contact_id not in unsettled
                and any(p.due for p in plans)
                and all(settled_once_sent(c, p) for c, p in zip(self.cadences, plans, strict=True))
            ):
                sendable[contact_id] = plans
        self.metrics.add("regua.contacts.evaluated", len(snapshots))
        tally.due += len(due)
        if errors:
            yield _store("record_errors", errors)

        # Claims are taken a chunk at a time, each chunk sent and its outcomes recorded
        # before the next is claimed: on a repository whose leases run on its own clock, a
        # claim need only outlast sending its own chunk, however many contacts the batch holds.
        outcomes: list[Delivery] = []
        unrecorded = closures
        size = self.claim_batch_size
        for start in range(0, len(due), size):
            finished, deferred = yield from self._claim_and_send(
                due[start : start + size], now, next_at, retries
            )
            if deferred:
                yield _store("defer", deferred)
                tally.deferred.extend(deferred)
            yield from self._record([*unrecorded, *finished], tally)
            unrecorded = []
            outcomes.extend(finished)
        yield from self._record(unrecorded, tally)

        # Planning again with the occurrences a settled plan closed gives the same plan: only
        # the outcome of a dispatch, which no plan can know, or an unsettled plan calls for it;
        # and not even an outcome when the plan said it would change nothing else.
        replanned = unsettled.union(d.contact_id for d in outcomes)
        for contact_id in _all_sent_as_planned(sendable, outcomes):
            replanned.discard(contact_id)
            after = (next_wakeup(p.waiting, ()) for p in sendable[contact_id])
            next_at[contact_id] = min((at for at in after if at is not None), default=None)
        changed: dict[str, list[Delivery]] = {}
        for delivery in (*closures, *outcomes):
            if delivery.contact_id in replanned:
                changed.setdefault(delivery.contact_id, []).append(delivery)
        replan: list[Snapshot] = []
        for snapshot in snapshots:
            contact_id = snapshot.contact.id
            if contact_id in changed:
                replan.append(
                    attrs.evolve(snapshot, deliveries=(*snapshot.deliveries, *changed[contact_id]))
                )
            elif contact_id in next_at:
                wakeups[contact_id] = Wakeup(contact_id, next_at[contact_id], snapshot.version)
        return replan

    def _claim_and_send(
        self,
        due: Sequence[DueAction],
        now: datetime,
        next_at: dict[str, datetime | None],
        retries: dict[str, datetime],
    ) -> Steps[tuple[list[Delivery], list[Claim]]]:
        """Claim these actions, send the claimed ones; their outcomes and deferred claims."""
        claims: dict[str, Claim] = yield _store("claim", due, self.worker, now, self.lease)
        claimed = sorted({a.contact_id for a in due if a.occurrence_key in claims})
        # Consent and addresses are checked again on the contacts as they are now.
        current: dict[str, Contact] = yield Store(functools.partial(_contacts, ids=claimed))
        dispatched: list[DueAction] = []
        dispatches: list[Steps[Delivery | Claim]] = []
        for action in due:
            claim = claims.get(action.occurrence_key)
            if claim is None:
                # Another worker holds it; if that worker dies, its lease ends and this
                # contact must be looked at again then.
                _wake_no_later(next_at, action.contact_id, now + self.lease)
                continue
            latest = current.get(action.contact_id)
            if latest is None:  # the contact was deleted meanwhile
                continue
            dispatched.append(action)
            dispatches.append(self._dispatch(action, claim, latest, now))
        results: list[Delivery | Claim] = yield SendAll(dispatches)
        outcomes: list[Delivery] = []
        deferred: list[Claim] = []
        for action, outcome in zip(dispatched, results, strict=True):
            if isinstance(outcome, Claim):
                deferred.append(outcome)
                _wake_no_later(next_at, action.contact_id, outcome.until)
                previous = retries.get(action.contact_id)
                if previous is None or outcome.until < previous:
                    retries[action.contact_id] = outcome.until
            else:
                outcomes.append(outcome)
        return outcomes, deferred

    def _record(self, deliveries: list[Delivery], tally: Tally) -> Steps[None]:
        """Record these outcomes and closures, and count them."""
        if not deliveries:
            return
        yield _store("record", deliveries)
        for delivery in deliveries:
            tally.add(delivery)
            if delivery.status is not DeliveryStatus.SENT:  # sent ones were logged at once
                self._closed(delivery)

    def _dispatch(
        self, action: DueAction, claim: Claim, contact: Contact, now: datetime
    ) -> Steps[Delivery | Claim]:
        """Send one claimed action; return its outcome, or the claim to retry later."""
        channels = action.channels
        index, attempts = claim.channel_index, claim.attempts
        last_error = claim.last_error
        tried = attempts > 0 or index > 0
        # An unsettled claim may already have been delivered on its channel: retrying there
        # is harmless (same idempotency key); any other channel would be a second message.
        end = index + 1 if claim.unsettled else len(channels)
        while index < end:
            channel = channels[index]
            address = contact.addresses.get(channel)
            if not contact.can_receive(channel, transactional=action.transactional):
                last_error = f"{channel}: no consent or address at sending time"
                index, attempts = index + 1, 0
                continue
            sender = self.senders.get(channel)
            if sender is None:
                last_error = f"{channel}: no sender configured for this channel"
                tried = True
                index, attempts = index + 1, 0
                continue
            assert address is not None
            if index != claim.channel_index:
                # Moving on to a fallback channel: store that first, so that a worker taking
                # over after a crash resumes here instead of sending on the first channel too.
                claim = attrs.evolve(  # held until the granted lease ends, not later
                    claim,
                    attempts=attempts,
                    channel_index=index,
                    last_error=last_error,
                )
                yield _store("defer", [claim])
            message = Message(
                channel=channel,
                address=address,
                message=action.message,
                payload=action.payload,
                contact=contact,
                cadence=action.cadence,
                step=action.step,
                occurrence_key=action.occurrence_key,
                idempotency_key=action.idempotency_key,
                attempt=attempts + 1,
                kind=self.kinds.get(channel, "message"),
                variant=action.variant,
            )
            tried = True
            labels = {"cadence": action.cadence, "step": action.step, "channel": channel}
            started = time.perf_counter()
            try:
                yield Send(sender, message)
            except PermanentFailure as exc:
                last_error = f"{channel}: {exc}"
                self._attempt_failed(action, message, "permanent_failure", exc, started)
                index, attempts = index + 1, 0
                continue
            except Exception as exc:
                attempts += 1
                last_error = f"{channel}: {type(exc).__name__}: {exc}"
                self._attempt_failed(action, message, "temporary_failure", exc, started)
                if attempts >= self.retry.max_attempts:
                    index, attempts = index + 1, 0
                    continue
                wait = self.retry.delay(attempts, action.occurrence_key)
                if isinstance(exc, TemporaryFailure) and exc.retry_after is not None:
                    wait = max(wait, exc.retry_after)
                self.metrics.add("regua.messages.deferred", 1, labels)
                return attrs.evolve(
                    claim,
                    until=now + wait,
                    attempts=attempts,
                    channel_index=index,
                    last_error=last_error,
                    sending=False,
                )
            self.metrics.record("regua.send.duration", time.perf_counter() - started, labels)
            self.metrics.add("regua.messages.sent", 1, labels)
            log.info(
                "sent %s/%s on %s (attempt %d)",
                action.cadence,
                action.step,
                channel,
                message.attempt,
                extra=_fields(action, channel, "sent", self.worker, attempt=message.attempt),
            )
            return Delivery(
                action.cadence,
                action.step,
                action.contact_id,
                action.occurrence_key,
                DeliveryStatus.SENT,
                now,
                channel=channel,
                collected=action.collected,
                variant=action.variant,
            )
        if claim.unsettled and index < len(channels):
            last_error = (
                f"{last_error}; an earlier attempt on {channels[claim.channel_index]} may have "
                "been delivered (its outcome was never recorded), so no other channel was tried"
            )
        status = DeliveryStatus.FAILED if tried else DeliveryStatus.SKIPPED
        reason = last_error if tried else f"no_channel: {last_error}"
        return Delivery(
            action.cadence,
            action.step,
            action.contact_id,
            action.occurrence_key,
            status,
            now,
            reason=reason,
            collected=action.collected,
            variant=action.variant,
        )

    # --- records of what happened ------------------------------------------------------------

    def _attempt_failed(
        self,
        action: DueAction,
        message: Message,
        outcome: str,
        exc: Exception,
        started: float,
    ) -> None:
        labels = {"cadence": action.cadence, "step": action.step, "channel": message.channel}
        self.metrics.record("regua.send.duration", time.perf_counter() - started, labels)
        self.metrics.add(f"regua.attempts.{outcome}", 1, labels)
        log.warning(
            "%s on %s for %s/%s (attempt %d): %s",
            outcome.replace("_", " "),
            message.channel,
            action.cadence,
            action.step,
            message.attempt,
            exc,
            # A bug in a sender (not a declared failure) deserves its traceback.
            exc_info=not isinstance(exc, (TemporaryFailure, PermanentFailure)),
            extra=_fields(action, message.channel, outcome, self.worker, attempt=message.attempt),
        )

    def _closed(self, delivery: Delivery) -> None:
        """Count and log an occurrence closed without sending: failed, skipped, expired..."""
        outcome = delivery.status.value
        labels = {"cadence": delivery.cadence, "step": delivery.step, "outcome": outcome}
        name = "regua.messages.failed" if delivery.status is DeliveryStatus.FAILED else None
        self.metrics.add(name or "regua.messages.skipped", 1, labels)
        level = logging.WARNING if delivery.status is DeliveryStatus.FAILED else logging.INFO
        if not log.isEnabledFor(level):  # a first tick closes most of a base's history
            return
        log.log(
            level,
            "%s %s/%s: %s",
            outcome,
            delivery.cadence,
            delivery.step,
            delivery.reason,
            extra=_fields(delivery, delivery.channel, outcome, self.worker),
        )


def _fields(
    what: DueAction | Delivery,
    channel: str | None,
    outcome: str,
    worker: str,
    *,
    attempt: int | None = None,
) -> dict[str, object]:
    """The structured fields of a log record about one occurrence: no personal data."""
    key = (
        what.idempotency_key
        if isinstance(what, DueAction)
        else idempotency_key(what.occurrence_key)
    )
    return {
        "regua_worker": worker,
        "regua_cadence": what.cadence,
        "regua_step": what.step,
        "regua_channel": channel,
        "regua_idempotency_key": key,
        "regua_outcome": outcome,
        "regua_attempt": attempt,
    }


def _contacts(repository: Repository, ids: Sequence[str]) -> dict[str, Contact]:
    """The stored contacts among `ids`, read through `Repository.get_contacts`.

    A repository written before that method existed is read through `load_snapshots`.
    """
    get_contacts = getattr(repository, "get_contacts", None)
    if get_contacts is not None:
        found: dict[str, Contact] = get_contacts(ids)
        return found
    return {contact_id: s.contact for contact_id, s in repository.load_snapshots(ids).items()}


def _all_sent_as_planned(sendable: Mapping[str, list[Plan]], outcomes: list[Delivery]) -> set[str]:
    """The contacts of `sendable` whose every due action was sent on its first channel."""
    sent = {
        d.occurrence_key: d.channel
        for d in outcomes
        if d.contact_id in sendable and d.status is DeliveryStatus.SENT
    }
    return {
        contact_id
        for contact_id, plans in sendable.items()
        if all(sent.get(a.occurrence_key, "") == a.channel for p in plans for a in p.due)
    }


def _wake_no_later(next_at: dict[str, datetime | None], contact_id: str, at: datetime) -> None:
    current = next_at.get(contact_id)
    if current is None or at < current:
        next_at[contact_id] = at
