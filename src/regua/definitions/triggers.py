"""Triggers: what makes a step fire for a contact.

Build them with `on_event`, `on_date`, `on_schedule`, `on_inactivity` and `after_step`. In
YAML a trigger is a small mapping whose first key says its kind::

    trigger: {event: order_placed}
    trigger: {date: birth_date, every: year}
    trigger: {date: contract_end, offset: -30d}
    trigger: {schedule: "0 9 * * MON"}
    trigger: {inactivity: 60d, activity: [login, order_placed]}
    trigger: {after_step: apology, outcome: expired}
    trigger: {after_step: apology, outcome: [expired, failed]}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, Discriminator, Field, Tag, field_validator, model_validator
from pydantic_core import PydanticCustomError

from regua.definitions.conditions import Scalar
from regua.definitions.durations import Duration, PositiveDuration
from regua.definitions.fields import DefinitionModel, Name
from regua.definitions.schedules import is_rrule, parse_schedule
from regua.errors import ArgumentTypeError, InvalidArgumentError

__all__ = [
    "AfterStepTrigger",
    "DateTrigger",
    "EventTrigger",
    "InactivityTrigger",
    "Outcome",
    "ScheduleTrigger",
    "Trigger",
    "TriggerType",
    "after_step",
    "on_click",
    "on_date",
    "on_event",
    "on_inactivity",
    "on_open",
    "on_schedule",
    "where_matches",
]

Outcome = Literal["sent", "failed", "expired", "skipped"]
"""How an occurrence of a step ended, as `after_step` can follow it."""

_OUTCOMES: tuple[str, ...] = get_args(Outcome)
_EXPECTED_OUTCOMES = ", ".join(repr(o) for o in _OUTCOMES[:-1]) + f" or {_OUTCOMES[-1]!r}"


class Trigger(DefinitionModel):
    """Base of every trigger."""

    def attributes_used(self) -> frozenset[str]:
        """The contact attributes this trigger reads."""
        return frozenset()


class EventTrigger(Trigger):
    """Fires once per matching event (``on_event("order_placed")``).

    `where` filters on the event's data: each key must equal the given value, or be one of
    the values when a list is given.

    With `of_step` (``on_click("welcome")``, ``on_open("welcome")``), the event is an
    engagement (``"opened"`` or ``"clicked"``) and only those with a message of that step of
    the cadence count: the trigger fires once per message engaged with, at its first open
    or click, however many follow.
    """

    event: Name
    where: dict[str, Scalar | tuple[Scalar, ...]] = Field(default_factory=dict)
    of_step: Name | None = Field(
        default=None,
        description=(
            "With an 'opened' or 'clicked' event: only engagements with a message of this "
            "step count, and each message fires once, at its first."
        ),
    )

    @model_validator(mode="after")
    def _engagement(self) -> EventTrigger:
        if self.of_step is not None and self.event not in ("opened", "clicked"):
            raise ValueError(
                f"of_step ties an engagement to a message: the event must be 'opened' or "
                f"'clicked', not {self.event!r}"
            )
        return self

    def matches(self, name: str, data: dict[str, Any]) -> bool:
        """True when an event with this name and data fires the trigger."""
        return name == self.event and where_matches(self.where, data)


def where_matches(
    where: Mapping[str, Scalar | tuple[Scalar, ...]], data: Mapping[str, Any]
) -> bool:
    """True when event `data` has every key of `where`, equal to its value (or one of them)."""
    for key, expected in where.items():
        if key not in data:
            return False
        actual = data[key]
        if isinstance(expected, tuple):
            if actual not in expected:
                return False
        elif actual != expected:
            return False
    return True


class DateTrigger(Trigger):
    """Fires on a date read from a contact attribute.

    With ``every="year"`` it fires yearly on that month and day (birthdays, sign-up
    anniversaries); a Feb 29 date falls on Feb 28 in common years, or on Mar 1 with
    ``feb29="mar1"``. Without `every` it fires once. `offset` moves the firing before (negative)
    or after the date: ``on_date("contract_end", before="30d")``.
    """

    date: Name
    every: Literal["year"] | None = None
    offset: Duration = Duration()
    feb29: Literal["feb28", "mar1"] = "feb28"

    def attributes_used(self) -> frozenset[str]:
        """The date attribute."""
        return frozenset({self.date})


class ScheduleTrigger(Trigger):
    """Fires on a recurring schedule in the contact's local time.

    `schedule` is a standard five-field cron expression (``"0 9 * * MON"``; when both
    day-of-month and day-of-week are restricted, either matching fires, as crontab(5) says)
    or an RFC 5545 rule (``"RRULE:FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=9;BYMINUTE=0"``). It is
    checked by `regua.definitions.schedules.parse_schedule`: a schedule that could never
    fire, or that names a value out of range, is refused here with the field at fault.
    """

    schedule: str

    @property
    def kind(self) -> Literal["cron", "rrule"]:
        """Whether `schedule` is a cron expression or an RRULE."""
        return "rrule" if is_rrule(self.schedule) else "cron"

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: str) -> str:
        return parse_schedule(value).expression


class InactivityTrigger(Trigger):
    """Fires when the contact has had no activity for `inactivity`.

    Activity is any event whose name is in `activity` (every event when omitted). One
    occurrence per inactive period: new activity re-arms the trigger.
    """

    inactivity: PositiveDuration
    activity: tuple[Name, ...] | None = None

    @field_validator("activity")
    @classmethod
    def _check_activity(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not value:
            raise ValueError("list at least one activity event, or leave 'activity' out")
        return value


def _check_outcomes(value: Any) -> Any:
    """One outcome, or a list of distinct ones; a list of one is that outcome."""
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise PydanticCustomError(
            "outcome", "list at least one outcome ({expected})", {"expected": _EXPECTED_OUTCOMES}
        )
    seen: list[str] = []
    for item in items:
        if not isinstance(item, str) or item not in _OUTCOMES:
            raise PydanticCustomError(
                "outcome",
                "unknown outcome {value}: expected {expected}, or a list of them",
                {"value": repr(item), "expected": _EXPECTED_OUTCOMES},
            )
        if item in seen:
            raise PydanticCustomError(
                "outcome", "outcome {value} is listed twice", {"value": repr(item)}
            )
        seen.append(item)
    return seen[0] if len(seen) == 1 else tuple(seen)


class AfterStepTrigger(Trigger):
    """Fires when an occurrence of another step of the cadence ends with `outcome`.

    ``after_step("welcome")`` follows each sent welcome; ``after_step("apology",
    outcome=["expired", "failed"])`` escalates when the apology did not reach the customer,
    whether it missed its deadline or every channel failed. `outcome` is one outcome or a
    list of several (a list of one is that outcome); one occurrence of the step followed
    ends only once, so it fires the follower at most once either way.
    """

    after_step: Name
    outcome: Annotated[
        Outcome
        | Annotated[
            tuple[Outcome, ...], Field(min_length=1, json_schema_extra={"uniqueItems": True})
        ],
        BeforeValidator(_check_outcomes),
    ] = "sent"

    @property
    def outcomes(self) -> tuple[Outcome, ...]:
        """The outcomes followed, always as a tuple: ``("sent",)`` by default."""
        return (self.outcome,) if isinstance(self.outcome, str) else self.outcome


_TAG_OF_CLASS: dict[type[Trigger], str] = {
    EventTrigger: "event",
    DateTrigger: "date",
    ScheduleTrigger: "schedule",
    InactivityTrigger: "inactivity",
    AfterStepTrigger: "after_step",
}
_TAGS = tuple(_TAG_OF_CLASS.values())


def _trigger_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        found = [tag for tag in _TAGS if tag in value]
        return found[0] if len(found) == 1 else None
    return _TAG_OF_CLASS.get(type(value))


TriggerType = Annotated[
    Annotated[EventTrigger, Tag("event")]
    | Annotated[DateTrigger, Tag("date")]
    | Annotated[ScheduleTrigger, Tag("schedule")]
    | Annotated[InactivityTrigger, Tag("inactivity")]
    | Annotated[AfterStepTrigger, Tag("after_step")],
    Discriminator(
        _trigger_tag,
        custom_error_type="trigger",
        custom_error_message=(
            "not a trigger: expected a mapping with exactly one of the keys event, date, "
            "schedule, inactivity, after_step"
        ),
    ),
]
"""Any trigger, as a field type (validates from objects or YAML/JSON mappings)."""


# --- builders ---------------------------------------------------------------------------------


def on_event(event: str, *, where: dict[str, Any] | None = None) -> EventTrigger:
    """Fire once per event of this name, optionally filtered on its data.

    >>> on_event("order_status", where={"status": "delivered"}).event
    'order_status'
    """
    return EventTrigger(event=event, where=where or {})


def on_open(step: str) -> EventTrigger:
    """Fire once per message of `step` the contact opened, at its first open.

    >>> on_open("welcome").of_step
    'welcome'
    """
    return EventTrigger(event="opened", of_step=step)


def on_click(step: str) -> EventTrigger:
    """Fire once per message of `step` the contact clicked, at its first click.

    ``Step("next_tip", trigger=on_click("welcome"), delay="1d", ...)``: a click on *this*
    welcome leads on; a click on any other message, or a second click on it, does not.
    """
    return EventTrigger(event="clicked", of_step=step)


def on_date(
    attribute: str,
    *,
    every: Literal["year"] | None = None,
    before: Any = None,
    after: Any = None,
    feb29: Literal["feb28", "mar1"] = "feb28",
) -> DateTrigger:
    """Fire on the date held by a contact attribute, yearly or once, shifted by an offset.

    ``on_date("birth_date", every="year")`` fires on each birthday;
    ``on_date("contract_end", before="30d")`` fires 30 days before the contract ends.
    """
    if before is not None and after is not None:
        raise ArgumentTypeError("on_date() takes 'before' or 'after', not both")
    offset = Duration()
    if before is not None:
        offset = -_positive(before, "before")
    elif after is not None:
        offset = _positive(after, "after")
    return DateTrigger(date=attribute, every=every, offset=offset, feb29=feb29)


def _positive(value: Any, name: str) -> Duration:
    duration = Duration.parse(value)
    if duration.is_negative:
        raise InvalidArgumentError(f"on_date({name}=...) takes a positive duration, got {duration}")
    return duration


def on_schedule(schedule: str) -> ScheduleTrigger:
    """Fire on a cron expression or RRULE, evaluated in the contact's local time."""
    return ScheduleTrigger(schedule=schedule)


def on_inactivity(period: Any, *, activity: Iterable[str] | None = None) -> InactivityTrigger:
    """Fire after `period` without activity (any event, or only the `activity` events)."""
    return InactivityTrigger(
        inactivity=period, activity=None if activity is None else tuple(activity)
    )


def after_step(step: str, *, outcome: Outcome | Iterable[Outcome] = "sent") -> AfterStepTrigger:
    """Fire when an occurrence of `step` ends with `outcome` (sent, failed, expired, skipped).

    `outcome` may list several: ``after_step("apology", outcome=["expired", "failed"])``
    fires once for each apology that did not reach the customer, however it ended.

    >>> after_step("apology", outcome=["expired", "failed"]).outcomes
    ('expired', 'failed')
    >>> after_step("apology", outcome="expired").outcome
    'expired'
    """
    value: Any = outcome
    if not isinstance(value, (str, list, tuple)) and isinstance(value, Iterable):
        value = tuple(value)  # a set, a generator: validation checks the items
    return AfterStepTrigger(after_step=step, outcome=value)
