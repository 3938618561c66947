"""Where a forecast's contacts come from: a repository's current state, or contact records.

A repository gives each contact as the scheduler would see it (its events, its recorded
deliveries, its open claims), so the forecast projects the real state forward. Contacts
given directly start with no history (or pass `Snapshot` objects to give them one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, TypeAlias

from regua.ports import Repository
from regua.records import Contact, Snapshot

__all__ = ["ContactSource", "count_of", "repository_contact_ids", "snapshots_of"]

ContactSource: TypeAlias = Repository | Iterable[Contact | Snapshot]
"""A `Repository`, or contacts (`Contact`, or `Snapshot` to give them a history)."""

_BATCH = 1000
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=timezone.utc)


def repository_contact_ids(repository: Repository) -> list[str]:
    """The id of every contact in `repository`, sorted.

    A repository with a ``contact_ids(after, limit)`` method is paged through it. Otherwise
    the reference repositories are read directly: `InMemoryRepository`, and `SQLRepository`
    with one ``SELECT`` on its contacts table. For another repository it falls back on the
    wake-up index (`Repository.due_contact_ids`), which leaves out contacts with no wake-up:
    those send nothing unless something new happens to them, so the forecast only misses
    them when scripted assumptions would make them act; pass `contact_ids` to `forecast`.
    """
    pages = getattr(repository, "contact_ids", None)
    if callable(pages):
        ids: list[str] = []
        while True:
            page = list(pages(ids[-1] if ids else None, _BATCH))
            ids.extend(page)
            if len(page) < _BATCH:
                return sorted(ids)
    from regua.repositories.memory import InMemoryRepository

    if isinstance(repository, InMemoryRepository):
        # Read under the repository's own lock; nothing is changed.
        with repository._lock:
            return sorted(repository._rows)
    sql_ids = _sql_contact_ids(repository)
    if sql_ids is not None:
        return sql_ids
    return sorted(repository.due_contact_ids(_FAR_FUTURE, 2**62))


def _sql_contact_ids(repository: Repository) -> list[str] | None:
    try:
        from regua.repositories.sql import PREFIX, SQLRepository
    except ImportError:  # pragma: no cover - the sql extra is a dev dependency
        return None
    if not isinstance(repository, SQLRepository):
        return None
    import sqlalchemy as sa

    table = sa.table(f"{PREFIX}contacts", sa.column("id"), schema=repository.schema)
    with repository.engine.connect() as conn:
        return sorted(conn.execute(sa.select(table.c.id)).scalars())


def count_of(source: ContactSource, contact_ids: Sequence[str] | None) -> int | None:
    """How many contacts `snapshots_of` will give, when that is known up front."""
    if contact_ids is not None:
        return len(contact_ids)
    if isinstance(source, Repository):
        return None
    try:
        return len(source)  # type: ignore[arg-type]
    except TypeError:
        return None


def snapshots_of(
    source: ContactSource,
    contact_ids: Sequence[str] | None = None,
    *,
    on_ids: Callable[[int], Any] | None = None,
) -> Iterator[Snapshot]:
    """Each contact's snapshot, in batches from a repository, or built from contacts.

    Raises:
        TypeError: an item of `source` is neither a `Contact` nor a `Snapshot`.
        ValueError: two contacts share an id.

    """
    if isinstance(source, Repository):
        ids = list(contact_ids) if contact_ids is not None else repository_contact_ids(source)
        if on_ids is not None:
            on_ids(len(ids))
        for offset in range(0, len(ids), _BATCH):
            batch = ids[offset : offset + _BATCH]
            loaded = source.load_snapshots(batch)
            for contact_id in batch:
                snapshot = loaded.get(contact_id)
                if snapshot is not None:
                    yield snapshot
        return
    wanted = None if contact_ids is None else set(contact_ids)
    seen: set[str] = set()
    for index, item in enumerate(source):
        if isinstance(item, Contact):
            snapshot = Snapshot(item)
        elif isinstance(item, Snapshot):
            snapshot = item
        else:
            raise TypeError(
                f"contacts[{index}]: expected a Contact or a Snapshot, got {type(item).__name__}"
            )
        contact_id = snapshot.contact.id
        if wanted is not None and contact_id not in wanted:
            continue
        if contact_id in seen:
            raise ValueError(f"contacts[{index}]: duplicate contact id {contact_id!r}")
        seen.add(contact_id)
        yield snapshot
