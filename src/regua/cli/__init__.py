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
import csv
import functools
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

from regua.definitions.cadence import Cadence, schema
from regua.errors import ReguaError
from regua.forecasting.assumptions import Assumptions, ChannelFailure, EventRate
from regua.loading import LoadError, load_cadences, load_scenario, load_senders

if TYPE_CHECKING:
    from regua.erasure import ErasureReport
    from regua.forecasting.forecaster import Progress
    from regua.forecasting.sources import ContactSource
    from regua.records import Delivery
    from regua.repositories.sql import SQLRepository
    from regua.testing.scenario import Scenario
    from regua.testing.simulation import Simulation

__all__ = ["main"]

_PROG = "regua"

_CADENCE_HELP = (
    "the cadence: a .yaml/.yml/.json file, path/to/file.py:attribute or "
    "package.module:attribute (the attribute may hold a list of cadences)"
)

_DATABASE_HELP = (
    "the URL of the database the scheduler runs on (sqlite:///regua.db, "
    "postgresql://...); it is read, never changed"
)

_SCHEMA_HELP = (
    "with a PostgreSQL database: the schema that holds regua's tables (default: the "
    "connection's search path, usually 'public')"
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
        description="Relationship cadences: check, simulate, graph, explain and forecast them.",
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
    senders = check.add_mutually_exclusive_group()
    senders.add_argument(
        "--senders",
        metavar="CHANNELS",
        type=_channel_list,
        help=(
            "comma-separated channels your application has senders for (e.g. email,sms): "
            "a step none of whose channels has one is an error, a step missing some a warning"
        ),
    )
    senders.add_argument(
        "--senders-from",
        metavar="MODULE:ATTRIBUTE",
        help=(
            "your application's senders: a mapping of channel to sender, or a function "
            "returning one (shop.messaging:senders, path/to/file.py:make_senders); checks "
            "the channels as --senders does, and each step's message against the templates "
            "of the senders that can tell (SMTPSender with its renderer)"
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
    simulate.add_argument(
        "--plot",
        metavar="FILE",
        help=(
            "also draw the timeline, one row per contact, into FILE (.png or .svg; needs "
            "the plot extra)"
        ),
    )
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

    _contact_parser(commands)
    _redrive_parser(commands)
    _erase_parser(commands)

    forecast = commands.add_parser(
        "forecast",
        help="count what the cadence will send, per day, channel and step, and the cost",
        description=(
            "Project every contact forward on the planner (nothing is stored or sent) and "
            "print the messages per step and channel, per channel with their cost, the peak "
            "day and the most messaged contacts. Without --assume, no new events happen: the "
            "current state, projected forward."
        ),
    )
    forecast.add_argument("cadence", metavar="PATH", help=_CADENCE_HELP + " (all are run)")
    _contacts_options(forecast, default_days=90)
    forecast.add_argument(
        "--timezone",
        metavar="TZ",
        help="the timezone of the days counts are split into (default: the cadence's)",
    )
    forecast.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="table (default), json (everything) or csv (one row per day, step and channel)",
    )
    forecast.add_argument(
        "--top",
        metavar="N",
        type=_positive_int,
        default=10,
        help="how many of the most messaged contacts to list (default: 10)",
    )
    forecast.add_argument(
        "--plot",
        metavar="FILE",
        help=(
            "draw the daily volume per channel and the cumulative cost into FILE (.png or "
            ".svg; needs the plot extra)"
        ),
    )
    forecast.add_argument(
        "--html",
        metavar="FILE",
        help="write a self-contained HTML page: summary, charts, tables, the cadence diagram",
    )
    forecast.set_defaults(run=_forecast)

    diff = commands.add_parser(
        "diff",
        help="what a changed cadence would add, remove or move for contacts in flight",
        description=(
            "Project the contacts under OLD and under NEW over the same period and compare "
            "the messages, matched by occurrence: added, removed, or moved (another instant "
            "or channel), counted per step, with every change of a sample of contacts."
        ),
    )
    diff.add_argument("old", metavar="OLD", help="the cadence as it runs now; " + _CADENCE_HELP)
    diff.add_argument("new", metavar="NEW", help="the changed cadence, named the same way")
    _contacts_options(diff, default_days=30)
    diff.add_argument(
        "--sample",
        metavar="N",
        type=_non_negative_int,
        default=10,
        help="list every change of the first N affected contacts (default: 10)",
    )
    diff.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="how to print the result (default: table)",
    )
    diff.set_defaults(run=_diff)

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


def _contacts_options(parser: argparse.ArgumentParser, *, default_days: int) -> None:
    parser.add_argument(
        "--contacts",
        metavar="SOURCE",
        required=True,
        help=(
            "the contacts: a .csv or .jsonl file, or the URL of the database the scheduler "
            "runs on (sqlite:///regua.db, postgresql://...) to start from its current state"
        ),
    )
    parser.add_argument(
        "--schema",
        metavar="NAME",
        help=(
            "with a PostgreSQL --contacts URL: the schema that holds regua's tables "
            "(default: the connection's search path, usually 'public')"
        ),
    )
    period = parser.add_mutually_exclusive_group()
    period.add_argument(
        "--days",
        metavar="N",
        type=_positive_int,
        help=f"the length of the period in days (default: {default_days})",
    )
    period.add_argument(
        "--until", metavar="INSTANT", type=_instant, help="the end of the period instead"
    )
    parser.set_defaults(default_days=default_days)
    parser.add_argument(
        "--start",
        metavar="INSTANT",
        type=_instant,
        help="the start of the period, ISO 8601 (default: now); without an offset, in UTC",
    )
    parser.add_argument(
        "--assume",
        metavar="EVENT=RATE[/PERIOD]",
        action="append",
        type=_event_rate,
        default=[],
        help=(
            "a share of the contacts does EVENT once per PERIOD (default 1w), e.g. "
            "order_placed=2%%/1w; may be repeated"
        ),
    )
    parser.add_argument(
        "--fail",
        metavar="CHANNEL=RATE",
        action="append",
        type=_channel_failure,
        default=[],
        help="a share of the messages on CHANNEL fails for good (fallbacks), e.g. sms=5%%",
    )
    parser.add_argument(
        "--seed", metavar="N", type=int, default=0, help="the seed of --assume and --fail"
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=(
            "report progress on standard error (default: from 1,000 contacts); a bar in a "
            "terminal with the progress extra, plain lines otherwise"
        ),
    )


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


def _whole_number(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"expected a whole number of at least {minimum}, got {text!r}"
            )
        return value

    return parse


_positive_int = _whole_number(1)
_non_negative_int = _whole_number(0)


def _event_rate(text: str) -> EventRate:
    try:
        return EventRate.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _channel_failure(text: str) -> ChannelFailure:
    try:
        return ChannelFailure.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
    senders = args.senders if args.senders_from is None else load_senders(args.senders_from)
    errors = warnings = 0
    for cadence in cadences:
        findings = lint(cadence, senders=senders)
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


def _graph(args: argparse.Namespace, out: TextIO) -> int:
    from regua.graph import to_dot, to_mermaid

    cadence = _choose(load_cadences(args.cadence), args.cadence_name, args.cadence)
    text = to_mermaid(cadence) if args.format == "mermaid" else to_dot(cadence)
    _emit(text, args.output, out)
    return 0


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


def _forecast(args: argparse.Namespace, out: TextIO) -> int:
    from regua.forecasting import forecast

    cadences = load_cadences(args.cadence)
    start, end = _period(args)
    if args.plot is not None:
        # Before a forecast that may take minutes, not after.
        from regua.forecasting.charts import check_picture_path

        check_picture_path(args.plot)
    with _contacts(args, cadences, start) as (contacts, total), _progress(args, total) as progress:
        result = forecast(
            cadences,
            contacts,
            start,
            end,
            assumptions=_assumptions(args),
            timezone=args.timezone,
            progress=progress,
        )
    if args.format == "json":
        out.write(result.to_json(top=args.top) + "\n")
    elif args.format == "csv":
        writer = csv.DictWriter(
            out,
            fieldnames=["day", "cadence", "step", "channel", "messages", "cost"],
            lineterminator="\n",
        )
        writer.writeheader()
        writer.writerows(row.as_dict() for row in result.rows)
    else:
        out.write(result.table(top=args.top))
    if args.plot is not None:
        from regua.forecasting.charts import save_forecast_plot

        save_forecast_plot(result, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.html is not None:
        from regua.forecasting.html_page import write_forecast_html

        write_forecast_html(result, cadences, args.html, top=args.top)
        print(f"wrote {args.html}", file=sys.stderr)
    return 0


def _diff(args: argparse.Namespace, out: TextIO) -> int:
    from regua.forecasting import forecast_diff

    old = load_cadences(args.old)
    new = load_cadences(args.new)
    start, end = _period(args)
    with _contacts(args, new, start) as (contacts, total), _progress(args, total) as progress:
        result = forecast_diff(
            old,
            new,
            contacts,
            start,
            end,
            assumptions=_assumptions(args),
            sample=args.sample,
            progress=progress,
        )
    out.write(result.to_json() + "\n" if args.format == "json" else result.table())
    return 0


def _schema(args: argparse.Namespace, out: TextIO) -> int:
    if args.scenario:
        from regua.testing.scenario import Scenario

        document = Scenario.model_json_schema(mode="validation")
    else:
        document = schema()
    _emit(json.dumps(document, indent=2, ensure_ascii=False), args.output, out)
    return 0


# --- the scheduler's database: contact, explain --db ----------------------------------------


def _contact_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    contact = commands.add_parser(
        "contact",
        help="show one contact of the scheduler's database: sent, pending, events, errors",
        description=(
            "Read one contact from the database the scheduler runs on, without changing it, "
            "and print what support needs when the customer calls: the contact (consents, "
            "preferences, the channels it has an address on), every message sent or closed "
            "with its message id, what is due or waiting under each cadence in PATH and "
            "until when, the latest events, and the errors recorded while evaluating it. "
            "Addresses, attribute values and event data are personal data: they are shown "
            "only with --show-personal."
        ),
    )
    contact.add_argument("cadence", metavar="PATH", help=_CADENCE_HELP + " (all are used)")
    contact.add_argument("contact", metavar="ID", help="the contact's id")
    contact.add_argument("--db", metavar="URL", required=True, help=_DATABASE_HELP)
    contact.add_argument("--schema", metavar="NAME", help=_SCHEMA_HELP)
    contact.add_argument(
        "--at",
        metavar="INSTANT",
        type=_instant,
        help="the instant to plan at, ISO 8601 (default: now); without an offset, in UTC",
    )
    contact.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="how to print the report (default: table)",
    )
    contact.add_argument(
        "--show-personal",
        action="store_true",
        help="also print addresses, attribute values and event data (personal data)",
    )
    contact.add_argument(
        "--events",
        metavar="N",
        type=_non_negative_int,
        default=20,
        help="how many of the latest events and recorded errors to list (default: 20)",
    )
    contact.set_defaults(run=_contact_command)


def _contact_command(args: argparse.Namespace, out: TextIO) -> int:
    from regua.inspection import inspect_contact
    from regua.ports import UnknownContactError

    cadences = load_cadences(args.cadence)
    now = _utc_instant(args.at)
    with _database(args.db, args.schema) as repository:
        try:
            report = _reading(
                args.db,
                lambda: inspect_contact(
                    repository, cadences, args.contact, now, recent=args.events
                ),
            )
        except UnknownContactError as exc:
            raise CommandError(f"{_redacted(args.db)}: {exc}") from None
    if args.format == "json":
        out.write(report.to_json(personal=args.show_personal) + "\n")
    else:
        out.write(report.table(personal=args.show_personal))
    return 0


def _redrive_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    redrive = commands.add_parser(
        "redrive",
        help="list dead letters, and reopen them once their cause is fixed (--apply)",
        description=(
            "List the dead letters (occurrences every channel failed for) of the database "
            "the scheduler runs on, the latest first: all of them, those of a cadence, a "
            "step, since an instant, or the occurrence KEYs given. With --apply, reopen "
            "them: their failed outcomes are removed (and printed: what failed and why "
            "stays on record) and the next tick plans them again, with the same keys; one "
            "past its expiry is closed as expired, never sent late. Without --apply "
            "nothing is changed."
        ),
    )
    redrive.add_argument(
        "keys", metavar="KEY", nargs="*", help="occurrence keys to reopen (default: every match)"
    )
    redrive.add_argument(
        "--db",
        metavar="URL",
        required=True,
        help=(
            "the URL of the database the scheduler runs on (sqlite:///regua.db, "
            "postgresql://...); changed only with --apply"
        ),
    )
    redrive.add_argument("--schema", metavar="NAME", help=_SCHEMA_HELP)
    redrive.add_argument("--cadence", metavar="NAME", help="only this cadence's dead letters")
    redrive.add_argument("--step", metavar="NAME", help="only this step's dead letters")
    redrive.add_argument(
        "--since",
        metavar="INSTANT",
        type=_instant,
        help="only those that failed at or after this ISO 8601 instant (without an offset: UTC)",
    )
    redrive.add_argument(
        "--limit",
        metavar="N",
        type=_positive_int,
        default=1000,
        help="look at the latest N dead letters at most (default: 1000)",
    )
    redrive.add_argument(
        "--apply", action="store_true", help="reopen them (without it: only list them)"
    )
    redrive.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="how to print them (default: table)",
    )
    redrive.set_defaults(run=_redrive)


