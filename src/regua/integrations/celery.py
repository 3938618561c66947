"""Run regua on Celery: a periodic tick fanned out over shards, dispatched as tasks.

Install the ``celery`` extra (``pip install 'regua[celery]'``), then register regua's tasks on
your Celery app with `install`::

    from celery import Celery
    from regua.integrations.celery import CeleryConfig, install

    app = Celery("shop", broker="amqp://guest:guest@rabbitmq//")
    regua_tasks = install(app, make_scheduler, CeleryConfig(shards=4))
    app.conf.beat_schedule = regua_tasks.beat_schedule()

Three tasks, named ``<namespace>.tick``, ``<namespace>.tick_shard`` and
``<namespace>.dispatch``:

1. **tick** (run it from Celery beat, or any cron, every `CeleryConfig.tick_every`) sends one
   ``tick_shard`` task per shard (`regua.sharding`), so that the shards are worked on in
   parallel by whichever workers are free.
2. **tick_shard** leases the shard's due contacts in batches (`Repository.acquire_due`),
   plans each (the planner is pure: no I/O), evaluates at once the contacts with nothing to
   send (closures and wake-ups only), and sends one ``dispatch`` task per batch of contacts
   with due actions. The task id is the due action's idempotency key (for a batch of several
   actions, a digest of their keys), so the task that sends a message is found by the key
   the provider received.
3. **dispatch** loads the batch's contacts and evaluates them (`Scheduler.evaluate`): claim,
   re-check consent, send, record, store the next wake-up (which ends the lease).

What guarantees exactly-once is not Celery. The tasks are declared ``acks_late`` and
``reject_on_worker_lost``, so a worker that dies mid-task gets its task redelivered to
another; and a task id does not stop a broker from delivering a message twice. A redelivered
(or duplicated) ``dispatch`` never sends twice because of the repository: each occurrence is
**claimed** before sending and never claimed again once its outcome is recorded, and a live
claim is refused to everyone. In the one window no claim covers (the provider accepted the
message, then the worker died before recording it) the message is sent again after the
claim's lease, with the same idempotency key: a sender that hands the key to a provider that
deduplicates makes it exactly-once in effect. A ``dispatch`` lost altogether (a broker that
drops it) loses nothing either: its contacts' lease ends and the next tick takes them again.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from regua.errors import ConfigurationError, InvalidArgumentError, MissingDependencyError
from regua.planning.planner import plan_contact
from regua.records import Snapshot
from regua.scheduler import Scheduler, TickReport
from regua.sharding import Shard

try:
    from celery import Celery, Task
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError("regua.integrations.celery", "celery", "celery") from exc

__all__ = ["CeleryConfig", "ReguaTasks", "dispatch_task_id", "install"]

log = logging.getLogger("regua.celery")

SchedulerFactory = Callable[[], Scheduler]
"""Builds the worker process's `Scheduler` (cadences, repository, senders)."""


def _positive(name: str) -> Callable[[Any, Any, Any], None]:
    def check(instance: Any, attribute: Any, value: Any) -> None:
        number = value.total_seconds() if isinstance(value, timedelta) else value
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number <= 0:
            shown = str(value) if isinstance(value, timedelta) else repr(value)
            raise ConfigurationError(f"CeleryConfig.{name} must be positive, got {shown}")

    return check


def _seconds(value: timedelta | float) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


@attrs.frozen(slots=True)
class CeleryConfig:
    """How regua's Celery tasks split and schedule the work.

    Attributes:
        shards: How many shards each tick fans out to: at most this many workers plan at
            once. A few per worker process is plenty; changing it is safe at any time (see
            `regua.sharding`).
        batch_size: Contacts leased per batch, and so at most per ``dispatch`` task.
        lease: How long a ``tick_shard`` leases the contacts it hands to a ``dispatch``
            task, and how long a dispatch waiting in the queue stays worth running (it is
            sent with this expiry). If the dispatch has not ended the lease by then, the
            next tick takes the contacts again. Longer than a queue is ever backed up.
        tick_every: How often the beat schedule runs ``tick`` (seconds or a timedelta).
        namespace: Prefix of the task names (``<namespace>.tick``...) and of the ids of the
            tasks regua sends; two regua deployments on one broker need two namespaces.
        queue: The queue regua's tasks are sent to; None: Celery's default queue.

    Raises:
        ConfigurationError: A number is not positive, or `namespace` is empty.

    """

    shards: int = attrs.field(default=1, validator=_positive("shards"))
    batch_size: int = attrs.field(default=200, validator=_positive("batch_size"))
    lease: timedelta = attrs.field(
        default=timedelta(minutes=5), converter=_seconds, validator=_positive("lease")
    )
    tick_every: timedelta = attrs.field(
        default=timedelta(seconds=60), converter=_seconds, validator=_positive("tick_every")
    )
    namespace: str = "regua"
    queue: str | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.shards, int):
            raise ConfigurationError(f"CeleryConfig.shards must be an integer, got {self.shards!r}")
        if not self.namespace:
            raise ConfigurationError("CeleryConfig.namespace must not be empty")


