r"""The ``regua`` command line: check, simulate, graph, explain and forecast cadences; operate.

::

    regua check examples/ecommerce_lifecycle.py:cadence
    regua simulate shop.yaml --scenario scenario.yaml --format csv
    regua simulate shop.yaml --scenario scenario.yaml --plot timeline.png
    regua forecast shop.yaml --contacts contacts.csv --days 90 --plot volume.png --html out.html
    regua diff shop.yaml shop-new.yaml --contacts sqlite:///regua.db --days 30
    regua graph shop.yaml --format dot -o shop.dot
    regua explain shop.yaml --scenario scenario.yaml --contact ana --step birthday \
        --at 2026-03-10T09:00
    regua explain shop.yaml --db sqlite:///regua.db --contact ana --step birthday
    regua contact shop.yaml --db postgresql://app@db/shop --schema regua ana
    regua redrive --db sqlite:///regua.db --step order_confirmation --apply
    regua erase --db sqlite:///regua.db ana --apply
    regua schema -o cadence.schema.json

A cadence is named by a ``.yaml``/``.yml``/``.json`` file or by ``module:attribute``
(``path/to/file.py:attribute`` too): see `regua.loading`. Results go to standard output,
errors to standard error. The exit status is 0 on success, 1 when the check fails or the input
is invalid (a message says which file and what is wrong, never a traceback), 2 on a usage
error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from regua.cli import database, definitions, forecasts, scenarios
from regua.errors import ReguaError

__all__ = ["main"]

_PROG = "regua"

_SILENT = logging.NullHandler()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``regua`` command line with `argv` (default: ``sys.argv[1:]``); the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors: argparse has printed
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    command: Callable[[argparse.Namespace, TextIO], int] = args.run
    # The scheduler logs a contact it cannot evaluate; the command reports it as an error
    # itself, so Python's last-resort handler must not print it a second time.
    logging.getLogger("regua").addHandler(_SILENT)
    try:
        return command(args, sys.stdout)
    except ReguaError as exc:
        print(f"{_PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    from regua import __version__

    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Relationship cadences: check, simulate, graph, explain and forecast them.",
        epilog="Run 'regua COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"{_PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # The order of --help's list; each module holds a group of commands and what they do.
    definitions.add_check(commands)
    scenarios.add_simulate(commands)
    definitions.add_graph(commands)
    scenarios.add_explain(commands)
    database.add_contact(commands)
    database.add_redrive(commands)
    database.add_erase(commands)
    forecasts.add_forecast(commands)
    forecasts.add_diff(commands)
    definitions.add_schema(commands)
    return parser
