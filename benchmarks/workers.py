"""Throughput of 1, 2 and 4 worker processes sharing one PostgreSQL database.

    python benchmarks/workers.py                          # 3,000 contacts, 0 and 5 ms sends
    python benchmarks/workers.py --contacts 10000 --latency-ms 0 20 --json workers.json

Loads the contacts once (each with an order whose confirmation is due), into a schema of its
own. Then, for each send latency (a sender that sleeps that long per message, standing for
the provider's round trip) and each number of workers, it resets the base (no deliveries, no
claims, every contact due) and starts that many processes at once, each ticking until
nothing is left: with shards (``Scheduler(shard=Shard(i, n))``: no two workers look at the
same contact) and without (every worker races for every due contact; ``SKIP LOCKED`` splits
them). Prints messages per second and the ratio to one worker, measured side by side in one
run, and checks that every message was sent exactly once. The schema is dropped at the end.

On a machine with few cores, CPU-bound runs (latency 0) cannot scale past the core count:
the workers and PostgreSQL share them. Runs with a send latency show what several workers
buy when the time goes into waiting for the provider.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from typing import Any

T0 = datetime(2026, 5, 4, 15, tzinfo=timezone.utc)
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def cadence() -> Any:
    from regua import Cadence, Channel, Step, on_event

    return Cadence(
        "shop",
        channels=[Channel("email")],
        steps=[
            Step(
                "confirm",
                trigger=on_event("order_placed"),
                channels=["email"],
                transactional=True,
            )
        ],
    )


class SlowSender:
    """Sleeps `latency` seconds per message (the provider's round trip); keeps the keys."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.keys: list[str] = []

    def send(self, message: Any) -> str | None:
        if self.latency:
            time.sleep(self.latency)
        self.keys.append(message.idempotency_key)
        return None


def worker(
    url: str, schema: str, shard: tuple[int, int] | None, latency: float, start: Any, out: Any
) -> None:
    from regua import Scheduler, SQLRepository
    from regua.sharding import Shard

    repository = SQLRepository(url, schema=schema, create=False)
    sender = SlowSender(latency)
    scheduler = Scheduler(
        cadence(),
        repository=repository,
        senders={"email": sender},
        batch_size=100,
        shard=None if shard is None else Shard(*shard),
    )
    repository.next_wakeup()  # connect before the clock starts
    start.wait()  # every worker ready, and the clock started
    idle = 0
    while idle < 2:  # unsharded: others may hold leases a moment; stop once nothing is left
        report = scheduler.tick(T0)
        idle = idle + 1 if report.evaluated == 0 else 0
    out.put(sender.keys)
    repository.close()


def load(url: str, schema: str, contacts: int) -> None:
    from regua import Contact, Event, SQLRepository

    repository = SQLRepository(url, schema=schema)
    for n in range(contacts):
        repository.upsert_contact(Contact(f"c{n}", addresses={"email": f"c{n}@example.com"}))
        repository.record_event(Event(f"c{n}", "order_placed", T0, id=f"A-{n}"))
    repository.close()


def reset(url: str, schema: str) -> None:
    """Every contact due again, nothing sent, nothing claimed: the same work for each run."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DELETE FROM "{schema}".regua_deliveries'))
        conn.execute(sa.text(f'DELETE FROM "{schema}".regua_claims'))
        conn.execute(
            sa.text(
                f'UPDATE "{schema}".regua_contacts SET wakeup_at = :dirty, '
                "lease_owner = NULL, lease_until = NULL"
            ),
            {"dirty": datetime(1970, 1, 1, tzinfo=timezone.utc)},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'VACUUM ANALYZE "{schema}".regua_contacts'))
    engine.dispose()


def run(url: str, schema: str, workers: int, sharded: bool, latency: float) -> dict[str, Any]:
    reset(url, schema)
    context = multiprocessing.get_context("spawn")
    start, out = context.Barrier(workers + 1), context.Queue()
    processes = [
        context.Process(
            target=worker,
            args=(url, schema, (i, workers) if sharded else None, latency, start, out),
        )
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    start.wait(timeout=600)  # every process imported and connected
    began = time.perf_counter()
    keys: list[str] = []
    for _ in processes:
        keys += out.get(timeout=3600)
    elapsed = time.perf_counter() - began
    for process in processes:
        process.join()
    counts = Counter(keys)
    return {
        "workers": workers,
        "sharded": sharded,
        "latency_ms": latency * 1000,
        "messages": len(counts),
        "sent_twice": sum(1 for n in counts.values() if n > 1),
        "seconds": elapsed,
        "per_second": len(keys) / elapsed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=3000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 5.0])
    parser.add_argument("--postgres-url", default=os.environ.get("REGUA_POSTGRES_URL", DEFAULT_URL))
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    import sqlalchemy as sa

    schema = f"regua_bench_workers_{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    load(args.postgres_url, schema, args.contacts)
    print(
        f"loaded {args.contacts:,} contacts in {time.perf_counter() - started:.1f} s "
        f"(schema {schema}); {os.cpu_count()} CPUs"
    )
    results: list[dict[str, Any]] = []
    try:
        run(args.postgres_url, schema, 1, False, 0.0)  # warm-up (caches, plans), not reported
        for latency in args.latency_ms:
            # Sharded and unsharded side by side for each count, so that a machine whose
            # load drifts during the run does not favour one of them.
            for workers in args.workers:
                for sharded in (True, False):
                    result = run(args.postgres_url, schema, workers, sharded, latency / 1000)
                    results.append(result)
                    if result["messages"] != args.contacts or result["sent_twice"]:
                        raise SystemExit(f"wrong outcome: {result}")
    finally:
        engine = sa.create_engine(args.postgres_url)
        with engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(schema, cascade=True, if_exists=True))
        engine.dispose()

    print()
    print("| send latency | workers | shards | messages/s | vs 1 worker | time |")
    print("|---:|---:|---|---:|---:|---:|")
    results.sort(key=lambda r: (r["latency_ms"], not r["sharded"], r["workers"]))
    for result in results:
        base = next(
            r["per_second"]
            for r in results
            if r["workers"] == min(args.workers)
            and r["sharded"] == result["sharded"]
            and r["latency_ms"] == result["latency_ms"]
        )
        print(
            f"| {result['latency_ms']:g} ms | {result['workers']} | "
            f"{'yes' if result['sharded'] else 'no'} | {result['per_second']:,.0f} | "
            f"x{result['per_second'] / base:.2f} | {result['seconds']:.2f} s |"
        )
    print(f"\nevery run: {args.contacts:,} messages, each sent exactly once")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(
                {"contacts": args.contacts, "cpus": os.cpu_count(), "runs": results}, file, indent=2
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
