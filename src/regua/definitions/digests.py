"""Digests: one message for the events of a kind that arrive within a window.

``Step(..., trigger=on_event("order_shipped"), digest=Digest("2h"))`` sends one message for
every ``order_shipped`` of the two hours after the first one, instead of one per event. The
window opens with the first event that no earlier digest holds and closes `window` after it,
or at the first local `until` time after it (``Digest(until=time(18))``: "until 18:00"), or,
with both, at the first `until` time at least `window` after it. In YAML::

    digest: {window: 2h}
    digest: {until: "18:00"}
    digest: {window: 1h, until: "18:00"}

See ``docs/digests.md`` for how events join a digest that waits (quiet hours, caps) and how
the digest is keyed.
"""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from regua.definitions.durations import PositiveDuration
from regua.definitions.fields import DefinitionModel, TimeOfDay
from regua.errors import ArgumentTypeError

__all__ = ["Digest"]


class Digest(DefinitionModel):
    """Collect a step's triggering events into one message per window.

    >>> from datetime import time
    >>> str(Digest("2h")), str(Digest(until=time(18))), str(Digest("1h", until=time(18)))
    ('2h', 'until 18:00', '1h, then until 18:00')

    Attributes:
        window: How long the window stays open after its first event (elapsed time for
            hours and minutes, calendar time for days, as every duration).
        until: Close the window at the first local wall-clock time `until` after the first
            event (after `window`, when both are given), in the contact's timezone.

    """

    window: PositiveDuration | None = None
    until: TimeOfDay | None = None

    def __init__(self, window: Any = None, /, **data: Any) -> None:
        if window is not None:
            if "window" in data:
                raise ArgumentTypeError("window given both positionally and as a keyword")
            data["window"] = window
        super().__init__(**data)

    @model_validator(mode="after")
    def _check_digest(self) -> Digest:
        if self.window is None and self.until is None:
            raise ValueError(
                "a digest needs a 'window' (e.g. '2h'), an 'until' time of day (e.g. '18:00'), "
                "or both"
            )
        return self

    def __str__(self) -> str:
        until = None if self.until is None else f"until {self.until.strftime('%H:%M')}"
        if self.window is None:
            return str(until)
        return str(self.window) if until is None else f"{self.window}, then {until}"
