"""The Celery app of the shop: regua's tasks, their beat schedule, and a worker's scheduler.

    export REGUA_DATABASE_URL=postgresql+psycopg://regua@db.internal:5432/crm
    export CELERY_BROKER_URL=amqp://guest:guest@rabbitmq.internal:5672//
    celery -A shop_celery worker --loglevel=INFO --concurrency=8    # as many as you need
    celery -A shop_celery beat --loglevel=INFO                       # exactly one

Run from this directory (or put it on PYTHONPATH).
"""

from __future__ import annotations

import os
from datetime import timedelta

from cadences import shop
from celery import Celery

from regua import RetryPolicy, Scheduler, SQLRepository
from regua.integrations.celery import CeleryConfig, install
from regua.senders import ConsoleSender

DATABASE_URL = os.environ.get("REGUA_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/test")
SCHEMA = os.environ.get("REGUA_SCHEMA", "regua")
BROKER_URL = os.environ.get("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")


def make_scheduler() -> Scheduler:
    """One scheduler per worker process: its own database connections, your senders."""
    return Scheduler(
        [shop],
        # create=False: the schema is created or migrated once per deployment, not here.
        repository=SQLRepository(DATABASE_URL, schema=SCHEMA, create=False),
        senders={"email": ConsoleSender()},  # your e-mail provider's sender goes here
        lease=timedelta(minutes=10),
        retry=RetryPolicy(max_attempts=5, initial=timedelta(seconds=30)),
    )


app = Celery("shop", broker=BROKER_URL)
app.conf.update(
    worker_prefetch_multiplier=1,  # a dying worker holds one unacknowledged task per process
    broker_connection_retry_on_startup=True,
    task_ignore_result=True,  # regua keeps its own records; no result backend needed
)

regua_tasks = install(
    app,
    make_scheduler,
    CeleryConfig(shards=8, batch_size=200, lease=timedelta(minutes=10), tick_every=30),
)
app.conf.beat_schedule = {
    **regua_tasks.beat_schedule(),  # regua.tick every 30 s
    # ... your own periodic tasks
}
