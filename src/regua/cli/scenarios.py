"""The commands that play a scenario on a virtual clock: ``simulate`` and ``explain``.

``explain --db`` reads a contact's history from the scheduler's database instead: see
`regua.cli.database`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from regua.cli._common import (
    _CADENCE_HELP,
    _DATABASE_HELP,
    _SCHEMA_HELP,
    Commands,
    _cadence_option,
    _choose,
    _instant,
    _plural,
    _utc,
)
from regua.cli.database import _explain_database
from regua.definitions.cadence import Cadence
from regua.errors import CommandError, ReguaError
from regua.loading import LoadError, load_cadences, load_scenario

if TYPE_CHECKING:
    from regua.testing.scenario import Scenario
    from regua.testing.simulation import Simulation

__all__ = ["add_explain", "add_simulate"]


def add_simulate(commands: Commands) -> None:
    """Add ``regua simulate``: the messages a scenario sends."""
    simulate = commands.add_parser(
        "simulate",
        help="run a scenario on a virtual clock and print what would be sent",
        description=(
            "Play a scenario file (contacts and what they do) against the cadence on the real "
            "scheduler with a virtual clock, and print every message sent: when (UTC and the "
            "contact's local time), to whom, which step, on which channel."
        ),
    )
    simulate.add_argument("cadence", metavar="PATH", help=_CADENCE_HELP)
    _scenario_option(simulate)
    simulate.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="how to print the timeline (default: table)",
    )
    simulate.add_argument("--contact", metavar="ID", help="only the messages to this contact")
    simulate.add_argument(
        "--plot",
        metavar="FILE",
        help=(
            "also draw the timeline, one row per contact, into FILE (.png or .svg; needs "
            "the plot extra)"
        ),
    )
    simulate.set_defaults(run=_simulate)


def _simulate(args: argparse.Namespace, out: TextIO) -> int:
    cadences = load_cadences(args.cadence)
    scenario = load_scenario(args.scenario)
    if args.contact is not None:
        _require_contact(scenario, args.contact, args.scenario)
    if args.plot is not None:
        from regua.forecasting.charts import check_picture_path

        check_picture_path(args.plot)
    simulation = _play(scenario, cadences, args.scenario)
    text = simulation.timeline(to=args.contact, format=args.format)
    out.write(text if text.endswith("\n") else text + "\n")
    if args.plot is not None:
        from regua.forecasting.charts import save_timeline_plot

        save_timeline_plot(simulation.sent(to=args.contact), args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.format == "table":
        count = len(simulation.sent(to=args.contact))
        contacts = len({s.contact_id for s in simulation.sent(to=args.contact)})
        print(
            f"\n{_plural(count, 'message')} to {_plural(contacts, 'contact')}, "
            f"{_utc(scenario.start)} to {_utc(scenario.end)}",
            file=out,
        )
    return 0


def _scenario_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario",
        metavar="FILE",
        required=True,
        help="the scenario file (.yaml/.yml/.json): contacts and what happens to them",
    )


def add_explain(commands: Commands) -> None:
    """Add ``regua explain``: why a step is, or is not, due for a contact."""
    explain = commands.add_parser(
        "explain",
        help="say why a step is, or is not, due for a contact at an instant",
        description=(
            "Explain every occurrence of the step for the contact: sent, waiting and until "
            "when, cancelled, skipped or expired, and why. With --scenario, the scenario is "
            "played up to --at (items after it are not applied); with --db, the contact's "
            "history is read from the database the scheduler runs on, which is not changed."
        ),
    )
    explain.add_argument("cadence", metavar="PATH", help=_CADENCE_HELP)
    source = explain.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--scenario",
        metavar="FILE",
        help="the scenario file (.yaml/.yml/.json): contacts and what happens to them",
    )
    source.add_argument("--db", metavar="URL", help=_DATABASE_HELP)
    explain.add_argument("--schema", metavar="NAME", help=_SCHEMA_HELP)
    explain.add_argument("--contact", metavar="ID", required=True, help="the contact's id")
    explain.add_argument("--step", metavar="NAME", required=True, help="the step's name")
    explain.add_argument(
        "--at",
        metavar="INSTANT",
        type=_instant,
        help=(
            "the instant, in ISO 8601 (2026-03-10T12:00:00Z, 2026-03-10T09:00-03:00); "
            "without an offset, in the scenario's timezone (with --db: in UTC). Required "
            "with --scenario; with --db, the default is now"
        ),
    )
    _cadence_option(explain, "the step's cadence, when PATH holds several (default: the first)")
    explain.set_defaults(run=_explain, usage=explain)


def _explain(args: argparse.Namespace, out: TextIO) -> int:
    if args.db is not None:
        return _explain_database(args, out)
    if args.at is None:  # a usage error, as argparse reports one
        usage: argparse.ArgumentParser = args.usage
        usage.print_usage(sys.stderr)
        print(f"{usage.prog}: error: --at is required with --scenario", file=sys.stderr)
        return 2
    if args.schema is not None:
        raise CommandError(f"--schema {args.schema}: applies to --db only")
    cadences = load_cadences(args.cadence)
    scenario = load_scenario(args.scenario)
    cadence = _choose(cadences, args.cadence_name, args.cadence, default_first=True)
    _require_contact(scenario, args.contact, args.scenario)
    try:
        cadence.step(args.step)
    except KeyError as exc:
        raise CommandError(str(exc.args[0])) from None
    at = scenario.instant(args.at)
    if at < scenario.start:
        raise CommandError(
            f"--at {_utc(at)} is before the scenario starts ({_utc(scenario.start)})"
        )
    simulation = _play(scenario, cadences, args.scenario, until=at)
    print(simulation.explain(args.contact, args.step, cadence=cadence.name), file=out)
    return 0


def _play(
    scenario: Scenario, cadences: list[Cadence], path: str, until: datetime | None = None
) -> Simulation:
    try:
        return scenario.run(cadences, until=until)
    # A ScenarioError (an item that cannot apply), or a SimulationAssertionError (an
    # AssertionError): a contact whose data the cadence cannot use.
    except (ReguaError, AssertionError) as exc:
        raise LoadError(f"{path}: {exc}") from None


def _require_contact(scenario: Scenario, contact: str, path: str) -> None:
    ids = [c.id for c in scenario.contacts]
    if contact not in ids:
        raise CommandError(
            f"{path}: no contact {contact!r} in the scenario (contacts: {', '.join(ids) or 'none'})"
        )
