"""The commands that project contacts forward on the planner: ``forecast`` and ``diff``."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, TextIO

from regua.cli._common import (
    _CADENCE_HELP,
    Commands,
    _database,
    _instant,
    _non_negative_int,
    _positive_int,
    _utc,
)
from regua.definitions.cadence import Cadence
from regua.errors import CommandError
from regua.forecasting.assumptions import Assumptions, ChannelFailure, EventRate
from regua.loading import load_cadences

if TYPE_CHECKING:
    from regua.forecasting.forecaster import Progress
    from regua.forecasting.sources import ContactSource

__all__ = ["add_diff", "add_forecast"]


def add_forecast(commands: Commands) -> None:
    """Add ``regua forecast``: what the cadences will send, per day, channel and step."""
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


def add_diff(commands: Commands) -> None:
    """Add ``regua diff``: what a changed cadence adds, removes or moves."""
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


# --- the contacts and the period ------------------------------------------------------------------


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
def _progress(args: argparse.Namespace, total: int | None) -> Iterator[Progress | None]:
    show = args.progress if args.progress is not None else (total is None or total >= 1000)
    if not show:
        yield None
        return
    from regua.forecasting.progress import progress_reporter

    with progress_reporter(sys.stderr) as callback:
        yield callback
