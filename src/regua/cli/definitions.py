"""The commands on a cadence's definition alone: ``check``, ``graph`` and ``schema``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from regua.cli._common import (
    _CADENCE_HELP,
    Commands,
    _cadence_option,
    _choose,
    _plural,
)
from regua.definitions.cadence import Cadence, schema
from regua.errors import CommandError
from regua.loading import load_cadences, load_senders

__all__ = ["add_check", "add_graph", "add_schema"]


def add_check(commands: Commands) -> None:
    """Add ``regua check``: validate and lint cadences."""
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


def _describe_cadence(cadence: Cadence) -> str:
    return (
        f"cadence {cadence.name!r} ({_plural(len(cadence.steps), 'step')}, "
        f"{_plural(len(cadence.channels), 'channel')})"
    )


def _channel_list(text: str) -> list[str]:
    channels = [part.strip() for part in text.split(",") if part.strip()]
    if not channels:
        raise argparse.ArgumentTypeError(f"expected channel names such as email,sms; got {text!r}")
    return channels


def add_graph(commands: Commands) -> None:
    """Add ``regua graph``: a cadence as a Mermaid or DOT graph."""
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


def _graph(args: argparse.Namespace, out: TextIO) -> int:
    from regua.graph import to_dot, to_mermaid

    cadence = _choose(load_cadences(args.cadence), args.cadence_name, args.cadence)
    text = to_mermaid(cadence) if args.format == "mermaid" else to_dot(cadence)
    _emit(text, args.output, out)
    return 0


def add_schema(commands: Commands) -> None:
    """Add ``regua schema``: the JSON Schema of cadence (or scenario) files."""
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


def _schema(args: argparse.Namespace, out: TextIO) -> int:
    if args.scenario:
        from regua.testing.scenario import Scenario

        document = Scenario.model_json_schema(mode="validation")
    else:
        document = schema()
    _emit(json.dumps(document, indent=2, ensure_ascii=False), args.output, out)
    return 0


def _output_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
    )


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
