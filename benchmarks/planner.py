"""How fast does the planner plan? Contacts per second, time per plan, peak memory.

Builds a seeded synthetic customer base (five timezones, birthdays, about twenty events per
contact of six kinds over three years, consents, preferences, some recorded deliveries) and
plans every contact once, single-process, under the e-commerce lifecycle example cadence
(``examples/ecommerce_lifecycle.py``)::

    python benchmarks/planner.py                      # 20,000 contacts
    python benchmarks/planner.py --contacts 100000 --json results.json
    python benchmarks/planner.py --contacts 5000 --profile 25   # cProfile's top 25
    python benchmarks/planner.py --contacts 3000 --phases 5     # where a plan's time goes

Two regimes are timed, each plan on its own plus the whole loop:

* **first sight**: the base as built, as a scheduler's first tick meets it: most of each
  contact's history is not recorded yet, so the plan computes every occurrence of it (and
  closes most of them);
* **steady state**: the same base after what a scheduler running all along would have
  recorded by then (`settle`: every closed occurrence with its reason, every due action as
  sent), as later ticks meet a contact: only what is still open is computed.

Then a pass under `tracemalloc` over a sample of the first-sight base (``--memory-contacts``)
for the peak memory the planning itself allocates (plans are dropped as a scheduler would
drop them), with ``--phases``, each phase of a plan timed as it runs, in both regimes (indexing the
history, the planner's setup, the steps, the caps pass, building the plan), and, with
``--profile``, a first-sight pass under cProfile. The bases are built
before any of them and are not counted in the timings; the process's max RSS (bases
included) is reported too.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.util
import io
import json
import os
import platform
import pstats
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

from regua import Cadence, Contact, Delivery, DeliveryStatus, Event, Snapshot, plan

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "ecommerce_lifecycle.py"

UTC = timezone.utc
TIMEZONES = (
    "America/Sao_Paulo",
    "America/New_York",
    "Europe/Lisbon",
    "Asia/Kolkata",
    "Australia/Sydney",
)
CHANNELS = ("email", "sms", "whatsapp", "phone")
EVENT_KINDS = (
    "signed_up",
    "login",
    "order_placed",
    "order_shipped",
    "order_delivered",
    "cart_abandoned",
)
NOW = datetime(2026, 5, 4, 15, 0, tzinfo=UTC)  # a Monday, 12:00 in Sao Paulo
YEARS = 3


def load_example(path: Path = EXAMPLE) -> Cadence:
    """The module-level `cadence` of an example file, imported by path."""
    spec = importlib.util.spec_from_file_location(f"regua_example_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cadence = module.cadence
    if not isinstance(cadence, Cadence):
        raise SystemExit(f"{path}: module-level 'cadence' is not a Cadence")
    return cadence


# --- the synthetic base -------------------------------------------------------------------------


def _key(cadence: Cadence, step: str, contact_id: str, source: str) -> str:
    return f"{cadence.name}:{step}:{contact_id}:{source}"


def build_contact(
    rng: random.Random, index: int, cadence: Cadence, now: datetime, events_per_contact: int
) -> Snapshot:
    """One contact with its events and some recorded deliveries."""
    contact_id = f"c{index:07d}"
    span = timedelta(days=365 * YEARS)
    # Sign-ups spread over the three years, a few very recent (welcome still pending).
    created_at = now - span * (rng.random() ** 1.5) - timedelta(minutes=rng.randrange(60))
    consents = {channel for channel in CHANNELS if rng.random() < 0.7}
    if rng.random() < 0.8:
        consents.add("email")
    addresses = {"email": f"{contact_id}@example.com"}
    if rng.random() < 0.85:
        addresses["sms"] = f"+55119{index:08d}"
        addresses["whatsapp"] = addresses["sms"]
    if rng.random() < 0.3:
        addresses["phone"] = f"+55119{index:08d}"
    preferences = rng.sample(CHANNELS, k=rng.randrange(0, 3))
    birth = date(rng.randrange(1950, 2006), 1, 1) + timedelta(days=rng.randrange(365))
    tier = rng.choices(["bronze", "silver", "gold"], weights=[70, 22, 8])[0]
    attributes: dict[str, Any] = {"tier": tier}
    if rng.random() < 0.9:
        attributes["birth_date"] = birth
    contact = Contact(
        contact_id,
        attributes=attributes,
        timezone=rng.choice(TIMEZONES),
        consents=consents,
        preferences=preferences,
        addresses=addresses,
        created_at=created_at,
    )

    events = [Event(contact_id, "signed_up", created_at, id=f"{contact_id}-s")]
    alive = (now - created_at).total_seconds()
    # An active life that fades: events cluster after sign-up, some contacts lapse.
    lapse = rng.random() < 0.35
    horizon = alive * (rng.uniform(0.2, 0.7) if lapse else 1.0)
    count = max(1, int(rng.gauss(events_per_contact, events_per_contact / 4)))
    while len(events) < count:
        at = created_at + timedelta(seconds=horizon * rng.random())
        kind = rng.choices(["login", "order", "cart_abandoned"], weights=[55, 25, 20])[0]
        n = len(events)
        if kind == "order":
            order = f"{contact_id}-o{n}"
            events.append(Event(contact_id, "order_placed", at, id=order, data={"order": order}))
            shipped = at + timedelta(hours=rng.uniform(4, 48))
            delivered = shipped + timedelta(days=rng.uniform(1, 6))
            for name, when in (("order_shipped", shipped), ("order_delivered", delivered)):
                if when <= now:
                    events.append(
                        Event(contact_id, name, when, id=f"{order}-{name}", data={"order": order})
                    )
        else:
            events.append(Event(contact_id, kind, at, id=f"{contact_id}-e{n}"))

    # Some recorded deliveries: what an earlier scheduler already sent.
    deliveries: list[Delivery] = []
    if rng.random() < 0.6:
        sent_steps = {
            "signed_up": ("signup_confirmation", "welcome"),
            "order_placed": ("order_confirmation",),
            "order_shipped": ("shipping_notice",),
        }
        for event in events:
            for step in sent_steps.get(event.name, ()):
                if event.at < now - timedelta(days=4):
                    deliveries.append(
                        Delivery(
                            cadence.name,
                            step,
                            contact_id,
                            _key(cadence, step, contact_id, f"event={event.id}"),
                            DeliveryStatus.SENT,
                            event.at + timedelta(minutes=1),
                            channel="email",
                        )
                    )
    rng.shuffle(events)  # as a repository might return them
    return Snapshot(contact, events, deliveries)


def build_base(
    count: int, seed: int, cadence: Cadence, now: datetime, events_per_contact: int
) -> list[Snapshot]:
    rng = random.Random(seed)
    return [build_contact(rng, i, cadence, now, events_per_contact) for i in range(count)]


def settle(cadence: Cadence, snapshot: Snapshot, now: datetime) -> Snapshot:
    """The snapshot as a scheduler running all along leaves it by `now`.

    What the scheduler records is added, until a plan at `now` has nothing more to record:
    every occurrence the planner closed (expired, cancelled, skipped) with its reason, and
    every due action as sent on its first channel.
    """
    for _ in range(8):  # the depth of after_step chains firing at once
        result = plan(cadence, snapshot, now)
        if not result.due and not result.closed:
            break
        recorded = [occurrence.as_delivery() for occurrence in result.closed]
        recorded += [
            Delivery(
                a.cadence,
                a.step,
                a.contact_id,
                a.occurrence_key,
                DeliveryStatus.SENT,
                now,
                channel=a.channel,
                variant=a.variant,
            )
            for a in result.due
        ]
        snapshot = Snapshot(snapshot.contact, snapshot.events, (*snapshot.deliveries, *recorded))
    return snapshot


# --- the passes --------------------------------------------------------------------------------


def timed_pass(cadence: Cadence, base: Sequence[Snapshot], now: datetime) -> dict[str, Any]:
    plan(cadence, base[0], now)  # compile and cache the cadence outside the measurement
    durations: list[int] = []
    due = waiting = closed = 0
    clock = time.perf_counter_ns
    gc.collect()
    start = clock()
    for snapshot in base:
        t0 = clock()
        result = plan(cadence, snapshot, now)
        durations.append(clock() - t0)
        due += len(result.due)
        waiting += len(result.waiting)
        closed += len(result.closed)
    elapsed = (clock() - start) / 1e9
    durations.sort()

    def pct(p: float) -> float:
        return durations[min(len(durations) - 1, int(p * len(durations)))] / 1e3

    return {
        "elapsed_s": elapsed,
        "contacts_per_s": len(base) / elapsed,
        "plan_us_mean": statistics.fmean(durations) / 1e3,
        "plan_us_p50": pct(0.50),
        "plan_us_p95": pct(0.95),
        "plan_us_p99": pct(0.99),
        "plan_us_max": durations[-1] / 1e3,
        "due": due,
        "waiting": waiting,
        "closed": closed,
    }


def phases_pass(
    cadence: Cadence, base: Sequence[Snapshot], now: datetime, rounds: int
) -> dict[str, float]:
    """Where a plan's time goes: µs per contact of each phase, the best of `rounds` passes.

    Each contact is planned phase by phase, each phase timed as it runs (so a slow spell of
    a shared machine weighs on every phase alike): indexing the history alone
    (`regua.planning.history.History`); the planner's setup, less that indexing, which it
    does again; the pass over the steps (firings and checks); the caps pass; building the
    `Plan`. These are the planner's internals, named here to measure them, not a public API;
    the phases in turn are `regua.plan`.
    """
    from regua.planning.history import History
    from regua.planning.planner import _Planner

    utc_now = now.astimezone(timezone.utc)
    clock = time.perf_counter_ns
    best = [float("inf")] * 5
    plan(cadence, base[0], now)  # compile and cache the cadence outside the measurement
    for _ in range(rounds):
        spent = [0] * 5
        gc.collect()
        for snapshot in base:
            t0 = clock()
            History(snapshot, cadence.name, utc_now)
            t1 = clock()
            planner = _Planner(cadence, snapshot, now)
            t2 = clock()
            planner.collect()
            t3 = clock()
            planner.allocate()
            t4 = clock()
            planner.finish()
            t5 = clock()
            spent[0] += t1 - t0
            spent[1] += (t2 - t1) - (t1 - t0)
            spent[2] += t3 - t2
            spent[3] += t4 - t3
            spent[4] += t5 - t4
        for index, total in enumerate(spent):
            best[index] = min(best[index], total / len(base) / 1e3)
    history_us, setup_us, steps_us, caps_us, finish_us = best
    return {
        "history_us": history_us,
        "setup_us": setup_us,
        "steps_us": steps_us,
        "caps_us": caps_us,
        "finish_us": finish_us,
        "plan_us": sum(best),
    }


def _phases(phases: dict[str, float]) -> str:
    return (
        "indexing the history {history_us:.0f} us, setup {setup_us:.0f}, the steps "
        "{steps_us:.0f}, the caps pass {caps_us:.0f}, the plan built {finish_us:.0f}: "
        "{plan_us:.0f} us a plan (each the best of the rounds)".format(**phases)
    )


def memory_pass(cadence: Cadence, base: Sequence[Snapshot], now: datetime) -> dict[str, Any]:
    # tracemalloc slows planning about threefold; plans are dropped one by one, so the peak
    # does not grow with the number of contacts and a sample of the base measures it.
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline, _ = tracemalloc.get_traced_memory()
        for snapshot in base:
            plan(cadence, snapshot, now)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {
        "peak_kib_while_planning": (peak - baseline) / 1024,
        "retained_kib_after_planning": (current - baseline) / 1024,
    }


def profile_pass(
    cadence: Cadence, base: Sequence[Snapshot], now: datetime, top: int
) -> tuple[str, list[dict[str, Any]]]:
    profiler = cProfile.Profile()
    profiler.enable()
    for snapshot in base:
        plan(cadence, snapshot, now)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime")
    stats.print_stats(top)
    rows = []
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, line, function), (_, calls, tottime, cumtime, _) in sorted(
        raw.items(), key=lambda item: item[1][2], reverse=True
    )[:top]:
        rows.append(
            {
                "function": f"{filename}:{line}({function})",
                "calls": calls,
                "tottime_s": tottime,
                "cumtime_s": cumtime,
            }
        )
    return out.getvalue(), rows


# --- the report ----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }


def max_rss_mib() -> float:
    try:
        import resource
    except ImportError:  # not on Windows
        return float("nan")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def _percentiles(timing: dict[str, Any]) -> str:
    return (
        "mean {plan_us_mean:.0f} us, p50 {plan_us_p50:.0f}, p95 {plan_us_p95:.0f}, "
        "p99 {plan_us_p99:.0f}, max {plan_us_max:.0f}".format(**timing)
    )


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label:<{width}}  {value}" for label, value in rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=20_000, help="contacts to plan")
    parser.add_argument("--events", type=int, default=20, help="mean events per contact")
    parser.add_argument("--seed", type=int, default=20260504, help="seed of the synthetic base")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--memory-contacts",
        type=int,
        default=2_000,
        metavar="N",
        help="contacts planned under tracemalloc (0: skip the memory pass)",
    )
    parser.add_argument(
        "--profile", type=int, metavar="TOP", default=0, help="print cProfile's TOP functions"
    )
    parser.add_argument(
        "--phases",
        type=int,
        metavar="ROUNDS",
        default=0,
        help="also time each phase of a plan, both regimes, best of ROUNDS passes",
    )
    args = parser.parse_args(argv)
    if args.contacts < 1:
        parser.error("--contacts must be at least 1")

    cadence = load_example()
    t0 = time.perf_counter()
    base = build_base(args.contacts, args.seed, cadence, NOW, args.events)
    built_s = time.perf_counter() - t0
    n_events = sum(len(s.events) for s in base)
    n_deliveries = sum(len(s.deliveries) for s in base)

    timing = timed_pass(cadence, base, NOW)
    t0 = time.perf_counter()
    settled = [settle(cadence, snapshot, NOW) for snapshot in base]
    settled_s = time.perf_counter() - t0
    steady = timed_pass(cadence, settled, NOW)
    n_settled = sum(len(s.deliveries) for s in settled)
    phases: dict[str, dict[str, float]] = {}
    if args.phases > 0:
        phases = {
            "first_sight": phases_pass(cadence, base, NOW, args.phases),
            "steady_state": phases_pass(cadence, settled, NOW, args.phases),
        }
    memory: dict[str, Any] = {}
    if args.memory_contacts > 0:
        sample = base[: args.memory_contacts]
        memory = {"contacts": len(sample), **memory_pass(cadence, sample, NOW)}
    memory["max_rss_mib"] = max_rss_mib()

    print(f"regua planner benchmark: {cadence.name!r}, {len(cadence.steps)} steps, now={NOW}")
    info = machine()
    print(f"  {info['implementation']} {info['python']} on {info['platform']}, {info['cpus']} CPUs")
    rows = [
        ("contacts", f"{len(base):,}"),
        ("events", f"{n_events:,} ({n_events / len(base):.1f} per contact)"),
        ("recorded deliveries", f"{n_deliveries:,}"),
        ("base built in", f"{built_s:.2f} s (not counted)"),
        ("first sight: planning time", f"{timing['elapsed_s']:.2f} s, single process"),
        ("first sight: contacts / s", f"{timing['contacts_per_s']:,.0f}"),
        ("first sight: time per plan", _percentiles(timing)),
        (
            "first sight: plans said",
            f"{timing['due']:,} due, {timing['waiting']:,} waiting, {timing['closed']:,} closed",
        ),
        (
            "steady state: the base",
            f"{n_settled:,} recorded deliveries (settled in {settled_s:.1f} s, not counted)",
        ),
        ("steady state: contacts / s", f"{steady['contacts_per_s']:,.0f}"),
        ("steady state: time per plan", _percentiles(steady)),
        (
            "steady state: plans said",
            f"{steady['due']:,} due, {steady['waiting']:,} waiting, {steady['closed']:,} closed",
        ),
    ]
    for regime, label in (("first_sight", "first sight"), ("steady_state", "steady state")):
        if regime in phases:
            rows.append((f"{label}: phases", _phases(phases[regime])))
    if "peak_kib_while_planning" in memory:
        rows.append(
            (
                "peak memory planning",
                f"{memory['peak_kib_while_planning']:,.0f} KiB above the base (tracemalloc, "
                f"{memory['contacts']:,} contacts), "
                f"{memory['retained_kib_after_planning']:,.0f} KiB retained",
            )
        )
    rows.append(("process max RSS", f"{memory['max_rss_mib']:,.0f} MiB (base included)"))
    print(table(rows))

    profile_rows: list[dict[str, Any]] = []
    if args.profile:
        text, profile_rows = profile_pass(cadence, base, NOW, args.profile)
        print(f"\ncProfile, top {args.profile} by own time:")
        print(text)

    if args.json is not None:
        result = {
            "benchmark": "planner",
            "cadence": cadence.name,
            "now": NOW.isoformat(),
            "seed": args.seed,
            "contacts": len(base),
            "events": n_events,
            "deliveries": n_deliveries,
            "machine": info,
            "timing": timing,
            "steady_state": {"deliveries": n_settled, **steady},
            "memory": memory,
            "phases": phases,
            "profile": profile_rows,
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
