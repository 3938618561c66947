"""The ``REGUA`` setting: read, checked, and turned into a repository and a scheduler.

Every problem raises `django.core.exceptions.ImproperlyConfigured` naming the key of
``settings.REGUA`` at fault. `get_repository` and `get_scheduler` build what they return once
per process (again in a forked child, so that no database connection crosses a fork) and
keep it until `reset`.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django import conf
from django.core.exceptions import ImproperlyConfigured

from regua.definitions.cadence import Cadence
from regua.errors import NotFoundError, ReguaError
from regua.loading import load_cadences
from regua.metrics import Metrics
from regua.ports import Sender
from regua.repositories.sql import SQLRepository
from regua.scheduler import RetryPolicy, Scheduler

if TYPE_CHECKING:
    import sqlalchemy as sa

# Django's settings are read as `conf.settings`, never imported as a global: a doctest finder
# probes every global of a module, and the lazy object raises when Django is not configured.

__all__ = [
    "KEYS",
    "database_url",
    "get_cadences",
    "get_repository",
    "get_scheduler",
    "get_senders",
    "interval",
    "reset",
    "setting",
]

KEYS: Mapping[str, str] = {
    "CADENCES": "the cadences: 'module:attribute', a cadence file, a Cadence, or a list of them",
    "SENDERS": "'module:attribute' of a dict {channel: Sender}, or of a function returning one",
    "DATABASE": "the alias in DATABASES of the database holding regua's tables ('default')",
    "SCHEMA": "the PostgreSQL schema of regua's tables (None: the connection's search_path)",
    "CREATE": "create or migrate regua's tables when the repository opens (True)",
    "INTERVAL": "seconds between two ticks of regua_worker (60)",
    "WORKER": "this worker's identity in claims and leases (None: host:pid:random)",
    "BATCH_SIZE": "Scheduler batch_size: contacts leased and loaded per batch (2000)",
    "CLAIM_BATCH_SIZE": "Scheduler claim_batch_size: due occurrences claimed at once (1000)",
    "LEASE": "Scheduler lease, in seconds or a timedelta (300)",
    "SEND_TIMEOUT": "Scheduler send_timeout, in seconds or a timedelta, or None (30)",
    "FOLD_AFTER": "Scheduler fold_after, or None",
    "RETRY": "Scheduler retry: a RetryPolicy",
    "METRICS": "Scheduler metrics: a Metrics, or 'module:attribute' of one",
}
"""The keys ``settings.REGUA`` may hold, and what each one means."""

# Keys of a PostgreSQL DATABASES entry's OPTIONS that Django reads itself: the rest are
# libpq connection parameters, handed to psycopg as they are.
_DJANGO_ONLY_OPTIONS = frozenset(
    {"isolation_level", "server_side_binding", "assume_role", "pool", "cursor_factory"}
)


def _settings() -> Mapping[str, Any]:
    value = getattr(conf.settings, "REGUA", None)
    if value is None:
        raise ImproperlyConfigured(
            "settings.REGUA is not set: regua's Django integration needs at least "
            '{"CADENCES": ..., "SENDERS": ...}'
        )
    if not isinstance(value, Mapping):
        raise ImproperlyConfigured(f"settings.REGUA must be a dict, got {type(value).__name__}")
    unknown = sorted(str(key) for key in value if key not in KEYS)
    if unknown:
        raise ImproperlyConfigured(
            f"settings.REGUA has unknown keys {', '.join(map(repr, unknown))}; "
            f"the keys are {', '.join(KEYS)}"
        )
    return value


def setting(key: str, default: Any = None) -> Any:
    """``settings.REGUA[key]``, or `default` when it is absent or None.

    Raises:
        ImproperlyConfigured: ``settings.REGUA`` is missing, is not a dict, or holds a key
            that is not one of `KEYS`.

    """
    if key not in KEYS:
        raise NotFoundError(f"{key!r} is not a key of settings.REGUA")
    value = _settings().get(key)
    return default if value is None else value


def _where(key: str) -> str:
    return f"settings.REGUA[{key!r}]"


def _import(path: str, key: str) -> Any:
    """The object at ``module:attribute`` (or ``module.attribute``)."""
    module_name, colon, attribute = path.partition(":")
    if not colon:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise ImproperlyConfigured(
            f"{_where(key)} = {path!r} is not 'module:attribute' (e.g. 'shop.regua:senders')"
        )
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImproperlyConfigured(f"{_where(key)} = {path!r}: cannot import it: {exc}") from exc
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ImproperlyConfigured(
                f"{_where(key)} = {path!r}: {module_name} has no attribute {attribute!r}"
            ) from None
    return found


def _seconds(key: str, default: timedelta | None, *, optional: bool = False) -> timedelta | None:
    settings_ = _settings()
    if key not in settings_:
        return default
    value = settings_[key]
    if value is None:
        return None if optional else default
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ImproperlyConfigured(
            f"{_where(key)} must be a number of seconds or a timedelta, got {value!r}"
        )
    return timedelta(seconds=value)


def _integer(key: str, *, optional: bool = False) -> int | None:
    value = _settings().get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        kind = "an integer or None" if optional else "an integer"
        raise ImproperlyConfigured(f"{_where(key)} must be {kind}, got {value!r}")
    return value


# --- the database ------------------------------------------------------------------------------


def database_url(alias: str | None = None) -> sa.URL:
    """The SQLAlchemy URL of the Django database `alias` (default: ``REGUA["DATABASE"]``).

    Built from Django's own connection settings (name, user, password, host, port, and the
    libpq parameters in ``OPTIONS``), so that regua's connection reaches the database Django
    uses, the test database included while Django's test runner has it. SQLite and
    PostgreSQL (with psycopg 3) only.

    Raises:
        ImproperlyConfigured: No such alias, a database regua does not run on, or an
            in-memory SQLite database (a second connection cannot reach it).

    """
    import sqlalchemy as sa
    from django.db import connections

    if alias is None:
        alias = str(setting("DATABASE", "default"))
    if alias not in conf.settings.DATABASES:
        known = ", ".join(map(repr, conf.settings.DATABASES)) or "none"
        raise ImproperlyConfigured(
            f"{_where('DATABASE')} = {alias!r} is not in settings.DATABASES (aliases: {known})"
        )
    connection = connections[alias]
    entry = connection.settings_dict
    name = entry.get("NAME")
    if connection.vendor == "sqlite":
        path = str(name or "")
        if path in ("", ":memory:") or "mode=memory" in path:
            raise ImproperlyConfigured(
                f"the database {alias!r} is an in-memory SQLite database, which regua's own "
                "connection cannot reach; give it a file (for Django's test runner: "
                f"DATABASES[{alias!r}]['TEST']['NAME'])"
            )
        return sa.URL.create("sqlite", database=path)
    if connection.vendor == "postgresql":
        options = entry.get("OPTIONS") or {}
        port = entry.get("PORT")
        return sa.URL.create(
            "postgresql+psycopg",
            username=entry.get("USER") or None,
            password=entry.get("PASSWORD") or None,
            host=entry.get("HOST") or None,
            port=int(port) if port else None,
            database=str(name) if name else None,
            query={
                str(key): str(value)
                for key, value in options.items()
                if key not in _DJANGO_ONLY_OPTIONS and value is not None
            },
        )
    raise ImproperlyConfigured(
        f"the database {alias!r} ({entry.get('ENGINE')}) is {connection.vendor}; regua's "
        "tables live in SQLite or PostgreSQL: point settings.REGUA['DATABASE'] at one"
    )


# --- what the scheduler is made of ---------------------------------------------------------------


def get_cadences() -> list[Cadence]:
    """The cadences ``REGUA["CADENCES"]`` names, loaded (see `regua.loading.load_cadences`).

    Raises:
        ImproperlyConfigured: The setting is missing, or a cadence cannot be loaded; the
            message names the spec and what is wrong.

    """
    value = setting("CADENCES")
    if value is None:
        raise ImproperlyConfigured(
            f"{_where('CADENCES')} is not set: name your cadences, e.g. 'shop.cadences:all'"
        )
    items = [value] if isinstance(value, (str, os.PathLike, Cadence)) else value
    try:
        items = list(items)
    except TypeError:
        raise ImproperlyConfigured(
            f"{_where('CADENCES')} must be a spec, a Cadence or a list of them, got {value!r}"
        ) from None
    cadences: list[Cadence] = []
    for item in items:
        if isinstance(item, Cadence):
            cadences.append(item)
        elif isinstance(item, (str, os.PathLike)):
            try:
                cadences.extend(load_cadences(item))
            except ReguaError as exc:
                raise ImproperlyConfigured(f"{_where('CADENCES')}: {exc}") from exc
        else:
            raise ImproperlyConfigured(
                f"{_where('CADENCES')} holds {item!r}: expected 'module:attribute', a "
                "cadence file or a Cadence"
            )
    if not cadences:
        raise ImproperlyConfigured(f"{_where('CADENCES')} names no cadence")
    return cadences


def get_senders() -> dict[str, Sender]:
    """The senders ``REGUA["SENDERS"]`` names: ``{channel: Sender}``.

    The setting is a dict, or ``"module:attribute"`` of a dict or of a function that takes
    no argument and returns one (called on each build, so once per process).

    Raises:
        ImproperlyConfigured: The setting is missing, or is not (and does not give) a dict
            of senders.

    """
    value = setting("SENDERS")
    if value is None:
        raise ImproperlyConfigured(
            f"{_where('SENDERS')} is not set: give 'module:attribute' of a dict "
            "{channel: Sender}, or of a function returning one"
        )
    if isinstance(value, str):
        value = _import(value, "SENDERS")
    if callable(value) and not isinstance(value, Mapping):
        value = value()
    if not isinstance(value, Mapping):
        raise ImproperlyConfigured(
            f"{_where('SENDERS')} must give a dict {{channel: Sender}}, got {type(value).__name__}"
        )
    for channel, sender in value.items():
        if not isinstance(sender, Sender):
            raise ImproperlyConfigured(
                f"{_where('SENDERS')}[{channel!r}] is {type(sender).__name__}, not a Sender "
                "(an object with a send(message) method)"
            )
    return {str(channel): sender for channel, sender in value.items()}


def _metrics() -> Metrics | None:
    value = setting("METRICS")
    if isinstance(value, str):
        value = _import(value, "METRICS")
    if value is not None and not isinstance(value, Metrics):
        raise ImproperlyConfigured(
            f"{_where('METRICS')} must be a regua Metrics, got {type(value).__name__}"
        )
    return value


def _retry() -> RetryPolicy | None:
    value = setting("RETRY")
    if value is not None and not isinstance(value, RetryPolicy):
        raise ImproperlyConfigured(
            f"{_where('RETRY')} must be a regua RetryPolicy, got {type(value).__name__}"
        )
    return value


def interval() -> timedelta:
    """The time between two ticks of ``regua_worker``: ``REGUA["INTERVAL"]`` (60 s)."""
    value = _seconds("INTERVAL", timedelta(seconds=60))
    assert value is not None
    if value <= timedelta(0):
        raise ImproperlyConfigured(f"{_where('INTERVAL')} must be positive, got {value}")
    return value


# --- the cached objects ------------------------------------------------------------------------


class _Built:
    """This process's repository and scheduler, built on first use."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.pid = os.getpid()
        self.repository: SQLRepository | None = None
        self.scheduler: Scheduler | None = None

    def forget_after_fork(self) -> None:
        """In a forked child: drop the parent's objects without closing its connections."""
        if self.pid == os.getpid():
            return
        if self.repository is not None:
            self.repository.engine.dispose(close=False)
        self.repository = self.scheduler = None
        self.pid = os.getpid()


