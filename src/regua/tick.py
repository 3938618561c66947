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

import contextlib
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from datetime import datetime
from operator import methodcaller
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from regua.definitions.cadence import Cadence
from regua.errors import FoldTooShallow, InvalidRecordError
from regua.folding import FOLD_AFTER, fold
from regua.metrics import Metrics
from regua.planning.planner import next_wakeup, plan_contact, settled, settled_once_sent
from regua.ports import (
    AddressSuppression,
    Claim,
    ContactError,
    FoldStorage,
    Message,
    OutcomeUnknown,
    PermanentFailure,
    Repository,
    TemporaryFailure,
    Throttled,
    Wakeup,
)
from regua.records import Contact, Delivery, DeliveryStatus, DueAction, Snapshot, idempotency_key
from regua.redaction import personal_strings, pseudonym, redact
from regua.sharding import Shard

if TYPE_CHECKING:
    from datetime import timedelta

    from regua.planning.occurrences import Plan
    from regua.scheduler import RetryPolicy

log = logging.getLogger("regua.scheduler")

_T = TypeVar("_T")

_MAX_ROUNDS = 8  # re-plans per contact per tick: the depth of after_step chains firing at once
SAME_INSTANT_LIMIT = 100
"""Evaluations of one contact at one instant before a virtual-clock driver (`Simulation`,
a forecast's projection) gives up on it: its plans never settle (a real scheduler would come
back to it at every tick)."""
_LEASE_USABLE = 0.9
"""The part of a claim's lease in which a send may run: the rest is a margin for recording."""
_GIVE_UP_AFTER = 3
"""Outcomes recorded one by one after a batch failed: after this many refusals in a row
(and none accepted), the repository is taken to be unreachable and the rest are not tried."""


# --- requests ------------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Store:
    """Call the repository: the driver answers with ``call(repository)``."""

    call: Callable[[Repository], Any]


@attrs.frozen(slots=True)
class Send:
    """Hand `message` to `sender`: the driver answers with its result or throws its error.

    `timeout` is how many seconds the send may take (None: no limit), and `deadline` the
    instant (`time.monotonic`) by which it must be over: the claim's lease is ending then.
    The driver reads both through `limit` right before sending: a send with no time left
    is not started (`NotSent`); one that outlasts its limit is abandoned (`SendTimedOut`).
    """

    sender: object
    message: Message
    timeout: float | None = None
    deadline: float | None = None

    def limit(self) -> float | None:
        """Seconds the send may take from now (None: no limit); at or below 0, none."""
        if self.deadline is None:
            return self.timeout
        left = self.deadline - time.monotonic()
        if self.timeout is None:  # no limit on the send; still none starts past the lease
            return None if left > 0 else 0.0
        return min(self.timeout, left)


class SendTimedOut(OutcomeUnknown):
    """A send outlasted its timeout: the provider may or may not have accepted it."""


class SendInterrupted(Exception):
    """A sender raised a `BaseException` that is not an `Exception`: the outcome is unknown.

    `KeyboardInterrupt`, `SystemExit`, a library's own: the tick stops once the outcomes it
    already has are recorded, and the driver then raises `error` again.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"interrupted by {type(error).__name__}")
        self.error = error


class NotSent(Exception):
    """The driver did not call the sender: the claim's lease was ending, or the tick stops."""


@attrs.frozen(slots=True)
class SendAll:
    """Run each dispatch (in any order, or at once): the driver answers with their results."""

    dispatches: Sequence[Generator[Request, Any, Delivery | Claim | None]]


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


def run_steps(steps: Steps[_T], repository: Repository, sends: SendThread | None = None) -> _T:
    """Run `steps` in order on this thread: the synchronous driver.

    Sends with a timeout run on `sends` (a thread of their own, so that a hung sender can be
    abandoned); without one, without a timeout, or to a sender that says it cannot hang
    (``in_process = True``: it does no I/O), on this thread.
    """
    with interruptions() as interrupted:
        result: _T = _drive(steps, repository, sends, interrupted)
    return result


@contextlib.contextmanager
def interruptions() -> Iterator[list[BaseException]]:
    """Where a driver puts a sender's `BaseException`, raised again when the tick ends.

    The tick records the outcomes it has first; an error raised meanwhile (by the store)
    becomes the interruption's cause, never its replacement.
    """
    interrupted: list[BaseException] = []
    try:
        yield interrupted
    except Exception as error:
        if interrupted:
            raise interrupted[0] from error
        raise
    if interrupted:
        raise interrupted[0]


