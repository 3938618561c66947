"""Conditions: an inspectable expression tree over a contact's attributes and history.

Build conditions with the builders and combine them with ``&``, ``|`` and ``~``::

    (attr("tier") == "gold") & (event_count("order_delivered", within="1y") >= 3)
    attr("tier").in_(["gold", "platinum"]) | ~opened("welcome")

The result is data, not a lambda: it can be printed, serialised to YAML/JSON, linted, and
asked which contact attributes it reads. In YAML each node is a small mapping::

    when:
      all:
        - {attr: tier, op: ==, value: gold}
        - {event_count: order_delivered, within: 1y, op: '>=', value: 3}
        - not: {opened: welcome}

Conditions are evaluated by the planner when an occurrence becomes due, not when it was
triggered.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from regua.definitions.durations import PositiveDuration
from regua.errors import ArgumentTypeError

__all__ = [
    "All",
    "AnyOf",
    "AttrOperand",
    "Clicked",
    "Compare",
    "Condition",
    "ConditionType",
    "EventCountOperand",
    "HasEvent",
    "Not",
    "Opened",
    "attr",
    "clicked",
    "event_count",
    "has_event",
    "opened",
]

Scalar = str | int | float | bool | None
"""A value a condition compares against: a JSON scalar."""

CompareOp = Literal["==", "!=", "<", "<=", ">", ">=", "in", "exists"]


class Condition(BaseModel):
    """Base of every condition node; combine nodes with ``&``, ``|`` and ``~``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def __and__(self, other: Condition) -> All:
        _require_condition(other, "&")
        left = self.all if isinstance(self, All) else (self,)
        right = other.all if isinstance(other, All) else (other,)
        return All(all=(*left, *right))

    def __or__(self, other: Condition) -> AnyOf:
        _require_condition(other, "|")
        left = self.any if isinstance(self, AnyOf) else (self,)
        right = other.any if isinstance(other, AnyOf) else (other,)
        return AnyOf(any=(*left, *right))

    def __invert__(self) -> Condition:
        if isinstance(self, Not):
            return self.condition
        return Not(condition=cast(ConditionType, self))

    def __bool__(self) -> bool:
        raise ArgumentTypeError(
            f"the condition {self} has no truth value of its own: combine conditions with "
            "&, | and ~ (not `and`, `or`, `not`), and write ranges as (x > 1) & (x < 5)"
        )

    def attributes_used(self) -> frozenset[str]:
        """The contact attributes this condition reads."""
        return frozenset()

    def children(self) -> tuple[Condition, ...]:
        """The direct sub-conditions of this node (empty for a leaf)."""
        return ()

    def walk(self) -> Iterable[Condition]:
        """This node and every node below it, depth first."""
        yield self
        for child in self.children():
            yield from child.walk()


def _require_condition(other: object, operator: str) -> None:
    if not isinstance(other, Condition):
        raise ArgumentTypeError(
            f"cannot combine a condition with {type(other).__name__} {other!r} using "
            f"{operator!r}: both sides must be conditions (did you forget parentheses "
            "around a comparison, e.g. (attr('x') == 1) & (attr('y') == 2)?)"
        )