_built = _Built()


def get_repository() -> SQLRepository:
    """This process's `SQLRepository` on ``REGUA["DATABASE"]``, built on first use.

    What the application writes through (`upsert_contact`, `record_event`, `set_consent`),
    and what `get_scheduler` runs on. It opens its own SQLAlchemy connections to the
    database Django uses (`database_url`), in ``REGUA["SCHEMA"]``; with ``REGUA["CREATE"]``
    (the default) it creates regua's tables, or migrates them, when it first opens.

    Raises:
        ImproperlyConfigured: The settings are wrong; the message names the key.

    """
    with _built.lock:
        _built.forget_after_fork()
        if _built.repository is None:
            url = database_url()
            create = setting("CREATE", True)
            if not isinstance(create, bool):
                raise ImproperlyConfigured(f"{_where('CREATE')} must be True or False")
            schema = setting("SCHEMA")
            if schema is not None and not isinstance(schema, str):
                raise ImproperlyConfigured(f"{_where('SCHEMA')} must be a string or None")
            try:
                _built.repository = SQLRepository(url, schema=schema, create=create)
            except ReguaError as exc:
                if url.get_backend_name() == "sqlite" and schema is not None:
                    raise ImproperlyConfigured(
                        f"{_where('SCHEMA')} = {schema!r}: SQLite has no schemas"
                    ) from exc
                raise
        return _built.repository