def _drive(
    steps: Steps[_T],
    repository: Repository,
    sends: SendThread | None,
    interrupted: list[BaseException],
) -> _T:
    answer: Any = None
    error: Exception | None = None
    while not isinstance(request := resume(steps, answer, error), Done):
        answer, error = None, None
        if isinstance(request, Store):
            answer = request.call(repository)
        elif isinstance(request, Send):
            limit = request.limit()
            if interrupted or (limit is not None and limit <= 0):
                error = NotSent("the tick stops" if interrupted else "the lease is ending")
                continue
            try:
                if (
                    sends is None
                    or limit is None
                    or getattr(request.sender, "in_process", False) is True
                ):
                    answer = request.sender.send(request.message)  # type: ignore[attr-defined]
                else:
                    answer = sends.send(request.sender, request.message, limit)
            except Exception as exc:  # thrown back: the dispatch decides what it means
                error = exc
            except BaseException as exc:  # raised again once recorded
                interrupted.append(exc)
                error = SendInterrupted(exc)
        else:
            answer = [
                _drive(dispatch, repository, sends, interrupted) for dispatch in request.dispatches
            ]
    result: _T = request.value
    return result


class SendThread:
    """Runs a synchronous scheduler's sends on daemon threads, each send with a timeout.

    Each thread that ticks gets a send thread of its own (so concurrent ticks never queue
    behind each other's sends), which ends after a minute without sends. A send that
    outlasts its timeout is abandoned to its thread, which then serves no other send, and
    answered with `SendTimedOut`.
    """

    def __init__(self, idle: float = 60.0) -> None:
        self._local = threading.local()
        self._idle = idle

    def send(self, sender: object, message: Message, timeout: float) -> object:
        """Call ``sender.send(message)`` on this thread's send thread; wait `timeout` at most."""
        job = _Job(sender, message)
        worker: _Worker | None = getattr(self._local, "worker", None)
        if worker is None or not worker.submit(job):  # none yet, stuck, or ended when idle
            worker = self._local.worker = _Worker(self._idle)
            worker.submit(job)
        if not job.done.wait(timeout):
            worker.stuck = True
            if not job.abandon():  # it never started, and now never will
                raise NotSent("the send thread was busy; nothing was sent")
            raise SendTimedOut(f"no answer within {timeout:g}s; the outcome is unknown")
        if job.error is not None:
            raise job.error
        return job.result


@attrs.define(slots=True)
class _Job:
    sender: object
    message: Message
    done: threading.Event = attrs.field(factory=threading.Event)
    result: object = None
    error: BaseException | None = None
    state: str = "queued"  # then "started" or "abandoned", once, under `lock`
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def start(self) -> bool:
        with self.lock:
            if self.state == "abandoned":
                return False
            self.state = "started"
            return True

    def abandon(self) -> bool:
        """Abandon the job; whether it had started (its outcome is then unknown)."""
        with self.lock:
            started = self.state == "started"
            self.state = "abandoned"
            return started


class _Worker:
    """One send thread: serves jobs until stopped, stuck in a send, or idle for `idle` s."""

    def __init__(self, idle: float) -> None:
        self.jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.alive = True
        self.stuck = False
        threading.Thread(target=self._serve, args=(idle,), name="regua-send", daemon=True).start()

    def submit(self, job: _Job) -> bool:
        with self.lock:
            if not self.alive or self.stuck:
                return False
            self.jobs.put(job)
            return True

    def _serve(self, idle: float) -> None:
        while True:
            try:
                job = self.jobs.get(timeout=idle)
            except queue.Empty:
                with self.lock:
                    if self.jobs.empty():
                        self.alive = False
                        return
                continue
            if not job.start():  # abandoned before it started
                continue
            try:
                job.result = job.sender.send(job.message)  # type: ignore[attr-defined]
            except BaseException as exc:  # handed to the waiting tick
                job.error = exc
            job.done.set()
            if self.stuck:  # a send that outlasted its timeout: this thread is done
                return


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


