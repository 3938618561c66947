"""``manage.py regua_worker``: tick every ``REGUA["INTERVAL"]`` until SIGTERM or SIGINT."""

from __future__ import annotations

from argparse import ArgumentParser, ArgumentTypeError
from datetime import timedelta
from typing import Any

from regua.integrations.django.configuration import get_scheduler, interval
from regua.integrations.django.management.base import ReguaCommand
from regua.scheduler import TickReport

__all__ = ["Command"]


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0 or seconds == float("inf"):
        raise ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return seconds


class Command(ReguaCommand):
    """Run the configured scheduler (`Scheduler.run`) until a signal stops it."""

    help = (
        "Run a regua worker: a tick every INTERVAL seconds until SIGTERM or SIGINT (Ctrl-C), "
        "which stop it once the tick under way has finished. Run as many as you like on "
        "PostgreSQL: claims decide who sends what."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        """``--interval``."""
        parser.add_argument(
            "--interval",
            type=_positive_seconds,
            help="seconds between two ticks (default: settings.REGUA['INTERVAL'], or 60)",
        )

    def run(self, **options: Any) -> None:
        """Tick until stopped; with ``-v 2``, print each tick's summary."""
        every = (
            timedelta(seconds=options["interval"])
            if options["interval"] is not None
            else interval()
        )
        scheduler = get_scheduler()
        verbosity = options["verbosity"]

        def on_tick(report: TickReport) -> None:
            if verbosity >= 2:
                self.stdout.write(str(report))

        if verbosity >= 1:
            self.stdout.write(
                f"regua worker {scheduler.worker}: a tick every "
                f"{every.total_seconds():g} s; stop it with SIGTERM or Ctrl-C"
            )
        scheduler.run(every, on_tick=on_tick)
        if verbosity >= 1:
            self.stdout.write(f"regua worker {scheduler.worker} stopped")
