"""What the send timeout's thread costs a tick: a first tick of one-message contacts, in memory.

    python benchmarks/send_thread.py                       # 20,000 contacts, 3 rounds
    python benchmarks/send_thread.py --contacts 50000 --rounds 5 --json send_thread.json

`Scheduler(send_timeout=...)` runs each send on a send thread of its own, so that a sender
that hangs can be abandoned; a sender that says it cannot hang (``in_process = True``, as
`OutboxSender` does) is called on the tick's thread, as every sender is with
``send_timeout=None``. Three rows, each a first tick over a fresh base of contacts with one
order to confirm, run in turn (round-robin, `--rounds` times: the machine's noise falls on
every row alike): an in-memory sender without ``in_process`` and the default timeout (the
send thread), the same with ``send_timeout=None``, and `OutboxSender` with the default
timeout. Prints the best CPU time of each, per contact, the ratio to the first row and the
handoff's cost per send (first row minus second); checks that every row sent every message.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any

T0 = datetime(2026, 5, 4, 15, tzinfo=timezone.utc)


class ListSender:
    """Keeps what it is given, like `OutboxSender`, without saying it cannot hang."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def send(self, message: Any) -> str | None:
        self.keys.append(message.idempotency_key)
        return message.idempotency_key


def first_tick(contacts: int, sender: Any, send_timeout: timedelta | None) -> tuple[float, int]:
    """CPU seconds of a first tick over `contacts` one-message contacts, and messages sent."""
    from regua import (
        Cadence,
        Channel,
        Contact,
        Event,
        InMemoryRepository,
        Scheduler,
        Step,
        on_event,
    )

    cadence = Cadence(
        "shop",
        channels=[Channel("email")],
        steps=[
            Step(
                "confirm", trigger=on_event("order_placed"), channels=["email"], transactional=True
            )
        ],
    )
    repository = InMemoryRepository()
    repository.bulk_load(
        [Contact(f"c{n}", addresses={"email": f"c{n}@example.com"}) for n in range(contacts)],
        [Event(f"c{n}", "order_placed", T0, id=f"o{n}") for n in range(contacts)],
    )
    scheduler = Scheduler(
        cadence, repository=repository, senders={"email": sender}, send_timeout=send_timeout
    )
    started = time.process_time()
    report = scheduler.tick(T0)
    return time.process_time() - started, len(report.sent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    from regua import OutboxSender

    rows: dict[str, tuple[Any, timedelta | None]] = {
        "send thread (a sender, send_timeout=30s)": (ListSender, timedelta(seconds=30)),
        "tick's thread (a sender, send_timeout=None)": (ListSender, None),
        "tick's thread (OutboxSender, in_process)": (OutboxSender, timedelta(seconds=30)),
    }
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, (make, timeout) in rows.items():
            seconds, sent = first_tick(args.contacts, make(), timeout)
            assert sent == args.contacts, f"{name}: sent {sent} of {args.contacts}"
            best[name] = min(best.get(name, seconds), seconds)
    first = next(iter(best.values()))
    width = max(len(name) for name in rows)
    print(f"\nfirst tick, {args.contacts:,} one-message contacts, best CPU of {args.rounds}")
    print(f"  {'sends on':<{width}}  {'CPU s':>7}  {'µs/contact':>10}  {'ratio':>6}")
    for name, seconds in best.items():
        per_contact = seconds / args.contacts * 1e6
        print(f"  {name:<{width}}  {seconds:7.2f}  {per_contact:10.1f}  {seconds / first:6.2f}")
    threaded, direct = list(best.values())[:2]
    print(f"  the send thread's handoff: {(threaded - direct) / args.contacts * 1e6:.0f} µs a send")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"contacts": args.contacts, "cpu_seconds": best}, out, indent=2)


if __name__ == "__main__":
    main()
