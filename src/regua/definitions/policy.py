"""Policy: quiet hours and frequency caps that protect the customer from over-messaging.

Policy applies to marketing steps; service steps (a delivery window) wait out its quiet
hours only; transactional steps (an order confirmation, a password reset) bypass it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time, timedelta
from typing import TYPE_CHECKING, Literal

from dateutil.relativedelta import relativedelta
from pydantic import Field, model_validator

from regua.definitions.durations import Duration, PositiveDuration
from regua.definitions.fields import DefinitionModel, TimeOfDay

__all__ = ["WEEKDAYS", "DaysOff", "FrequencyCap", "Policy", "QuietHours"]

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
"""The weekday names `DaysOff.weekdays` takes, Monday first (`date.weekday()` order)."""

Weekday = Literal["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]


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


class DaysOff(DefinitionModel):
    """Whole days, in the contact's local calendar, when no marketing message is sent.

    >>> from datetime import date
    >>> DaysOff(weekdays=["SUN"], dates=[date(2026, 12, 25)]).covers(date(2026, 12, 27))
    True

    A marketing message due on such a day waits until the next day that is not one, from
    its start (00:00 local; then quiet hours apply: 08:00 with a 21:00-08:00 window). Service
    and transactional messages are not held by days off.

    Attributes:
        weekdays: Weekdays off, by name (``"SUN"``); at least one weekday must stay on.
        dates: Dates off (holidays: ``date(2026, 12, 25)``, ``"2026-11-20"`` in YAML).

    """

    weekdays: tuple[Weekday, ...] = ()
    dates: tuple[date, ...] = ()

    @model_validator(mode="after")
    def _some_day_on(self) -> DaysOff:
        if set(self.weekdays) >= set(WEEKDAYS):
            raise ValueError("every weekday is off, so no marketing message could ever be sent")
        return self

    def covers(self, day: date) -> bool:
        """Whether `day` (a local date) is a day off."""
        return WEEKDAYS[day.weekday()] in self.weekdays or day in self.dates


class Policy(DefinitionModel):
    """Cadence-wide rules for marketing steps: quiet hours, days off and frequency caps."""

    quiet_hours: QuietHours | None = None
    days_off: DaysOff | None = None
    caps: tuple[FrequencyCap, ...] = ()

    if TYPE_CHECKING:

        def __init__(
            self,
            *,
            quiet_hours: QuietHours | None = None,
            days_off: DaysOff | None = None,
            caps: Sequence[FrequencyCap] = (),
        ) -> None: ...
