"""Does `SharedRateLimited` hold its rate across processes? Achieved rate against the target.

For each backend (Redis, PostgreSQL), each rate R and 1 and 4 worker processes, the
processes send N messages between them (N = R * seconds + burst), each through its own
``SharedRateLimited(OutboxSender(), backend, R, name=...)`` on one shared bucket, on the real
clock. Prints, for each row: the time from the first send to the last, the achieved rate
(the messages after the burst, over that time), the most tokens *due* in any one-second
window on the server's clock (the guarantee: at most ``R + burst``), the most messages *sent*
in any one-second window on this machine's clock (the same, give or take scheduling
jitter), refusals (0: ``max_wait`` is long enough for the queue) and the median round trip
of one token request::

    python benchmarks/shared_ratelimit.py                   # Redis and PostgreSQL, R = 50, 200
    python benchmarks/shared_ratelimit.py --backends redis --rates 100 --processes 1 2 4 8
    python benchmarks/shared_ratelimit.py --json out.json

Needs the services: ``--redis-url`` (default ``redis://127.0.0.1:6379/0``) and
``--postgres-url`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``; the
bucket table goes in a schema of its own, dropped at the end). Exits 1 when a due-window
exceeds its limit. Timing lives here, never in the test suite.
"""

from __future__ import annotations

import argparse
import bisect
import json
import multiprocessing
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from regua import Contact, Message, OutboxSender, TemporaryFailure
from regua.records import idempotency_key
from regua.senders import (
    PostgresRateLimitBackend,
    RateLimitBackend,
    RedisRateLimitBackend,
    SharedRateLimited,
    TokenReservation,
)

MAX_WAIT = 30.0
"""Long enough that every process waits its turn: the rows measure pacing, not refusals."""


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


class Recording:
    """A backend that remembers every answer and how long each request took."""

    def __init__(self, backend: RateLimitBackend) -> None:
        self.backend = backend
        self.answers: list[TokenReservation] = []
        self.round_trips: list[float] = []

    def reserve(
        self, name: str, per_second: float, burst: int, max_wait: float
    ) -> TokenReservation:
        started = time.perf_counter()
        answer = self.backend.reserve(name, per_second, burst, max_wait)
        self.round_trips.append(time.perf_counter() - started)
        self.answers.append(answer)
        return answer

    def close(self) -> None:
        self.backend.close()


def _open(kind: str, where: str, url: str) -> RateLimitBackend:
    if kind == "redis":
        return RedisRateLimitBackend(url, prefix=where)
    return PostgresRateLimitBackend(url, schema=where, create=False)


def _worker(  # runs in a child process
    kind: str,
    where: str,
    url: str,
    name: str,
    per_second: float,
    burst: int,
    messages: list[int],
    barrier: Any,
    results: Any,
) -> None:
    backend = Recording(_open(kind, where, url))
    limited = SharedRateLimited(
        OutboxSender(), backend, per_second, name=name, burst=burst, max_wait=MAX_WAIT
    )
    batch = [_message(number) for number in messages]
    stamps: list[float] = []
    refused = 0
    barrier.wait()
    for message in batch:
        try:
            limited.send(message)
        except TemporaryFailure:
            refused += 1
            continue
        stamps.append(time.time())  # one machine: the processes' clocks are one clock
    backend.close()
    dues = [answer.due for answer in backend.answers if answer.granted]
    results.put((stamps, dues, refused, backend.round_trips))


def _most_in_one_second(instants: list[float]) -> int:
    instants = sorted(instants)
    return max(
        (bisect.bisect_right(instants, s + 1.0) - i for i, s in enumerate(instants)), default=0
    )