def _redrive(args: argparse.Namespace, out: TextIO) -> int:
    from regua.erasure import is_pseudonymous_key

    keys: list[str] = list(dict.fromkeys(args.keys))
    since = None if args.since is None else _utc_instant(args.since)
    with _database(args.db, args.schema) as repository:
        failed = _reading(args.db, lambda: repository.failed_deliveries(args.limit))
        chosen = [
            d
            for d in failed
            if (not keys or d.occurrence_key in keys)
            and args.cadence in (None, d.cadence)
            and args.step in (None, d.step)
            and (since is None or d.at >= since)
            and not is_pseudonymous_key(d.occurrence_key)  # an erased contact's: left alone
        ]
        if args.apply and chosen:
            removed = _reading(
                args.db, lambda: repository.redrive([d.occurrence_key for d in chosen])
            )
        else:
            removed = []
    found = {d.occurrence_key for d in chosen}
    missing = [key for key in keys if key not in found]
    listed = removed if args.apply else chosen
    if args.format == "json":
        document = {
            "applied": bool(args.apply),
            "dead_letters": [_dead_letter(d) for d in listed],
            "not_dead_letters": missing,
        }
        out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return 0
    if not listed:
        out.write("no dead letters match\n")
    else:
        verb = "reopened" if args.apply else "would reopen (run again with --apply)"
        out.write(f"{_plural(len(listed), 'dead letter')} {verb}:\n\n")
        rows = [
            [_utc(d.at), f"{d.cadence}/{d.step}", d.contact_id, d.reason or "", d.occurrence_key]
            for d in listed
        ]
        from regua.forecasting.text import render_table

        out.write(render_table(["failed at", "step", "contact", "reason", "key"], rows) + "\n")
    if missing:
        out.write(
            f"\nnot among the latest {args.limit:,} dead letters (sent, closed otherwise, or "
            f"unknown; left alone): {', '.join(missing)}\n"
        )
    return 0


