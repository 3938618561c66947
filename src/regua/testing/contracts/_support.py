"""What the contract suites share: failures that name the broken rule, and threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

_R = TypeVar("_R")


def _expect(actual: object, expected: object, rule: str) -> None:
    """Fail naming the broken `rule`, with both values.

    pytest shows the values of a plain ``assert`` in a library module only when that module
    is registered for assertion rewriting (regua's pytest plugin does it for this package,
    but a run without the plugin does not), so the values are spelled out here.
    """
    __tracebackhide__ = True
    if actual == expected:
        return
    lines = [rule, f"  expected: {_short(expected)}", f"  actual:   {_short(actual)}"]
    if isinstance(actual, list) and isinstance(expected, list):
        if len(actual) != len(expected):
            lines.append(f"  length: expected {len(expected)}, actual {len(actual)}")
        for index, (got, wanted) in enumerate(zip(actual, expected, strict=False)):
            if got != wanted:
                lines.append(f"  first difference, at [{index}]:")
                lines.append(f"    expected: {_short(wanted)}")
                lines.append(f"    actual:   {_short(got)}")
                break
    pytest.fail("\n".join(lines))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 1500 else f"{text[:1500]}... ({len(text)} characters)"


def _in_threads(count: int, work: Callable[[int], _R]) -> list[_R]:
    """Run ``work(0)`` ... ``work(count - 1)`` in threads released together; re-raise errors."""
    # Bounds for a hung adapter only: generous, so that a loaded machine never reaches them.
    barrier = threading.Barrier(count, timeout=60)
    results: dict[int, _R] = {}
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except BaseException as exc:  # re-raised in the test's own thread below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if failures:
        raise failures[0]
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish in 120 s"
    return [results[index] for index in range(count)]