@attrs.define(slots=True)
class _Run:
    """One tick under way: its tally, when it started, and whether it must stop early."""

    tally: Tally
    started: float = attrs.field(factory=time.monotonic)
    stopping: bool = False
    interrupted: bool = False


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
    send_timeout: timedelta | None = None
    fold_after: int | None = FOLD_AFTER
    """Fold a contact's history (`regua.fold`) once a snapshot holds this many records, on
    a repository with `store_folds`; None never folds."""
    lease_from_claim: bool = False
    """Leases run from when the repository grants them (its own clock), not from the tick's
    start: the time left on a chunk's claims is then counted from the claim call."""
    log_key: bytes | None = None
    """With a key, log records about a contact name it by `regua.redaction.pseudonym`
    (``regua_contact``), and never by its id."""
    log: logging.Logger = attrs.field(default=log, repr=False)
    """Where the tick logs what it does (the ``regua.scheduler`` logger); a projection of
    what a tick would do (`regua.forecasting.project`) logs nothing."""

    def _who(self, contact_id: str) -> str | None:
        """The contact's pseudonym for log records; None without a `log_key`."""
        return None if self.log_key is None else pseudonym(contact_id, self.log_key)

    def steps(self, now: datetime) -> Steps[Tally]:
        """Evaluate every due contact (of `shard`, when there is one) once: claim, send, record."""
        run = _Run(Tally())
        seen: set[str] = set()
        while not run.stopping:
            acquired: list[Snapshot] = yield _store(
                "acquire_due", self.worker, now, self.batch_size, self.lease, shard=self.shard
            )
            fresh = [s for s in acquired if s.contact.id not in seen]
            if not fresh:
                break
            seen.update(s.contact.id for s in fresh)
            yield from self._process(fresh, now, run)
            if len(acquired) < self.batch_size:
                break
        return run.tally

    def evaluate(self, snapshots: Sequence[Snapshot], now: datetime) -> Steps[Tally]:
        """Evaluate these contacts, due or not, as `steps` evaluates due ones."""
        run = _Run(Tally())
        if snapshots:
            yield from self._process(list(snapshots), now, run)
        return run.tally

    def _process(self, snapshots: Sequence[Snapshot], now: datetime, run: _Run) -> Steps[None]:
        pending = list(snapshots)
        wakeups: dict[str, Wakeup] = {}
        # Snapshots as the repository gave them, planned without error in the first round.
        foldable: list[Snapshot] = []
        # Retry times of deferred claims, kept across rounds: a contact re-planned in a later
        # round sees its deferred occurrence as claimed (refused), which says nothing of when
        # the retry is due.
        retries: dict[str, datetime] = {}
        for round_ in range(_MAX_ROUNDS):
            if not pending or run.stopping:
                break
            pending = yield from self._round(
                pending, now, run, wakeups, retries, foldable if round_ == 0 else None
            )
        for snapshot in pending:  # still changing after every round: come back at once
            wakeups[snapshot.contact.id] = Wakeup(snapshot.contact.id, now, snapshot.version)
        for contact_id, retry_at in retries.items():
            wakeup = wakeups.get(contact_id)
            if wakeup is not None and (wakeup.at is None or retry_at < wakeup.at):
                wakeups[contact_id] = attrs.evolve(wakeup, at=retry_at)
        yield _store("set_wakeups", list(wakeups.values()))
        if foldable and not run.stopping:
            yield Store(
                functools.partial(
                    _fold_and_store,
                    cadences=self.cadences,
                    snapshots=foldable,
                    now=now,
                    who=self._who,
                )
            )

    def _worth_folding(self, snapshot: Snapshot) -> bool:
        if self.fold_after is None or snapshot.position is None:
            return False
        records = len(snapshot.events) + len(snapshot.deliveries)
        kept = 0 if snapshot.fold is None else snapshot.fold.size
        return records >= max(self.fold_after, 2 * kept)

    def _round(
        self,
        snapshots: Sequence[Snapshot],
        now: datetime,
        run: _Run,
        wakeups: dict[str, Wakeup],
        retries: dict[str, datetime],
        foldable: list[Snapshot] | None = None,
    ) -> Steps[list[Snapshot]]:
        """Plan; claim, send and record the due actions a chunk at a time; what to re-plan.

        A folded snapshot that cannot answer a plan (`FoldTooShallow`) is read again whole.
        In the first round, the snapshots worth folding go into `foldable`.
        """
        tally = run.tally
        closures: list[Delivery] = []
        due: list[DueAction] = []
        next_at: dict[str, datetime | None] = {}
        errors: list[ContactError] = []
        unsettled: set[str] = set()
        # The plans of contacts with due actions that need no second plan once all are sent.
        sendable: dict[str, list[Plan]] = {}
        evaluated: list[tuple[Snapshot, list[Plan] | Exception]] = []
        snapshots = list(snapshots)
        queue = snapshots
        while queue:
            whole: list[str] = []
            for snapshot in queue:
                outcome: list[Plan] | Exception
                try:
                    outcome = list(plan_contact(self.cadences, snapshot, now))
                except FoldTooShallow as exc:
                    if snapshot.fold is not None and queue is snapshots:
                        whole.append(snapshot.contact.id)
                        continue
                    outcome = exc
                except Exception as exc:
                    outcome = exc
                evaluated.append((snapshot, outcome))
            queue = []
            if whole:  # what its fold cannot answer is planned from the whole history
                again: dict[str, Snapshot] = yield _store("load_snapshots", whole)
                queue = [again[cid] for cid in whole if cid in again]
                replaced = {s.contact.id: s for s in queue}
                snapshots = [replaced.get(s.contact.id, s) for s in snapshots]
                self.metrics.add("regua.contacts.unfolded", len(whole))
        for snapshot, outcome in evaluated:
            contact_id = snapshot.contact.id
            tally.evaluated += 1
            if isinstance(outcome, Exception):
                error = describe(outcome)
                who = self._who(contact_id)
                self.log.warning(
                    "contact %s could not be evaluated: %s",
                    repr(contact_id) if who is None else who,
                    error if who is None else error.replace(repr(contact_id), who),
                    extra={
                        "regua_worker": self.worker,
                        "regua_outcome": "error",
                        "regua_contact": who,
                    },
                )
                self.metrics.add("regua.contacts.errors", 1)
                tally.errors[contact_id] = error
                errors.append(ContactError(contact_id, now, error))
                # Bad data stays bad until the application changes the contact, which wakes it.
                wakeups[contact_id] = Wakeup(contact_id, None, snapshot.version)
                continue
            plans = outcome
            if foldable is not None and self._worth_folding(snapshot):
                foldable.append(snapshot)
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
        versions = {s.contact.id: s.version for s in snapshots}
        outcomes: list[Delivery] = []
        unrecorded = closures
        size = self.claim_batch_size
        for start in range(0, len(due), size):
            if run.stopping:  # a sender was interrupted: what is not claimed stays due
                break
            finished, deferred = yield from self._claim_and_send(
                due[start : start + size], now, run, versions, next_at, retries
            )
            if deferred:
                yield _store("defer", deferred)
                tally.deferred.extend(d for d in deferred if d.until > now)
            yield from self._record([*unrecorded, *finished], tally)
            unrecorded = []
            outcomes.extend(finished)
        yield from self._record(unrecorded, tally)
        if run.stopping:  # stored as due again (from this snapshot's version): nothing lost
            for snapshot in snapshots:
                wakeups[snapshot.contact.id] = Wakeup(snapshot.contact.id, now, snapshot.version)
            return []

        # Planning again with the occurrences a settled plan closed gives the same plan: only
        # the outcome of a dispatch, which no plan can know, or an unsettled plan calls for it;
        # and not even an outcome when the plan said it would change nothing else.
        replanned = unsettled.union(d.contact_id for d in outcomes)
        for contact_id in _all_sent_as_planned(sendable, outcomes):
            replanned.discard(contact_id)
            # What waits, and any event stamped after `now` (the application's clock ahead).
            after = [next_wakeup(p.waiting, ()) for p in sendable[contact_id]]
            after += [p.next_event_at for p in sendable[contact_id]]
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
        run: _Run,
        versions: Mapping[str, int],
        next_at: dict[str, datetime | None],
        retries: dict[str, datetime],
    ) -> Steps[tuple[list[Delivery], list[Claim]]]:
        """Claim these actions, send the claimed ones; their outcomes and deferred claims."""
        claimed_at = time.monotonic()
        claims: dict[str, Claim] = yield _store("claim", due, self.worker, now, self.lease)
        # The claims' lease, on this worker's monotonic clock: counted from the tick's start
        # when leases run from the tick's `now`, from the claim call when they run from the
        # repository's clock (which grants them a moment later: on the safe side either way).
        lease_ends = (claimed_at if self.lease_from_claim else run.started) + (
            self.lease.total_seconds() * _LEASE_USABLE
        )
        claimed = sorted({a.contact_id for a in due if a.occurrence_key in claims})
        # Consent, addresses and every other rule are checked again on the contacts as they
        # are now: a contact changed since it was planned (an order placed, consent revoked)
        # is planned again, and only what is still due is sent.
        current: dict[str, tuple[Contact, int]] = (
            (yield _store("get_versioned_contacts", claimed)) if claimed else {}
        )
        changed = {cid for cid, (_, version) in current.items() if version != versions.get(cid)}
        still_due: dict[str, DueAction] = {}
        closed_now: dict[str, Delivery] = {}
        if changed:
            fresh: dict[str, Snapshot] = yield _store("load_snapshots", sorted(changed))
            still_due, closed_now = self._replanned(fresh, now)
        dispatched: list[DueAction] = []
        dispatches: list[Steps[Delivery | Claim | None]] = []
        outcomes: list[Delivery] = []
        deferred: list[Claim] = []
        for action in due:
            claim = claims.get(action.occurrence_key)
            if claim is None:
                # Another worker holds it; if that worker dies, its lease ends and this
                # contact must be looked at again then.
                _wake_no_later(next_at, action.contact_id, now + self.lease)
                continue
            latest = current.get(action.contact_id)
            if latest is None:  # deleted, or no longer readable: release the claim unsent
                deferred.append(attrs.evolve(claim, until=now, sending=False))
                continue
            contact = latest[0]
            if action.contact_id in changed:
                key = action.occurrence_key
                if key in closed_now:  # cancelled, expired, skipped by the plan of now
                    outcomes.append(closed_now[key])
                    continue
                if key not in still_due:  # waiting again (a cap, quiet hours): release it
                    deferred.append(attrs.evolve(claim, until=now, sending=False))
                    continue
                action = still_due[key]
            dispatched.append(action)
            dispatches.append(self._dispatch(action, claim, contact, now, run, lease_ends))
        results: list[Delivery | Claim | None] = yield SendAll(dispatches)
        for action, outcome in zip(dispatched, results, strict=True):
            if outcome is None:  # not sent: the lease was ending or the tick stops
                _wake_no_later(next_at, action.contact_id, now + self.lease)
            elif isinstance(outcome, Claim):
                deferred.append(outcome)
                _wake_no_later(next_at, action.contact_id, outcome.until)
                previous = retries.get(action.contact_id)
                if previous is None or outcome.until < previous:
                    retries[action.contact_id] = outcome.until
            else:
                outcomes.append(outcome)
        return outcomes, deferred

    def _replanned(
        self, snapshots: Mapping[str, Snapshot], now: datetime
    ) -> tuple[dict[str, DueAction], dict[str, Delivery]]:
        """What the plans of these contacts as they are now make due, and close, by key."""
        due: dict[str, DueAction] = {}
        closed: dict[str, Delivery] = {}
        for snapshot in snapshots.values():
            try:
                plans = plan_contact(self.cadences, snapshot, now)
            except Exception:  # recorded when the contact is evaluated again
                continue  # nothing of it is sent now: its claims are released
            for result in plans:
                due.update((a.occurrence_key, a) for a in result.due)
                closed.update((o.key, o.as_delivery()) for o in result.closed)
        return due, closed

    def _record(self, deliveries: list[Delivery], tally: Tally) -> Steps[None]:
        """Record these outcomes and closures, and count them.

        Recorded in one call; if that fails, one by one, so that one outcome the repository
        refuses cannot lose the others; the repository's error is then raised (the refused
        ones' claims expire and are taken over, with the same idempotency keys).
        """
        if not deliveries:
            return
        refused: list[tuple[Delivery, Exception]] = yield Store(
            functools.partial(_record_each, deliveries=deliveries)
        )
        failed = {id(d) for d, _ in refused}
        for delivery in deliveries:
            if id(delivery) in failed:
                continue
            tally.add(delivery)
            if delivery.status is not DeliveryStatus.SENT:  # sent ones were logged at once
                self._closed(delivery)
        if refused:
            delivery, error = refused[0]
            self.log.error(
                "%d of %d outcomes could not be recorded (the first, of %s/%s: %s); their "
                "claims expire and are taken over",
                len(refused),
                len(deliveries),
                delivery.cadence,
                delivery.step,
                describe(error),
                extra=_fields(
                    delivery,
                    delivery.channel,
                    "record_failed",
                    self.worker,
                    contact=self._who(delivery.contact_id),
                ),
            )
            raise error

    def _dispatch(
        self,
        action: DueAction,
        claim: Claim,
        contact: Contact,
        now: datetime,
        run: _Run,
        lease_ends: float,
    ) -> Steps[Delivery | Claim | None]:
        """Send one claimed action; return its outcome, the claim to retry later, or None.

        None: nothing was attempted (the claim's lease was ending, or the tick stops); the
        claim is left to expire.
        """
        channels = action.channels
        index, attempts = _resume_at(claim, channels), claim.attempts
        last_error = claim.last_error
        tried = attempts > 0 or claim.channel_index > 0
        # The channel on which an attempt of unknown outcome may have been delivered: until
        # that channel answers, no other is tried, as it would be a second message. A retry
        # there is harmless (same idempotency key); a permanent refusal of that key settles
        # it (a provider that deduplicates answers a key it accepted with that success).
        # An unsettled channel no longer among the step's (its address was removed since)
        # can never answer: no other channel is tried either.
        uncertain: int | None = index if claim.unsettled else None
        if index < 0:  # its channel is gone, or its index is past the channels now
            if claim.unsettled:
                index = uncertain = len(channels)
            else:  # every earlier attempt failed, knowingly: start over on what is there
                index, attempts = 0, 0
        resumed = index
        while index < len(channels) and (uncertain is None or index == uncertain):
            channel = channels[index]
            address = contact.addresses.get(channel)
            if not contact.can_receive(
                channel, transactional=action.transactional, topic=action.topic
            ):
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
            if index != resumed:
                # Moving on to a fallback channel: store that first, so that a worker taking
                # over after a crash resumes here instead of sending on the first channel too.
                claim = attrs.evolve(  # held until the granted lease ends, not later
                    claim,
                    attempts=attempts,
                    channel_index=index,
                    last_error=last_error,
                    sending=True,
                    unsettled=False,
                    channel=channel,
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
                transactional=action.transactional,
            )
            labels = {"cadence": action.cadence, "step": action.step, "channel": channel}
            started = time.perf_counter()
            timeout = None if self.send_timeout is None else self.send_timeout.total_seconds()
            try:
                answer = yield Send(sender, message, timeout, lease_ends)
            except NotSent:
                if run.interrupted:  # the claim is live, and nothing was tried: release it
                    return attrs.evolve(claim, until=now, sending=False)
                if not self.lease_from_claim:  # the leases of every contact of the tick end
                    if not run.stopping:
                        self.log.warning(
                            "tick at %s stops sending: the lease of its claims (%s, from the "
                            "tick's start) is ending; what it has not sent stays due for a "
                            "later tick (a tick this long wants a longer lease)",
                            now.isoformat(),
                            self.lease,
                            extra={"regua_worker": self.worker, "regua_outcome": "lease_ending"},
                        )
                    run.stopping = True
                return None  # the lease is ending: another worker may hold the claim soon
            except Throttled as exc:  # not sent, not tried: later, on this channel
                wait = exc.retry_after or self.retry.delay(attempts + 1, action.occurrence_key)
                self.metrics.add("regua.messages.throttled", 1, labels)
                detail = _failure_text(exc, message)
                self.log.info(
                    "throttled %s/%s on %s: %s",
                    action.cadence,
                    action.step,
                    channel,
                    detail,
                    extra=_fields(
                        action,
                        channel,
                        "throttled",
                        self.worker,
                        attempt=message.attempt,
                        contact=self._who(action.contact_id),
                    ),
                )
                return attrs.evolve(
                    claim,
                    until=now + wait,
                    attempts=attempts,  # not an attempt: the provider never saw it
                    channel_index=index,
                    last_error=f"{channel}: {detail}",
                    sending=False,
                    unsettled=uncertain is not None,
                    channel=channel,
                )
            except PermanentFailure as exc:
                tried = True
                detail = _failure_text(exc, message, typed=False)
                if exc.suppress is not None:
                    yield Store(
                        functools.partial(
                            _suppress,
                            kind=exc.suppress,
                            contact_id=action.contact_id,
                            channel=channel,
                            address=address,
                            metrics=self.metrics,
                            who=self._who(action.contact_id),
                        )
                    )
                last_error = f"{channel}: {detail}"
                self._attempt_failed(action, message, "permanent_failure", exc, detail, started)
                uncertain = None  # refused: the earlier attempt, if any, was not delivered
                index, attempts = index + 1, 0
                continue
            except Exception as exc:
                tried = True
                attempts += 1
                detail = _failure_text(exc, message)
                last_error = f"{channel}: {detail}"
                unknown = isinstance(exc, (OutcomeUnknown, SendInterrupted))
                self._attempt_failed(action, message, "temporary_failure", exc, detail, started)
                if unknown:  # it may have been delivered: only this channel from now on
                    uncertain = index
                if isinstance(exc, SendInterrupted):
                    run.stopping = run.interrupted = True
                elif attempts >= self.retry.max_attempts:
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
                    sending=unknown,
                    unsettled=uncertain is not None,
                    channel=channel,
                )
            self.metrics.record("regua.send.duration", time.perf_counter() - started, labels)
            self.metrics.add("regua.messages.sent", 1, labels)
            message_id = _message_id(answer, sender, channel)
            fields = _fields(
                action,
                channel,
                "sent",
                self.worker,
                attempt=message.attempt,
                contact=self._who(action.contact_id),
            )
            fields["regua_message_id"] = message_id
            self.log.info(
                "sent %s/%s on %s (attempt %d)",
                action.cadence,
                action.step,
                channel,
                message.attempt,
                extra=fields,
            )
            return action.outcome(
                DeliveryStatus.SENT,
                now,
                channel=channel,
                message_id=message_id,
                # What went wrong before this send: the channels refused, the retries.
                detail=None if last_error is None else f"after {last_error}",
            )
        if uncertain is not None and (index < len(channels) or uncertain == len(channels)):
            if uncertain < len(channels):
                name = channels[uncertain]
            else:  # no longer a channel of this occurrence
                name = claim.channel or f"its channel {claim.channel_index + 1}"
            last_error = (
                f"{last_error or name}; an earlier attempt on {name} may have been delivered "
                "(its outcome was never recorded), so no other channel was tried"
            )
        status = DeliveryStatus.FAILED if tried else DeliveryStatus.SKIPPED
        reason = last_error if tried else f"no_channel: {last_error}"
        return action.outcome(status, now, reason=reason)

    # --- records of what happened ------------------------------------------------------------

    def _attempt_failed(
        self,
        action: DueAction,
        message: Message,
        outcome: str,
        exc: Exception,
        text: str,
        started: float,
    ) -> None:
        labels = {"cadence": action.cadence, "step": action.step, "channel": message.channel}
        self.metrics.record("regua.send.duration", time.perf_counter() - started, labels)
        self.metrics.add(f"regua.attempts.{outcome}", 1, labels)
        fields = _fields(
            action,
            message.channel,
            outcome,
            self.worker,
            attempt=message.attempt,
            contact=self._who(action.contact_id),
        )
        self.log.warning(
            "%s on %s for %s/%s (attempt %d): %s",
            outcome.replace("_", " "),
            message.channel,
            action.cadence,
            action.step,
            message.attempt,
            text,  # redacted: a provider's reply may echo the address or the payload
            extra=fields,
        )
        if not isinstance(exc, (TemporaryFailure, PermanentFailure)) and self.log.isEnabledFor(
            logging.DEBUG
        ):
            # A bug in a sender deserves its traceback, which holds its text unredacted: it
            # is logged only at DEBUG, which a developer turns on on purpose.
            self.log.debug("traceback of the failure above", exc_info=exc, extra=fields)

    def _closed(self, delivery: Delivery) -> None:
        """Count and log an occurrence closed without sending: failed, skipped, expired..."""
        outcome = delivery.status.value
        labels = {"cadence": delivery.cadence, "step": delivery.step, "outcome": outcome}
        name = "regua.messages.failed" if delivery.status is DeliveryStatus.FAILED else None
        self.metrics.add(name or "regua.messages.skipped", 1, labels)
        level = logging.WARNING if delivery.status is DeliveryStatus.FAILED else logging.INFO
        if not self.log.isEnabledFor(level):  # a first tick closes most of a base's history
            return
        self.log.log(
            level,
            "%s %s/%s: %s",
            outcome,
            delivery.cadence,
            delivery.step,
            delivery.reason,
            extra=_fields(
                delivery,
                delivery.channel,
                outcome,
                self.worker,
                contact=self._who(delivery.contact_id),
            ),
        )


