"""``manage.py regua_check``: validate and lint the configured cadences, as ``regua check``."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError

from regua.cli._common import _plural
from regua.cli.definitions import _describe_cadence
from regua.integrations.django.configuration import get_cadences, get_senders, setting
from regua.integrations.django.management.base import ReguaCommand
from regua.lint import lint

__all__ = ["Command"]


def _channels(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


class Command(ReguaCommand):
    """Load ``REGUA["CADENCES"]``, lint each cadence, print the findings and a verdict."""

    help = (
        "Load and validate the cadences of settings.REGUA['CADENCES'], lint them against the "
        "channels of settings.REGUA['SENDERS'], and print each finding and a summary. Exit "
        "status 0 when there is no error-severity finding (warnings are fine unless "
        "--strict), 1 otherwise or when a cadence cannot be loaded."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        """``--strict`` and ``--senders``."""
        parser.add_argument("--strict", action="store_true", help="warnings fail the check too")
        parser.add_argument(
            "--senders",
            metavar="CHANNELS",
            type=_channels,
            help=(
                "comma-separated channels your application has senders for (default: the "
                "channels of settings.REGUA['SENDERS'], when set)"
            ),
        )

    def run(self, **options: Any) -> None:
        """Check; raise `CommandError` (exit status 1) when the check fails."""
        cadences = get_cadences()
        senders: list[str] | None = options["senders"]
        if senders is None and setting("SENDERS") is not None:
            senders = sorted(get_senders())
        errors = warnings = 0
        for cadence in cadences:
            for finding in lint(cadence, senders=senders):
                self.stdout.write(f"{cadence.name}: {finding}")
                if finding.severity == "error":
                    errors += 1
                else:
                    warnings += 1
        strict = options["strict"]
        failed = errors > 0 or (strict and warnings > 0)
        summary = (
            f"{', '.join(_describe_cadence(cadence) for cadence in cadences)}: "
            f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
        )
        if failed:
            suffix = " (--strict: warnings fail)" if strict and warnings and not errors else ""
            raise CommandError(f"FAILED: {summary}{suffix}", returncode=1)
        self.stdout.write(f"OK: {summary}")
