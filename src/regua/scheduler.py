"""The scheduler: turns plans into sent messages, safely, with one worker or many.

A tick (`Scheduler.tick`):

1. leases a batch of contacts whose wake-up is due (`Repository.acquire_due`: an index
   lookup, never a scan of the base) and plans each under every cadence;
2. records what the planner closed (cancelled, skipped, expired);
3. **claims** each due occurrence atomically (`Repository.claim`: a lease with an expiry, so
   that a crashed worker's claims are taken over once they expire);
4. reloads the claimed contacts and re-checks consent and address (consent revoked after
   planning means nothing is sent), plans again each contact changed since it was planned
   (an order placed meanwhile cancels the cart reminder: only what is still due is sent),
   then sends, falling back to the next channel on a
   permanent failure; temporary failures are retried with exponential backoff and jitter up
   to `RetryPolicy.max_attempts` per channel, then the next channel is tried; when none is
   left the occurrence is recorded as failed (a dead letter: `Repository.failed_deliveries`);
5. records the outcomes, plans again the contacts with the outcome of a send (an
   ``after_step`` follower may be due at once), and stores each contact's next wake-up.

An exception raised while planning one contact (bad data) is recorded against that contact
(`Repository.errors`) and the tick goes on with the others.

Delivery is at-least-once towards the sender: a worker that dies after the provider accepted
a message but before recording it leaves a claim that expires, and the next worker sends
again with the same idempotency key. A sender that passes the key to a provider that
deduplicates makes it exactly-once in effect. Such a taken-over claim is *unsettled*
(`Claim.unsettled`), and so is one whose send timed out: the occurrence then stays on the
channel that may have delivered it until that channel answers. A success there is the
delivery; a permanent refusal of the key says the earlier attempt was not delivered, and the
occurrence moves on to its fallback channel. It is never sent on two channels.

A sender that misbehaves harms one occurrence: a send that outlasts `send_timeout` is
abandoned (its outcome unknown, retried later on its channel), an exception whose text
cannot be read is recorded by its type, a `BaseException` stops the tick only once the
outcomes it already has are recorded, and no send starts on a claim whose lease is ending.
An outcome the repository refuses to record does not lose the others of its chunk.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from types import FrameType
from typing import Any

import attrs

from regua.definitions.cadence import Cadence
from regua.errors import (
    ConfigurationError,
    InvalidArgumentError,
    UnknownCadenceError,
    UnknownContactError,
)
from regua.folding import FOLD_AFTER
from regua.health import Health
from regua.metrics import GuardedMetrics, Metrics, NullMetrics
from regua.planning.explain import Explanation, explain
from regua.planning.planner import plan_contact
from regua.ports import Claim, Repository, Sender
from regua.records import Delivery, DueAction, Snapshot
from regua.sharding import Shard
from regua.tick import SendThread, Steps, Tally, TickPlan, run_steps

__all__ = ["RetryPolicy", "Scheduler", "TickReport"]

log = logging.getLogger("regua.scheduler")

Clock = Callable[[], datetime]


def _system_clock() -> datetime:
    return datetime.now(timezone.utc)


@attrs.frozen(slots=True)
class RetryPolicy:
    """How temporary failures are retried on one channel before falling back to the next.

    The n-th retry waits ``initial * multiplier ** (n - 1)``, capped at `max_delay`, then
    spread by ±`jitter` (a fraction) so that many failures do not retry in lock-step. The
    jitter is derived from the idempotency key and the attempt, so it is reproducible.
    """

    max_attempts: int = 5
    initial: timedelta = timedelta(seconds=30)
    multiplier: float = 2.0
    max_delay: timedelta = timedelta(hours=1)
    jitter: float = 0.2

    def __attrs_post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError(
                f"RetryPolicy.max_attempts must be at least 1, got {self.max_attempts}"
            )
        if not 0 <= self.jitter < 1:
            raise ConfigurationError(f"RetryPolicy.jitter must be in [0, 1), got {self.jitter}")

    def delay(self, attempt: int, key: str) -> timedelta:
        """The wait before retry number `attempt` (1-based) of the occurrence `key`."""
        base = min(
            self.initial.total_seconds() * self.multiplier ** (attempt - 1),
            self.max_delay.total_seconds(),
        )
        digest = hashlib.blake2b(f"{key}#{attempt}".encode(), digest_size=8).digest()
        spread = int.from_bytes(digest, "big") / 2**64 * 2 - 1  # in [-1, 1)
        # Whole seconds: retry instants stay readable, and stores keep them exactly.
        return timedelta(seconds=max(1, round(base * (1 + self.jitter * spread))))


@attrs.frozen(slots=True)
class TickReport:
    """What one tick did.

    Attributes:
        now: The instant the tick planned for.
        worker: The worker's identity.
        evaluated: How many contact evaluations were made: a contact planned again in the
            same tick, after the outcome of a send, counts each time.
        sent: Deliveries recorded as sent.
        deferred: Claims waiting for a retry after a temporary failure.
        failed: Deliveries recorded as failed (every channel failed or was exhausted).
        skipped: Occurrences closed without sending: skipped, cancelled or expired, by the
            planner or because consent was withdrawn before sending.
        errors: Contact id -> the error raised while evaluating it.

    """

    now: datetime
    worker: str
    evaluated: int = 0
    sent: tuple[Delivery, ...] = ()
    deferred: tuple[Claim, ...] = ()
    failed: tuple[Delivery, ...] = ()
    skipped: tuple[Delivery, ...] = ()
    errors: Mapping[str, str] = attrs.field(factory=dict)

    def __str__(self) -> str:
        return (
            f"tick at {self.now.isoformat()}: {self.evaluated} evaluated, {len(self.sent)} "
            f"sent, {len(self.deferred)} deferred, {len(self.failed)} failed, "
            f"{len(self.skipped)} skipped, {len(self.errors)} errors"
        )


class Scheduler:
    """Runs cadences against a repository and senders.

    >>> from regua import Cadence, Channel, InMemoryRepository, OutboxSender, Scheduler
    >>> from regua import Step, on_event
    >>> shop = Cadence("shop", channels=[Channel("email")], steps=[
    ...     Step("welcome", trigger=on_event("signed_up"), channels=["email"])])
    >>> outbox = OutboxSender()
    >>> scheduler = Scheduler([shop], repository=InMemoryRepository(),
    ...                       senders={"email": outbox})

    Args:
        cadences: The cadences to run (names must be unique).
        repository: Where contacts, events, deliveries, claims and wake-ups live.
        senders: One `Sender` per channel name. A channel without a sender fails permanently
            on that channel (and falls back to the next).
        clock: Returns the current aware datetime; defaults to the system clock in UTC.
            Inject one to test with a virtual clock.
        worker: This worker's identity in claims and leases; default host:pid:random.
        batch_size: Contacts leased and loaded per batch: a batch costs a fixed number of
            repository calls (SQL statements) whatever its size.
        claim_batch_size: Due occurrences claimed at once; each such chunk is sent and its
            outcomes recorded before the next is claimed.
        lease: How long a claim or contact lease lasts. On a repository whose leases run on
            its own clock (`SQLRepository` on PostgreSQL, by default), a chunk's claims run
            from when they are taken: make it longer than sending `claim_batch_size`
            occurrences takes, retries included. Elsewhere leases run from the tick's `now`:
            make it longer than a tick takes.
        retry: Backoff for temporary failures.
        metrics: Where counters and timings go (see `regua.metrics`); none by default.
        shard: Evaluate only the contacts of this shard (see `regua.sharding`): N workers
            given the N shards of one count split the base between them. None: every
            contact.
        send_timeout: How long one send may take. A send that outlasts it is abandoned to
            its thread and counted as an attempt of *unknown* outcome: retried later on the
            same channel only (same idempotency key), never moved to another channel. No
            send starts once less than a tenth of a claim's lease is left, and a send's
            timeout never reaches past that point: a worker never sends on a claim another
            may already hold. None: no limit (sends then run on the tick's own thread);
            give your senders their own transport timeouts then.
        fold_after: Fold a contact's history once a snapshot of it holds this many events
            and deliveries (`regua.fold`), on a repository that keeps folds
            (``store_folds``): later ticks read the folded history and what was added since,
            so a contact costs what is open, not how long it has been around. None: never
            fold.
        log_key: A secret of the application (str or bytes). With it, every log record
            about a contact names it by its pseudonym (`regua.redaction.pseudonym`, the
            ``regua_contact`` field) and never by its id, so that one contact's records can
            be found together without the logs holding the id. None (the default): records
            about an occurrence carry no contact field, and the record of a contact that
            cannot be evaluated names it by its id.

    """

    def __init__(
        self,
        cadences: Cadence | Iterable[Cadence],
        *,
        repository: Repository,
        senders: Mapping[str, Sender],
        clock: Clock | None = None,
        worker: str | None = None,
        batch_size: int = 2000,
        claim_batch_size: int = 1000,
        lease: timedelta = timedelta(minutes=5),
        retry: RetryPolicy | None = None,
        metrics: Metrics | None = None,
        shard: Shard | None = None,
        send_timeout: timedelta | None = timedelta(seconds=30),
        fold_after: int | None = FOLD_AFTER,
        log_key: str | bytes | None = None,
    ) -> None:
        self.cadences: tuple[Cadence, ...] = (
            (cadences,) if isinstance(cadences, Cadence) else tuple(cadences)
        )
        names = [c.name for c in self.cadences]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigurationError(
                f"cadence names must be unique; repeated: {', '.join(duplicates)}"
            )
        if not self.cadences:
            raise ConfigurationError("a Scheduler needs at least one cadence")
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
        if claim_batch_size < 1:
            raise ConfigurationError(f"claim_batch_size must be at least 1, got {claim_batch_size}")
        if lease <= timedelta(0):
            raise ConfigurationError(f"lease must be positive, got {lease}")
        if send_timeout is not None and send_timeout <= timedelta(0):
            raise ConfigurationError(f"send_timeout must be positive or None, got {send_timeout}")
        if fold_after is not None and fold_after < 1:
            raise ConfigurationError(f"fold_after must be at least 1 or None, got {fold_after}")
        self.fold_after = fold_after
        if isinstance(log_key, str):
            log_key = log_key.encode("utf-8")
        if log_key is not None and not log_key:
            raise ConfigurationError("log_key must not be empty (None: no pseudonyms in logs)")
        self.log_key = log_key
        self.repository = repository
        self.senders = dict(senders)
        self.clock: Clock = clock or _system_clock
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.batch_size = batch_size
        self.claim_batch_size = claim_batch_size
        self.lease = lease
        self.retry = retry or RetryPolicy()
        self.metrics: Metrics = metrics if metrics is not None else NullMetrics()
        self.shard = shard
        self.send_timeout = send_timeout
        self._sends = SendThread()
        self._kinds = {ch.name: ch.kind for c in self.cadences for ch in c.channels}
        self._stop = threading.Event()
        self._last_tick: tuple[datetime, float] | None = None

    # --- public API ----------------------------------------------------------------------------

    def tick(self, now: datetime | None = None, *, shard: Shard | None = None) -> TickReport:
        """Evaluate every due contact once: claim, send, record; return what happened.

        `shard` overrides the scheduler's own for this tick.
        """
        now = self._now(now)
        started = time.perf_counter()
        tick_plan = self._tick_plan(self.senders, shard if shard is not None else self.shard)
        return self._finish_tick(now, self._run(tick_plan.steps(now)), started)

    def evaluate(self, snapshots: Sequence[Snapshot], now: datetime | None = None) -> TickReport:
        """Evaluate these contacts as a tick would (claim, send, record), due or not.

        For work handed out by something else than `tick`: a task queue passing contacts
        that a tick leased (`regua.integrations.celery`). The snapshots come from
        `Repository.acquire_due` or `Repository.load_snapshots`; storing their next wake-up
        ends any lease on them. Claims still decide who sends: evaluating a contact twice,
        at once or after a crash, never sends one occurrence twice while its claim lives.
        """
        now = self._now(now)
        started = time.perf_counter()
        tick_plan = self._tick_plan(self.senders, self.shard)
        return self._finish_tick(now, self._run(tick_plan.evaluate(snapshots, now)), started)

    def health(self, now: datetime | None = None) -> Health:
        """The backlog at `now` and this scheduler's last tick (one cheap repository query)."""
        now = self._now(now)
        last, duration = self._last_tick if self._last_tick is not None else (None, None)
        return Health.read(self.repository, now, last, duration)

    def preview(
        self, now: datetime | None = None, *, contact_ids: Iterable[str] | None = None
    ) -> list[DueAction]:
        """What would be sent now, under every cadence: nothing is claimed, sent or recorded.

        Looks at the contacts whose wake-up is due (or at `contact_ids`), up to
        `batch_size` of them when no ids are given.
        """
        now = self._now(now)
        ids = (
            list(contact_ids)
            if contact_ids is not None
            else self.repository.due_contact_ids(now, self.batch_size, shard=self.shard)
        )
        snapshots = self.repository.load_snapshots(ids)
        due: list[DueAction] = []
        for contact_id in ids:
            snapshot = snapshots.get(contact_id)
            if snapshot is None:
                continue
            for result in plan_contact(self.cadences, snapshot, now):
                due.extend(result.due)
        return due

    def explain(
        self, contact_id: str, cadence: str, step: str, now: datetime | None = None
    ) -> Explanation:
        """Why `step` of `cadence` is, or is not, due for the contact (see `regua.explain`).

        Raises:
            UnknownContactError: no such contact.
            UnknownCadenceError: no such cadence.
            UnknownStepError: no such step (each of the three is also a `KeyError`).

        """
        now = self._now(now)
        by_name = {c.name: c for c in self.cadences}
        if cadence not in by_name:
            raise UnknownCadenceError(f"no cadence {cadence!r} (cadences: {', '.join(by_name)})")
        snapshot = self.repository.load_snapshots([contact_id]).get(contact_id)
        if snapshot is None:
            raise UnknownContactError(f"no contact {contact_id!r} in the repository")
        return explain(by_name[cadence], snapshot, step, now, cadences=self.cadences)

    def run(
        self,
        interval: timedelta | float = 60.0,
        *,
        handle_signals: bool = True,
        on_tick: Callable[[TickReport], None] | None = None,
    ) -> None:
        """Tick every `interval` (seconds or a timedelta) until `stop()` or SIGTERM/SIGINT.

        A signal ends the loop after the tick under way finishes, so nothing is left
        half-done. Signal handlers are installed only in the main thread, and restored on
        return.
        """
        seconds = interval.total_seconds() if isinstance(interval, timedelta) else interval
        if seconds <= 0:
            raise InvalidArgumentError(f"interval must be positive, got {interval}")
        self._stop.clear()
        previous: dict[signal.Signals, Any] = {}
        if handle_signals and threading.current_thread() is threading.main_thread():

            def stop_on_signal(signum: int) -> None:
                log.info("signal %s: stopping after the current tick", signum)
                self._stop.set()

            def request_stop(signum: int, frame: FrameType | None) -> None:
                # A handler runs on the main thread, between two of its bytecodes: perhaps
                # while that thread holds the lock of `self._stop` (entering or leaving
                # `Event.wait`), which `Event.set` takes too, and which is not reentrant.
                # Setting it from a thread of its own cannot deadlock.
                threading.Thread(
                    target=stop_on_signal, args=(signum,), name="regua-stop", daemon=True
                ).start()

            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, request_stop)
        try:
            while not self._stop.is_set():
                try:
                    report = self.tick()
                except Exception:
                    # The repository may be briefly unreachable: keep the worker alive.
                    log.exception("tick failed; retrying after the interval")
                else:
                    if on_tick is not None:
                        on_tick(report)
                self._stop.wait(seconds)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def stop(self) -> None:
        """Ask `run` to return after the tick under way."""
        self._stop.set()

    # --- the tick ------------------------------------------------------------------------------

    def _run(self, steps: Steps[Tally]) -> Tally:
        """Drive a tick's steps on this thread; its sends on the scheduler's send thread.

        One send thread serves every tick (a sender keeping a connection per thread keeps
        one); a send that times out is left to it, and the next send starts a new one.
        """
        sends = self._sends if self.send_timeout is not None else None
        return run_steps(steps, self.repository, sends)

    def _tick_plan(self, senders: Mapping[str, object], shard: Shard | None) -> TickPlan:
        return TickPlan(
            cadences=self.cadences,
            shard=shard,
            senders=senders,
            worker=self.worker,
            batch_size=self.batch_size,
            claim_batch_size=self.claim_batch_size,
            lease=self.lease,
            retry=self.retry,
            metrics=GuardedMetrics(self.metrics),
            kinds=self._kinds,
            send_timeout=self.send_timeout,
            fold_after=self.fold_after,
            log_key=self.log_key,
            lease_from_claim=self.repository.lease_clock == "database",
        )

    def _finish_tick(self, now: datetime, tally: Tally, started: float) -> TickReport:
        duration = time.perf_counter() - started
        self._last_tick = (now, duration)
        metrics = GuardedMetrics(self.metrics)
        metrics.record("regua.tick.duration", duration)
        metrics.record("regua.tick.due", tally.due)
        report = TickReport(
            now=now,
            worker=self.worker,
            evaluated=tally.evaluated,
            sent=tuple(tally.sent),
            deferred=tuple(tally.deferred),
            failed=tuple(tally.failed),
            skipped=tuple(tally.skipped),
            errors=dict(tally.errors),
        )
        log.info(
            "%s",
            str(report),  # its text only: the record must not hold the contacts' ids
            extra={
                "regua_worker": self.worker,
                "regua_outcome": "tick",
                "regua_evaluated": tally.evaluated,
                "regua_due": tally.due,
                "regua_sent": len(tally.sent),
                "regua_deferred": len(tally.deferred),
                "regua_failed": len(tally.failed),
                "regua_skipped": len(tally.skipped),
                "regua_errors": len(tally.errors),
                "regua_duration": duration,
            },
        )
        return report

    def _now(self, now: datetime | None) -> datetime:
        now = self.clock() if now is None else now
        if now.tzinfo is None or now.utcoffset() is None:
            raise InvalidArgumentError(f"now must be a timezone-aware datetime, got {now!r}")
        return now.astimezone(timezone.utc)
