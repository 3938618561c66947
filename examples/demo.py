"""What would the e-commerce lifecycle send, to whom and when? A month, four customers.

Run it with ``python examples/demo.py`` (``--days N`` for another period). Each customer's
history is planned with `regua.plan` from instant to instant: at every moment something
becomes due (``next_wakeup``) or a new event arrives, what is due is recorded as sent and
what the planner closed (cancelled, skipped, expired) is recorded with its reason, exactly as
a scheduler does. Nothing is delivered: the output is the list of messages that would go out.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from regua import (
    Cadence,
    Contact,
    Delivery,
    DeliveryStatus,
    Event,
    Snapshot,
    plan,
)

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


def journey(
    cadence: Cadence, contact: Contact, events: list[Event], end: datetime
) -> list[tuple[datetime, Contact, str, str, str]]:
    """Plan one contact from START to `end`, recording outcomes as a scheduler would."""
    deliveries: list[Delivery] = []
    sent: list[tuple[datetime, Contact, str, str, str]] = []
    now = START
    while True:
        result = plan(cadence, Snapshot(contact, events, deliveries), now)
        for action in result.due:
            deliveries.append(
                Delivery(
                    cadence.name,
                    action.step,
                    contact.id,
                    action.occurrence_key,
                    DeliveryStatus.SENT,
                    now,
                    channel=action.channel,
                )
            )
            sent.append((now, contact, action.step, action.channel, action.message))
        for occurrence in result.closed:
            deliveries.append(
                Delivery(
                    cadence.name,
                    occurrence.step,
                    contact.id,
                    occurrence.key,
                    DeliveryStatus(occurrence.state.value),
                    occurrence.at,
                    reason=occurrence.reason.value if occurrence.reason else None,
                )
            )
        if result.due or result.closed:
            continue  # outcomes can fire after_step followers at once
        upcoming = [e.at for e in events if e.at > now]
        wakeups = [t for t in (result.next_wakeup, min(upcoming, default=None)) if t]
        if not wakeups or min(wakeups) > end:
            return sent
        now = min(wakeups)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=31, help="how many days to look ahead")
    args = parser.parse_args(argv)
    cadence = load_cadence()
    end = START + timedelta(days=args.days)
    sent = []
    for contact, events in customers():
        sent.extend(journey(cadence, contact, events, end))
    sent.sort(key=lambda row: (row[0], row[1].id))

    attributes = sorted(cadence.attributes_used())
    print(f"Cadence {cadence.name!r}: {len(cadence.steps)} steps, reads {attributes}")
    print(f"From {START:%Y-%m-%d %H:%M} UTC, {args.days} days, {len(sent)} messages:\n")
    row = "{:<17} {:<32} {:<7} {:<26} {:<8} {}"
    header = row.format("UTC", "local time of the customer", "to", "step", "channel", "message")
    print(header)
    print("-" * len(header))
    for when, contact, step, channel, message in sent:
        tz = ZoneInfo(contact.timezone or cadence.timezone)
        local = when.astimezone(tz)
        local_text = f"{local:%a %Y-%m-%d %H:%M} {tz.key.split('/')[-1]}"
        print(row.format(f"{when:%Y-%m-%d %H:%M}", local_text, contact.id, step, channel, message))
    costs = {channel.name: channel.cost for channel in cadence.channels}
    per_channel = Counter(channel for _, _, _, channel, _ in sent)
    total = sum(costs[name] * count for name, count in per_channel.items())
    print()
    print("per channel: " + ", ".join(f"{n} {c}" for n, c in sorted(per_channel.items())))
    print(f"cost: {total:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
