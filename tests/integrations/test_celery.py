"""Real Celery workers run a day of ticks for 10,000 contacts on PostgreSQL.

A worker process (``celery -A tests.integrations.celery_app worker``) consumes from RabbitMQ;
results go to Redis so that the test can wait for each tick's work. Halfway through the day
the worker is killed with SIGKILL while it dispatches; a second worker finishes. The sender
records every idempotency key in PostgreSQL, counting attempts: every message must be there
exactly once, and nothing due may be missing.

Nothing depends on how fast the machine is. The kill happens at a known point, not after a
while: the sender passes a gate (a PostgreSQL advisory lock) after handing over each message,
and the test closes the gate before the tick it kills, waits until a sender stands at it
(a message sent, its outcome not recorded), kills the worker there, and opens the gate again.
Every other wait ends on success; its bound only turns a hung service into a failure.

Needs RabbitMQ on 127.0.0.1:5672, Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432
(skipped without them, failing under ``REGUA_REQUIRE_SERVICES=1``). ``--celery-contacts``
runs a larger base (default 10,000).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import skip_or_fail

celery = pytest.importorskip("celery", reason="the celery extra is not installed")

from regua import Contact, DeliveryStatus, Event, SQLRepository  # noqa: E402
from regua.records import idempotency_key  # noqa: E402

# Real Celery workers on RabbitMQ and PostgreSQL, each in a process of its own.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("REGUA_CELERY_BROKER", "amqp://guest:guest@127.0.0.1:5672//")
BACKEND = os.environ.get("REGUA_CELERY_BACKEND", "redis://127.0.0.1:6379/0")
DATABASE = os.environ.get("REGUA_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
DAY = datetime(2026, 3, 2, tzinfo=timezone.utc)
TICK = timedelta(minutes=30)
FOLLOW_UP = timedelta(hours=6)
KILL_AT_TICK = 20
BATCH = 50  # the workers' CeleryConfig.batch_size (celery_app.BATCH)
# Seconds a wait may last. Each ends as soon as what it waits for happens; only a hung service
# or worker runs into this bound.
PATIENCE = 600


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=10):
            return True
    except OSError:
        return False


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` until it holds; fail after `PATIENCE` seconds, naming `what`."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {PATIENCE} s")
        time.sleep(0.05)


@pytest.fixture
def services() -> None:
    for name, port in (("RabbitMQ", 5672), ("Redis", 6379), ("PostgreSQL", 5432)):
        if not reachable("127.0.0.1", port):
            skip_or_fail(f"the Celery test needs {name} on 127.0.0.1:{port}")


@pytest.fixture
def schema(services: None) -> Iterator[str]:
    import sqlalchemy as sa

    name = f"regua_celery_{uuid.uuid4().hex[:10]}"
    yield name
    engine = sa.create_engine(DATABASE.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(name, cascade=True, if_exists=True))
    finally:
        engine.dispose()


@pytest.fixture
def repository(schema: str) -> Iterator[SQLRepository]:
    """The application's side: it loads the base and records signups (creating the schema)."""
    import sqlalchemy as sa

    # Committing without waiting for the disk: it is the test's set-up, not what is
    # measured, and it is 10,000 commits.
    engine = sa.create_engine(
        DATABASE.replace("postgresql://", "postgresql+psycopg://"),
        connect_args={"options": "-c synchronous_commit=off"},
    )
    try:
        with SQLRepository(engine, schema=schema) as repository:
            yield repository
    finally:
        engine.dispose()


@pytest.fixture
def database(repository: SQLRepository) -> Iterator[Any]:
    """A plain connection: the provider's table, and the gate (closing it releases the gate)."""
    import psycopg

    with psycopg.connect(DATABASE, autocommit=True) as conn:
        yield conn


@pytest.fixture
def client(services: None) -> Iterator[Any]:
    """The test's Celery app: sends the ticks and reads their results."""
    from celery import Celery

    app = Celery("regua_test_driver", broker=BROKER, backend=BACKEND)
    yield app
    app.close()


