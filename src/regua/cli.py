r"""The ``regua`` command line: check, simulate, graph and explain cadences; print the schema.

::

    regua check examples/ecommerce_lifecycle.py:cadence
    regua simulate shop.yaml --scenario scenario.yaml --format csv
    regua graph shop.yaml --format dot -o shop.dot
    regua explain shop.yaml --scenario scenario.yaml --contact ana --step birthday \
        --at 2026-03-10T09:00
    regua schema -o cadence.schema.json

A cadence is named by a ``.yaml``/``.yml``/``.json`` file or by ``module:attribute``
(``path/to/file.py:attribute`` too): see `regua.loading`. Results go to standard output,
errors to standard error. The exit status is 0 on success, 1 when the check fails or the input
is invalid (a message says which file and what is wrong, never a traceback), 2 on a usage
error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from regua.definitions.cadence import Cadence, schema
from regua.errors import ReguaError
from regua.loading import LoadError, load_cadences, load_scenario

if TYPE_CHECKING:
    from regua.testing.scenario import Scenario
    from regua.testing.simulation import Simulation

__all__ = ["main"]

_PROG = "regua"

_CADENCE_HELP = (
    "the cadence: a .yaml/.yml/.json file, path/to/file.py:attribute or "
    "package.module:attribute (the attribute may hold a list of cadences)"
)


_SILENT = logging.NullHandler()


class CommandError(ReguaError):
    """A command cannot do what it was asked; the message says why (printed, exit 1)."""


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


# --- the parser --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    from regua import __version__

    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Relationship cadences: check, simulate, graph and explain them.",
        epilog="Run 'regua COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"{_PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = commands.add_parser(
        "check",
        help="validate a cadence and lint it for likely mistakes",
        description=(
            "Load and validate each cadence, then print each lint finding and a summary. "
            "Exit 0 when there is no error-severity finding (warnings are fine unless "
            "--strict), 1 otherwise or when the cadence cannot be loaded."
        ),
    )
    check.add_argument(
        "cadence", metavar="PATH", nargs="+", help=_CADENCE_HELP + "; several may be given"
    )
    check.add_argument(
        "--senders",
        metavar="CHANNELS",
        type=_channel_list,
        help=(
            "comma-separated channels your application has senders for (e.g. email,sms): "
            "a step none of whose channels has one is an error, a step missing some a warning"
        ),
    )
    check.add_argument("--strict", action="store_true", help="warnings fail the check too")
    check.set_defaults(run=_check)

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
    simulate.set_defaults(run=_simulate)

    graph = commands.add_parser(
        "graph",
        help="draw the cadence's steps and what triggers them (Mermaid or DOT)",
        description=(
            "Print the cadence as a Mermaid flowchart (default; renders in GitHub and MkDocs) "
            "or a Graphviz DOT graph."
        ),
    )
    graph.add_argument("cadence", metavar="PATH", help=_CADENCE_HELP)
    graph.add_argument(
        "--format",
        choices=("mermaid", "dot"),
        default="mermaid",
        help="the graph language (default: mermaid)",
    )
    _cadence_option(graph, "which cadence to draw, when PATH holds several")
    _output_option(graph)
    graph.set_defaults(run=_graph)

    explain = commands.add_parser(
        "explain",
        help="say why a step is, or is not, due for a contact at an instant",
        description=(
            "Play the scenario up to --at (items after it are not applied) and explain every "
            "occurrence of the step for the contact: sent, waiting and until when, cancelled, "
            "skipped or expired, and why."
        ),
    )
    explain.add_argument("cadence", metavar="PATH", help=_CADENCE_HELP)
    _scenario_option(explain)
    explain.add_argument("--contact", metavar="ID", required=True, help="the contact's id")
    explain.add_argument("--step", metavar="NAME", required=True, help="the step's name")
    explain.add_argument(
        "--at",
        metavar="INSTANT",
        required=True,
        type=_instant,
        help=(
            "the instant, in ISO 8601 (2026-03-10T12:00:00Z, 2026-03-10T09:00-03:00); "
            "without an offset, in the scenario's timezone"
        ),
    )
    _cadence_option(explain, "the step's cadence, when PATH holds several (default: the first)")
    explain.set_defaults(run=_explain)

    schema_command = commands.add_parser(
        "schema",
        help="print the JSON Schema of cadence files (or of scenario files)",
        description=(
            "Print the JSON Schema of the YAML/JSON cadence format, for editors and "
            "validators; --scenario prints the schema of scenario files instead."
        ),
    )
    schema_command.add_argument(
        "--scenario", action="store_true", help="the schema of scenario files instead"
    )
    _output_option(schema_command)
    schema_command.set_defaults(run=_schema)
    return parser


def _scenario_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario",
        metavar="FILE",
        required=True,
        help="the scenario file (.yaml/.yml/.json): contacts and what happens to them",
    )


def _cadence_option(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument("--cadence", metavar="NAME", dest="cadence_name", help=text)


def _output_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
    )


def _channel_list(text: str) -> list[str]:
    channels = [part.strip() for part in text.split(",") if part.strip()]
    if not channels:
        raise argparse.ArgumentTypeError(f"expected channel names such as email,sms; got {text!r}")
    return channels


def _instant(text: str) -> datetime:
    from dateutil.parser import isoparse

    try:
        return isoparse(text)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 instant (e.g. 2026-03-10T12:00:00Z)"
        ) from None


# --- the commands -------------------------------------------------------------------------------


def _check(args: argparse.Namespace, out: TextIO) -> int:
    from regua.lint import lint

    cadences = [cadence for spec in args.cadence for cadence in load_cadences(spec)]
    errors = warnings = 0
    for cadence in cadences:
        findings = lint(cadence, senders=args.senders)
        for finding in findings:
            print(f"{cadence.name}: {finding}", file=out)
            if finding.severity == "error":
                errors += 1
            else:
                warnings += 1
    failed = errors > 0 or (args.strict and warnings > 0)
    described = ", ".join(_describe_cadence(cadence) for cadence in cadences)
    verdict = "FAILED" if failed else "OK"
    strict = " (--strict: warnings fail)" if args.strict and warnings and not errors else ""
    print(
        f"{verdict}: {described}: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
        f"{strict}",
        file=out,
    )
    return 1 if failed else 0


def _simulate(args: argparse.Namespace, out: TextIO) -> int:
    cadences = load_cadences(args.cadence)
    scenario = load_scenario(args.scenario)
    if args.contact is not None:
        _require_contact(scenario, args.contact, args.scenario)
    simulation = _play(scenario, cadences, args.scenario)
    text = simulation.timeline(to=args.contact, format=args.format)
    out.write(text if text.endswith("\n") else text + "\n")
    if args.format == "table":
        count = len(simulation.sent(to=args.contact))
        contacts = len({s.contact_id for s in simulation.sent(to=args.contact)})
        print(
            f"\n{_plural(count, 'message')} to {_plural(contacts, 'contact')}, "
            f"{_utc(scenario.start)} to {_utc(scenario.end)}",
            file=out,
        )
    return 0


def _graph(args: argparse.Namespace, out: TextIO) -> int:
    from regua.graph import to_dot, to_mermaid

    cadence = _choose(load_cadences(args.cadence), args.cadence_name, args.cadence)
    text = to_mermaid(cadence) if args.format == "mermaid" else to_dot(cadence)
    _emit(text, args.output, out)
    return 0


def _explain(args: argparse.Namespace, out: TextIO) -> int:
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


def _schema(args: argparse.Namespace, out: TextIO) -> int:
    if args.scenario:
        from regua.testing.scenario import Scenario

        document = Scenario.model_json_schema(mode="validation")
    else:
        document = schema()
    _emit(json.dumps(document, indent=2, ensure_ascii=False), args.output, out)
    return 0


# --- helpers ------------------------------------------------------------------------------------


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


def _choose(
    cadences: list[Cadence], name: str | None, spec: str, *, default_first: bool = False
) -> Cadence:
    names = [cadence.name for cadence in cadences]
    if name is not None:
        for cadence in cadences:
            if cadence.name == name:
                return cadence
        raise CommandError(f"{spec}: no cadence named {name!r} (cadences: {', '.join(names)})")
    if len(cadences) > 1 and not default_first:
        raise CommandError(
            f"{spec} holds several cadences ({', '.join(names)}): choose one with --cadence"
        )
    return cadences[0]


def _emit(text: str, output: str | None, out: TextIO) -> None:
    text = text if text.endswith("\n") else text + "\n"
    if output is None:
        out.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from None
    print(f"wrote {output}", file=sys.stderr)


def _describe_cadence(cadence: Cadence) -> str:
    return (
        f"cadence {cadence.name!r} ({_plural(len(cadence.steps), 'step')}, "
        f"{_plural(len(cadence.channels), 'channel')})"
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _utc(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")
