"""SharedRateLimited and its backends, on the real Redis and PostgreSQL.

No assertion here depends on how fast the machine is. The limits are checked against what
the backend itself reports, on its own clock: every granted token's due instant, and the
server's time read before and after a race. They are checked as upper bounds only (never
more tokens than the bucket allows); the only lower bounds are the ones that hold whatever
the timing (a fresh bucket is full, a refused request takes nothing).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from regua import (
    Cadence,
    Channel,
    Contact,
    Event,
    InMemoryRepository,
    Message,
    OutboxSender,
    PermanentFailure,
    Scheduler,
    Step,
    TemporaryFailure,
    on_event,
)
from regua.errors import MissingDependencyError
from regua.records import idempotency_key
from regua.senders import (
    PostgresRateLimitBackend,
    RateLimitBackend,
    RedisRateLimitBackend,
    SharedRateLimited,
    TokenReservation,
)
from regua.testing.contracts import SenderContract
from tests.conftest import skip_or_fail

if TYPE_CHECKING:
    import redis
    import sqlalchemy as sa

REDIS_URL = os.environ.get("REGUA_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "REGUA_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# Nothing listens on port 1: the connection is refused at once.
UNREACHABLE = {
    "redis": "redis://127.0.0.1:1/0",
    "postgres": "postgresql+psycopg://postgres@127.0.0.1:1/test",
}

TOLERANCE = 1e-3
"""Tokens of slack for floating-point rounding of instants (a violation is a whole token)."""


def _message(number: int) -> Message:
    key = f"shop:welcome:ana:{number}"
    return Message(
        channel="email",
        address="ana@example.com",
        message="welcome",
        payload={},
        contact=Contact("ana"),
        cadence="shop",
        step="welcome",
        occurrence_key=key,
        idempotency_key=idempotency_key(key),
    )


def _name() -> str:
    return f"provider-{uuid.uuid4().hex[:12]}"


# --- checks ------------------------------------------------------------------------------------


def assert_bucket_held(
    reservations: Sequence[TokenReservation], per_second: float, burst: int
) -> None:
    """Over every interval between two due instants, at most burst + rate * t tokens."""
    dues = sorted(r.due for r in reservations if r.granted)
    for first in range(len(dues)):
        for last in range(first, len(dues)):
            allowed = burst + per_second * (dues[last] - dues[first])
            count = last - first + 1
            assert count <= allowed + TOLERANCE, (
                f"{count} tokens due within {dues[last] - dues[first]:.6f} s: "
                f"more than {burst} + {per_second} * t = {allowed:.3f}"
            )


def assert_answers_consistent(reservations: Sequence[TokenReservation], max_wait: float) -> None:
    for answer in reservations:
        if answer.granted:
            assert 0 <= answer.wait <= max_wait + 1e-9, answer
        else:
            assert answer.wait > max_wait, answer


# --- services ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_client() -> Iterator[redis.Redis]:
    """A client of the test Redis; skips (or fails) when it is not reachable."""
    try:
        import redis
    except ImportError as exc:
        skip_or_fail(f"Redis tests need the 'redis' extra ({exc})")
        raise  # pragma: no cover - skip_or_fail raises
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5, socket_timeout=30)
    try:
        client.ping()
    except redis.RedisError:
        client.close()
        skip_or_fail(f"Redis is not reachable at {REDIS_URL}")
    yield client
    client.close()


@pytest.fixture
def redis_backend(redis_client: redis.Redis) -> Iterator[RedisRateLimitBackend]:
    """A backend whose keys live under a prefix of this test's own, deleted after."""
    prefix = f"regua-test:{uuid.uuid4().hex[:12]}:"
    backend = RedisRateLimitBackend(REDIS_URL, prefix=prefix, timeout=30)
    yield backend
    backend.close()
    keys = list(redis_client.scan_iter(match=prefix + "*"))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture(scope="module")
