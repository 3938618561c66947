"""The in-memory wake-up index stays exact through many changes (stale entries, rebuilds)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from regua import Contact, InMemoryRepository
from regua.ports import Wakeup

T0 = datetime(2026, 5, 4, tzinfo=timezone.utc)


def test_index_answers_like_a_full_scan_after_many_changes() -> None:
    rng = random.Random(7)
    repo = InMemoryRepository()
    wakeups: dict[str, datetime | None] = {}
    for n in range(300):
        repo.upsert_contact(Contact(f"c{n}"))
    for _ in range(40):  # enough changes to leave stale entries and force rebuilds
        batch = []
        for n in rng.sample(range(300), 100):
            at = None if rng.random() < 0.1 else T0 + timedelta(minutes=rng.randrange(0, 600))
            version = repo.load_snapshots([f"c{n}"])[f"c{n}"].version
            batch.append(Wakeup(f"c{n}", at, version))
            wakeups[f"c{n}"] = at
        repo.set_wakeups(batch)
    live = {cid: at for cid, at in wakeups.items() if at is not None}
    untouched = {f"c{n}" for n in range(300)} - set(wakeups)
    for now in (T0, T0 + timedelta(minutes=150), T0 + timedelta(minutes=599)):
        expected = sorted(
            [(at, cid) for cid, at in live.items() if at <= now]
            + [(datetime(1970, 1, 1, tzinfo=timezone.utc), cid) for cid in untouched]
        )
        assert repo.due_contact_ids(now, 1000) == [cid for _, cid in expected]
    assert repo.next_wakeup() == min(
        [*live.values(), *([datetime(1970, 1, 1, tzinfo=timezone.utc)] if untouched else [])]
    )
    assert len(repo._index) <= 2 * (len(live) + len(untouched)) + 1024
