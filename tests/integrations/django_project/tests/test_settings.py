"""settings.REGUA becomes a scheduler; every mistake in it names the key."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from regua import Scheduler, SQLRepository
from regua.integrations.django import (
    DjangoEmailSender,
    database_url,
    get_repository,
    get_scheduler,
    reset,
)


def test_the_settings_make_a_scheduler(repository: SQLRepository) -> None:
    scheduler = get_scheduler()
    assert isinstance(scheduler, Scheduler)
    assert [cadence.name for cadence in scheduler.cadences] == ["shop"]
    assert isinstance(scheduler.senders["email"], DjangoEmailSender)
    assert scheduler.repository is repository is get_repository()
    assert get_scheduler() is scheduler  # built once per process


def test_the_repository_is_on_djangos_test_database(repository: SQLRepository) -> None:
    settings_dict = connections["default"].settings_dict
    url = database_url()
    if connections["default"].vendor == "sqlite":
        assert url.database == settings_dict["NAME"]
        assert url.database.endswith("test-shop.db")
        assert repository.schema is None
    else:
        assert url.drivername == "postgresql+psycopg"
        assert url.database == settings_dict["NAME"]
        assert url.database.startswith("regua_django_")
        assert repository.schema == "regua"


def test_changed_settings_build_a_new_scheduler(repository: SQLRepository, settings: Any) -> None:
    before = get_scheduler()
    settings.REGUA = {**settings.REGUA, "BATCH_SIZE": 7, "LEASE": 60, "SEND_TIMEOUT": None}
    after = get_scheduler()
    assert after is not before
    assert (after.batch_size, after.lease.total_seconds(), after.send_timeout) == (7, 60, None)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"CADENCES": None}, "settings.REGUA['CADENCES'] is not set"),
        ({"CADENCES": "shop.nowhere:cadences"}, "settings.REGUA['CADENCES']: shop.nowhere"),
        ({"CADENCES": [42]}, "settings.REGUA['CADENCES'] holds 42"),
        ({"SENDERS": None}, "settings.REGUA['SENDERS'] is not set"),
        ({"SENDERS": "shop.regua_senders"}, "settings.REGUA['SENDERS'] must give a dict"),
        ({"SENDERS": "shop.regua_senders:TEMPLATES"}, "settings.REGUA['SENDERS']['order_conf"),
        ({"SENDERS": "shop.nowhere:senders"}, "cannot import it"),
        ({"DATABASE": "other"}, "settings.REGUA['DATABASE'] = 'other' is not in"),
        ({"BATCH_SIZE": True}, "settings.REGUA['BATCH_SIZE'] must be an integer"),
        ({"BATCH_SIZE": 0}, "batch_size must be at least 1"),
        ({"LEASE": "5m"}, "settings.REGUA['LEASE'] must be a number of seconds"),
        ({"RETRY": 3}, "settings.REGUA['RETRY'] must be a regua RetryPolicy"),
        ({"CADENSES": "shop.cadences:cadences"}, "settings.REGUA has unknown keys 'CADENSES'"),
    ],
)
def test_a_wrong_setting_is_named(settings: Any, change: dict[str, Any], message: str) -> None:
    settings.REGUA = {**settings.REGUA, **change}
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        get_scheduler()


def test_no_regua_setting(settings: Any) -> None:
    del settings.REGUA
    with pytest.raises(ImproperlyConfigured, match=r"settings\.REGUA is not set"):
        get_repository()


def test_an_in_memory_sqlite_database_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    connection = connections["default"]
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    monkeypatch.setitem(connection.settings_dict, "NAME", "file:memorydb?mode=memory&cache=shared")
    with pytest.raises(ImproperlyConfigured, match="in-memory SQLite database"):
        database_url()


def test_a_forked_child_builds_its_own(
    repository: SQLRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheduler = get_scheduler()
    # A child leaves its parent's connections open, for the parent; this "parent" is the
    # same process, so it closes them itself.
    repository.engine.dispose()
    monkeypatch.setattr("os.getpid", lambda: -1)  # as in a child forked after the first use
    child = get_scheduler()
    assert child is not scheduler
    assert child.repository is get_repository() is not repository
    reset()  # while this is still the child
