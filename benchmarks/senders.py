"""Does `RateLimited` hold its rate? Achieved messages per second against the target.

Sends N messages through ``RateLimited(OutboxSender(), per_second=R)`` for a few rates R,
single thread, on the real clock, and prints, for each: the time taken, the achieved rate
(the messages after the first, over the time from the first send to the last: with a burst
of 1 the first goes at once) and the most messages sent in any one-second window, which
must not exceed ``R + burst``::

    python benchmarks/senders.py                        # rates 20, 100, 500, 2000; N = 2R
    python benchmarks/senders.py --rates 10 50 --seconds 3 --burst 5 --json out.json

Timing lives here, never in the test suite: the tests drive the bucket with a fake clock.
"""

from __future__ import annotations

import argparse
import bisect
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

from regua import Contact, Message, OutboxSender
from regua.records import idempotency_key
from regua.senders import RateLimited


def _message(number: int) -> Message:
    key = f"bench:welcome:c{number}:1"
    return Message(
        channel="email",
        address=f"c{number}@example.com",
        message="welcome",
        payload={"number": number},
        contact=Contact(f"c{number}"),
        cadence="bench",
        step="welcome",
        occurrence_key=key,
        idempotency_key=idempotency_key(key),
    )


def measure(per_second: float, messages: int, burst: int) -> dict[str, Any]:
    """Send `messages` through a fresh limiter; return the figures."""
    outbox = OutboxSender()
    limited = RateLimited(outbox, per_second, burst=burst)
    batch = [_message(n) for n in range(messages)]
    stamps: list[float] = []
    for message in batch:
        limited.send(message)
        stamps.append(time.perf_counter())
    assert len(outbox.outbox) == messages
    elapsed = stamps[-1] - stamps[0]
    paced = messages - burst  # the burst goes at once; the rest is paced
    achieved = paced / elapsed if elapsed > 0 else float("inf")
    # The most sends whose stamps fall within one second of each other.
    window = max(bisect.bisect_right(stamps, s + 1.0) - i for i, s in enumerate(stamps))
    return {
        "target_per_second": per_second,
        "burst": burst,
        "messages": messages,
        "elapsed_s": elapsed,
        "achieved_per_second": achieved,
        "ratio": achieved / per_second,
        "max_in_1s_window": window,
        "window_limit": int(per_second + burst),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[20, 100, 500, 2000])
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="messages per rate = rate * seconds + burst"
    )
    parser.add_argument("--burst", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    rows = [
        measure(rate, max(2, int(rate * args.seconds) + args.burst), args.burst)
        for rate in args.rates
    ]
    print(f"RateLimited(OutboxSender()) on Python {platform.python_version()}, single thread")
    header = ("target/s", "burst", "messages", "elapsed s", "achieved/s", "ratio", "max in 1 s")
    print("  ".join(f"{h:>10}" for h in header))
    ok = True
    for r in rows:
        held = r["max_in_1s_window"] <= r["window_limit"]
        ok &= held
        print(
            f"{r['target_per_second']:>10g}  {r['burst']:>10}  {r['messages']:>10}  "
            f"{r['elapsed_s']:>10.3f}  {r['achieved_per_second']:>10.1f}  {r['ratio']:>10.3f}  "
            f"{r['max_in_1s_window']:>5} <= {r['window_limit']}{'' if held else '  EXCEEDED'}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
