"""``manage.py regua_tick``: one tick, then a summary of what it did."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from regua.integrations.django.configuration import get_scheduler
from regua.integrations.django.management.base import ReguaCommand, instant

__all__ = ["Command"]


class Command(ReguaCommand):
    """Run one tick of the configured scheduler and print its `TickReport`."""

    help = (
        "Evaluate every due contact once (claim, send, record, as a worker's tick does) and "
        "print what the tick did. For a cron job, or to try the settings."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        """``--now``."""
        parser.add_argument(
            "--now",
            type=instant,
            help="the instant to tick at, ISO 8601 with its offset (default: now)",
        )

    def run(self, **options: Any) -> None:
        """Tick once; print the summary, and with ``-v 2`` each outcome and error."""
        report = get_scheduler().tick(options["now"])
        self.stdout.write(str(report))
        if options["verbosity"] >= 2:
            for delivery in (*report.sent, *report.failed, *report.skipped):
                self.stdout.write(
                    f"  {delivery.status.value} {delivery.occurrence_key}"
                    f"{f' on {delivery.channel}' if delivery.channel else ''}"
                    f"{f': {delivery.reason}' if delivery.reason else ''}"
                )
            for claim in report.deferred:
                self.stdout.write(f"  deferred {claim.occurrence_key}")
        for contact_id, error in report.errors.items():
            self.stderr.write(f"contact {contact_id}: {error}")