def _fields(
    what: DueAction | Delivery,
    channel: str | None,
    outcome: str,
    worker: str,
    *,
    attempt: int | None = None,
    contact: str | None = None,
) -> dict[str, object]:
    """The structured fields of a log record about one occurrence: no personal data.

    `contact` is the contact's pseudonym (`TickPlan.log_key`), None without one.
    """
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
        "regua_contact": contact,
    }


def _message_id(answer: object, sender: object, channel: str) -> str | None:
    """The message id a sender's `send` returned, as recorded: a non-empty str, or None.

    An int (some providers number their messages) is kept as its text. Anything else
    breaks the `Sender` contract: the message was sent all the same, so it is recorded as
    sent, without an id, and the mistake is logged.
    """
    if answer is None or answer == "":
        return None
    if isinstance(answer, str):
        return answer
    if isinstance(answer, int) and not isinstance(answer, bool):
        return str(answer)
    log.warning(
        "the sender of %s (%s) returned a %s from send(), not a message id (a str or None): "
        "the message is recorded as sent without one",
        channel,
        type(sender).__name__,
        type(answer).__name__,
    )
    return None


def describe(error: BaseException, *, typed: bool = True) -> str:
    """The text of `error` for a record or a log line, whatever its ``__str__`` does.

    ``TypeName: text`` (or the text alone with ``typed=False``); an exception whose
    ``__str__`` raises is described by its type alone, never by a second exception.
    """
    try:
        text = str(error)
    except Exception:  # a sender's exception must not break the tick
        text = "(its text could not be read)"
    return f"{type(error).__name__}: {text}" if typed else text