def _dead_letter(delivery: Delivery) -> dict[str, object]:
    return {
        "occurrence_key": delivery.occurrence_key,
        "cadence": delivery.cadence,
        "step": delivery.step,
        "contact_id": delivery.contact_id,
        "failed_at": _utc(delivery.at),
        "reason": delivery.reason,
        "variant": delivery.variant,
    }


_KEY_ENV = "REGUA_PSEUDONYM_KEY"


def _erase_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    erase = commands.add_parser(
        "erase",
        help="erase contacts: the right to erasure (LGPD art. 18, GDPR art. 17; --apply)",
        description=(
            "Erase each contact ID from the database the scheduler runs on, one transaction "
            "each: the contact (data, addresses, consents), its events with their data, its "
            "claims, the errors recorded for it and its folded history. Its deliveries go "
            "too with --keep nothing; with --keep pseudonymous (the default) they are kept "
            "under the contact's pseudonym, with pseudonymous keys and redacted reasons, so "
            "that reports still count them. Without --apply, print what would be removed "
            "and change nothing."
        ),
    )
    erase.add_argument("contacts", metavar="ID", nargs="+", help="the ids of the contacts")
    erase.add_argument(
        "--db",
        metavar="URL",
        required=True,
        help=(
            "the URL of the database the scheduler runs on (sqlite:///regua.db, "
            "postgresql://...); changed only with --apply"
        ),
    )
    erase.add_argument("--schema", metavar="NAME", help=_SCHEMA_HELP)
    erase.add_argument(
        "--keep",
        choices=("pseudonymous", "nothing"),
        default="pseudonymous",
        help=(
            "what to keep of the deliveries: their pseudonymous form, which reports count "
            "(default), or nothing"
        ),
    )
    erase.add_argument(
        "--key-env",
        metavar="VAR",
        default=_KEY_ENV,
        help=(
            "the environment variable holding the pseudonym key (the scheduler's log_key), "
            f"for --keep pseudonymous (default: {_KEY_ENV})"
        ),
    )
    erase.add_argument(
        "--apply", action="store_true", help="erase them (without it: only count what would go)"
    )
    erase.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="how to print what is (or would be) erased (default: table)",
    )
    erase.set_defaults(run=_erase)


