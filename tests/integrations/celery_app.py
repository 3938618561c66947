"""The Celery app the integration test runs real workers of (``celery -A ... worker``).

Everything comes from the environment the test sets, so that the worker processes and the
test agree: the broker, the result backend, the PostgreSQL URL and schema, the task
namespace. The sender records each idempotency key in a table of that schema, counting
attempts: the provider's view of what was sent.
"""

from __future__ import annotations

import os
import threading
from datetime import timedelta

import psycopg
from celery import Celery

from regua import Cadence, Channel, Message, Scheduler, SQLRepository, Step, on_event
from regua.integrations.celery import CeleryConfig, install

BROKER = os.environ.get("REGUA_CELERY_BROKER", "amqp://guest:guest@127.0.0.1:5672//")
BACKEND = os.environ.get("REGUA_CELERY_BACKEND", "redis://127.0.0.1:6379/0")
DATABASE = os.environ.get("REGUA_CELERY_DATABASE", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = os.environ.get("REGUA_CELERY_SCHEMA", "regua_celery")
NAMESPACE = os.environ.get("REGUA_CELERY_NAMESPACE", "regua")
SHARDS = int(os.environ.get("REGUA_CELERY_SHARDS", "4"))
BATCH = int(os.environ.get("REGUA_CELERY_BATCH", "50"))
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
    """Counts attempts per idempotency key in PostgreSQL: a provider that deduplicates."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._local = threading.local()

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        conn: psycopg.Connection[tuple[object, ...]] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            # Not waiting for the disk at each commit: a killed worker (not a crashed
            # server) loses no committed row, and the test stays short.
            conn = psycopg.connect(self._url, autocommit=True, options="-c synchronous_commit=off")
            self._local.conn = conn
        return conn

    def send(self, message: Message) -> str | None:
        self._connection().execute(
            f"INSERT INTO {SENT_TABLE} (idempotency_key, occurrence_key, attempts) "
            "VALUES (%s, %s, 1) ON CONFLICT (idempotency_key) "
            f"DO UPDATE SET attempts = {SENT_TABLE}.attempts + 1",
            (message.idempotency_key, message.occurrence_key),
        )
        return None


def make_scheduler() -> Scheduler:
    """The scheduler of one worker process."""
    return Scheduler(
        ONBOARDING,
        # The test drives a virtual day: leases must run on that clock, not the server's.
        repository=SQLRepository(DATABASE, schema=SCHEMA, create=False, lease_clock="caller"),
        senders={"email": RecordingSender(DATABASE)},
        lease=LEASE,
    )


app = Celery("regua_test", broker=BROKER, backend=BACKEND)
app.conf.update(
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    result_expires=3600,
    worker_hijack_root_logger=False,
)
regua_tasks = install(
    app,
    make_scheduler,
    CeleryConfig(shards=SHARDS, batch_size=BATCH, lease=LEASE, namespace=NAMESPACE),
)
