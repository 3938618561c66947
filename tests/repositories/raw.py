"""Writing around the SQL repository: rows regua would never write, for the tests that read them."""

from __future__ import annotations

import sqlalchemy as sa

from regua.repositories.sql import SQLRepository


def nested_object(depth: int) -> str:
    """JSON text of an object `depth` levels deep: ``{"a": {"a": ... 1}}``."""
    return '{"a": ' * depth + "1" + "}" * depth


def nested_list(depth: int) -> str:
    """JSON text of a list `depth` levels deep: ``[[...]]``."""
    return "[" * depth + "]" * depth


def write_around(
    repository: SQLRepository,
    table: str,
    column: str,
    value: str,
    contact_id: str,
    *,
    json: bool = False,
) -> None:
    """Store `value` in `column` of the contact's row of ``regua_<table>``, as a raw UPDATE.

    `value` is the text to store; with `json`, the column is JSON and `value` JSON text.
    """
    key = "id" if table == "contacts" else "contact_id"
    rows = sa.table(f"regua_{table}", sa.column(key), sa.column(column), schema=repository.schema)
    stored: sa.ColumnElement[str] = sa.literal(value, sa.Text)
    if json and repository.engine.dialect.name == "postgresql":
        stored = sa.cast(stored, sa.JSON)
    with repository.engine.begin() as conn:
        updated = conn.execute(
            sa.update(rows).where(rows.c[key] == contact_id).values({column: stored})
        )
        assert updated.rowcount == 1, f"no single row of {contact_id!r} in regua_{table}"