def _erase(args: argparse.Namespace, out: TextIO) -> int:
    import os

    key: str | None = None
    if args.keep == "pseudonymous":
        key = os.environ.get(args.key_env)
        if not key:
            raise CommandError(
                f"--keep pseudonymous needs the pseudonym key (the scheduler's log_key) in "
                f"the environment variable {args.key_env}: set it, name another with "
                "--key-env, or keep nothing with --keep nothing"
            )
    ids: list[str] = list(dict.fromkeys(args.contacts))
    with _database(args.db, args.schema) as repository:

        def erase(contact_id: str) -> ErasureReport:
            return repository.erase_contact(
                contact_id, keep=args.keep, key=key, dry_run=not args.apply
            )

        reports = [_reading(args.db, functools.partial(erase, cid)) for cid in ids]
    now = datetime.now(timezone.utc)
    held = [r for r in reports if r.held_until is not None and r.held_until > now]
    if args.format == "json":
        document = {
            "applied": bool(args.apply),
            "keep": args.keep,
            "contacts": [
                {
                    "contact_id": r.contact_id,
                    "found": r.found,
                    "events": r.events,
                    "deliveries": r.deliveries,
                    "claims": r.claims,
                    "errors": r.errors,
                    "folds": r.folds,
                    "kept_as": r.pseudonym if r.deliveries else None,
                    "held_until": None if r.held_until is None else _utc(r.held_until),
                }
                for r in reports
            ],
        }
        out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return 0
    stored = [
        r for r in reports if any((r.found, r.events, r.deliveries, r.claims, r.errors, r.folds))
    ]
    if stored:
        verb = "erased" if args.apply else "would be erased (run again with --apply)"
        out.write(f"{_plural(len(stored), 'contact')} {verb}:\n\n")
        rows = [
            [
                r.contact_id,
                r.events,
                r.deliveries,
                r.claims,
                r.errors,
                r.folds,
                r.pseudonym if r.pseudonym and r.deliveries else "",
            ]
            for r in stored
        ]
        header = ["contact", "events", "deliveries", "claims", "errors", "folds", "kept as"]
        from regua.forecasting.text import render_table

        out.write(render_table(header, rows) + "\n")
    missing = [r.contact_id for r in reports if r not in stored]
    if missing:
        out.write(("\n" if stored else "") + f"nothing stored for: {', '.join(missing)}\n")
    for r in held:
        assert r.held_until is not None
        out.write(
            f"\n{r.contact_id}: a worker holds it until {_utc(r.held_until)} and may record "
            "what it was doing under its id until then: run this again after that\n"
        )
    return 0