def measure(
    kind: str, where: str, url: str, per_second: float, burst: int, processes: int, seconds: float
) -> dict[str, Any]:
    """Send through one fresh bucket from `processes` processes; return the figures."""
    context = multiprocessing.get_context("spawn")
    count = max(2, int(per_second * seconds) + burst)
    name = f"bench-{uuid.uuid4().hex[:12]}"
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(
            target=_worker,
            args=(
                kind,
                where,
                url,
                name,
                per_second,
                burst,
                list(range(index, count, processes)),
                barrier,
                results,
            ),
        )
        for index in range(processes)
    ]
    for worker in workers:
        worker.start()
    collected = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    stamps = sorted(s for stamps, _, _, _ in collected for s in stamps)
    dues = sorted(d for _, dues, _, _ in collected for d in dues)
    refused = sum(r for _, _, r, _ in collected)
    trips = [t for _, _, _, trips in collected for t in trips]
    elapsed = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    paced = len(stamps) - burst  # the burst goes at once; the rest is paced
    achieved = paced / elapsed if elapsed > 0 else float("inf")
    return {
        "backend": kind,
        "processes": processes,
        "target_per_second": per_second,
        "burst": burst,
        "messages": count,
        "sent": len(stamps),
        "refused": refused,
        "elapsed_s": elapsed,
        "achieved_per_second": achieved,
        "ratio": achieved / per_second,
        "max_due_in_1s_window": _most_in_one_second(dues),
        "max_sent_in_1s_window": _most_in_one_second(stamps),
        "window_limit": int(per_second + burst),
        "median_round_trip_ms": statistics.median(trips) * 1000 if trips else 0.0,
    }


def _prepare(kind: str, url: str) -> tuple[str, Any]:
    """Where the rows' buckets go, and how to clean up after."""
    if kind == "redis":
        prefix = f"regua-bench:{uuid.uuid4().hex[:12]}:"

        def forget() -> None:
            backend = RedisRateLimitBackend(url)
            keys = list(backend.client.scan_iter(match=prefix + "*"))
            if keys:
                backend.client.delete(*keys)
            backend.close()

        return prefix, forget
    import sqlalchemy as sa

    schema = f"regua_bench_{uuid.uuid4().hex[:12]}"
    backend = PostgresRateLimitBackend(url, schema=schema)
    backend.create_table()

    def drop() -> None:
        with backend.engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(schema, cascade=True, if_exists=True))
        backend.close()

    return schema, drop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["redis", "postgres"])
    parser.add_argument("--rates", type=float, nargs="+", default=[50, 200])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 4])
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="messages per row = rate * seconds + burst"
    )
    parser.add_argument("--burst", type=int, default=1)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    urls = {"redis": args.redis_url, "postgres": args.postgres_url}
    rows = []
    for kind in args.backends:
        where, cleanup = _prepare(kind, urls[kind])
        try:
            for rate in args.rates:
                for processes in args.processes:
                    rows.append(
                        measure(kind, where, urls[kind], rate, args.burst, processes, args.seconds)
                    )
        finally:
            cleanup()

    print(
        f"SharedRateLimited(OutboxSender()) on Python {platform.python_version()}, "
        f"burst {args.burst}, max_wait {MAX_WAIT:g} s, one thread per process"
    )
    header = (
        "backend", "processes", "target/s", "messages", "elapsed s", "achieved/s", "ratio",
        "due in 1 s", "sent in 1 s", "refused", "trip ms",
    )  # fmt: skip
    print("  ".join(f"{h:>10}" for h in header))
    ok = True
    for r in rows:
        held = r["max_due_in_1s_window"] <= r["window_limit"]
        ok &= held
        print(
            f"{r['backend']:>10}  {r['processes']:>10}  {r['target_per_second']:>10g}  "
            f"{r['messages']:>10}  {r['elapsed_s']:>10.3f}  {r['achieved_per_second']:>10.1f}  "
            f"{r['ratio']:>10.3f}  {r['max_due_in_1s_window']:>4} <= {r['window_limit']:<3}  "
            f"{r['max_sent_in_1s_window']:>10}  {r['refused']:>10}  "
            f"{r['median_round_trip_ms']:>10.2f}{'' if held else '  EXCEEDED'}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