class Compare(Condition):
    """Compare a contact attribute, or a count of events, with a value.

    Exactly one of `attr` and `event_count` names the subject. ``op="in"`` takes a list
    of values; ``op="exists"`` (attributes only) is true when the attribute is present and
    not null. A comparison with a missing attribute is false (``!=`` included).
    """

    attr: str | None = None
    event_count: str | None = None
    within: PositiveDuration | None = None
    op: CompareOp
    value: Scalar | tuple[Scalar, ...] = None

    @model_validator(mode="after")
    def _check_shape(self) -> Compare:
        if (self.attr is None) == (self.event_count is None):
            raise ValueError("a comparison needs exactly one of 'attr' and 'event_count'")
        if self.within is not None and self.event_count is None:
            raise ValueError("'within' applies to 'event_count' only")
        if self.op == "in":
            if not isinstance(self.value, tuple):
                raise ValueError("op 'in' needs a list of values")
        elif isinstance(self.value, tuple):
            raise ValueError(f"op {self.op!r} compares with one value, not a list")
        if self.op == "exists":
            if self.attr is None:
                raise ValueError("op 'exists' applies to 'attr' only")
            if self.value is not None:
                raise ValueError("op 'exists' takes no value")
        elif self.op != "in" and self.value is None and self.op not in ("==", "!="):
            raise ValueError(f"op {self.op!r} needs a value")
        if self.event_count is not None and not all(
            isinstance(value, int) and not isinstance(value, bool)
            for value in (self.value if isinstance(self.value, tuple) else (self.value,))
        ):
            raise ValueError("an event count compares with a whole number")
        return self

    def attributes_used(self) -> frozenset[str]:
        """The attribute compared, if the subject is an attribute."""
        return frozenset() if self.attr is None else frozenset({self.attr})

    def __str__(self) -> str:
        if self.attr is not None:
            subject = f"attr({self.attr!r})"
        else:
            within = f", within={str(self.within)!r}" if self.within is not None else ""
            subject = f"event_count({self.event_count!r}{within})"
        if self.op == "exists":
            return f"{subject}.exists()"
        if self.op == "in":
            return f"{subject}.in_({list(self.value) if isinstance(self.value, tuple) else []!r})"
        return f"{subject} {self.op} {self.value!r}"


class HasEvent(Condition):
    """True when the contact has at least one event of this name (within a window)."""

    has_event: str
    within: PositiveDuration | None = None

    def __str__(self) -> str:
        within = f", within={str(self.within)!r}" if self.within is not None else ""
        return f"has_event({self.has_event!r}{within})"


class Opened(Condition):
    """True when a delivery of the named step was opened.

    When the occurrence being evaluated was triggered by that step (``after_step``), the
    delivery that triggered it is the one that counts; otherwise any delivery of the step.
    """

    opened: str

    def __str__(self) -> str:
        return f"opened({self.opened!r})"


class Clicked(Condition):
    """True when a delivery of the named step was clicked (same rule as `Opened`)."""

    clicked: str

    def __str__(self) -> str:
        return f"clicked({self.clicked!r})"


class All(Condition):
    """True when every sub-condition is true (``a & b``)."""

    all: tuple[ConditionType, ...] = Field(min_length=1)

    def children(self) -> tuple[Condition, ...]:
        """The conjoined conditions."""
        return tuple(self.all)

    def attributes_used(self) -> frozenset[str]:
        """Union of what the sub-conditions read."""
        return frozenset().union(*(c.attributes_used() for c in self.all))

    def __str__(self) -> str:
        return " & ".join(_wrap(c) for c in self.all)


class AnyOf(Condition):
    """True when at least one sub-condition is true (``a | b``); YAML key ``any``."""

    any: tuple[ConditionType, ...] = Field(min_length=1)

    def children(self) -> tuple[Condition, ...]:
        """The alternatives."""
        return tuple(self.any)

    def attributes_used(self) -> frozenset[str]:
        """Union of what the sub-conditions read."""
        return frozenset().union(*(c.attributes_used() for c in self.any))

    def __str__(self) -> str:
        return " | ".join(_wrap(c) for c in self.any)


class Not(Condition):
    """True when the sub-condition is false (``~a``); YAML key ``not``."""

    condition: ConditionType = Field(alias="not")

    def children(self) -> tuple[Condition, ...]:
        """The negated condition."""
        return (self.condition,)

    def attributes_used(self) -> frozenset[str]:
        """What the negated condition reads."""
        return self.condition.attributes_used()

    def __str__(self) -> str:
        return f"~{_wrap(self.condition)}"


def _wrap(condition: Condition) -> str:
    text = str(condition)
    return f"({text})" if isinstance(condition, (All, AnyOf, Compare)) else text


