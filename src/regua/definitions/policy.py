"""Policy: quiet hours and frequency caps that protect the customer from over-messaging.

Policy applies to marketing steps; service steps (a delivery window) wait out its quiet
hours only; transactional steps (an order confirmation, a password reset) bypass it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time, timedelta
from typing import TYPE_CHECKING

from dateutil.relativedelta import relativedelta
from pydantic import Field, model_validator

from regua.definitions.durations import Duration, PositiveDuration
from regua.definitions.fields import DefinitionModel, TimeOfDay

__all__ = ["FrequencyCap", "Policy", "QuietHours"]


class QuietHours(DefinitionModel):
    """A daily window, in the contact's local time, when no marketing message is sent.

    The window may cross midnight: ``QuietHours(start=time(21), end=time(8))`` is quiet from
    21:00 to 08:00. A message due inside it is deferred to the instant the window ends in the
    contact's local time on that date.
    """

    start: TimeOfDay
    end: TimeOfDay

    if TYPE_CHECKING:  # the accepted input types, for type checkers of user code

        def __init__(self, *, start: time | str, end: time | str) -> None: ...

    @model_validator(mode="after")
    def _check_ends(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError(
                f"quiet hours start and end at the same time ({self.start.isoformat('minutes')}):"
                " the window would be empty or the whole day; give two different times"
            )
        return self

    @property
    def crosses_midnight(self) -> bool:
        """True when the window runs past midnight (start later than end)."""
        return self.start > self.end


class FrequencyCap(DefinitionModel):
    """At most `max` marketing messages per rolling window `per` (counted in UTC instants).

    On a `Policy` it counts every channel of the cadence; on a `Channel` it counts that
    channel only. A step over the cap is deferred until a slot frees up, or skipped when the
    step says ``on_cap="skip"``.
    """

    max: int = Field(ge=1, description="Messages allowed in the window; at least 1.")
    per: PositiveDuration

    if TYPE_CHECKING:

        def __init__(
            self, *, max: int, per: Duration | timedelta | relativedelta | str
        ) -> None: ...


class Policy(DefinitionModel):
    """Cadence-wide rules for marketing steps: quiet hours and frequency caps."""

    quiet_hours: QuietHours | None = None
    caps: tuple[FrequencyCap, ...] = ()

    if TYPE_CHECKING:

        def __init__(
            self,
            *,
            quiet_hours: QuietHours | None = None,
            caps: Sequence[FrequencyCap] = (),
        ) -> None: ...
