"""What regua's management commands share: configuration errors shown as command errors."""

from __future__ import annotations

from argparse import ArgumentTypeError
from datetime import datetime, timezone
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from regua.errors import ReguaError

__all__ = ["ReguaCommand", "instant"]


class ReguaCommand(BaseCommand):
    """A command whose `run` may raise `ImproperlyConfigured` or a `ReguaError`.

    Either is printed as a one-line error (exit status 1), not a traceback: the message
    names the setting or the file at fault.
    """

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the command; turn a configuration error into a `CommandError`."""
        try:
            self.run(**options)
        except (ImproperlyConfigured, ReguaError) as exc:
            raise CommandError(str(exc), returncode=1) from exc

    def run(self, **options: Any) -> None:
        """The command's work."""
        raise NotImplementedError


def instant(text: str) -> datetime:
    """An ``--now`` argument: an ISO 8601 instant with its offset (``Z`` for UTC)."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ArgumentTypeError(f"{text!r} is not an ISO 8601 instant") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ArgumentTypeError(f"{text!r} has no UTC offset (e.g. 2026-03-02T15:00:00Z)")
    return parsed.astimezone(timezone.utc)
