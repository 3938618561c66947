"""The scheduler for asyncio applications: the same tick, with sends awaited concurrently.

`AsyncScheduler` runs exactly the tick `Scheduler` runs (both drive `regua.tick`: the same
planning, claims, fallback moves stored before sending, retries, records). What differs is
how the tick's requests are carried out:

- **Sends** of one batch's claimed occurrences run concurrently, at most `concurrency` at a
  time (a semaphore). An `AsyncSender` (``async def send``) is awaited on the event loop; a
  plain `Sender` runs in a thread pool of `concurrency` threads, so that blocking senders
  (SMTP...) can be mixed in without blocking the loop.
- **Repository calls** stay synchronous and run in a worker thread (`asyncio.to_thread`).
  Every repository call takes a whole batch (a bounded number of statements), so a tick
  makes a handful of them while it may make thousands of sends: making the repository port
  async would double every adapter for no throughput, and the SQL repository's locking and
  transactions stay the ones proved by its contract tests.

Occurrences are independent of each other within a batch (the planner decided them all
before any was sent, as in `Scheduler`), so sending them concurrently changes no outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

from regua.definitions.cadence import Cadence
from regua.errors import ArgumentTypeError, ConfigurationError, InvalidArgumentError
from regua.folding import FOLD_AFTER
from regua.health import Health
from regua.metrics import Metrics
from regua.planning.explain import Explanation
from regua.ports import AsyncSender, Message, Repository, Sender
from regua.records import DueAction
from regua.scheduler import Clock, RetryPolicy, Scheduler, TickReport
from regua.sharding import Shard
from regua.tick import (
    Done,
    NotSent,
    Send,
    SendInterrupted,
    SendTimedOut,
    Steps,
    Store,
    interruptions,
    resume,
)

__all__ = ["AsyncScheduler"]

log = logging.getLogger("regua.scheduler")

_T = TypeVar("_T")


class AsyncScheduler:
    """Runs cadences from an asyncio application: `Scheduler`'s tick with concurrent sends.

    >>> import asyncio
    >>> from regua import AsyncScheduler, Cadence, Channel, InMemoryRepository, OutboxSender
    >>> from regua import Step, on_event
    >>> shop = Cadence("shop", channels=[Channel("email")], steps=[
    ...     Step("welcome", trigger=on_event("signed_up"), channels=["email"])])
    >>> scheduler = AsyncScheduler([shop], repository=InMemoryRepository(),
    ...                            senders={"email": OutboxSender()}, concurrency=20)
    >>> print(asyncio.run(scheduler.tick()))  # doctest: +ELLIPSIS
    tick at ...: 0 evaluated, 0 sent, 0 deferred, 0 failed, 0 skipped, 0 errors

    Args:
        cadences: The cadences to run (names must be unique).
        repository: Where contacts, events, deliveries, claims and wake-ups live; its
            (synchronous) methods are called in a worker thread.
        senders: One sender per channel name: an `AsyncSender` (awaited) or a `Sender`
            (run in a thread). A channel without a sender fails permanently on that channel.
        concurrency: At most this many sends at once, over every channel.
        clock: Returns the current aware datetime; the system clock in UTC by default.
        worker: This worker's identity in claims and leases; default host:pid:random.
        batch_size: Contacts leased and loaded per batch.
        claim_batch_size: Due occurrences claimed at once; each such chunk's sends run
            concurrently, and its outcomes are recorded before the next is claimed.
        lease: How long a claim or contact lease lasts: see `Scheduler`.
        retry: Backoff for temporary failures.
        metrics: Where counters and timings go (see `regua.metrics`); none by default.
        shard: Evaluate only the contacts of this shard (see `regua.sharding`); None: every
            contact.
        fold_after: When to fold a contact's history (see `Scheduler`).
        log_key: Pseudonyms of contacts in log records (see `Scheduler`).
        send_timeout: How long one send may take (see `Scheduler`): an `AsyncSender` is
            cancelled then, a `Sender`'s thread abandoned; either way the attempt's outcome
            is unknown, so the occurrence is retried later on the same channel only.

    The scheduler creates nothing bound to an event loop until a tick runs, so it can be
    built outside of one. Call `aclose()` (or use ``async with``) to stop its thread pool.

    """

    def __init__(
        self,
        cadences: Cadence | Iterable[Cadence],
        *,
        repository: Repository,
        senders: Mapping[str, AsyncSender | Sender],
        concurrency: int = 50,
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
        if concurrency < 1:
            raise ConfigurationError(f"concurrency must be at least 1, got {concurrency}")
        for channel, sender in senders.items():
            if not callable(getattr(sender, "send", None)):
                raise ArgumentTypeError(
                    f"the sender of channel {channel!r} has no send(message) method: {sender!r}"
                )
        # The synchronous scheduler holds the configuration and answers what involves no
        # sending; its own senders stay empty: sends go through this scheduler's drivers.
        self._scheduler = Scheduler(
            cadences,
            repository=repository,
            senders={},
            clock=clock,
            worker=worker,
            batch_size=batch_size,
            claim_batch_size=claim_batch_size,
            lease=lease,
            retry=retry,
            metrics=metrics,
            shard=shard,
            send_timeout=send_timeout,
            fold_after=fold_after,
            log_key=log_key,
        )
        self.senders: dict[str, AsyncSender | Sender] = dict(senders)
        self.concurrency = concurrency
        self._awaited = {
            channel
            for channel, sender in self.senders.items()
            if inspect.iscoroutinefunction(sender.send)
        }
        self._executor: ThreadPoolExecutor | None = None
        self._stop: asyncio.Event | None = None

    # --- configuration, as on Scheduler ------------------------------------------------------

    @property
    def cadences(self) -> tuple[Cadence, ...]:
        """The cadences this scheduler runs."""
        return self._scheduler.cadences

    @property
    def repository(self) -> Repository:
        """The repository."""
        return self._scheduler.repository

    @property
    def worker(self) -> str:
        """This worker's identity in claims and leases."""
        return self._scheduler.worker

    @property
    def metrics(self) -> Metrics:
        """Where counters and timings go."""
        return self._scheduler.metrics

    # --- public API ----------------------------------------------------------------------------

    async def tick(self, now: datetime | None = None, *, shard: Shard | None = None) -> TickReport:
        """Evaluate every due contact once: claim, send concurrently, record; report.

        `shard` overrides the scheduler's own for this tick.
        """
        now = self._scheduler._now(now)
        started = time.perf_counter()
        semaphore = asyncio.Semaphore(self.concurrency)
        shard = shard if shard is not None else self._scheduler.shard
        steps = self._scheduler._tick_plan(self.senders, shard).steps(now)
        with interruptions() as interrupted:
            tally = await self._run(steps, semaphore, interrupted)
        return self._scheduler._finish_tick(now, tally, started)

    async def health(self, now: datetime | None = None) -> Health:
        """The backlog at `now` and this scheduler's last tick (see `Scheduler.health`)."""
        return await asyncio.to_thread(self._scheduler.health, now)

    async def preview(
        self, now: datetime | None = None, *, contact_ids: Iterable[str] | None = None
    ) -> list[DueAction]:
        """What would be sent now: nothing is claimed, sent or recorded (`Scheduler.preview`)."""
        ids = None if contact_ids is None else list(contact_ids)
        return await asyncio.to_thread(self._scheduler.preview, now, contact_ids=ids)

    async def explain(
        self, contact_id: str, cadence: str, step: str, now: datetime | None = None
    ) -> Explanation:
        """Why `step` of `cadence` is, or is not, due for the contact (`Scheduler.explain`)."""
        return await asyncio.to_thread(self._scheduler.explain, contact_id, cadence, step, now)

    async def run(
        self,
        interval: timedelta | float = 60.0,
        *,
        on_tick: Callable[[TickReport], Awaitable[None] | None] | None = None,
    ) -> None:
        """Tick every `interval` (seconds or a timedelta) until `stop()` or cancellation.

        `stop()` ends the loop after the tick under way; cancelling the task running `run`
        ends it at once (claims taken and not recorded expire after their lease, and those
        occurrences are sent again then, with the same idempotency keys). A tick that fails
        (a repository briefly unreachable) is logged and the loop goes on. `on_tick` may be
        a plain function or a coroutine function.
        """
        seconds = interval.total_seconds() if isinstance(interval, timedelta) else interval
        if seconds <= 0:
            raise InvalidArgumentError(f"interval must be positive, got {interval}")
        self._stop = stop = asyncio.Event()
        while not stop.is_set():
            try:
                report = await self.tick()
            except Exception:
                log.exception("tick failed; retrying after the interval")
            else:
                if on_tick is not None:
                    result = on_tick(report)
                    if inspect.isawaitable(result):
                        await result
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)

    def stop(self) -> None:
        """Ask `run` to return after the tick under way."""
        if self._stop is not None:
            self._stop.set()

    async def aclose(self) -> None:
        """Stop the thread pool that runs synchronous senders (it is recreated if needed)."""
        executor, self._executor = self._executor, None
        if executor is not None:  # a send stuck in its thread is not waited for
            executor.shutdown(wait=False, cancel_futures=True)

    async def __aenter__(self) -> AsyncScheduler:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        names = ", ".join(c.name for c in self.cadences)
        return f"AsyncScheduler([{names}], worker={self.worker!r}, concurrency={self.concurrency})"

    # --- the driver ----------------------------------------------------------------------------

    async def _run(
        self, steps: Steps[_T], semaphore: asyncio.Semaphore, interrupted: list[BaseException]
    ) -> _T:
        """Carry out the requests of `steps` (the asynchronous counterpart of `run_steps`)."""
        answer: Any = None
        error: Exception | None = None
        while not isinstance(request := resume(steps, answer, error), Done):
            answer, error = None, None
            if isinstance(request, Store):
                answer = await asyncio.to_thread(request.call, self.repository)
            elif isinstance(request, Send):
                try:
                    async with semaphore:
                        # Read once a slot is free: a send waits for one, and meanwhile the
                        # lease runs on, or another send interrupts the tick.
                        limit = request.limit()
                        if interrupted or (limit is not None and limit <= 0):
                            raise NotSent(
                                "the tick stops" if interrupted else "the lease is ending"
                            )
                        answer = await self._send(request.message, limit)
                except asyncio.CancelledError:
                    raise  # the tick is cancelled: its claims expire (see `run`)
                except Exception as exc:  # thrown back: the dispatch decides what it means
                    error = exc
                except BaseException as exc:  # raised again once the outcomes are recorded
                    interrupted.append(exc)
                    error = SendInterrupted(exc)
            else:
                answer = await _all(
                    [self._run(d, semaphore, interrupted) for d in request.dispatches]
                )
        result: _T = request.value
        return result

    async def _send(self, message: Message, timeout: float | None) -> str | None:
        sender = self.senders[message.channel]
        if message.channel in self._awaited:
            sending: Awaitable[str | None] = sender.send(message)  # type: ignore[assignment]
        else:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self.concurrency, thread_name_prefix="regua-send"
                )
            loop = asyncio.get_running_loop()
            sending = loop.run_in_executor(self._executor, sender.send, message)  # type: ignore[arg-type]
        if timeout is None:
            return await sending
        # The sender's own exceptions come back as values: a KeyboardInterrupt or SystemExit
        # raised inside the task `wait_for` runs would escape the event loop unrecorded, and
        # a TimeoutError of the sender's must not pass for `wait_for`'s.
        outcome = await _within(_caught(sending), timeout)
        if outcome is None:
            if message.channel not in self._awaited:  # its thread is stuck in that send:
                self._replace_executor()  # later sends get threads that are not
            raise SendTimedOut(f"no answer within {timeout:g}s; the outcome is unknown")
        result, error = outcome
        if error is not None:
            raise error
        return result

    def _replace_executor(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


async def _caught(sending: Awaitable[_T]) -> tuple[_T | None, BaseException | None]:
    """Await `sending`; its result, or the exception it raised (cancellation excepted)."""
    try:
        return await sending, None
    except asyncio.CancelledError:
        raise
    except BaseException as error:  # handed back to the driver, which decides
        return None, error


async def _within(
    awaitable: Awaitable[tuple[_T | None, BaseException | None]], timeout: float
) -> tuple[_T | None, BaseException | None] | None:
    """`awaitable`'s value, or None when `timeout` seconds passed first (it is cancelled)."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        return None


async def _all(coroutines: list[Awaitable[_T]]) -> list[_T]:
    """Await every coroutine concurrently; results in order.

    If one raises (the repository failed while storing a fallback move), the others are
    cancelled, awaited, and the error propagates: the tick stops as `Scheduler.tick` would,
    and the claims it holds expire.
    """
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    if not tasks:
        return []
    try:
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    except BaseException:  # cancelled: take the dispatches down with the tick
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    if pending:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    return [task.result() for task in tasks]