def _failure_text(error: BaseException, message: Message, *, typed: bool = True) -> str:
    """What a failed send's record and log line say: the error's text, redacted.

    A provider's reply often echoes the recipient or the payload ("550 <ana@example.com>:
    no such user"): the contact's addresses and the text values of the payload and of its
    attributes are hidden, and anything that looks like an e-mail address or a phone
    number too; control characters (a NUL, which PostgreSQL refuses) are removed.
    """
    return redact(describe(error, typed=typed), known=personal_strings(message))


def _resume_at(claim: Claim, channels: Sequence[str]) -> int:
    """Where a claim resumes among the action's `channels`, as planned now; -1: nowhere.

    A step's channels are chosen anew at every plan (preferences, consent and addresses
    change), so a claim resumes on its channel by name; a claim stored before names were
    kept, by its index.
    """
    if claim.channel is not None:
        return channels.index(claim.channel) if claim.channel in channels else -1
    return claim.channel_index if claim.channel_index < len(channels) else -1


def _suppress(
    repository: Repository,
    *,
    kind: str,
    contact_id: str,
    channel: str,
    address: str,
    metrics: Metrics,
    who: str | None,
) -> None:
    """Act on a `PermanentFailure.suppress`: drop the address, or withdraw the consent.

    A repository without ``suppress_address`` keeps the address (logged). A failure to
    store it is logged too: the message's own outcome is recorded all the same.
    """
    named = who or repr(contact_id)
    try:
        if kind == "consent":
            repository.set_consent(contact_id, channel, False)
        else:
            if not isinstance(repository, AddressSuppression):
                log.warning(
                    "contact %s: the %s address bounced for good, but this repository cannot "
                    "remove it (no suppress_address); fix it in the application",
                    named,
                    channel,
                )
                return
            if not repository.suppress_address(contact_id, channel, address):
                return  # the application changed it meanwhile: the new one is kept
    except Exception as exc:  # the outcome of the message matters more: recorded anyway
        log.warning("contact %s: suppressing its %s %s failed: %s", named, channel, kind, exc)
        return
    metrics.add("regua.contacts.suppressed", 1, {"channel": channel, "kind": kind})
    log.info(
        "contact %s: %s on %s suppressed",
        named,
        "the address" if kind == "address" else "marketing consent",
        channel,
        extra={
            "regua_channel": channel,
            "regua_outcome": f"suppressed_{kind}",
            "regua_contact": who,
        },
    )