def _instant(value: str | None, scheduler: Scheduler) -> datetime:
    """The instant a task runs at: the one it was given (ISO 8601), else the clock."""
    if value is None:
        return scheduler.clock()
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise InvalidArgumentError(f"a task's now must be timezone-aware, got {value!r}")
    return parsed.astimezone(timezone.utc)


def dispatch_task_id(namespace: str, idempotency_keys: Sequence[str]) -> str:
    """The id of the ``dispatch`` task carrying these due actions.

    The action's idempotency key when there is one; for a batch, a digest of the sorted
    keys, so the same batch gets the same id when a later tick sends it again.
    """
    keys = sorted(set(idempotency_keys))
    if len(keys) == 1:
        return f"{namespace}:{keys[0]}"
    digest = hashlib.blake2b("\n".join(keys).encode(), digest_size=16).hexdigest()
    return f"{namespace}:batch:{digest}"


@attrs.define
class ReguaTasks:
    """regua's Celery tasks on one app, as `install` registered them.

    Attributes:
        app: The Celery app.
        config: The configuration the tasks run with.
        tick: ``<namespace>.tick(now=None)``: fans out one ``tick_shard`` per shard; returns
            their task ids.
        tick_shard: ``<namespace>.tick_shard(index, count, now=None)``: leases and plans one
            shard's due contacts, sends ``dispatch`` tasks; returns a summary whose
            ``"dispatched"`` lists their task ids.
        dispatch: ``<namespace>.dispatch(contact_ids, now=None)``: evaluates the contacts
            (claim, send, record); returns a summary of the `TickReport`.

    """

    app: Celery
    config: CeleryConfig
    factory: SchedulerFactory
    tick: Task[Any, Any] = attrs.field(init=False)
    tick_shard: Task[Any, Any] = attrs.field(init=False)
    dispatch: Task[Any, Any] = attrs.field(init=False)
    _scheduler: Scheduler | None = attrs.field(init=False, default=None)
    _pid: int | None = attrs.field(init=False, default=None)
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)

    def scheduler(self) -> Scheduler:
        """This process's `Scheduler`, built by the factory on first use.

        Built again in a forked child (Celery's prefork pool), so that no database
        connection is shared between processes.
        """
        with self._lock:
            if self._scheduler is None or self._pid != os.getpid():
                self._scheduler = self.factory()
                self._pid = os.getpid()
            return self._scheduler

    def beat_schedule(self) -> dict[str, dict[str, Any]]:
        """A Celery beat schedule entry running ``tick`` every `CeleryConfig.tick_every`.

        Merge it into ``app.conf.beat_schedule``. Ticks that fall behind expire instead of
        piling up: a tick older than its interval is skipped, the next one does its work.
        """
        seconds = self.config.tick_every.total_seconds()
        return {
            f"{self.config.namespace}.tick": {
                "task": self.tick.name,
                "schedule": seconds,
                "options": {"expires": seconds, **self._routing()},
            }
        }

    def _routing(self) -> dict[str, Any]:
        return {} if self.config.queue is None else {"queue": self.config.queue}

    # --- the tasks' bodies ---------------------------------------------------------------------

    def _tick(self, now: str | None) -> list[str]:
        stamp = now or datetime.now(timezone.utc).isoformat()
        ids = []
        for shard in Shard.all(self.config.shards):
            task_id = f"{self.config.namespace}:tick:{stamp}:{shard}"
            self.tick_shard.apply_async(
                (shard.index, shard.count, now), task_id=task_id, **self._routing()
            )
            ids.append(task_id)
        return ids

    def _tick_shard(self, task_id: str, index: int, count: int, now: str | None) -> dict[str, Any]:
        scheduler = self.scheduler()
        shard = Shard(index, count)
        at = _instant(now, scheduler)
        config = self.config
        dispatched: list[str] = []
        evaluated = 0
        seen: set[str] = set()
        for batch in itertools.count():
            # A lease holder of its own per batch: the contacts handed to a dispatch stay due
            # until it stores their wake-up, and must not come back in the next batch.
            holder = f"{scheduler.worker}:{task_id}:{batch}"
            snapshots = scheduler.repository.acquire_due(
                holder, at, config.batch_size, config.lease, shard=shard
            )
            acquired = len(snapshots)
            # A contact evaluated here may be due again at once (it kept changing): it waits
            # for the next tick, as in `Scheduler.tick`.
            snapshots = [s for s in snapshots if s.contact.id not in seen]
            if not snapshots:
                break
            seen.update(s.contact.id for s in snapshots)
            keys, quiet = self._due_keys(scheduler, snapshots, at)
            if quiet:  # nothing to send: close what the planner closed, store wake-ups
                evaluated += scheduler.evaluate(quiet, at).evaluated
            if keys:
                dispatch_id = dispatch_task_id(config.namespace, keys)
                busy = {s.contact.id for s in snapshots} - {s.contact.id for s in quiet}
                self.dispatch.apply_async(
                    (sorted(busy), now),
                    task_id=dispatch_id,
                    expires=config.lease.total_seconds(),
                    **self._routing(),
                )
                dispatched.append(dispatch_id)
            if acquired < config.batch_size:
                break
        log.info(
            "shard %s at %s: %d dispatch tasks sent, %d contacts evaluated without sending",
            shard,
            at.isoformat(),
            len(dispatched),
            evaluated,
        )
        return {"shard": str(shard), "dispatched": dispatched, "evaluated": evaluated}

    @staticmethod
    def _due_keys(
        scheduler: Scheduler, snapshots: Sequence[Snapshot], at: datetime
    ) -> tuple[list[str], list[Snapshot]]:
        """The idempotency keys due in the batch, and the snapshots with nothing due.

        A contact whose planning raises goes with the quiet ones: `Scheduler.evaluate`
        records the error against it.
        """
        keys: list[str] = []
        quiet: list[Snapshot] = []
        for snapshot in snapshots:
            try:
                due = [a for p in plan_contact(scheduler.cadences, snapshot, at) for a in p.due]
            except Exception:
                due = []
            if due:
                keys.extend(action.idempotency_key for action in due)
            else:
                quiet.append(snapshot)
        return keys, quiet

    def _dispatch(self, contact_ids: Sequence[str], now: str | None) -> dict[str, Any]:
        scheduler = self.scheduler()
        at = _instant(now, scheduler)
        snapshots = scheduler.repository.load_snapshots(list(contact_ids))
        report = scheduler.evaluate([snapshots[c] for c in contact_ids if c in snapshots], at)
        return _summary(report)


