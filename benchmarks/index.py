"""The in-memory wake-up index: storing wake-ups and finding what is due, at scale.

    python benchmarks/index.py                  # 200,000 contacts
    python benchmarks/index.py --contacts 50000

Upserts N contacts, stores a wake-up for each (random over 100 days, in batches of 1,000),
then leases and re-schedules everything due a day later in batches of 500, as ticks do;
then wakes every contact (as a first tick, or a change to all of them, finds them) and
drains them in batches of 500 again. Prints the time of each phase: the last one grows
with the number of contacts, not with its square.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import datetime, timedelta, timezone

from regua import Contact, InMemoryRepository
from regua.ports import Wakeup

T0 = datetime(2026, 5, 4, tzinfo=timezone.utc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=200_000)
    args = parser.parse_args(argv)
    rng = random.Random(1)
    repository = InMemoryRepository()

    started = time.perf_counter()
    for n in range(args.contacts):
        repository.upsert_contact(Contact(f"c{n}"))
    upserted = time.perf_counter() - started

    started = time.perf_counter()
    batch: list[Wakeup] = []
    for n in range(args.contacts):
        at = T0 + timedelta(minutes=rng.randrange(0, 100 * 24 * 60))
        batch.append(Wakeup(f"c{n}", at, 1))
        if len(batch) == 1000:
            repository.set_wakeups(batch)
            batch = []
    repository.set_wakeups(batch)
    stored = time.perf_counter() - started

    started = time.perf_counter()
    now, due = T0 + timedelta(days=1), 0
    while snapshots := repository.acquire_due("bench", now, 500, timedelta(minutes=5)):
        due += len(snapshots)
        later = now + timedelta(days=200)
        repository.set_wakeups([Wakeup(s.contact.id, later, s.version) for s in snapshots])
    ticked = time.perf_counter() - started

    for n in range(args.contacts):  # every contact due at once
        repository.upsert_contact(Contact(f"c{n}"))
    started = time.perf_counter()
    drained = 0
    while snapshots := repository.acquire_due("bench", now, 500, timedelta(minutes=5)):
        drained += len(snapshots)
        later = now + timedelta(days=200)
        repository.set_wakeups([Wakeup(s.contact.id, later, s.version) for s in snapshots])
    everybody = time.perf_counter() - started

    print(f"contacts                   {args.contacts:,}")
    print(f"upsert every contact       {upserted:.2f} s")
    print(f"store every wake-up        {stored:.2f} s")
    print(f"tick the {due:,} due          {ticked:.3f} s")
    print(f"tick all {drained:,} due at once  {everybody:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