def _named(snapshot: Snapshot, who: Callable[[str], str | None]) -> str:
    """The contact in a log message: its pseudonym when there is a key, else its id."""
    return who(snapshot.contact.id) or repr(snapshot.contact.id)


def _fold_and_store(
    repository: Repository,
    cadences: Sequence[Cadence],
    snapshots: Sequence[Snapshot],
    now: datetime,
    who: Callable[[str], str | None],
) -> None:
    """Fold these histories (`regua.fold`) for a repository that keeps folds (`store_folds`).

    `who` names a contact in log records (`TickPlan._who`).

    Nothing is folded for a repository without that method.
    """
    if not isinstance(repository, FoldStorage):
        return
    folds: list[Snapshot] = []
    for snapshot in snapshots:
        try:
            folds.append(fold(cadences, snapshot, now))
        except (FoldTooShallow, InvalidRecordError) as exc:  # folded from a later read
            log.debug("contact %s not folded: %s", _named(snapshot, who), describe(exc))
        except Exception as exc:  # a bug: the contact is still planned, from its whole history
            log.warning("contact %s not folded: %s", _named(snapshot, who), describe(exc))
    if folds:
        repository.store_folds(folds)


def _record_each(
    repository: Repository, deliveries: Sequence[Delivery]
) -> list[tuple[Delivery, Exception]]:
    """Record `deliveries` at once, or else one by one; those the repository refused."""
    try:
        repository.record(deliveries)
        return []
    except Exception as exc:  # retried one by one below
        if len(deliveries) == 1:
            return [(deliveries[0], exc)]
    refused: list[tuple[Delivery, Exception]] = []
    for position, delivery in enumerate(deliveries):
        if len(refused) >= _GIVE_UP_AFTER and len(refused) == position:
            error = refused[-1][1]
            return [*refused, *((d, error) for d in deliveries[position:])]
        try:
            repository.record([delivery])
        except Exception as exc:  # reported as a RecordError by the tick
            refused.append((delivery, exc))
    return refused


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