def _summary(report: TickReport) -> dict[str, Any]:
    """A `TickReport` as JSON, for Celery's result backend."""
    return {
        "worker": report.worker,
        "now": report.now.isoformat(),
        "evaluated": report.evaluated,
        "sent": len(report.sent),
        "deferred": len(report.deferred),
        "failed": len(report.failed),
        "skipped": len(report.skipped),
        "errors": len(report.errors),
    }


def install(
    app: Celery, scheduler: SchedulerFactory, config: CeleryConfig | None = None
) -> ReguaTasks:
    """Register regua's tasks on `app`; return them (with a beat schedule to add).

    Args:
        app: Your Celery app.
        scheduler: Builds the `Scheduler` a worker process uses (its cadences, repository
            and senders). Called once per worker process, on its first regua task, so
            that each forked process opens its own database connections. Its repository
            must be shared by every worker: `SQLRepository` on PostgreSQL (or SQLite when
            every worker runs on one machine).
        config: Shards, batch size, lease, tick interval, names; defaults if None.

    The tasks acknowledge their message only once done (``acks_late``) and are given back
    to the broker when their worker process dies (``reject_on_worker_lost``): set
    ``worker_prefetch_multiplier=1`` so that a dying worker holds few of them.

    """
    config = config or CeleryConfig()
    tasks = ReguaTasks(app, config, scheduler)
    # shared=False: the tasks belong to this app only (Celery would otherwise add them to
    # every app created in the process, each under the same names).
    options: dict[str, Any] = {"acks_late": True, "reject_on_worker_lost": True, "shared": False}
    ns = config.namespace

    @app.task(name=f"{ns}.tick", **options)
    def tick(now: str | None = None) -> list[str]:
        """Fan out one tick_shard task per shard."""
        return tasks._tick(now)

    @app.task(name=f"{ns}.tick_shard", bind=True, **options)
    def tick_shard(
        task: Task[Any, Any], index: int, count: int, now: str | None = None
    ) -> dict[str, Any]:
        """Lease and plan one shard's due contacts; send dispatch tasks."""
        return tasks._tick_shard(str(task.request.id), index, count, now)

    @app.task(name=f"{ns}.dispatch", **options)
    def dispatch(contact_ids: list[str], now: str | None = None) -> dict[str, Any]:
        """Evaluate these contacts: claim, send, record."""
        return tasks._dispatch(contact_ids, now)

    tasks.tick, tasks.tick_shard, tasks.dispatch = tick, tick_shard, dispatch
    return tasks
