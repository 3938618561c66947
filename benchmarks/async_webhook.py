"""Async against sync: messages per second through a slow webhook, side by side in one run.

A loopback webhook (its own process, on asyncio, HTTP/1.1 keep-alive) answers every POST
after ``--delay`` seconds (50 ms by default), as a slow SMS gateway would. One
transactional message is due for each of N contacts; a single tick sends them all:

- ``Scheduler`` + ``WebhookSender``: one message at a time;
- ``AsyncScheduler`` + ``AsyncWebhookSender``, ``concurrency=50``: sends awaited concurrently;
- ``AsyncScheduler`` + ``WebhookSender`` (a synchronous sender, run in a pool of 50 threads).

Each row gives the messages sent (and deferred: a temporary failure, such as a timeout on a
loaded machine, is retried by a later tick), the tick's wall time, messages sent per second,
the most requests the webhook saw in flight at once, and the throughput as a multiple of the
synchronous row's. The webhook checks that no message arrived twice. The bound is
``concurrency / delay`` (1,000 messages per second at 50 and 50 ms)::

    python benchmarks/async_webhook.py                          # 300 sync, 3,000 async
    python benchmarks/async_webhook.py --sync-messages 100 --async-messages 1000 --json out.json

Needs the ``http`` extra (httpx).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import platform
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from regua import (
    AsyncScheduler,
    Cadence,
    Channel,
    Contact,
    Event,
    InMemoryRepository,
    Scheduler,
    Step,
    TickReport,
    on_event,
)
from regua.senders.webhook import AsyncWebhookSender, WebhookSender

SECRET = "bench-secret"
T0 = datetime(2026, 5, 4, 15, tzinfo=timezone.utc)
CADENCE = Cadence(
    "bench",
    channels=[Channel("sms")],
    steps=[Step("confirm", trigger=on_event("order_placed"), channels=["sms"], transactional=True)],
)


# --- the slow webhook, in its own process ------------------------------------------------------


def serve(port_out: Any, delay: float) -> None:
    """Run the slow webhook until killed; send its port through `port_out`.

    A minimal HTTP/1.1 keep-alive server on asyncio, so that waiting costs the server nothing
    and the figures measure the client side: each POST is answered after `delay`.
    """
    keys: list[str] = []
    flight = {"now": 0, "peak": 0}

    async def answer(writer: asyncio.StreamWriter, body: bytes) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines[1:] if line)
                }
                await reader.readexactly(int(headers.get("content-length", "0")))
                if method == "GET":
                    stats = {
                        "received": len(keys),
                        "unique": len(set(keys)),
                        "peak": flight["peak"],
                    }
                    await answer(writer, json.dumps(stats).encode())
                elif path == "/reset":
                    keys.clear()
                    flight.update(now=0, peak=0)
                    await answer(writer, b"{}")
                else:
                    keys.append(headers["idempotency-key"])
                    flight["now"] += 1
                    flight["peak"] = max(flight["peak"], flight["now"])
                    await asyncio.sleep(delay)
                    flight["now"] -= 1
                    await answer(writer, b'{"id": "ok"}')
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(connection, "127.0.0.1", 0, backlog=512)
        port_out.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def _call(url: str, method: str) -> dict[str, Any]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=10) as answer:
        result: dict[str, Any] = json.loads(answer.read())
    return result


# --- one run -----------------------------------------------------------------------------------


def _repository(messages: int) -> InMemoryRepository:
    repository = InMemoryRepository()
    for number in range(messages):
        contact_id = f"c{number:06d}"
        repository.upsert_contact(
            Contact(contact_id, addresses={"sms": f"+5511{number:09d}"}, consents={"sms"})
        )
        repository.record_event(Event(contact_id, "order_placed", T0, id=f"o{number}"))
    return repository


def run_sync(url: str, messages: int) -> tuple[float, TickReport]:
    repository = _repository(messages)
    with WebhookSender(url, secret=SECRET) as sender:
        scheduler = Scheduler([CADENCE], repository=repository, senders={"sms": sender})
        started = time.perf_counter()
        report = scheduler.tick(T0)
        elapsed = time.perf_counter() - started
    return elapsed, report


def run_async(
    url: str, messages: int, concurrency: int, *, threads: bool
) -> tuple[float, TickReport]:
    repository = _repository(messages)

    async def main() -> tuple[float, TickReport]:
        sender: Any
        if threads:
            sender = WebhookSender(url, secret=SECRET)
        else:
            sender = AsyncWebhookSender(url, secret=SECRET, max_connections=concurrency)
        async with AsyncScheduler(
            [CADENCE], repository=repository, senders={"sms": sender}, concurrency=concurrency
        ) as scheduler:
            started = time.perf_counter()
            report = await scheduler.tick(T0)
            elapsed = time.perf_counter() - started
        if threads:
            sender.close()
        else:
            await sender.aclose()
        return elapsed, report

    return asyncio.run(main())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.05, help="webhook answer delay, s")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--sync-messages", type=int, default=300)
    parser.add_argument("--async-messages", type=int, default=3000)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    # Failures (a timeout under load) are worth seeing: they explain a deferred count.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.Process(target=serve, args=(send, args.delay), daemon=True)
    server.start()
    try:
        port = receive.recv()
        base = f"http://127.0.0.1:{port}"
        rows: list[dict[str, Any]] = []
        runs = [
            ("Scheduler + WebhookSender", args.sync_messages, None),
            ("AsyncScheduler + AsyncWebhookSender", args.async_messages, False),
            ("AsyncScheduler + WebhookSender (threads)", args.async_messages, True),
        ]
        for name, messages, threads in runs:
            _call(f"{base}/reset", "POST")
            if threads is None:
                elapsed, report = run_sync(f"{base}/hooks", messages)
            else:
                elapsed, report = run_async(
                    f"{base}/hooks", messages, args.concurrency, threads=threads
                )
            stats = _call(f"{base}/stats", "GET")
            sent = len(report.sent)
            # A send that timed out may have reached the webhook: it is retried later with
            # the same key, so the webhook may hold more keys than were recorded as sent.
            assert stats["received"] == stats["unique"] >= sent, (stats, str(report))
            rows.append(
                {
                    "mode": name,
                    "concurrency": 1 if threads is None else args.concurrency,
                    "messages": messages,
                    "sent": sent,
                    "deferred": len(report.deferred),
                    "seconds": elapsed,
                    "per_second": sent / elapsed,
                    "peak_in_flight": stats["peak"],
                    "duplicates_at_webhook": stats["received"] - stats["unique"],
                }
            )
    finally:
        server.kill()
        server.join()

    baseline = rows[0]["per_second"]
    for row in rows:
        row["vs_sync"] = row["per_second"] / baseline
    bound = args.concurrency / args.delay
    print(
        f"slow webhook: {args.delay * 1000:g} ms per call; bound at concurrency "
        f"{args.concurrency}: {bound:,.0f} messages/s; Python {platform.python_version()}"
    )
    header = (
        f"{'mode':<42} {'conc.':>5} {'sent':>6} {'defer':>5} {'s':>7} {'msg/s':>8} "
        f"{'peak':>5} {'x sync':>7}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['mode']:<42} {row['concurrency']:>5} {row['sent']:>6} {row['deferred']:>5} "
            f"{row['seconds']:>7.2f} {row['per_second']:>8.1f} {row['peak_in_flight']:>5} "
            f"{row['vs_sync']:>7.1f}"
        )
    if args.json:
        document = {
            "delay_s": args.delay,
            "concurrency": args.concurrency,
            "bound_per_second": bound,
            "python": platform.python_version(),
            "rows": rows,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