def _explain_database(args: argparse.Namespace, out: TextIO) -> int:
    from regua.planning.explain import explain

    cadences = load_cadences(args.cadence)
    cadence = _choose(cadences, args.cadence_name, args.cadence, default_first=True)
    try:
        cadence.step(args.step)
    except KeyError as exc:
        raise CommandError(str(exc.args[0])) from None
    now = _utc_instant(args.at)
    with _database(args.db, args.schema) as repository:
        found = _reading(args.db, lambda: repository.load_snapshots([args.contact]))
    snapshot = found.get(args.contact)
    if snapshot is None:
        raise CommandError(f"{_redacted(args.db)}: no contact {args.contact!r} in the repository")
    print(explain(cadence, snapshot, args.step, now, cadences=cadences), file=out)
    return 0


def _utc_instant(instant: datetime | None) -> datetime:
    """`instant` in UTC, a naive one read as UTC; now (to the second) when None."""
    if instant is None:
        return datetime.now(timezone.utc).replace(microsecond=0)
    if instant.tzinfo is None or instant.utcoffset() is None:
        instant = instant.replace(tzinfo=timezone.utc)
    return instant.astimezone(timezone.utc)


_T = TypeVar("_T")


def _reading(url: str, read: Callable[[], _T]) -> _T:
    """What `read` returns; a database failure while it reads becomes a `CommandError`."""
    import sqlalchemy as sa

    try:
        return read()
    except sa.exc.SQLAlchemyError as exc:  # the connection dropped, a permission refused
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CommandError(f"{_redacted(url)}: cannot read the database ({first})") from None


