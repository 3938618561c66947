"""Evaluating conditions: each condition tree is compiled once into a closure.

A condition is evaluated *as of* an instant (the occurrence's due instant): events later
than that instant do not count, so a late tick reaches the same verdict as a punctual one.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from regua.definitions.conditions import (
    All,
    AnyOf,
    Clicked,
    Compare,
    Condition,
    HasEvent,
    Not,
    Opened,
)
from regua.errors import InvalidRecordError, personal_value
from regua.planning.calendar import shift
from regua.planning.history import History
from regua.records import CLICKED, OPENED, Contact

__all__ = ["Context", "Predicate", "compile_condition"]


@attrs.frozen(slots=True)
class Context:
    """What a condition is evaluated against.

    Attributes:
        contact: The contact.
        history: The contact's indexed history.
        at: The instant the condition is evaluated as of.
        tz: The contact's timezone (for calendar windows such as ``within="30d"``).
        lineage: For occurrences fired by ``after_step``: step name -> occurrence key of
            the delivery in the chain, so that ``opened("welcome")`` means *that* welcome.

    """

    contact: Contact
    history: History
    at: datetime
    tz: ZoneInfo
    lineage: Mapping[str, str]


Predicate = Callable[[Context], bool]

_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_MISSING = object()


def compile_condition(condition: Condition) -> Predicate:
    """Turn a condition tree into a fast predicate over a `Context`."""
    if isinstance(condition, All):
        parts = [compile_condition(c) for c in condition.all]
        return lambda ctx: all(part(ctx) for part in parts)
    if isinstance(condition, AnyOf):
        parts = [compile_condition(c) for c in condition.any]
        return lambda ctx: any(part(ctx) for part in parts)
    if isinstance(condition, Not):
        inner = compile_condition(condition.condition)
        return lambda ctx: not inner(ctx)
    if isinstance(condition, Compare):
        return _compile_compare(condition)
    if isinstance(condition, HasEvent):
        name, within = condition.has_event, condition.within

        def has(ctx: Context) -> bool:
            since = None if within is None else shift(ctx.at, -within, ctx.tz)
            return ctx.history.has(name, since=since, until=ctx.at)

        return has
    if isinstance(condition, (Opened, Clicked)):
        kind = OPENED if isinstance(condition, Opened) else CLICKED
        step = condition.opened if isinstance(condition, Opened) else condition.clicked
        return lambda ctx: _engaged(ctx, kind, step)
    raise TypeError(f"unknown condition node {type(condition).__name__}")


def _engaged(ctx: Context, kind: str, step: str) -> bool:
    key = ctx.lineage.get(step)
    if key is not None:
        return ctx.history.engaged(kind, key, ctx.at)
    return ctx.history.step_engaged(kind, step, ctx.at)


def _compile_compare(node: Compare) -> Predicate:
    op, expected = node.op, node.value
    subject: Callable[[Context], Any]
    if node.attr is not None:
        name = node.attr
        if op == "exists":
            return lambda ctx: ctx.contact.attributes.get(name) is not None

        def subject(ctx: Context) -> Any:
            return ctx.contact.attributes.get(name, _MISSING)

        label = f"attribute {name!r}"
    else:
        event, within = node.event_count, node.within
        assert event is not None

        def subject(ctx: Context) -> Any:
            since = None if within is None else shift(ctx.at, -within, ctx.tz)
            return ctx.history.count(event, since=since, until=ctx.at)

        label = f"event_count({event!r})"

    def check(ctx: Context) -> bool:
        actual = subject(ctx)
        if actual is _MISSING or actual is None:
            return False
        if op == "==":
            return bool(actual == expected)
        if op == "!=":
            return bool(actual != expected)
        if op == "in":
            return actual in (expected if isinstance(expected, tuple) else ())
        try:
            return _ORDERING[op](actual, expected)
        except TypeError:
            raise InvalidRecordError(
                f"contact {ctx.contact.id!r}: cannot evaluate {node} because {label} is "
                f"{personal_value(actual)}"
            ) from None

    return check
