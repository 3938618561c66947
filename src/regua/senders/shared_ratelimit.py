"""A rate limit shared by every worker process: token buckets kept in Redis or PostgreSQL.

`RateLimited` keeps its bucket in the process's memory, so four workers that each send at
"10 a second" send 40 a second between them. `SharedRateLimited` takes its tokens from a
*backend* that every process reaches, so that all the senders sharing one bucket `name`, in
any number of processes on any number of machines, stay under one limit together:

- `RedisRateLimitBackend`: one hash per bucket, updated by a Lua script (the ``redis``
  extra: ``pip install 'regua[redis]'``);
- `PostgresRateLimitBackend`: one row per bucket in a table ``regua_rate_limits``, updated
  by one ``UPDATE ... RETURNING`` statement (the ``postgres`` extra, the database your
  workers may already share).

Each request for a token is one atomic step on the server, timed by **the server's clock**
(Redis ``TIME``, PostgreSQL ``clock_timestamp()``): the workers' clocks are never compared,
so a worker whose clock drifts cannot take more than its share. A clock that steps back on
the server refills nothing until it has caught up again.

A send never waits longer than `SharedRateLimited.max_wait` for its token: when the queue of
reserved tokens is longer, `send` raises `regua.ports.Throttled` (with `retry_after`, the wait the
token would have needed) without calling the wrapped sender, and the scheduler defers the
message on the same channel, counting no attempt. A backend that cannot be reached raises
`regua.TemporaryFailure`, which counts as an attempt. A message is never sent without a
token.

Importing this module needs neither extra; constructing a backend without its extra raises
`regua.errors.MissingDependencyError`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

import attrs

from regua.errors import ArgumentTypeError, ConfigurationError, MissingDependencyError, ReguaError
from regua.ports import Message, Sender, TemporaryFailure, Throttled
from regua.senders.ratelimit import token_rate

if TYPE_CHECKING:
    import redis
    import sqlalchemy as sa

__all__ = [
    "PostgresRateLimitBackend",
    "RateLimitBackend",
    "RedisRateLimitBackend",
    "SharedRateLimited",
    "TokenReservation",
]

S = TypeVar("S", bound=Sender)

DEFAULT_MAX_WAIT = 5.0
"""Seconds `SharedRateLimited` waits for a token at most, by default."""

DEFAULT_TIMEOUT = 5.0
"""Seconds a backend waits to connect, or for an answer, on connections it opens itself."""


@attrs.frozen(slots=True)
class TokenReservation:
    """A backend's answer to a request for one token of a bucket.

    Attributes:
        granted: Whether a token was taken. A refused request takes nothing.
        wait: Seconds from `at` until the token is due: 0 when it can be used at once. For a
            refused request, how long the token would have had to wait (more than the
            request's ``max_wait``).
        at: The backend's clock when it answered, in seconds since the Unix epoch.

    """

    granted: bool
    wait: float
    at: float

    @property
    def due(self) -> float:
        """When the token may be used, on the backend's clock (seconds since the epoch)."""
        return self.at + self.wait


@runtime_checkable
class RateLimitBackend(Protocol):
    """Where the token buckets of `SharedRateLimited` live, shared by every process.

    A bucket is known by its name alone: everyone who asks for a token of one name shares
    its bucket. It holds up to `burst` tokens, refills at `per_second` tokens a second, and
    starts full the first time its name is used. A bucket left alone until it is full again
    may be forgotten (it reads as a new, full one).

    An implementation must be safe to use from several threads, and from several processes
    at once on one store: each `reserve` is one atomic step, timed by one clock that every
    caller shares (the server's, never the caller's).
    """

    def reserve(
        self, name: str, per_second: float, burst: int, max_wait: float
    ) -> TokenReservation:
        """Take one token of bucket `name`, if it is due within `max_wait` seconds.

        The bucket is refilled for the time since it was last used (up to `burst` tokens);
        then, when a token is due within `max_wait` seconds, it is taken, and the answer is
        granted with its `TokenReservation.wait`. Tokens are handed out in the order asked,
        each ``1 / per_second`` after the previous one once the burst is spent: a taken token
        is reserved for its caller, who must wait for it. Otherwise nothing is taken and the
        answer is refused, with the wait the token would have needed.

        So, counted by their due instants, the tokens of one bucket over any interval of
        `t` seconds are at most ``burst + per_second * t``, whoever took them.

        Raises:
            TemporaryFailure: The store cannot be reached or did not answer.

        """
        ...

    def close(self) -> None:
        """Release the connections the backend opened itself."""
        ...


def _seconds(value: float | timedelta, what: str) -> float:
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArgumentTypeError(f"{what} must be a number of seconds or a timedelta, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ConfigurationError(f"{what} must be zero or more seconds, got {value}")
    return float(value)


class SharedRateLimited(Generic[S]):
    """A `Sender` limited to `per_second` messages a second across every worker process.

    >>> from regua import OutboxSender
    >>> backend = RedisRateLimitBackend("redis://127.0.0.1:6379/0")  # connects on first use
    >>> limited = SharedRateLimited(
    ...     OutboxSender(), backend, per_second=10, name="sms-provider", burst=5
    ... )

    The same token bucket as `RateLimited` (up to `burst` tokens, refilled at `per_second` a
    second, full at first), kept by `backend` under the bucket's `name`: over any interval of
    `t` seconds at most ``burst + per_second * t`` messages go through, between all the
    senders of all the worker processes that use this `name`. Give every one of them the same
    `per_second` and `burst`.

    Each `send` reserves a token on the backend; when it is due within `max_wait` seconds,
    the send *blocks* (sleeps) until it is due, then calls the wrapped sender. Otherwise it
    raises `regua.ports.Throttled`, with `retry_after` the wait the token would have needed, and
    the wrapped sender is not called: the scheduler defers the occurrence on the same
    channel, counting no attempt, instead of holding its claim. A backend that cannot be
    reached raises `TemporaryFailure` (an attempt): a message is never sent without a
    token. Keep `max_wait`, plus the time the provider takes, below the
    scheduler's `send_timeout`.

    Safe to share between threads. A send that fails still used its token (the provider saw
    the request). Return values and failures of the wrapped sender pass through unchanged.

    Args:
        sender: The sender to limit.
        backend: Where the bucket lives (`RedisRateLimitBackend`,
            `PostgresRateLimitBackend`). Several limited senders may share one backend.
        per_second: Messages per second, for all processes together; a positive, finite
            number (``0.5`` is one message every two seconds).
        name: The bucket's name: the senders that share it share the limit. Name it after
            what the provider limits (an account, an API key), not after the channel alone.
        burst: How many messages may go at once after a quiet period; default 1 (strictly
            spaced). At least 1.
        max_wait: The longest a send waits for its token, in seconds or as a `timedelta`;
            default 5 seconds. 0: never wait, take a token only when one is free now.
        sleep: Sleeps for a number of seconds; inject a fake one in tests.

    """

    def __init__(
        self,
        sender: S,
        backend: RateLimitBackend,
        per_second: float,
        *,
        name: str,
        burst: int | None = None,
        max_wait: float | timedelta = DEFAULT_MAX_WAIT,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        per_second, burst = token_rate(per_second, burst)
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"name must be a non-empty string, got {name!r}")
        self.sender = sender
        self.backend = backend
        self.per_second = float(per_second)
        self.burst = burst
        self.name = name
        self.max_wait = _seconds(max_wait, "max_wait")
        self._sleep = sleep

    def __repr__(self) -> str:
        return (
            f"SharedRateLimited({self.sender!r}, {self.backend!r}, "
            f"per_second={self.per_second:g}, name={self.name!r}, burst={self.burst}, "
            f"max_wait={self.max_wait:g})"
        )

    def send(self, message: Message) -> str | None:
        """Wait for a token (up to `max_wait`), then send `message` with the wrapped sender.

        Raises:
            Throttled: No token within `max_wait`; the wrapped sender was not called.
            TemporaryFailure: The backend is unreachable; the wrapped sender was not called.

        """
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return self.sender.send(message)

    def reserve(self) -> float:
        """Take a token; return how many seconds to wait before using it (0: at once).

        `send` calls it; use it directly to pace something other than a `send`.

        Raises:
            Throttled: No token within `max_wait` (nothing was taken; `retry_after` is the
                wait the token would have needed).
            TemporaryFailure: The backend is unreachable.

        """
        try:
            answer = self.backend.reserve(self.name, self.per_second, self.burst, self.max_wait)
        except TemporaryFailure:
            raise
        except Exception as exc:  # never send without a token, whatever the backend raised
            raise TemporaryFailure(
                f"rate limit {self.name!r}: the backend failed ({type(exc).__name__}: {exc})"
            ) from exc
        if not answer.granted:
            raise Throttled(
                f"rate limit {self.name!r}: no token within {self.max_wait:g} s "
                f"(the next is {answer.wait:.3g} s away)",
                retry_after=timedelta(seconds=answer.wait),
            )
        return max(0.0, answer.wait)

    def close(self) -> None:
        """Close the wrapped sender, if it has a ``close()`` method.

        The backend is left open: other senders may share it. Close it yourself.
        """
        close = getattr(self.sender, "close", None)
        if callable(close):
            close()


# --- Redis -------------------------------------------------------------------------------------

# One bucket is one hash {tokens, at}: its balance, and the instant (microseconds on the
# server's clock, an integer, exact in a Lua number) the balance was computed at. A negative
# balance is a queue of reserved tokens, as in RateLimited. Numbers go back and forth as
# strings: Redis turns a Lua number it returns into an integer, and formats one it is given
# with 14 significant digits only.
_REDIS_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if now < at then
  now = at
end
tokens = math.min(burst, tokens + (now - at) * rate / 1000000)
local wait = 0
if tokens < 1 then
  wait = (1 - tokens) / rate
end
local granted = 0
if wait <= max_wait then
  tokens = tokens - 1
  granted = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'at', string.format('%.0f', now))
local full_in = math.ceil((burst - tokens) / rate * 1000) + 1000
if full_in < 1e12 then
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', full_in))
else
  redis.call('PERSIST', KEYS[1])
end
return {granted, string.format('%.17g', wait), string.format('%.0f', now)}
"""
"""Refill, take a token if due within max_wait, store, and let the key expire once full."""


class RedisRateLimitBackend:
    """Token buckets in Redis (5 or later): one hash per bucket, updated by a Lua script.

    >>> backend = RedisRateLimitBackend("redis://127.0.0.1:6379/0")  # connects on first use

    Each `reserve` runs one script (``EVALSHA``), which Redis runs atomically, and which
    reads the time with ``TIME``: the Redis server's clock times every bucket. A bucket is
    the key `prefix` + its name; it expires once it would be full again (a missing key
    reads as a full bucket), so unused names do not pile up.

    Needs the ``redis`` extra: ``pip install 'regua[redis]'``.

    Args:
        client: A Redis URL (``redis://host:6379/0``, ``rediss://`` for TLS) or a
            `redis.Redis` client of your own, used as it is (its timeouts are yours).
        prefix: Prepended to every bucket name to make its key.
        timeout: Seconds to wait to connect, and for an answer, on the connections the
            backend opens from a URL: a Redis that does not answer fails the send after
            this long instead of holding it.

    """

    def __init__(
        self,
        client: str | redis.Redis,
        *,
        prefix: str = "regua:rate-limit:",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        try:
            import redis
        except ImportError as exc:
            raise MissingDependencyError(
                "RedisRateLimitBackend", "redis", exc.name or "redis"
            ) from exc
        if isinstance(client, str):
            self._client: redis.Redis = redis.Redis.from_url(
                client, socket_connect_timeout=timeout, socket_timeout=timeout
            )
            self._owns_client = True
        else:
            self._client, self._owns_client = client, False
        self.prefix = prefix
        self._script = self._client.register_script(_REDIS_SCRIPT)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)

    @property
    def client(self) -> redis.Redis:
        """The Redis client."""
        return self._client

    def __repr__(self) -> str:
        kwargs = self._client.connection_pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        return f"RedisRateLimitBackend({where!r}, prefix={self.prefix!r})"

    def reserve(
        self, name: str, per_second: float, burst: int, max_wait: float
    ) -> TokenReservation:
        """Take a token of bucket `name` if due within `max_wait` seconds (see `RateLimitBackend`).

        Raises:
            TemporaryFailure: Redis cannot be reached or refused the script.

        """
        try:
            answer: Any = self._script(
                keys=[self.prefix + name], args=[repr(per_second), burst, repr(max_wait)]
            )
        except self._errors as exc:
            raise TemporaryFailure(
                f"rate limit {name!r}: Redis failed ({type(exc).__name__}: {exc})"
            ) from exc
        granted, wait, now = answer
        return TokenReservation(
            granted=int(granted) == 1, wait=float(wait), at=float(now) / 1_000_000
        )

    def close(self) -> None:
        """Close the client, if the backend created it from a URL."""
        if self._owns_client:
            self._client.close()


# --- PostgreSQL --------------------------------------------------------------------------------

_CREATE_LOCK = 0x7265677561726C
"""PostgreSQL advisory lock key (``reguarl`` in ASCII) held while creating the table."""

# One statement, atomic: the CTE locks the bucket's row and reads the clock once, after the
# lock is held when it had to wait (and never earlier than the row's own instant, so a clock
# that stepped back refills nothing); the UPDATE stores the refilled balance, less the token
# when it is due within max_wait. A negative balance is a queue of reserved tokens.
_RESERVE = """
WITH bucket AS (
    SELECT tokens, updated_at, clock_timestamp() AS read_at
    FROM {table} WHERE name = :name FOR UPDATE
), refilled AS (
    SELECT GREATEST(read_at, updated_at) AS at,
           LEAST(CAST(:burst AS double precision),
                 tokens + CAST(:rate AS double precision)
                          * GREATEST(0, CAST(EXTRACT(EPOCH FROM read_at - updated_at)
                                             AS double precision))) AS tokens
    FROM bucket
)
UPDATE {table} AS b
SET tokens = CASE
        WHEN refilled.tokens - 1 >= -CAST(:floor AS double precision) THEN refilled.tokens - 1
        ELSE refilled.tokens
    END,
    updated_at = refilled.at
FROM refilled
WHERE b.name = :name
RETURNING refilled.tokens - 1 >= -CAST(:floor AS double precision) AS granted,
          GREATEST(0, (1 - refilled.tokens) / CAST(:rate AS double precision)) AS wait,
          CAST(EXTRACT(EPOCH FROM refilled.at) AS double precision) AS at
"""

_INSERT = """
INSERT INTO {table} (name, tokens, updated_at)
VALUES (:name, CAST(:burst AS double precision), clock_timestamp())
ON CONFLICT (name) DO NOTHING
"""


class PostgresRateLimitBackend:
    """Token buckets in PostgreSQL: one row per bucket in a table ``regua_rate_limits``.

    >>> backend = PostgresRateLimitBackend("postgresql+psycopg://app@db.internal/crm")

    Each `reserve` is one ``UPDATE ... RETURNING`` statement (the first use of a name
    inserts its row first), which locks the bucket's row for the statement alone and reads
    the time with ``clock_timestamp()``: the database server's clock times every bucket.
    Connections run in autocommit: no transaction of yours is involved.

    The table, in `schema` (or the connection's default), is::

        regua_rate_limits(name text PRIMARY KEY, tokens double precision,
                          updated_at timestamptz)

    With `create` (the default) it is created, with the schema, on first use if missing,
    under an advisory lock so that workers starting together do not race; `create_table`
    does it at once (at a deployment's migration step, say, and the workers then run with
    ``create=False``). It needs the ``postgres`` extra: ``pip install 'regua[postgres]'``.
    The rows of unused names stay (one small row each).

    Args:
        url_or_engine: A PostgreSQL URL (``postgresql+psycopg://...``; a plain
            ``postgresql://`` means psycopg 3) or a SQLAlchemy `Engine` of your own (an
            `SQLRepository`'s ``engine``, say), used as it is.
        schema: The PostgreSQL schema holding the table; None: the connection's default.
        table: The table's name.
        create: Create the table (and the schema) on first use when missing.
        timeout: Seconds to wait to connect, and for a statement, on the connections the
            backend opens from a URL (``connect_timeout`` and ``statement_timeout``, unless
            the URL sets ``connect_timeout`` or ``options``): a database that does not
            answer fails the send after about this long instead of holding it.

    """

    def __init__(
        self,
        url_or_engine: str | sa.Engine,
        *,
        schema: str | None = None,
        table: str = "regua_rate_limits",
        create: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        try:
            import sqlalchemy as sa
        except ImportError as exc:
            raise MissingDependencyError(
                "PostgresRateLimitBackend", "postgres", exc.name or "sqlalchemy"
            ) from exc
        if isinstance(url_or_engine, str):
            url = sa.make_url(url_or_engine)
            if url.drivername == "postgresql":
                url = url.set(drivername="postgresql+psycopg")
            connect_args: dict[str, Any] = {}
            if "connect_timeout" not in url.query:
                connect_args["connect_timeout"] = max(1, math.ceil(timeout))
            if "options" not in url.query:  # a statement that waits on a lock, too
                connect_args["options"] = f"-c statement_timeout={max(1, round(timeout * 1000))}"
            try:
                engine = sa.create_engine(url, connect_args=connect_args)
            except ImportError as exc:
                raise MissingDependencyError(
                    "PostgresRateLimitBackend", "postgres", exc.name or "psycopg"
                ) from exc
            self._owns_engine = True
        else:
            engine, self._owns_engine = url_or_engine, False
        if engine.dialect.name != "postgresql":
            raise ReguaError(
                f"PostgresRateLimitBackend needs PostgreSQL, not {engine.dialect.name!r}"
            )
        self._engine = engine
        self.schema = schema
        metadata = sa.MetaData(schema=schema)
        self.table = sa.Table(
            table,
            metadata,
            sa.Column("name", sa.Text, primary_key=True),
            sa.Column("tokens", sa.Double, nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        )
        """The bucket table, for your own migrations (Alembic) and queries."""
        preparer = engine.dialect.identifier_preparer
        qualified = preparer.format_table(self.table)
        self._reserve = sa.text(_RESERVE.format(table=qualified))
        self._insert = sa.text(_INSERT.format(table=qualified))
        self._create = create
        self._created = False
        self._lock = threading.Lock()
        self._errors: tuple[type[Exception], ...] = (sa.exc.SQLAlchemyError,)

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine."""
        return self._engine

    def __repr__(self) -> str:
        url = self._engine.url.render_as_string(hide_password=True)
        schema = f", schema={self.schema!r}" if self.schema else ""
        return f"PostgresRateLimitBackend({url!r}{schema}, table={self.table.name!r})"

    def create_table(self) -> None:
        """Create the table, and its schema, if missing (under an advisory lock)."""
        import sqlalchemy as sa

        with self._engine.begin() as conn:
            # Processes starting at once: one creates, the others then find it.
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_CREATE_LOCK)))
            inspector = sa.inspect(conn)
            if self.schema is not None and not inspector.has_schema(self.schema):
                conn.execute(sa.schema.CreateSchema(self.schema, if_not_exists=True))
            self.table.create(conn, checkfirst=True)
        self._created = True

    def reserve(
        self, name: str, per_second: float, burst: int, max_wait: float
    ) -> TokenReservation:
        """Take a token of bucket `name` if due within `max_wait` seconds (see `RateLimitBackend`).

        Raises:
            TemporaryFailure: The database cannot be reached, or the statement failed (the
                table is missing with ``create=False``, say).

        """
        parameters = {
            "name": name,
            "rate": float(per_second),
            "burst": float(burst),
            "floor": float(per_second) * float(max_wait),
        }
        try:
            if self._create and not self._created:
                with self._lock:
                    if not self._created:
                        self.create_table()
            with self._engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                row = conn.execute(self._reserve, parameters).one_or_none()
                if row is None:  # a new name: its bucket starts full
                    conn.execute(self._insert, parameters)
                    row = conn.execute(self._reserve, parameters).one()
        except self._errors as exc:
            reason = getattr(exc, "orig", None) or exc  # the driver's text, without the SQL
            text = " ".join(str(reason).split())
            raise TemporaryFailure(
                f"rate limit {name!r}: PostgreSQL failed ({type(reason).__name__}: {text})"
            ) from exc
        return TokenReservation(granted=bool(row.granted), wait=float(row.wait), at=row.at)

    def close(self) -> None:
        """Release the connections, if the backend created the engine from a URL."""
        if self._owns_engine:
            self._engine.dispose()
