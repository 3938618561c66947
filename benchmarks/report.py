"""How fast is `regua.report`? Contacts per second over a repository and over plain records.

Builds a seeded history: each contact abandoned a few carts, got a reminder for each (an
experiment with a holdout: sent or held out), opened some, and placed a few orders at random
times; then reports on it, from an `InMemoryRepository` (paged through `contact_ids` and
`load_snapshots`), from SQLite, and from the same records as a plain list::

    python benchmarks/report.py                  # 20,000 contacts in memory, 2,000 on SQLite
    python benchmarks/report.py --contacts 100000 --sql-contacts 0

Building the history is not counted. Each figure is the best of three runs.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    Event,
    InMemoryRepository,
    Repository,
    Step,
    on_event,
    report,
)
from regua.definitions import Goal
from regua.planning.experiments import assign_variant
from regua.records import OPENED

START = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)
VARIANTS = {"short": 45, "long": 45, "control": 10}

CADENCE = Cadence(
    "shop",
    channels=[Channel("email")],
    goal=Goal("order_placed", within="7d"),
    steps=[
        Step(
            "cart",
            trigger=on_event("cart_abandoned"),
            channels=["email"],
            variants=VARIANTS,
            holdout="control",
        )
    ],
)


def history(contacts: int, seed: int) -> list[tuple[Contact, list[Event], list[Delivery]]]:
    """Each contact with their events and deliveries."""
    rng = random.Random(seed)
    base = []
    for n in range(contacts):
        who = f"contact-{n:07d}"
        variant = assign_variant("shop", "cart", who, VARIANTS)
        events: list[Event] = []
        deliveries: list[Delivery] = []
        for cart in range(rng.randint(1, 4)):
            at = START + timedelta(hours=rng.randint(0, 24 * 60))
            key = f"shop:cart:{who}:event=cart-{cart}"
            events.append(Event(who, "cart_abandoned", at, id=f"cart-{cart}"))
            if variant == "control":
                deliveries.append(
                    Delivery(
                        "shop", "cart", who, key, "skipped", at, reason="holdout", variant=variant
                    )
                )
            else:
                deliveries.append(
                    Delivery(
                        "shop", "cart", who, key, DeliveryStatus.SENT, at, "email", variant=variant
                    )
                )
                if rng.random() < 0.4:
                    events.append(
                        Event(who, OPENED, at + timedelta(hours=1), id=f"open-{cart}", ref=key)
                    )
        for order in range(rng.randint(0, 3)):
            at = START + timedelta(hours=rng.randint(0, 24 * 70))
            events.append(Event(who, "order_placed", at, id=f"order-{order}"))
        base.append((Contact(who, addresses={"email": f"{who}@example.com"}), events, deliveries))
    return base


def load(repository: Repository, base: list[tuple[Contact, list[Event], list[Delivery]]]) -> None:
    for contact, events, deliveries in base:
        repository.upsert_contact(contact)
        for event in events:
            repository.record_event(event)
        repository.record(deliveries)


def best_of(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    """Build the histories, time the reports, print a table."""
    parser = argparse.ArgumentParser(description="Time regua.report.")
    parser.add_argument("--contacts", type=int, default=20_000, help="contacts in memory")
    parser.add_argument("--sql-contacts", type=int, default=2_000, help="contacts on SQLite")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    rows: list[tuple[str, int, float]] = []
    base = history(args.contacts, args.seed)
    records = [item for _, events, deliveries in base for item in (*events, *deliveries)]
    memory = InMemoryRepository()
    load(memory, base)
    expected = report(memory, CADENCE)
    assert report(records, CADENCE) == expected, "the two sources must agree"
    rows.append(("records (a list)", args.contacts, best_of(3, lambda: report(records, CADENCE))))
    rows.append(("InMemoryRepository", args.contacts, best_of(3, lambda: report(memory, CADENCE))))
    if args.sql_contacts:
        from regua.repositories.sql import SQLRepository

        with tempfile.TemporaryDirectory() as folder:
            sql = SQLRepository(f"sqlite:///{Path(folder) / 'report.db'}")
            load(sql, base[: args.sql_contacts])
            rows.append(
                (
                    "SQLRepository (SQLite)",
                    args.sql_contacts,
                    best_of(3, lambda: report(sql, CADENCE)),
                )
            )
            sql.close()

    print(f"regua.report benchmark, seed {args.seed}, best of 3 (Python {sys.version.split()[0]})")
    print(f"{'source':<24} {'contacts':>9} {'seconds':>9} {'contacts/s':>11}")
    for source, count, seconds in rows:
        print(f"{source:<24} {count:>9,} {seconds:>9.3f} {count / seconds:>11,.0f}")
    print()
    print(expected)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