_TAGS = ("all", "any", "not", "has_event", "opened", "clicked")
_TAG_OF_CLASS: dict[type[Condition], str] = {
    All: "all",
    AnyOf: "any",
    Not: "not",
    HasEvent: "has_event",
    Opened: "opened",
    Clicked: "clicked",
    Compare: "compare",
}


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        for tag in _TAGS:
            if tag in value:
                return tag
        if "attr" in value or "event_count" in value:
            return "compare"
        return None
    return _TAG_OF_CLASS.get(type(value))


ConditionType = Annotated[
    Annotated[Compare, Tag("compare")]
    | Annotated[HasEvent, Tag("has_event")]
    | Annotated[Opened, Tag("opened")]
    | Annotated[Clicked, Tag("clicked")]
    | Annotated[All, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[Not, Tag("not")],
    Discriminator(
        _condition_tag,
        custom_error_type="condition",
        custom_error_message=(
            "not a condition: expected a mapping with one of the keys attr, event_count, "
            "has_event, opened, clicked, all, any, not"
        ),
    ),
]
"""Any condition node, as a field type (validates from objects or YAML/JSON mappings)."""

for _model in (All, AnyOf, Not):
    _model.model_rebuild()


# --- builders ---------------------------------------------------------------------------------


class _Operand:
    """The left side of a comparison; compare it to get a `Compare` condition."""

    __slots__ = ("_subject",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, **subject: Any) -> None:
        self._subject = subject

    def _compare(self, op: CompareOp, value: Any) -> Compare:
        return Compare(op=op, value=value, **self._subject)

    def __eq__(self, value: object) -> Compare:  # type: ignore[override]
        return self._compare("==", value)

    def __ne__(self, value: object) -> Compare:  # type: ignore[override]
        return self._compare("!=", value)

    def __lt__(self, value: object) -> Compare:
        return self._compare("<", value)

    def __le__(self, value: object) -> Compare:
        return self._compare("<=", value)

    def __gt__(self, value: object) -> Compare:
        return self._compare(">", value)

    def __ge__(self, value: object) -> Compare:
        return self._compare(">=", value)

    def in_(self, values: Iterable[Scalar]) -> Compare:
        """True when the subject equals one of `values`."""
        if isinstance(values, (str, bytes)):
            raise ArgumentTypeError(f"in_() takes a list of values, not the string {values!r}")
        return self._compare("in", tuple(values))

    def __bool__(self) -> bool:
        raise ArgumentTypeError(
            "an operand has no truth value: compare it (attr('x') == 1) to make a condition"
        )

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._subject.items())
        return f"{type(self).__name__}({inner})"


class AttrOperand(_Operand):
    """A contact attribute, made by `attr`; compare it, or call `in_` / `exists`."""

    __slots__ = ()

    def exists(self) -> Compare:
        """True when the contact has this attribute and it is not null."""
        return self._compare("exists", None)


class EventCountOperand(_Operand):
    """The number of the contact's events of one name, made by `event_count`."""

    __slots__ = ()


def attr(name: str) -> AttrOperand:
    """A contact attribute, to compare: ``attr("tier") == "gold"``, ``attr("vip").exists()``."""
    return AttrOperand(attr=name)


def event_count(event: str, *, within: Any = None) -> EventCountOperand:
    """How many events of this name the contact has (in the last `within`, if given).

    >>> str(event_count("order_delivered") >= 3)
    "event_count('order_delivered') >= 3"
    """
    subject: dict[str, Any] = {"event_count": event}
    if within is not None:
        subject["within"] = within
    return EventCountOperand(**subject)


def has_event(event: str, *, within: Any = None) -> HasEvent:
    """True when the contact has an event of this name (in the last `within`, if given)."""
    return HasEvent(has_event=event, within=within)


def opened(step: str) -> Opened:
    """True when the contact opened a delivery of `step` (see `Opened`)."""
    return Opened(opened=step)


def clicked(step: str) -> Clicked:
    """True when the contact clicked a delivery of `step` (see `Clicked`)."""
    return Clicked(clicked=step)
