"""Two versions of regua side by side: planner throughput in CPU time, alternating runs.

Shared machines are noisy, so a change is measured against the code before it in one
session, alternating: each round plans the same synthetic base (the one of ``planner.py``)
once with every version, each in its own process (its ``src`` directory first on
``PYTHONPATH``), and keeps the best of three passes of CPU time (`time.process_time`), for
both regimes of ``planner.py`` (first sight, and steady state)::

    mkdir /tmp/before && git archive HEAD~1 src | tar -x -C /tmp/before
    python benchmarks/versions.py /tmp/before/src src --contacts 1500 --rounds 3

With ``--read sqlite`` (or ``postgresql``), what is timed is reading instead: the settled
base is loaded (`bulk_load`, not counted) into a new SQLite file (a new PostgreSQL schema,
dropped after), and read back with `load_snapshots`, 500 contacts a call, as a scheduler's
batch reads them; contacts read per CPU second, best of three passes::

    python benchmarks/versions.py /tmp/before/src src --read sqlite --rounds 5

With ``--tick sqlite`` (or ``postgresql``), one scheduler tick is timed instead: the base as
a scheduler running until the day before left it (measure 4 of ``run.py``, settled), every
contact due, ticked once at ``run.py``'s start of day; contacts ticked per CPU second::

    python benchmarks/versions.py /tmp/before/src src --tick sqlite --contacts 4000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import textwrap
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


def _in_a_database(prelude: str, body: str) -> str:
    """A child's code: `prelude`, then `body` with a `repository` on a database of its own.

    A new SQLite file, or a new PostgreSQL schema dropped after (``{url}`` says which).
    """
    return (
        prelude
        + """
import os, tempfile
import sqlalchemy as sa
from regua.repositories.sql import SQLRepository
url, schema = {url!r}, None
if url.startswith("sqlite"):
    url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "regua.db")
else:
    schema = "regua_versions_" + str(os.getpid())
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA " + schema))
try:
    repository = SQLRepository(url, schema=schema)
"""
        + textwrap.indent(textwrap.dedent(body), "    ")
        + """
finally:
    if schema is not None:
        with sa.create_engine(url).begin() as conn:
            conn.execute(sa.text("DROP SCHEMA " + schema + " CASCADE"))
"""
    )


CHILD_READ = _in_a_database(
    """
import gc, sys, time
sys.path.insert(0, {here!r})
import planner as bench
cadence = bench.load_example()
base = bench.build_base({contacts}, {seed}, cadence, bench.NOW, 20)
settled = [bench.settle(cadence, snapshot, bench.NOW) for snapshot in base]
""",
    """
    repository.bulk_load(
        [s.contact for s in settled],
        [e for s in settled for e in s.events],
        [d for s in settled for d in s.deliveries],
    )
    ids = [s.contact.id for s in settled]
    best = 0.0
    for _ in range(3):
        gc.collect()
        t0 = time.process_time()
        for start in range(0, len(ids), 500):
            repository.load_snapshots(ids[start : start + 500])
        best = max(best, len(ids) / (time.process_time() - t0))
    print(best)
    """,
)

CHILD_TICK = _in_a_database(
    """
import sys, time
sys.path.insert(0, {here!r})
import run
from regua import Scheduler
cadence = run.bench.load_example()
""",
    """
    for part in run.parts({contacts}, {seed}, cadence, settled_at=run.START - run.DAY):
        run.load(repository, part)
    scheduler = Scheduler(
        cadence, repository=repository, senders=run.senders(cadence), **run.BATCH
    )
    t0 = time.process_time()
    scheduler.tick(run.START)
    print({contacts} / (time.process_time() - t0))
    """,
)

REGIMES = ("first sight", "steady state")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", type=Path, help="src directories, old first")
    parser.add_argument("--contacts", type=int, default=1_500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20260504)
    parser.add_argument(
        "--read",
        choices=["sqlite", "postgresql"],
        help="time the settled base's read from this database instead of planning",
    )
    parser.add_argument(
        "--tick",
        choices=["sqlite", "postgresql"],
        help="time one tick over the settled base on this database instead of planning",
    )
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args(argv)
    if args.read and args.tick:
        parser.error("--read and --tick time different things: give one")
    regimes: tuple[str, ...] = REGIMES
    database = args.read or args.tick
    url = "sqlite://" if database == "sqlite" else args.postgres_url
    fields = {"here": str(HERE), "contacts": args.contacts, "seed": args.seed, "url": url}
    if args.read is not None:
        code = CHILD_READ.format(**fields)
        regimes = (f"settled, read from {args.read}",)
    elif args.tick is not None:
        code = CHILD_TICK.format(**fields)
        regimes = (f"settled, one tick on {args.tick}",)
    else:
        code = CHILD.format(**fields)
    results: dict[tuple[Path, str], list[float]] = {
        (source, regime): [] for source in args.sources for regime in regimes
    }
    for round_ in range(1, args.rounds + 1):
        for source in args.sources:
            env = {**os.environ, "PYTHONPATH": str(source.resolve())}
            out = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            figures = [float(line) for line in out.stdout.split()]
            for regime, figure in zip(regimes, figures, strict=True):
                results[source, regime].append(figure)
            said = ", ".join(f"{r} {f:,.0f}" for r, f in zip(regimes, figures, strict=True))
            print(f"round {round_}: {source}: {said} contacts/s", flush=True)
    for (source, regime), figures in results.items():
        print(
            f"{source}, {regime}: best {max(figures):,.0f}, "
            f"median {statistics.median(figures):,.0f} contacts/s (CPU time)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
