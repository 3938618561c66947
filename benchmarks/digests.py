"""Planning a digest step against the same history planned one message per event.

    python benchmarks/digests.py
    python benchmarks/digests.py --repeat 200

For contacts with N ``order_shipped`` events (five per two-hour window, every window but the
last already sent), times `regua.plan` under a digest step (``Digest("2h")``: N/5 recorded
digests and one open window) and under the same step without the digest (N recorded
messages, one per event), side by side in one run, and prints the time per plan and the
ratio.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta, timezone

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    Event,
    Snapshot,
    Step,
    on_event,
    plan,
)
from regua.definitions import Digest

T0 = datetime(2026, 5, 4, tzinfo=timezone.utc)
CHANNELS = [Channel("email")]


def cadence(digest: bool) -> Cadence:
    step = Step(
        "shipping",
        trigger=on_event("order_shipped"),
        digest=Digest("2h") if digest else None,
        channels=["email"],
        transactional=True,
    )
    return Cadence("shop", channels=CHANNELS, steps=[step])


def history(count: int, digest: bool) -> tuple[Snapshot, datetime]:
    contact = Contact("ana", addresses={"email": "ana@example.com"})
    events = []
    deliveries = []
    for window in range((count + 4) // 5):
        opened = T0 + timedelta(hours=3 * window)
        ids = [f"e{window}-{n}" for n in range(min(5, count - 5 * window))]
        events += [
            Event("ana", "order_shipped", opened + timedelta(minutes=10 * n), id=event_id)
            for n, event_id in enumerate(ids)
        ]
        last = 5 * (window + 1) >= count
        if last:
            continue  # the open window
        sent = opened + timedelta(hours=2)
        if digest:
            key = f"shop:shipping:ana:digest={ids[0]}"
            deliveries.append(
                Delivery(
                    "shop",
                    "shipping",
                    "ana",
                    key,
                    DeliveryStatus.SENT,
                    sent,
                    "email",
                    collected=tuple(ids),
                )
            )
        else:
            deliveries += [
                Delivery(
                    "shop",
                    "shipping",
                    "ana",
                    f"shop:shipping:ana:event={event_id}",
                    DeliveryStatus.SENT,
                    sent,
                    "email",
                )
                for event_id in ids
            ]
    now = events[-1].at + timedelta(minutes=1)
    return Snapshot(contact, events, deliveries), now


def per_plan(cadence_: Cadence, snapshot: Snapshot, now: datetime, repeat: int) -> float:
    plan(cadence_, snapshot, now)  # compile once
    started = time.perf_counter()
    for _ in range(repeat):
        plan(cadence_, snapshot, now)
    return (time.perf_counter() - started) / repeat


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args(argv)
    print(f"{'events':>7}  {'per event':>12}  {'digest':>12}  {'digest / per event':>18}")
    for count in (10, 100, 1000, 5000):
        plain_snapshot, now = history(count, digest=False)
        digest_snapshot, _ = history(count, digest=True)
        plain = per_plan(cadence(False), plain_snapshot, now, args.repeat)
        digest = per_plan(cadence(True), digest_snapshot, now, args.repeat)
        print(
            f"{count:>7}  {plain * 1e6:>9.1f} us  {digest * 1e6:>9.1f} us  {digest / plain:>17.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
