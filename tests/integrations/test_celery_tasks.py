"""regua's Celery tasks, run eagerly in this process on a SQLite file (no broker needed)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("celery", reason="the celery extra is not installed")

from celery import Celery

from regua import (
    Cadence,
    Channel,
    Contact,
    Event,
    OutboxSender,
    Scheduler,
    SQLRepository,
    Step,
    on_event,
)
from regua.integrations.celery import (
    CeleryConfig,
    ReguaTasks,
    dispatch_task_id,
    install,
)
from regua.records import idempotency_key
from regua.sharding import Shard

T0 = datetime(2026, 3, 2, 15, tzinfo=timezone.utc)
SHOP = Cadence(
    "shop",
    channels=[Channel("email")],
    steps=[
        Step("confirm", trigger=on_event("order_placed"), channels=["email"], transactional=True),
        Step(
            "review",
            trigger=on_event("order_placed"),
            delay="2h",
            channels=["email"],
            transactional=True,
        ),
    ],
)


class Setup:
    def __init__(self, url: str) -> None:
        self.url = url
        self.outbox = OutboxSender()
        self.built = 0
        self.application = SQLRepository(url)
        self.app = Celery("test_tasks")
        self.app.conf.task_always_eager = True
        self.tasks: ReguaTasks = install(
            self.app, self.make_scheduler, CeleryConfig(shards=3, batch_size=4)
        )

    def make_scheduler(self) -> Scheduler:
        self.built += 1
        return Scheduler(SHOP, repository=SQLRepository(self.url), senders={"email": self.outbox})

    def order(self, number: int, at: datetime = T0) -> None:
        self.application.upsert_contact(Contact(f"c{number}", addresses={"email": "a@x.org"}))
        self.application.record_event(Event(f"c{number}", "order_placed", at, id=f"A-{number}"))


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    value = Setup(f"sqlite:///{tmp_path / 'regua.db'}")
    yield value
    value.application.close()
    if value.built:
        value.tasks.scheduler().repository.close()


def test_a_tick_fans_out_one_task_per_shard_and_sends_each_message_once(setup: Setup) -> None:
    for number in range(10):
        setup.order(number)
    shard_ids = setup.tasks.tick.delay(T0.isoformat()).get()
    assert shard_ids == [f"regua:tick:{T0.isoformat()}:{s}" for s in Shard.all(3)]
    assert len(setup.outbox.outbox) == 10
    # Later ticks: the reviews two hours on, then nothing.
    setup.tasks.tick.delay((T0 + timedelta(hours=2)).isoformat())
    setup.tasks.tick.delay((T0 + timedelta(hours=3)).isoformat())
    counts = setup.outbox.keys()
    assert len(counts) == 20
    assert set(counts.values()) == {1}
    assert setup.built == 1  # one scheduler for the process


def test_tick_shard_dispatches_only_contacts_with_something_due(setup: Setup) -> None:
    for number in range(6):
        setup.order(number)
    setup.tasks.tick.delay(T0.isoformat())
    # Nothing new is due, but a contact changed (DIRTY): it is evaluated without a dispatch.
    setup.application.set_consent("c1", "sms", True)
    shard = Shard.of("c1", 3)
    summary: dict[str, Any] = setup.tasks.tick_shard.delay(shard.index, 3, T0.isoformat()).get()
    assert summary == {"shard": str(shard), "dispatched": [], "evaluated": 1}
    assert setup.application.due_contact_ids(T0, 10) == []


def test_dispatch_task_ids_are_the_idempotency_keys(setup: Setup) -> None:
    setup.order(0)
    shard = Shard.of("c0", 3)
    summary = setup.tasks.tick_shard.delay(shard.index, 3, T0.isoformat()).get()
    (key,) = setup.outbox.keys()
    assert summary["dispatched"] == [f"regua:{key}"]
    assert dispatch_task_id("ns", ["b", "a", "b"]) == dispatch_task_id("ns", ["a", "b"])
    assert dispatch_task_id("ns", ["a", "b"]).startswith("ns:batch:")
    assert dispatch_task_id("ns", ["k"]) == "ns:k"


def test_a_redelivered_dispatch_sends_nothing_twice(setup: Setup) -> None:
    for number in range(4):
        setup.order(number)
    ids = [f"c{number}" for number in range(4)]
    first = setup.tasks.dispatch.delay(ids, T0.isoformat()).get()
    again = setup.tasks.dispatch.delay(ids, T0.isoformat()).get()  # the broker delivers twice
    assert first["sent"] == 4
    assert again["sent"] == 0
    assert len(setup.outbox.outbox) == 4
    expected = {
        idempotency_key(d.occurrence_key)
        for c in ids
        for d in setup.application.history(c)
        if hasattr(d, "occurrence_key")
    }
    assert set(setup.outbox.keys()) == expected


def test_the_beat_schedule_runs_tick_every_tick_every(setup: Setup) -> None:
    assert setup.tasks.beat_schedule() == {
        "regua.tick": {"task": "regua.tick", "schedule": 60.0, "options": {"expires": 60.0}}
    }
    routed = install(
        Celery("other"),
        setup.make_scheduler,
        CeleryConfig(namespace="crm", queue="regua", tick_every=timedelta(minutes=2)),
    )
    assert routed.beat_schedule() == {
        "crm.tick": {
            "task": "crm.tick",
            "schedule": 120.0,
            "options": {"expires": 120.0, "queue": "regua"},
        }
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"shards": 0}, "CeleryConfig.shards must be positive, got 0"),
        ({"batch_size": -1}, "CeleryConfig.batch_size must be positive, got -1"),
        ({"lease": timedelta(0)}, r"CeleryConfig.lease must be positive, got 0:00:00"),
        ({"tick_every": 0}, r"CeleryConfig.tick_every must be positive"),
        ({"shards": 2.5}, "CeleryConfig.shards must be an integer, got 2.5"),
        ({"namespace": ""}, "CeleryConfig.namespace must not be empty"),
    ],
)
def test_invalid_configuration_is_refused_naming_the_field(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        CeleryConfig(**options)


def test_a_naive_now_is_refused(setup: Setup) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        setup.tasks.dispatch.delay(["c0"], "2026-03-02T15:00:00").get()
