"""`regua forecast` and `regua diff` read a scheduler's database in the schema given."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from regua import Contact, Event
from regua.cli import main
from regua.repositories.sql import SQLRepository
from tests.repositories.conftest import POSTGRES_URL

SHOP = "examples/ecommerce_lifecycle.py:cadence"
START = "2026-03-02T12:00:00Z"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def test_forecast_reads_the_tables_of_the_schema_given(
    capsys: pytest.CaptureFixture[str], postgres_engine: sa.Engine, postgres_schema: str
) -> None:
    with SQLRepository(postgres_engine, schema=postgres_schema) as repository:
        for name in ("ana", "bia"):
            repository.upsert_contact(
                Contact(name, consents={"email"}, addresses={"email": f"{name}@example.com"})
            )
            signed_up = datetime(2026, 3, 2, 11, tzinfo=timezone.utc)
            repository.record_event(Event(name, "signed_up", signed_up, id=f"{name}-s"))
    args = ["--contacts", POSTGRES_URL, "--start", START, "--days", "7"]
    status, out, err = _run(capsys, "forecast", SHOP, *args, "--schema", postgres_schema)
    assert status == 0, err
    assert re.search(r"^signup_confirmation +email +2 ", out, re.MULTILINE)


def test_a_schema_without_regua_tables_says_to_give_the_right_one(
    capsys: pytest.CaptureFixture[str], postgres_engine: sa.Engine, postgres_schema: str
) -> None:
    args = ["--contacts", POSTGRES_URL, "--days", "7", "--schema", postgres_schema]
    status, _, err = _run(capsys, "forecast", SHOP, *args)
    assert status == 1
    assert f"no regua tables in schema {postgres_schema!r}" in err
    assert "give the schema that holds them with --schema" in err
    assert "create=True" not in err


def test_schema_applies_to_a_database_only(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, "forecast", SHOP, "--contacts", "x.csv", "--schema", "shop")
    assert status == 1
    assert "--schema shop: applies to a database URL in --contacts only" in err
