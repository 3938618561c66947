"""Two versions of regua side by side: planner throughput in CPU time, alternating runs.

Shared machines are noisy, so a change is measured against the code before it in one
session, alternating: each round plans the same synthetic base (the one of ``planner.py``)
once with every version, each in its own process (its ``src`` directory first on
``PYTHONPATH``), and keeps the best of three passes of CPU time (`time.process_time`), for
both regimes of ``planner.py`` (first sight, and steady state)::

    mkdir /tmp/before && git archive HEAD~1 src | tar -x -C /tmp/before
    python benchmarks/versions.py /tmp/before/src src --contacts 1500 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = """
import gc, sys, time
sys.path.insert(0, {here!r})
import planner as bench
from regua import plan
cadence = bench.load_example()
base = bench.build_base({contacts}, {seed}, cadence, bench.NOW, 20)
settled = [bench.settle(cadence, snapshot, bench.NOW) for snapshot in base]
plan(cadence, base[0], bench.NOW)
for each in (base, settled):
    best = 0.0
    for _ in range(3):
        gc.collect()
        t0 = time.process_time()
        for snapshot in each:
            plan(cadence, snapshot, bench.NOW)
        best = max(best, len(each) / (time.process_time() - t0))
    print(best)
"""

REGIMES = ("first sight", "steady state")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", type=Path, help="src directories, old first")
    parser.add_argument("--contacts", type=int, default=1_500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20260504)
    args = parser.parse_args(argv)
    code = CHILD.format(here=str(HERE), contacts=args.contacts, seed=args.seed)
    results: dict[tuple[Path, str], list[float]] = {
        (source, regime): [] for source in args.sources for regime in REGIMES
    }
    for round_ in range(1, args.rounds + 1):
        for source in args.sources:
            env = {**os.environ, "PYTHONPATH": str(source.resolve())}
            out = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            figures = [float(line) for line in out.stdout.split()]
            for regime, figure in zip(REGIMES, figures, strict=True):
                results[source, regime].append(figure)
            said = ", ".join(f"{r} {f:,.0f}" for r, f in zip(REGIMES, figures, strict=True))
            print(f"round {round_}: {source}: {said} contacts/s", flush=True)
    for (source, regime), figures in results.items():
        print(
            f"{source}, {regime}: best {max(figures):,.0f}, "
            f"median {statistics.median(figures):,.0f} contacts/s (CPU time)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