# --- helpers ------------------------------------------------------------------------------------


def _period(args: argparse.Namespace) -> tuple[datetime, datetime]:
    start: datetime = args.start or datetime.now(timezone.utc).replace(second=0, microsecond=0)
    if start.tzinfo is None or start.utcoffset() is None:
        start = start.replace(tzinfo=timezone.utc)
    if args.until is not None:
        end: datetime = args.until
        if end.tzinfo is None or end.utcoffset() is None:
            end = end.replace(tzinfo=timezone.utc)
        if end < start:
            raise CommandError(f"--until {_utc(end)} is before the start ({_utc(start)})")
        return start, end
    return start, start + timedelta(days=args.days or args.default_days)


def _assumptions(args: argparse.Namespace) -> Assumptions | None:
    if not args.assume and not args.fail:
        return None
    try:
        return Assumptions(events=args.assume, failures=args.fail, seed=args.seed)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


@contextmanager
def _contacts(
    args: argparse.Namespace, cadences: list[Cadence], start: datetime
) -> Iterator[tuple[ContactSource, int | None]]:
    from regua.forecasting.contact_files import is_database_url, read_contacts

    spec: str = args.contacts
    schema: str | None = args.schema
    if schema is not None and not is_database_url(spec):
        raise CommandError(f"--schema {schema}: applies to a database URL in --contacts only")
    if not is_database_url(spec):
        channels = {channel.name for cadence in cadences for channel in cadence.channels}
        snapshots = read_contacts(spec, channels, start)
        yield snapshots, len(snapshots)
        return
    with _database(spec, schema) as repository:
        yield repository, None


@contextmanager
def _database(url: str, schema: str | None) -> Iterator[SQLRepository]:
    """The scheduler's database at `url`, opened to read: nothing is created or migrated."""
    from regua.repositories.sql import SchemaVersionError, SQLRepository

    sqlite_file = _sqlite_file(url)
    # SQLite would create a missing file, empty: a mistyped path is reported instead.
    if sqlite_file is not None and not Path(sqlite_file).is_file():
        raise CommandError(f"{_redacted(url)}: no database file {sqlite_file}")
    try:
        repository = SQLRepository(url, create=False, schema=schema)
    except SchemaVersionError as exc:
        message = str(exc)
        if "holds no regua schema" in message and sqlite_file is not None:
            message = "no regua tables in this database file"
        elif "holds no regua schema" in message:  # a command that reads creates nothing
            where = f"in schema {schema!r}" if schema else "in the connection's default schema"
            message = f"no regua tables {where}; give the schema that holds them with --schema"
        raise CommandError(f"{_redacted(url)}: {message}") from None
    except ReguaError as exc:
        raise CommandError(f"{_redacted(url)}: {exc}") from None
    except Exception as exc:  # a driver's error: a bad URL, no server, a refused login
        raise CommandError(f"{_redacted(url)}: cannot open the database ({exc})") from None
    try:
        yield repository
    finally:
        repository.close()


def _sqlite_file(url: str) -> str | None:
    """The file a ``sqlite:///path`` URL names; None for any other URL, or an in-memory one."""
    try:
        import sqlalchemy as sa

        parsed = sa.make_url(url)
    except Exception:  # not a URL, or no SQLAlchemy: opening it reports the problem
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.query.get("mode") == "memory" or parsed.database.startswith("file:"):
        return None
    return parsed.database


def _redacted(url: str) -> str:
    try:
        import sqlalchemy as sa

        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the database URL"


@contextmanager
def _progress(args: argparse.Namespace, total: int | None) -> Iterator[Progress | None]:
    show = args.progress if args.progress is not None else (total is None or total >= 1000)
    if not show:
        yield None
        return
    from regua.forecasting.progress import progress_reporter

    with progress_reporter(sys.stderr) as callback:
        yield callback


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