def postgres_engine() -> Iterator[sa.Engine]:
    """An engine on the test database; skips (or fails) when it is not reachable."""
    try:
        import psycopg  # noqa: F401
        import sqlalchemy as sa
    except ImportError as exc:
        skip_or_fail(f"PostgreSQL tests need the 'postgres' extra ({exc})")
        raise  # pragma: no cover - skip_or_fail raises
    engine = sa.create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError:
        where = engine.url.render_as_string(hide_password=True)
        engine.dispose()
        skip_or_fail(f"PostgreSQL is not reachable at {where}")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_schema(postgres_engine: sa.Engine) -> Iterator[str]:
    """A schema private to this test (created by the backend), dropped after."""
    import sqlalchemy as sa

    name = f"regua_test_{uuid.uuid4().hex[:12]}"
    yield name
    with postgres_engine.begin() as conn:
        conn.execute(sa.schema.DropSchema(name, cascade=True, if_exists=True))


@pytest.fixture
def postgres_backend(postgres_schema: str) -> Iterator[PostgresRateLimitBackend]:
    backend = PostgresRateLimitBackend(POSTGRES_URL, schema=postgres_schema)
    yield backend
    backend.close()


@pytest.fixture(params=["redis", "postgres"])
def backend(request: pytest.FixtureRequest) -> RateLimitBackend:
    """Each backend, on its real server."""
    found: RateLimitBackend = request.getfixturevalue(f"{request.param}_backend")
    return found


def server_time(backend: RateLimitBackend) -> float:
    """The backend's server clock, in seconds since the epoch (what its buckets are timed by)."""
    if isinstance(backend, RedisRateLimitBackend):
        seconds, microseconds = backend.client.time()
        return seconds + microseconds / 1_000_000
    assert isinstance(backend, PostgresRateLimitBackend)
    import sqlalchemy as sa

    with backend.engine.connect() as conn:
        query = sa.text("SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS double precision)")
        value = conn.execute(query).scalar_one()
    return float(value)


