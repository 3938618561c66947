"""What the commands of `regua.cli` share: option texts and types, errors, the database, output."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, TypeVar

from regua.definitions.cadence import Cadence
from regua.errors import CommandError, ReguaError

if TYPE_CHECKING:
    from regua.repositories.sql import SQLRepository

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What ``add_subparsers`` returns: each command module adds its commands to it."""

_CADENCE_HELP = (
    "the cadence: a .yaml/.yml/.json file, path/to/file.py:attribute or "
    "package.module:attribute (the attribute may hold a list of cadences)"
)

_DATABASE_HELP = (
    "the URL of the database the scheduler runs on (sqlite:///regua.db, "
    "postgresql://...); it is read, never changed"
)

_SCHEMA_HELP = (
    "with a PostgreSQL database: the schema that holds regua's tables (default: the "
    "connection's search path, usually 'public')"
)


# --- options --------------------------------------------------------------------------------------


def _cadence_option(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument("--cadence", metavar="NAME", dest="cadence_name", help=text)


def _whole_number(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"expected a whole number of at least {minimum}, got {text!r}"
            )
        return value

    return parse


_positive_int = _whole_number(1)
_non_negative_int = _whole_number(0)


def _instant(text: str) -> datetime:
    from dateutil.parser import isoparse

    try:
        return isoparse(text)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 instant (e.g. 2026-03-10T12:00:00Z)"
        ) from None


def _utc_instant(instant: datetime | None) -> datetime:
    """`instant` in UTC, a naive one read as UTC; now (to the second) when None."""
    if instant is None:
        return datetime.now(timezone.utc).replace(microsecond=0)
    if instant.tzinfo is None or instant.utcoffset() is None:
        instant = instant.replace(tzinfo=timezone.utc)
    return instant.astimezone(timezone.utc)


# --- the scheduler's database ---------------------------------------------------------------------


@contextmanager
def _database(url: str, schema: str | None) -> Iterator[SQLRepository]:
    """The scheduler's database at `url`, opened to read: nothing is created or migrated."""
    from regua.repositories.sql import SchemaVersionError, SQLRepository

    sqlite_file = _sqlite_file(url)
    # SQLite would create a missing file, empty: a mistyped path is reported instead.
    if sqlite_file is not None and not Path(sqlite_file).is_file():
        raise CommandError(f"{_redacted(url)}: no database file {sqlite_file}")
    try:
        repository = SQLRepository(url, create=False, schema=schema)
    except SchemaVersionError as exc:
        message = str(exc)
        if "holds no regua schema" in message and sqlite_file is not None:
            message = "no regua tables in this database file"
        elif "holds no regua schema" in message:  # a command that reads creates nothing
            where = f"in schema {schema!r}" if schema else "in the connection's default schema"
            message = f"no regua tables {where}; give the schema that holds them with --schema"
        raise CommandError(f"{_redacted(url)}: {message}") from None
    except ReguaError as exc:
        raise CommandError(f"{_redacted(url)}: {exc}") from None
    except Exception as exc:  # a driver's error: a bad URL, no server, a refused login
        raise CommandError(f"{_redacted(url)}: cannot open the database ({exc})") from None
    try:
        yield repository
    finally:
        repository.close()


def _sqlite_file(url: str) -> str | None:
    """The file a ``sqlite:///path`` URL names; None for any other URL, or an in-memory one."""
    try:
        import sqlalchemy as sa

        parsed = sa.make_url(url)
    except Exception:  # not a URL, or no SQLAlchemy: opening it reports the problem
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.query.get("mode") == "memory" or parsed.database.startswith("file:"):
        return None
    return parsed.database


def _redacted(url: str) -> str:
    try:
        import sqlalchemy as sa

        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the database URL"


_T = TypeVar("_T")


def _reading(url: str, read: Callable[[], _T]) -> _T:
    """What `read` returns; a database failure while it reads becomes a `CommandError`."""
    import sqlalchemy as sa

    try:
        return read()
    except sa.exc.SQLAlchemyError as exc:  # the connection dropped, a permission refused
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CommandError(f"{_redacted(url)}: cannot read the database ({first})") from None


# --- cadences and output --------------------------------------------------------------------------


def _choose(
    cadences: list[Cadence], name: str | None, spec: str, *, default_first: bool = False
) -> Cadence:
    names = [cadence.name for cadence in cadences]
    if name is not None:
        for cadence in cadences:
            if cadence.name == name:
                return cadence
        raise CommandError(f"{spec}: no cadence named {name!r} (cadences: {', '.join(names)})")
    if len(cadences) > 1 and not default_first:
        raise CommandError(
            f"{spec} holds several cadences ({', '.join(names)}): choose one with --cadence"
        )
    return cadences[0]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _utc(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")