class Workers:
    """Celery worker processes started by the test, each in its own process group."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.files: list[Any] = []

    def start(self, name: str) -> None:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed by stop_all
        self.files.append(log)
        self.processes[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.integrations.celery_app",
                "worker",
                "--pool=prefork",
                "--concurrency=2",
                "--loglevel=WARNING",
                f"--hostname={name}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, app: Any, name: str) -> None:
        def ready() -> bool:
            if self.processes[name].poll() is not None:
                raise AssertionError(f"worker {name} exited: {self.log(name)}")
            replies = app.control.ping(timeout=1.0) or []
            return any(name in host for reply in replies for host in reply)

        wait_until(ready, f"worker {name} to answer a ping")

    def kill(self, name: str) -> None:
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)  # the main process and its pool children
        process.wait(timeout=PATIENCE)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=60)  # a warm shutdown; a slow one is cut short
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=PATIENCE)
        for log in self.files:
            log.close()


def sent_counts(conn: Any, schema: str) -> dict[str, int]:
    rows = conn.execute(f'SELECT idempotency_key, attempts FROM "{schema}".test_sent').fetchall()
    return dict(rows)


def at_the_gate(conn: Any, gate: int) -> int:
    """How many senders wait for the gate (the advisory lock `gate`, held by the test)."""
    (waiting,) = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND classid = 0 AND objid = %s::bigint::oid AND objsubid = 1",
        (gate,),
    ).fetchone()
    return int(waiting)


def signup(number: int, contacts: int) -> datetime:
    """Signups spread evenly over the day."""
    return DAY + timedelta(seconds=number * 86_400 // contacts)


@pytest.mark.timeout(1200)
def test_a_day_of_ticks_on_real_celery_workers_sends_each_message_once(
    schema: str,
    repository: SQLRepository,
    database: Any,
    client: Any,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    contacts = int(request.config.getoption("--celery-contacts"))
    namespace = f"regua_test_{uuid.uuid4().hex[:8]}"
    gate = int(uuid.uuid4().int % 2**31) or 1  # an advisory lock key of this run
    database.execute(
        f'CREATE TABLE "{schema}".test_sent (idempotency_key text PRIMARY KEY, '
        "occurrence_key text NOT NULL, attempts int NOT NULL)"
    )

    def sign_up(number: int) -> None:
        """What the web application does when customer `number` registers."""
        repository.upsert_contact(Contact(f"c{number}", addresses={"email": f"c{number}@x.org"}))
        event = Event(f"c{number}", "signed_up", signup(number, contacts), id=f"signup-{number}")
        assert repository.record_event(event)

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "REGUA_CELERY_BROKER": BROKER,
        "REGUA_CELERY_BACKEND": BACKEND,
        "REGUA_CELERY_DATABASE": DATABASE,
        "REGUA_CELERY_SCHEMA": schema,
        "REGUA_CELERY_NAMESPACE": namespace,
        "REGUA_CELERY_BATCH": str(BATCH),
        "REGUA_CELERY_GATE": str(gate),
    }
    workers = Workers(env, tmp_path)
    workers.start("first")
    try:
        workers.wait_ready(client, "first")

        def run_tick(now: datetime, kill: bool = False) -> None:
            """Send a tick and wait until every dispatch it caused has finished."""
            if kill:  # close the gate: each sender stops after its next message
                database.execute("SELECT pg_advisory_lock(%s)", (gate,))
            shard_ids = client.send_task(
                f"{namespace}.tick", args=[now.isoformat()], queue=namespace
            ).get(timeout=PATIENCE)
            if kill:
                wait_until(lambda: at_the_gate(database, gate) > 0, "a sender at the gate")
                # Mid-dispatch: a message sent and not recorded, tasks unacknowledged (they
                # go back to the broker), maybe shards not yet planned.
                workers.kill("first")
                database.execute("SELECT pg_advisory_unlock(%s)", (gate,))
                workers.start("second")
                workers.wait_ready(client, "second")
            dispatched: list[str] = []
            for shard_id in shard_ids:
                dispatched += client.AsyncResult(shard_id).get(timeout=PATIENCE)["dispatched"]
            for task_id in dispatched:
                client.AsyncResult(task_id).get(timeout=PATIENCE)

        recorded = 0
        ticks = int(timedelta(days=1) / TICK)
        with ThreadPoolExecutor(4) as application:
            for number in range(ticks + 1):
                now = DAY + number * TICK
                arrived = recorded
                while arrived < contacts and signup(arrived, contacts) <= now:
                    arrived += 1
                list(application.map(sign_up, range(recorded, arrived)))
                recorded = arrived
                run_tick(now, kill=number == KILL_AT_TICK)
        assert "second" in workers.processes
    finally:
        database.execute("SELECT pg_advisory_unlock_all()")  # a failure may leave it closed
        workers.stop_all()

    end = DAY + timedelta(days=1)
    expected_welcome = contacts
    expected_tips = sum(1 for n in range(contacts) if signup(n, contacts) + FOLLOW_UP <= end)
    counts = sent_counts(database, schema)
    delivered = database.execute(
        f'SELECT step, occurrence_key, status FROM "{schema}".regua_deliveries'
    ).fetchall()
    assert {status for _, _, status in delivered} == {DeliveryStatus.SENT.value}
    by_step = Counter(step for step, _, _ in delivered)
    assert by_step == {"welcome": expected_welcome, "first_tips": expected_tips}
    # Every recorded message reached the sender, and nothing else did.
    assert set(counts) == {idempotency_key(key) for _, key, _ in delivered}
    # Sent more than once: what the killed worker had handed to the provider without
    # recording it (at least the message at the gate, at most one dispatch batch per pool
    # process), and then with the same key.
    repeated = {key: n for key, n in counts.items() if n != 1}
    assert 1 <= len(repeated) <= 2 * BATCH, repeated
    assert set(repeated.values()) == {2}
    assert repository.due_contact_ids(end, 10) == []
