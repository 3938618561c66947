"""Progress of a long forecast: a bar in a terminal, plain lines elsewhere.

In a terminal, with rich installed (the ``progress`` extra), a live bar with the rate and the
time left. Otherwise (a log file, CI, a pipe, or no rich) a plain line at each tenth of the
way (every 10,000 contacts when the total is unknown), which reads well in any log.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from regua.forecasting.forecaster import Progress

__all__ = ["progress_reporter"]

_UNKNOWN_TOTAL_STEP = 10_000


@contextmanager
def progress_reporter(stream: TextIO, label: str = "contacts") -> Iterator[Progress]:
    """A ``progress(done, total)`` callback drawing on `stream`, closed on exit."""
    if _is_terminal(stream) and importlib.util.find_spec("rich") is not None:
        with _rich_bar(stream, label) as callback:
            yield callback
        return
    yield _PlainProgress(stream, label)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@contextmanager
def _rich_bar(stream: TextIO, label: str) -> Iterator[Progress]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(file=stream),
        transient=True,
    )
    task = bar.add_task(label, total=None)

    def update(done: int, total: int | None) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update


class _PlainProgress:
    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.started = time.monotonic()
        self.reported = 0

    def __call__(self, done: int, total: int | None) -> None:
        if total:
            tenth = done * 10 // total
            if tenth <= self.reported and done != total:
                return
            if done == total and self.reported == 10:
                return
            self.reported = tenth
            share = f" ({done * 100 // total}%)"
            of = f" of {total:,}"
        else:
            if done % _UNKNOWN_TOTAL_STEP:
                return
            share = of = ""
        elapsed = time.monotonic() - self.started
        print(
            f"forecast: {done:,}{of} {self.label}{share}, {elapsed:.1f} s",
            file=self.stream,
            flush=True,
        )
