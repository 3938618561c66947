"""`regua.repositories.sql.metadata` beside an application's own, under Alembic autogenerate.

An application generating its migrations with Alembic must not be offered to drop regua's
tables, nor to change them: with regua's metadata in ``target_metadata``, a database that
regua created, or migrated from its first layout, compares equal.
"""

from __future__ import annotations

from typing import Any

import pytest

from regua.repositories.sql import SQLRepository, metadata

sa = pytest.importorskip("sqlalchemy")
pytest.importorskip("alembic")

from alembic.autogenerate import compare_metadata  # noqa: E402
from alembic.migration import MigrationContext  # noqa: E402

from tests.repositories.test_sql import _as_version_1, reopen  # noqa: E402


def _app_metadata(schema: str | None) -> Any:
    """The application's own tables: customers and orders."""
    app = sa.MetaData(schema=schema)
    sa.Table("customers", app, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "orders",
        app,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("customer_id", sa.Integer, nullable=False),
    )
    return app


def _differences(repository: SQLRepository, target: Any) -> list[Any]:
    schema = repository.schema

    def include_name(name: str | None, type_: str, parent: Any) -> bool:
        return type_ != "schema" or name == schema

    with repository.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": schema is not None,
                "include_name": include_name,
                "compare_type": True,
            },
        )
        return list(compare_metadata(context, target))


@pytest.fixture
def with_app_tables(sql_repository: SQLRepository) -> SQLRepository:
    app = _app_metadata(sql_repository.schema)
    app.create_all(sql_repository.engine)
    return sql_repository


def test_without_regua_metadata_autogenerate_would_drop_regua_tables(
    with_app_tables: SQLRepository,
) -> None:
    schema = with_app_tables.schema
    dropped = {
        diff[1].name
        for diff in _differences(with_app_tables, _app_metadata(schema))
        if isinstance(diff, tuple) and diff[0] == "remove_table"
    }
    assert {"regua_contacts", "regua_deliveries", "regua_folds"} <= dropped


def test_with_regua_metadata_a_fresh_database_compares_equal(
    with_app_tables: SQLRepository,
) -> None:
    schema = with_app_tables.schema
    assert _differences(with_app_tables, [_app_metadata(schema), metadata(schema)]) == []


def test_a_database_migrated_from_the_first_layout_compares_equal(
    with_app_tables: SQLRepository,
) -> None:
    _as_version_1(with_app_tables)
    reopen(with_app_tables).close()  # migrates to the current version
    schema = with_app_tables.schema
    assert _differences(with_app_tables, [_app_metadata(schema), metadata(schema)]) == []
