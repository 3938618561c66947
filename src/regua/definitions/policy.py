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

    def covers(self, wall_time: time) -> bool:
        """Whether a local wall time is inside the window: from `start` (included) to `end`.

        >>> from datetime import time
        >>> night = QuietHours(start=time(21), end=time(8))
        >>> night.covers(time(23, 30)), night.covers(time(7, 59)), night.covers(time(8))
        (True, True, False)
        """
        if self.crosses_midnight:
            return wall_time >= self.start or wall_time < self.end
        return self.start <= wall_time < self.end


class FrequencyCap(DefinitionModel):
    """At most `max` marketing messages per window `per`.

    The window rolls (counted in UTC instants: any `per` of elapsed time), or, with
    ``calendar=True``, is the contact's local calendar day (``per="1d"``), week (``"7d"``,
    Monday to Sunday) or month (``"1mo"``): "one a day" then means one per date, the slot
    freeing up at the next local midnight rather than 24 hours after the send.

    On a `Policy` it counts every channel of the cadence; on a `Channel` it counts that
    channel only. A step over the cap is deferred until a slot frees up, or skipped when the
    step says ``on_cap="skip"``.

    With ``scope="contact"`` it counts the contact's marketing messages from every cadence
    planned together (a scheduler's cadences), not only this cadence's: two cadences that
    each declare ``FrequencyCap(max=1, per="1d", scope="contact")`` send one marketing
    message a day between them, the one with the highest step priority first. A cadence
    without such a cap is not held by it, but its marketing messages count towards it.
    """

    max: int = Field(ge=1, description="Messages allowed in the window; at least 1.")
    per: PositiveDuration
    calendar: bool = Field(
        default=False,
        description=(
            "Count per local calendar day ('1d'), week ('7d', Monday to Sunday) or month "
            "('1mo') instead of a rolling window."
        ),
    )
    scope: Literal["cadence", "contact"] = Field(
        default="cadence",
        description=(
            "'cadence' counts this cadence's messages; 'contact' counts the contact's marketing "
            "messages from every cadence planned together."
        ),
    )

    @model_validator(mode="after")
    def _calendar_period(self) -> FrequencyCap:
        if self.calendar and self.period is None:
            raise ValueError(
                f"a calendar cap counts per local day ('1d'), week ('7d') or month ('1mo'), "
                f"not per {self.per}"
            )
        return self

    @property
    def period(self) -> Literal["day", "week", "month"] | None:
        """The calendar period of a ``calendar=True`` cap; None for a rolling one."""
        if not self.calendar:
            return None
        per = self.per
        shape = (per.months, per.days, per.seconds)
        return {(0, 1, 0): "day", (0, 7, 0): "week", (1, 0, 0): "month"}.get(shape)  # type: ignore[return-value]

    if TYPE_CHECKING:

        def __init__(
            self,
            *,
            max: int,
            per: Duration | timedelta | relativedelta | str,
            calendar: bool = False,
            scope: Literal["cadence", "contact"] = "cadence",
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