def get_scheduler() -> Scheduler:
    """This process's `Scheduler`, built from ``settings.REGUA`` on first use.

    Its cadences come from ``CADENCES``, its senders from ``SENDERS``, its repository is
    `get_repository`'s, and ``WORKER``, ``BATCH_SIZE``, ``CLAIM_BATCH_SIZE``, ``LEASE``,
    ``SEND_TIMEOUT``, ``FOLD_AFTER``, ``RETRY`` and ``METRICS`` are passed on when set.

    Raises:
        ImproperlyConfigured: The settings are wrong; the message names the key.

    """
    with _built.lock:
        _built.forget_after_fork()
        if _built.scheduler is None:
            cadences = get_cadences()
            senders = get_senders()
            options: dict[str, Any] = {}
            worker = setting("WORKER")
            if worker is not None:
                if not isinstance(worker, str) or not worker:
                    raise ImproperlyConfigured(f"{_where('WORKER')} must be a non-empty string")
                options["worker"] = worker
            for key, name in (
                ("BATCH_SIZE", "batch_size"),
                ("CLAIM_BATCH_SIZE", "claim_batch_size"),
            ):
                number = _integer(key)
                if number is not None:
                    options[name] = number
            if "FOLD_AFTER" in _settings():
                options["fold_after"] = _integer("FOLD_AFTER", optional=True)
            lease = _seconds("LEASE", None)
            if lease is not None:
                options["lease"] = lease
            if "SEND_TIMEOUT" in _settings():
                options["send_timeout"] = _seconds("SEND_TIMEOUT", None, optional=True)
            retry, metrics = _retry(), _metrics()
            if retry is not None:
                options["retry"] = retry
            if metrics is not None:
                options["metrics"] = metrics
            repository = get_repository()
            try:
                _built.scheduler = Scheduler(
                    cadences, repository=repository, senders=senders, **options
                )
            except ValueError as exc:
                raise ImproperlyConfigured(f"settings.REGUA: {exc}") from exc
        return _built.scheduler


def reset() -> None:
    """Close the repository and forget the scheduler: the next call builds them again.

    Called when ``settings.REGUA`` or ``settings.DATABASES`` changes in a test
    (`django.test.override_settings`), and worth calling at the end of a test session so
    that no connection outlives the test database.
    """
    with _built.lock:
        _built.forget_after_fork()
        repository, _built.repository, _built.scheduler = _built.repository, None, None
    if repository is not None:
        repository.close()
