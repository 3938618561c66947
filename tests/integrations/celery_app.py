"""The Celery app the integration test runs real workers of (``celery -A ... worker``).

Everything comes from the environment the test sets, so that the worker processes and the
test agree: the broker, the result backend, the PostgreSQL URL and schema, the task
namespace. The sender records each idempotency key in a table of that schema, counting
attempts: the provider's view of what was sent. A pool process that ends closes its database
connections.
"""

from __future__ import annotations

import os
import threading
from datetime import timedelta

import psycopg
from celery import Celery
from celery.signals import worker_process_shutdown

from regua import Cadence, Channel, Message, Scheduler, SQLRepository, Step, on_event
from regua.integrations.celery import CeleryConfig, install

BROKER = os.environ.get("REGUA_CELERY_BROKER", "amqp://guest:guest@127.0.0.1:5672//")
BACKEND = os.environ.get("REGUA_CELERY_BACKEND", "redis://127.0.0.1:6379/0")
DATABASE = os.environ.get("REGUA_CELERY_DATABASE", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = os.environ.get("REGUA_CELERY_SCHEMA", "regua_celery")
NAMESPACE = os.environ.get("REGUA_CELERY_NAMESPACE", "regua")
SHARDS = int(os.environ.get("REGUA_CELERY_SHARDS", "4"))
BATCH = int(os.environ.get("REGUA_CELERY_BATCH", "50"))
# A PostgreSQL advisory lock key (0: none). After handing a message to the "provider", the
# sender passes this gate (takes the lock shared, for one statement): the test closes it
# (holds the lock) to stop every sender right there, so that it kills a worker mid-dispatch.
GATE = int(os.environ.get("REGUA_CELERY_GATE", "0"))
LEASE = timedelta(minutes=10)

ONBOARDING = Cadence(
    "onboarding",
    channels=[Channel("email")],
    steps=[
        Step("welcome", trigger=on_event("signed_up"), channels=["email"], transactional=True),
        Step(
            "first_tips",
            trigger=on_event("signed_up"),
            delay="6h",
            channels=["email"],
            transactional=True,
        ),
    ],
)

SENT_TABLE = f'"{SCHEMA}".test_sent'


class RecordingSender:
    """Counts attempts per idempotency key in PostgreSQL: a provider that deduplicates.

    Its connections are pooled, not kept per thread: the scheduler sends from a thread of
    its own that ends with each tick, and a connection per thread would be one per task.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._idle: list[psycopg.Connection[tuple[object, ...]]] = []
        self._busy: set[psycopg.Connection[tuple[object, ...]]] = set()

    def _take(self) -> psycopg.Connection[tuple[object, ...]]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None or conn.closed:
            # Not waiting for the disk at each commit: a killed worker (not a crashed
            # server) loses no committed row, and the test stays short.
            conn = psycopg.connect(self._url, autocommit=True, options="-c synchronous_commit=off")
        with self._lock:
            self._busy.add(conn)
        return conn

    def _give_back(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        with self._lock:
            self._busy.discard(conn)
            if conn.closed or conn.broken:
                conn.close()
            else:
                self._idle.append(conn)

    def send(self, message: Message) -> str | None:
        conn = self._take()
        try:
            conn.execute(
                f"INSERT INTO {SENT_TABLE} (idempotency_key, occurrence_key, attempts) "
                "VALUES (%s, %s, 1) ON CONFLICT (idempotency_key) "
                f"DO UPDATE SET attempts = {SENT_TABLE}.attempts + 1",
                (message.idempotency_key, message.occurrence_key),
            )
            if GATE:  # sent, not yet recorded by the scheduler: where the test stops a worker
                conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (GATE,))
        finally:
            self._give_back(conn)
        return None

    def close(self) -> None:
        """Close every connection, idle or in use."""
        with self._lock:
            connections = [*self._idle, *self._busy]
            self._idle.clear()
            self._busy.clear()
        for conn in connections:
            conn.close()


# What this process's scheduler opened (a forked pool process builds its own).
_opened: list[RecordingSender | SQLRepository] = []


def make_scheduler() -> Scheduler:
    """The scheduler of one worker process."""
    # The test drives a virtual day: leases must run on that clock, not the server's.
    repository = SQLRepository(DATABASE, schema=SCHEMA, create=False, lease_clock="caller")
    sender = RecordingSender(DATABASE)
    _opened[:] = [repository, sender]
    return Scheduler(ONBOARDING, repository=repository, senders={"email": sender}, lease=LEASE)


@worker_process_shutdown.connect
def close_connections(**_: object) -> None:
    """A pool process that ends closes the database connections its scheduler opened."""
    for resource in _opened:
        resource.close()
    _opened.clear()


app = Celery("regua_test", broker=BROKER, backend=BACKEND)
app.conf.update(
    # A queue of this run's own: a worker of another run (one left behind by a killed test
    # process) never takes its tasks.
    task_default_queue=NAMESPACE,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    result_expires=3600,
    worker_hijack_root_logger=False,
)
regua_tasks = install(
    app,
    make_scheduler,
    CeleryConfig(
        shards=SHARDS, batch_size=BATCH, lease=LEASE, namespace=NAMESPACE, queue=NAMESPACE
    ),
)
