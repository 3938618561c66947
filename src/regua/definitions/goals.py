"""Goals: the event a cadence or a step aims at, within a window after each message.

A goal says what success looks like (``order_placed`` within 7 days of the message). It is
measured by `regua.report` (conversions per step and variant) and, unless ``exit=False``,
reaching it ends the journey: the occurrences of the journey not yet sent are cancelled with
the reason ``goal_reached``. In YAML::

    goal: {event: order_placed, within: 7d}
    goal: {event: order_status, where: {status: paid}, within: 3d, exit: false}
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from regua.definitions.conditions import Scalar
from regua.definitions.durations import PositiveDuration
from regua.definitions.fields import DefinitionModel, Name
from regua.definitions.triggers import where_matches
from regua.errors import ArgumentTypeError

__all__ = ["Goal"]


class Goal(DefinitionModel):
    """An event that counts as a conversion when it happens within `within` after a message.

    >>> goal = Goal("order_placed", within="7d")
    >>> goal.matches("order_placed", {"total": 80})
    True

    Attributes:
        event: The goal event's name.
        within: How long after a message (its send instant) the event still counts for it.
        where: Filters on the event's data, as for ``on_event(..., where=...)``.
        exit: When True (the default), reaching the goal ends the journey: its occurrences
            not yet sent are cancelled (reason ``goal_reached``). False only measures.

    """

    event: Name
    within: PositiveDuration
    where: dict[str, Scalar | tuple[Scalar, ...]] = Field(default_factory=dict)
    exit: bool = True

    def __init__(self, event: str | None = None, /, **data: Any) -> None:
        if event is not None:
            if "event" in data:
                raise ArgumentTypeError("event given both positionally and as a keyword")
            data["event"] = event
        if data.get("where") is None:
            data.pop("where", None)
        super().__init__(**data)

    def matches(self, name: str, data: dict[str, Any]) -> bool:
        """True when an event with this name and data reaches the goal."""
        return name == self.event and where_matches(self.where, data)

    def __str__(self) -> str:
        where = f" where {self.where}" if self.where else ""
        return f"{self.event!r}{where} within {self.within}"
