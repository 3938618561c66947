"""The Celery example project works as its README says, on PostgreSQL (tasks run eagerly)."""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType

import pytest
from tests.repositories.conftest import POSTGRES_URL

pytest.importorskip("celery", reason="the celery extra is not installed")

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "celery_project"


@pytest.fixture
def project(
    monkeypatch: pytest.MonkeyPatch, postgres_engine: object, postgres_schema: str
) -> Iterator[dict[str, ModuleType]]:
    monkeypatch.setenv("REGUA_DATABASE_URL", POSTGRES_URL)
    monkeypatch.setenv("REGUA_SCHEMA", postgres_schema)
    monkeypatch.syspath_prepend(str(PROJECT))
    names = ("cadences", "shop_celery", "create_schema")
    for name in names:
        sys.modules.pop(name, None)
    modules = {name: importlib.import_module(name) for name in names}
    yield modules
    for name in names:
        sys.modules.pop(name, None)


def test_the_example_project_confirms_each_order_once(
    project: dict[str, ModuleType], postgres_schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from regua import Contact, Event, SQLRepository

    shop_celery = project["shop_celery"]
    with pytest.raises(Exception, match="holds no regua schema"):
        shop_celery.make_scheduler()  # the workers never create the schema themselves
    SQLRepository(POSTGRES_URL, schema=postgres_schema).close()  # what create_schema.py does

    app, tasks = shop_celery.app, shop_celery.regua_tasks
    assert sorted(app.conf.beat_schedule) == ["regua.tick"]
    entry = app.conf.beat_schedule["regua.tick"]
    assert entry["task"] == "regua.tick"
    assert entry["schedule"] == 30
    assert {"regua.tick", "regua.tick_shard", "regua.dispatch"} <= set(app.tasks)

    with contextlib.ExitStack() as opened:
        application = opened.enter_context(SQLRepository(POSTGRES_URL, schema=postgres_schema))
        # This process's scheduler, the one the tasks use: closed whatever happens below.
        opened.enter_context(tasks.scheduler().repository)
        now = datetime(2026, 3, 2, 15, tzinfo=timezone.utc)
        for number in range(12):
            application.upsert_contact(
                Contact(f"c{number}", addresses={"email": f"customer{number}@example.com"})
            )
            application.record_event(Event(f"c{number}", "order_placed", now, id=f"A-{number}"))
        app.conf.task_always_eager = True
        try:
            shard_ids = tasks.tick.delay(now.isoformat()).get()
            assert len(shard_ids) == 8
            tasks.tick.delay((now + timedelta(minutes=1)).isoformat())
        finally:
            app.conf.task_always_eager = False
        printed = capsys.readouterr().out
        for number in range(12):
            assert printed.count(f"customer{number}@example.com") == 1, printed
        sent = application.history("c3")
        assert [getattr(item, "step", None) for item in sent][-1] == "order_confirmation"