def reserve_from_threads(
    backend: RateLimitBackend,
    name: str,
    per_second: float,
    burst: int,
    max_wait: float,
    threads: int,
    requests: int,
) -> list[TokenReservation]:
    """`threads` threads, released at once, each asking `requests` times for a token."""
    answers: list[TokenReservation] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads, timeout=120)
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            barrier.wait()
            mine = [backend.reserve(name, per_second, burst, max_wait) for _ in range(requests)]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            barrier.abort()
            return
        with lock:
            answers.extend(mine)

    workers = [threading.Thread(target=ask) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    return answers


# --- one bucket, many threads ------------------------------------------------------------------


def test_threads_never_get_more_tokens_than_the_bucket_allows(backend: RateLimitBackend) -> None:
    name, per_second, burst = _name(), 20.0, 5
    before = server_time(backend)
    answers = reserve_from_threads(backend, name, per_second, burst, 0.0, threads=8, requests=30)
    after = server_time(backend)

    granted = [answer for answer in answers if answer.granted]
    assert len(answers) == 240
    assert len(granted) <= burst + per_second * (after - before) + TOLERANCE
    assert_bucket_held(answers, per_second, burst)
    assert_answers_consistent(answers, 0.0)
    assert all(before <= answer.at <= after for answer in answers)
    # Whatever the timing: the bucket starts full, and only a grant empties it.
    assert len(granted) >= burst


def test_tokens_reserved_ahead_are_spaced_by_the_rate(backend: RateLimitBackend) -> None:
    """With max_wait, callers queue: each token is due 1 / rate after the one before."""
    name, per_second, burst, max_wait = _name(), 50.0, 2, 0.5
    before = server_time(backend)
    answers = reserve_from_threads(backend, name, per_second, burst, max_wait, 6, 10)
    after = server_time(backend)

    granted = [answer for answer in answers if answer.granted]
    allowed = burst + per_second * (after + max_wait - before)
    assert len(granted) <= allowed + TOLERANCE
    assert_bucket_held(answers, per_second, burst)
    assert_answers_consistent(answers, max_wait)
    # The burst, then the queue up to max_wait, are granted whatever the timing.
    assert len(granted) >= burst + int(per_second * max_wait)


def test_buckets_of_different_names_are_independent(backend: RateLimitBackend) -> None:
    per_second = 0.001  # a token every 1,000 s: nothing refills during the test
    first, second = _name(), _name()
    assert [backend.reserve(first, per_second, 2, 0).granted for _ in range(3)] == [
        True,
        True,
        False,
    ]
    assert [backend.reserve(second, per_second, 2, 0).granted for _ in range(3)] == [
        True,
        True,
        False,
    ]


def test_a_refused_request_takes_nothing(backend: RateLimitBackend) -> None:
    name, per_second = _name(), 0.001
    assert backend.reserve(name, per_second, 1, 0).granted
    refused = [backend.reserve(name, per_second, 1, 0) for _ in range(5)]
    assert not any(answer.granted for answer in refused)
    # Refusals reserved nothing: the next token is still the first one after the burst,
    # about 1,000 s away, not 6,000 s.
    assert all(0 < answer.wait <= 1 / per_second for answer in refused)
    queued = backend.reserve(name, per_second, 1, 2_000)
    assert queued.granted
    assert 0 < queued.wait <= 1 / per_second


# --- one bucket, many processes ----------------------------------------------------------------

PROCESSES = 4
THREADS_PER_PROCESS = 2

_barrier: Any = None
"""The barrier the pool's processes meet at (set in each process by `_adopt`)."""


def _adopt(barrier: Any) -> None:  # pragma: no cover - runs in a child process
    global _barrier
    _barrier = barrier


Answer = tuple[bool, float, float]


def _race(  # pragma: no cover - runs in a child process
    kind: str,
    where: str,
    name: str,
    per_second: float,
    burst: int,
    max_wait: float,
    requests: int,
) -> list[Answer]:
    try:
        backend: RateLimitBackend
        if kind == "redis":
            backend = RedisRateLimitBackend(REDIS_URL, prefix=where, timeout=30)
        else:
            backend = PostgresRateLimitBackend(POSTGRES_URL, schema=where, create=False)
        _barrier.wait()
        answers = reserve_from_threads(
            backend, name, per_second, burst, max_wait, THREADS_PER_PROCESS, requests
        )
        backend.close()
        return [(answer.granted, answer.wait, answer.at) for answer in answers]
    except BaseException:
        _barrier.abort()  # the others stop waiting for this one
        raise


@pytest.fixture(scope="module")
def pool() -> Iterator[Any]:
    """`PROCESSES` spawned processes, started once for the module (spawning is the slow part)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES, timeout=240)
    with context.Pool(PROCESSES, initializer=_adopt, initargs=(barrier,)) as processes:
        yield processes


@pytest.mark.parametrize("max_wait", [0.0, 0.3])
def test_processes_and_threads_share_one_bucket(
    backend: RateLimitBackend, max_wait: float, pool: Any
) -> None:
    name, per_second, burst = _name(), 25.0, 4
    if isinstance(backend, RedisRateLimitBackend):
        kind, where = "redis", backend.prefix
    else:
        assert isinstance(backend, PostgresRateLimitBackend)
        assert backend.schema is not None
        backend.create_table()  # the children open it with create=False
        kind, where = "postgres", backend.schema
    tasks = [(kind, where, name, per_second, burst, max_wait, 25)] * PROCESSES

    before = server_time(backend)
    results: list[list[Answer]] = pool.starmap_async(_race, tasks, chunksize=1).get(timeout=280)
    after = server_time(backend)

    answers = [TokenReservation(*answer) for result in results for answer in result]
    assert len(answers) == PROCESSES * THREADS_PER_PROCESS * 25
    granted = [answer for answer in answers if answer.granted]
    assert len(granted) <= burst + per_second * (after + max_wait - before) + TOLERANCE
    assert_bucket_held(answers, per_second, burst)
    assert_answers_consistent(answers, max_wait)
    assert len(granted) >= burst + int(per_second * max_wait)


# --- the sender --------------------------------------------------------------------------------


class Sleeps:
    def __init__(self) -> None:
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_no_token_within_max_wait_defers_without_sending(backend: RateLimitBackend) -> None:
    outbox, sleeps = OutboxSender(), Sleeps()
    limited = SharedRateLimited(
        outbox, backend, 0.01, name=_name(), max_wait=timedelta(seconds=1), sleep=sleeps
    )
    assert limited.send(_message(1)) == _message(1).idempotency_key
    with pytest.raises(TemporaryFailure, match="no token within 1 s") as raised:
        limited.send(_message(2))
    retry_after = raised.value.retry_after
    assert retry_after is not None
    assert timedelta(seconds=1) < retry_after <= timedelta(seconds=100)
    assert [message.occurrence_key for message in outbox.outbox] == [_message(1).occurrence_key]
    assert sleeps.slept == []


def test_a_token_due_within_max_wait_is_waited_for(backend: RateLimitBackend) -> None:
    outbox, sleeps = OutboxSender(), Sleeps()
    limited = SharedRateLimited(
        outbox, backend, 0.01, name=_name(), burst=2, max_wait=1_000, sleep=sleeps
    )
    for number in range(3):
        limited.send(_message(number))
    assert len(outbox.outbox) == 3
    assert len(sleeps.slept) == 1, "the burst of 2 went at once, the third waited"
    assert 0 < sleeps.slept[0] <= 100


def test_senders_sharing_a_name_share_the_limit(backend: RateLimitBackend) -> None:
    name, sleeps = _name(), Sleeps()
    email, sms = OutboxSender(), OutboxSender()
    limits = [
        SharedRateLimited(sender, backend, 0.001, name=name, burst=3, max_wait=0, sleep=sleeps)
        for sender in (email, sms)
    ]
    sent = 0
    for number in range(6):
        try:
            limits[number % 2].send(_message(number))
            sent += 1
        except TemporaryFailure:
            pass
    assert sent == 3
    assert len(email.outbox) + len(sms.outbox) == 3


def test_the_scheduler_defers_what_finds_no_token(backend: RateLimitBackend) -> None:
    """A tick sends the burst and defers the rest until their tokens are due, at the earliest."""
    shop = Cadence(
        "shop",
        channels=[Channel("sms")],
        steps=[
            Step(
                "order_confirmation",
                trigger=on_event("order_placed"),
                channels=["sms"],
                transactional=True,
            )
        ],
    )
    now = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)
    repository = InMemoryRepository()
    for number in range(5):
        repository.upsert_contact(Contact(f"c{number}", addresses={"sms": f"+55119900{number}"}))
        repository.record_event(Event(f"c{number}", "order_placed", now, id=f"A-{number}"))
    outbox = OutboxSender()
    limited = SharedRateLimited(outbox, backend, 0.001, name=_name(), burst=2, max_wait=0)
    scheduler = Scheduler([shop], repository=repository, senders={"sms": limited})

    report = scheduler.tick(now)

    assert len(report.sent) == len(outbox.outbox) == 2
    assert len(report.deferred) == 3
    for claim in report.deferred:
        # The token is ~1,000 s away (one every 1,000 s): no retry before it is due.
        assert claim.until - now > timedelta(seconds=900)
        assert claim.last_error is not None
        assert "no token within 0 s" in claim.last_error
        assert claim.attempts == 0  # the provider never saw it: not an attempt


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_an_unreachable_backend_defers_without_sending(kind: str) -> None:
    unreachable: RateLimitBackend
    if kind == "redis":
        pytest.importorskip("redis")
        unreachable = RedisRateLimitBackend(UNREACHABLE["redis"], timeout=5)
    else:
        pytest.importorskip("psycopg")
        unreachable = PostgresRateLimitBackend(UNREACHABLE["postgres"], timeout=5)
    outbox = OutboxSender()
    limited = SharedRateLimited(outbox, unreachable, 10, name="provider")
    with pytest.raises(TemporaryFailure, match="rate limit 'provider'") as raised:
        limited.send(_message(1))
    assert raised.value.retry_after is None
    assert outbox.outbox == []
    unreachable.close()


# --- backend details ---------------------------------------------------------------------------


def test_a_redis_bucket_expires_once_it_would_be_full(
    redis_backend: RedisRateLimitBackend,
) -> None:
    name = _name()
    for _ in range(3):
        redis_backend.reserve(name, 2.0, 4, 0)
    key = redis_backend.prefix + name
    # 3 tokens to refill at 2 a second: 1.5 s, plus a second of margin.
    assert 0 < redis_backend.client.pttl(key) <= 2_500
    assert set(redis_backend.client.hgetall(key)) == {b"tokens", b"at"}


def test_the_postgres_table_is_created_in_its_schema(
    postgres_backend: PostgresRateLimitBackend, postgres_engine: sa.Engine
) -> None:
    import sqlalchemy as sa

    assert postgres_backend.reserve("provider", 1.0, 1, 0).granted
    inspector = sa.inspect(postgres_engine)
    assert inspector.has_table("regua_rate_limits", schema=postgres_backend.schema)
    with postgres_engine.connect() as conn:
        rows = conn.execute(sa.select(postgres_backend.table)).all()
    assert [row.name for row in rows] == ["provider"]
    postgres_backend.create_table()  # again: harmless


def test_postgres_without_create_needs_the_table(
    postgres_engine: sa.Engine, postgres_schema: str
) -> None:
    backend = PostgresRateLimitBackend(postgres_engine, schema=postgres_schema, create=False)
    with pytest.raises(TemporaryFailure, match="PostgreSQL failed"):
        backend.reserve("provider", 1.0, 1, 0)
    backend.create_table()
    assert backend.reserve("provider", 1.0, 1, 0).granted
    backend.close()  # an engine of the caller's: left open
    with postgres_engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")


def test_postgres_needs_postgresql() -> None:
    pytest.importorskip("sqlalchemy")
    with pytest.raises(Exception, match="needs PostgreSQL, not 'sqlite'"):
        PostgresRateLimitBackend("sqlite://")


def test_backends_say_which_extra_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(MissingDependencyError, match=r"regua\[redis\]"):
        RedisRateLimitBackend(REDIS_URL)
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    with pytest.raises(MissingDependencyError, match=r"regua\[postgres\]"):
        PostgresRateLimitBackend(POSTGRES_URL)


def test_the_backends_are_rate_limit_backends() -> None:
    pytest.importorskip("redis")
    pytest.importorskip("psycopg")
    redis_backend = RedisRateLimitBackend(REDIS_URL)
    postgres_backend = PostgresRateLimitBackend(POSTGRES_URL)
    assert isinstance(redis_backend, RateLimitBackend)
    assert isinstance(postgres_backend, RateLimitBackend)
    assert repr(redis_backend).startswith("RedisRateLimitBackend(")
    assert repr(redis_backend).endswith(", prefix='regua:rate-limit:')")
    assert "postgres@127.0.0.1" in repr(postgres_backend)
    redis_backend.close()
    postgres_backend.close()


# --- the sender, on a backend in memory (no service) -------------------------------------------


class MemoryBackend:
    """A single-process backend for the tests below: the token bucket, on a fake clock."""

    def __init__(self, error: Exception | None = None) -> None:
        self.now = 1_000.0
        self.buckets: dict[str, tuple[float, float]] = {}
        self.asked: list[tuple[str, float, int, float]] = []
        self.closed = False
        self.error = error

    def reserve(
        self, name: str, per_second: float, burst: int, max_wait: float
    ) -> TokenReservation:
        self.asked.append((name, per_second, burst, max_wait))
        if self.error is not None:
            raise self.error
        tokens, at = self.buckets.get(name, (float(burst), self.now))
        tokens = min(float(burst), tokens + (self.now - at) * per_second)
        wait = max(0.0, (1 - tokens) / per_second)
        granted = wait <= max_wait
        self.buckets[name] = (tokens - 1 if granted else tokens, self.now)
        return TokenReservation(granted, wait, self.now)

    def close(self) -> None:
        self.closed = True


def test_the_sender_asks_the_backend_with_its_own_settings() -> None:
    backend, sleeps = MemoryBackend(), Sleeps()
    limited = SharedRateLimited(
        OutboxSender(), backend, 4, name="sms", burst=2, max_wait=timedelta(seconds=2), sleep=sleeps
    )
    for number in range(4):
        limited.send(_message(number))
    assert backend.asked == [("sms", 4.0, 2, 2.0)] * 4
    assert sleeps.slept == pytest.approx([0.25, 0.5])
    assert limited.reserve() == pytest.approx(0.75)
    assert repr(limited).startswith("SharedRateLimited(<regua.OutboxSender")
    assert "per_second=4, name='sms', burst=2, max_wait=2)" in repr(limited)


@pytest.mark.parametrize(
    "error", [ConnectionResetError("reset by peer"), RuntimeError("bug in a backend")]
)
def test_any_backend_error_defers_without_sending(error: Exception) -> None:
    outbox = OutboxSender()
    limited = SharedRateLimited(outbox, MemoryBackend(error), 10, name="sms")
    with pytest.raises(TemporaryFailure, match="the backend failed") as raised:
        limited.send(_message(1))
    assert raised.value.__cause__ is error
    assert outbox.outbox == []


def test_failures_of_the_wrapped_sender_pass_through() -> None:
    class Refusing:
        def send(self, message: Message) -> str | None:
            raise PermanentFailure("no")

    backend = MemoryBackend()
    limited = SharedRateLimited(Refusing(), backend, 1, name="sms", max_wait=0)
    with pytest.raises(PermanentFailure, match="no"):
        limited.send(_message(1))
    with pytest.raises(TemporaryFailure, match="no token"):
        limited.send(_message(2))  # the failed send used its token


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"per_second": 0}, ValueError, "per_second must be a positive, finite number"),
        ({"per_second": math.inf}, ValueError, "per_second must be a positive, finite number"),
        ({"per_second": "5"}, TypeError, "per_second must be a number"),
        ({"burst": 0}, ValueError, "burst must be at least 1"),
        ({"burst": 1.5}, TypeError, "burst must be an int"),
        ({"name": ""}, ValueError, "name must be a non-empty string"),
        ({"max_wait": -1}, ValueError, "max_wait must be zero or more seconds"),
        ({"max_wait": math.nan}, ValueError, "max_wait must be zero or more seconds"),
        ({"max_wait": timedelta(seconds=-1)}, ValueError, "max_wait must be zero or more"),
        ({"max_wait": "5"}, TypeError, "max_wait must be a number of seconds or a timedelta"),
    ],
)
def test_bad_arguments_are_refused(
    kwargs: dict[str, Any], error: type[Exception], text: str
) -> None:
    arguments: dict[str, Any] = {"per_second": 5, "name": "sms", **kwargs}
    with pytest.raises(error, match=text):
        SharedRateLimited(OutboxSender(), MemoryBackend(), **arguments)


def test_close_closes_the_wrapped_sender_and_not_the_shared_backend() -> None:
    class Closable(OutboxSender):
        closed = False

        def close(self) -> None:
            self.closed = True

    inner, backend = Closable(), MemoryBackend()
    SharedRateLimited(inner, backend, 1, name="sms").close()
    assert inner.closed
    assert not backend.closed
    SharedRateLimited(OutboxSender(), backend, 1, name="sms").close()  # nothing to close


class Failing:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.outbox: list[Message] = []

    def send(self, message: Message) -> str | None:
        raise self.error


def _memory_limited(sender: Any) -> SharedRateLimited[Any]:
    return SharedRateLimited(sender, MemoryBackend(), 5, name="sms", sleep=lambda _: None)


class TestSharedRateLimitedSender(SenderContract[SharedRateLimited[Any]]):
    @pytest.fixture
    def sender(self) -> SharedRateLimited[Any]:
        return _memory_limited(OutboxSender())

    @pytest.fixture
    def temporarily_failing_sender(self) -> SharedRateLimited[Any]:
        return _memory_limited(Failing(TemporaryFailure("provider answered 503")))

    @pytest.fixture
    def permanently_failing_sender(self) -> SharedRateLimited[Any]:
        return _memory_limited(Failing(PermanentFailure("provider refused the address")))

    def delivered_keys(self, sender: SharedRateLimited[Any]) -> list[str]:
        return [message.idempotency_key for message in sender.sender.outbox]


def _redis_limited(sender: Any, backend: RedisRateLimitBackend) -> SharedRateLimited[Any]:
    return SharedRateLimited(sender, backend, 1, name=_name(), burst=1_000)


class TestSharedRateLimitedOnRedis(SenderContract[SharedRateLimited[Any]]):
    """The contract, through the real Redis (a burst large enough never to wait)."""

    @pytest.fixture
    def sender(self, redis_backend: RedisRateLimitBackend) -> SharedRateLimited[Any]:
        return _redis_limited(OutboxSender(), redis_backend)

    @pytest.fixture
    def temporarily_failing_sender(
        self, redis_backend: RedisRateLimitBackend
    ) -> SharedRateLimited[Any]:
        return _redis_limited(Failing(TemporaryFailure("provider answered 503")), redis_backend)

    @pytest.fixture
    def permanently_failing_sender(
        self, redis_backend: RedisRateLimitBackend
    ) -> SharedRateLimited[Any]:
        failing = Failing(PermanentFailure("provider refused the address"))
        return _redis_limited(failing, redis_backend)

    def delivered_keys(self, sender: SharedRateLimited[Any]) -> list[str]:
        return [message.idempotency_key for message in sender.sender.outbox]
