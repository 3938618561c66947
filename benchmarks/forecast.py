"""How long does a forecast take? A 100,000-customer base over 90 days, by default.

Builds the seeded synthetic base of ``benchmarks/planner.py`` (five timezones, birthdays,
about twenty events per contact over three years, consents, preferences, some recorded
deliveries: customers in flight), then forecasts the e-commerce lifecycle example
(``examples/ecommerce_lifecycle.py``) over the period, single process:

1. with no assumptions (the current state projected forward);
2. with scripted assumptions: 2% of customers order each week (shipped and delivered), 5%
   abandon a cart, 10% log in, and 5% of SMS fail (so the e-mail fallback is used).

Then, on a smaller slice of the same base (``--compare``), the same forecast next to a
`regua.testing.Simulation` of the same period (the real scheduler on a virtual clock), to
report the ratio measured in one run and check that both count the same messages::

    python benchmarks/forecast.py                        # 100,000 contacts, 90 days
    python benchmarks/forecast.py --contacts 5000        # a quick run
    python benchmarks/forecast.py --contacts 20000 --days 30 --compare 1000 --json out.json

The base is built before the clock starts and is not counted. Each figure is printed as
soon as it is measured, with the wall time and the CPU time of the process (on a shared
machine the CPU time is the one to compare); the comparison's ratio is of CPU times.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from planner import build_base, load_example

from regua import Cadence, InMemoryRepository, Message, PermanentFailure, Snapshot, forecast
from regua.forecasting import Assumptions, ChannelFailure, EventRate
from regua.testing import Simulation

UTC = timezone.utc
START = datetime(2026, 5, 4, 15, 0, tzinfo=UTC)  # the base's "now": a Monday, noon in Sao Paulo

ASSUMPTIONS = Assumptions(
    events=[
        EventRate("order_placed", 0.02, every="1w"),
        EventRate("order_shipped", 0.02, every="1w"),
        EventRate("order_delivered", 0.02, every="1w"),
        EventRate("cart_abandoned", 0.05, every="1w"),
        EventRate("login", 0.10, every="1w"),
    ],
    failures=[ChannelFailure("sms", 0.05)],
    seed=2026,
)


def timed_forecast(
    cadence: Cadence, base: Sequence[Snapshot], end: datetime, assumptions: Assumptions | None
) -> dict[str, Any]:
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    result = forecast(cadence, base, START, end, assumptions=assumptions)
    elapsed = time.perf_counter() - started
    peak = result.peak_day
    return {
        "contacts": result.contacts,
        "elapsed_s": elapsed,
        "cpu_s": time.process_time() - cpu,
        "contacts_per_s": result.contacts / elapsed if elapsed else 0.0,
        "messages": result.messages,
        "cost": result.cost,
        "failed": result.failed,
        "peak_day": None if peak is None else [peak.day.isoformat(), peak.messages],
        "by_channel": {k: m for k, (m, _) in result.totals().items()},
        "messages_per_contact": dict(result.messages_per_contact),
    }


class _Sender:
    def __init__(self, simulation: Simulation, assumptions: Assumptions | None) -> None:
        self.simulation = simulation
        self.assumptions = assumptions
        self.per_contact: Counter[str] = Counter()

    def send(self, message: Message) -> str | None:
        if self.assumptions is not None and self.assumptions.fails(
            message.occurrence_key, message.channel
        ):
            raise PermanentFailure("assumed")
        if self.simulation.now < self.end:
            self.per_contact[message.contact.id] += 1
        return None

    end: datetime = START


def timed_simulation(
    cadence: Cadence, base: Sequence[Snapshot], end: datetime, assumptions: Assumptions | None
) -> dict[str, Any]:
    repository = InMemoryRepository()
    for snapshot in base:
        repository.upsert_contact(snapshot.contact)
        for event in snapshot.events:
            repository.record_event(event)
        repository.record(list(snapshot.deliveries))
    events = (
        sorted(
            (e for s in base for e in assumptions.events_for(s.contact.id, START, end)),
            key=lambda e: e.at,
        )
        if assumptions is not None
        else []
    )
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    simulation = Simulation(cadence, start=START, repository=repository)
    sender = _Sender(simulation, assumptions)
    sender.end = end
    simulation.scheduler.senders.update(dict.fromkeys([c.name for c in cadence.channels], sender))
    for event in events:
        simulation.advance_to(event.at)
        repository.record_event(event)
    simulation.advance_to(end)
    elapsed = time.perf_counter() - started
    return {
        "contacts": len(base),
        "elapsed_s": elapsed,
        "cpu_s": time.process_time() - cpu,
        "messages": sum(sender.per_contact.values()),
        "messages_per_contact": dict(sender.per_contact),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000, help="base size (100,000)")
    parser.add_argument("--days", type=int, default=90, help="forecast period (90 days)")
    parser.add_argument(
        "--compare",
        type=int,
        default=500,
        help="contacts in the forecast-versus-Simulation comparison (500; 0 skips it)",
    )
    parser.add_argument("--events", type=int, default=20, help="events per contact (20)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--no-assumptions-only",
        action="store_true",
        help="skip the forecast with assumptions (the longer one)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)

    cadence = load_example()
    end = START + timedelta(days=args.days)
    size = max(args.contacts, args.compare)
    built = time.perf_counter()
    base = build_base(size, args.seed, cadence, START, args.events)
    build_s = time.perf_counter() - built
    main_base = base[: args.contacts]

    results: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "contacts": args.contacts,
        "days": args.days,
        "build_s": build_s,
    }
    width = 34
    print(f"{'measure'.ljust(width)}  figure")
    print(f"{'-' * width}  {'-' * 60}")

    def row(label: str, figure: str) -> None:
        # One line per measure as soon as it is known: the full size takes a while.
        print(f"{label.ljust(width)}  {figure}", flush=True)

    row("base", f"{args.contacts:,} contacts, {args.days} days, built in {build_s:.1f} s")
    for label, assumptions in (("no assumptions", None), ("with assumptions", ASSUMPTIONS)):
        if label == "with assumptions" and args.no_assumptions_only:
            continue
        figures = timed_forecast(cadence, main_base, end, assumptions)
        figures.pop("messages_per_contact")
        results[label] = figures
        row(
            f"forecast, {label}",
            f"{figures['elapsed_s']:.1f} s wall, {figures['cpu_s']:.1f} s CPU "
            f"({figures['contacts'] / figures['cpu_s']:,.0f} contacts per CPU second); "
            f"{figures['messages']:,} messages, cost {figures['cost']:,.2f}, "
            f"peak {figures['peak_day']}",
        )
    if args.compare:
        sample = base[: args.compare]
        ours = timed_forecast(cadence, sample, end, ASSUMPTIONS)
        theirs = timed_simulation(cadence, sample, end, ASSUMPTIONS)
        same = ours["messages_per_contact"] == theirs["messages_per_contact"]
        ratio = ours["cpu_s"] / theirs["cpu_s"] if theirs["cpu_s"] else 0.0
        results["compare"] = {
            "contacts": args.compare,
            "forecast_cpu_s": ours["cpu_s"],
            "simulation_cpu_s": theirs["cpu_s"],
            "ratio": ratio,
            "forecast_messages": ours["messages"],
            "simulation_messages": theirs["messages"],
            "same_counts_per_contact": same,
        }
        row(
            f"vs Simulation, {args.compare:,} contacts",
            f"CPU: forecast {ours['cpu_s']:.2f} s / simulation {theirs['cpu_s']:.2f} s "
            f"= {ratio:.2f}; {ours['messages']:,} vs {theirs['messages']:,} messages, "
            f"same per contact: {same}",
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["max_rss_mib"] = rss
    row("max RSS", f"{rss:,.0f} MiB (base included)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
