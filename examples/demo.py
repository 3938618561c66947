"""What would the e-commerce lifecycle send, to whom and when? A month, four customers.

Run it with ``python examples/demo.py`` (``--days N`` for another period, ``--database
PATH`` to keep the SQLite file). The real `Scheduler` runs on the embedded default, a SQLite
`SQLRepository`, through `regua.testing.Simulation`: a virtual clock that jumps from one
instant where something happens (an event the application reports, a contact's wake-up) to
the next. Its senders only note what would go out: nothing is delivered.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from regua import Cadence, Contact, Event, SQLRepository
from regua.testing import Sent, Simulation

UTC = timezone.utc
START = datetime(2026, 3, 2, 12, tzinfo=UTC)


def load_cadence() -> Cadence:
    path = Path(__file__).with_name("ecommerce_lifecycle.py")
    spec = importlib.util.spec_from_file_location("ecommerce_lifecycle", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cadence: Cadence = module.cadence
    return cadence


def customers() -> list[tuple[Contact, list[Event]]]:
    def at(days: float, hours: float = 0) -> datetime:
        return START + timedelta(days=days, hours=hours)

    ana = Contact(
        "ana",
        attributes={"tier": "gold", "birth_date": "1990-03-10"},
        timezone="America/Sao_Paulo",
        consents={"email", "sms", "phone"},
        addresses={"email": "ana@example.com", "sms": "+5511990000001", "phone": "+5511990000001"},
        created_at=at(0),
    )
    bruno = Contact(
        "bruno",
        attributes={"tier": "bronze", "birth_date": "1987-11-02"},
        timezone="Europe/Lisbon",
        consents={"email"},
        addresses={"email": "bruno@example.pt"},
        created_at=at(-400),
    )
    carla = Contact(
        "carla",
        attributes={"tier": "silver", "birth_date": "1985-03-20"},
        timezone="America/New_York",
        consents={"email", "sms"},
        preferences=["sms"],
        addresses={"email": "carla@example.com", "sms": "+12125550100"},
        created_at=at(-900),
    )
    diego = Contact(
        "diego",
        attributes={"tier": "bronze", "birth_date": "1979-08-15"},
        consents={"email", "sms"},
        addresses={"email": "diego@example.com.br", "sms": "+5521990000002"},
        created_at=at(-300),
    )
    return [
        (
            ana,
            [
                Event("ana", "signed_up", at(0), id="ana-signup"),
                Event("ana", "order_placed", at(4, 2), id="ana-o1", data={"order": "A-1001"}),
                Event("ana", "order_shipped", at(5), id="ana-s1", data={"order": "A-1001"}),
                Event("ana", "order_delivered", at(7), id="ana-d1", data={"order": "A-1001"}),
            ],
        ),
        (
            bruno,
            [
                Event("bruno", "login", at(-5), id="bruno-l0"),
                Event("bruno", "login", at(1), id="bruno-l1"),
                Event("bruno", "cart_abandoned", at(1, 0.5), id="bruno-c1"),
            ],
        ),
        (
            carla,
            [
                Event("carla", "site_visit", at(-3), id="carla-v0"),
                Event("carla", "cart_abandoned", at(2), id="carla-c1"),
                Event("carla", "order_placed", at(2, 1), id="carla-o1", data={"order": "C-77"}),
            ],
        ),
        (diego, [Event("diego", "login", at(-58), id="diego-l1")]),
    ]


def simulate(cadence: Cadence, database: str, end: datetime) -> list[Sent]:
    """Run the real scheduler on a SQLite file from START to `end`, on a virtual clock."""
    repository = SQLRepository(f"sqlite:///{database}")
    sim = Simulation(cadence, start=START, repository=repository)
    pending: list[Event] = []
    for contact, events in customers():
        repository.upsert_contact(contact)
        pending.extend(events)
    for event in sorted(pending, key=lambda event: event.at):
        if event.at > sim.now:
            sim.advance_to(event.at)  # the scheduler ticks at every wake-up on the way
        repository.record_event(event)  # the application reports what happened
    sim.advance_to(end)
    repository.close()
    return sim.outbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=31, help="how many days to look ahead")
    parser.add_argument(
        "--database", help="keep the SQLite database at this path (default: a temporary file)"
    )
    args = parser.parse_args(argv)
    cadence = load_cadence()
    end = START + timedelta(days=args.days)
    with tempfile.TemporaryDirectory() as folder:
        database = args.database or str(Path(folder) / "regua.db")
        sent = simulate(cadence, database, end)

    attributes = sorted(cadence.attributes_used())
    print(f"Cadence {cadence.name!r}: {len(cadence.steps)} steps, reads {attributes}")
    print(f"From {START:%Y-%m-%d %H:%M} UTC, {args.days} days, {len(sent)} messages:\n")
    row = "{:<17} {:<32} {:<7} {:<26} {:<8} {}"
    header = row.format("UTC", "local time of the customer", "to", "step", "channel", "message")
    print(header)
    print("-" * len(header))
    for sent_message in sent:
        local = sent_message.local_at
        local_text = f"{local:%a %Y-%m-%d %H:%M} {str(local.tzinfo).split('/')[-1]}"
        print(
            row.format(
                f"{sent_message.at:%Y-%m-%d %H:%M}",
                local_text,
                sent_message.contact_id,
                sent_message.step,
                sent_message.channel,
                sent_message.message,
            )
        )
    costs = {channel.name: channel.cost for channel in cadence.channels}
    per_channel = Counter(sent_message.channel for sent_message in sent)
    total = sum(costs[name] * count for name, count in per_channel.items())
    print()
    print("per channel: " + ", ".join(f"{n} {c}" for n, c in sorted(per_channel.items())))
    print(f"cost: {total:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
