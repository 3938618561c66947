"""The definition layer: cadences, steps, triggers, conditions, channels and policy.

Pure data (pydantic v2, frozen), validated at construction and serialisable to YAML/JSON.
What nearly every cadence uses (`Cadence`, `Step`, `Channel`, `Policy`, the trigger and
condition helpers) is also exported from `regua`; the trigger and condition classes those
helpers build, `Route`, `Digest`, `Goal`, `Duration`, `LoadLimits`, `ChannelKind` and
`schema` are imported from here:

>>> from regua.definitions import Duration, Goal
>>> Goal("ordered", within="7d").within == Duration.parse("7d")
True
"""

from regua.definitions.cadence import Cadence, schema
from regua.definitions.channels import Channel, ChannelKind
from regua.definitions.conditions import (
    All,
    AnyOf,
    AttrOperand,
    Clicked,
    Compare,
    Condition,
    EventCountOperand,
    HasEvent,
    Not,
    Opened,
    attr,
    clicked,
    event_count,
    has_event,
    opened,
)
from regua.definitions.digests import Digest
from regua.definitions.durations import Duration
from regua.definitions.goals import Goal
from regua.definitions.policy import DaysOff, FrequencyCap, Policy, QuietHours
from regua.definitions.steps import Route, Step
from regua.definitions.triggers import (
    AfterStepTrigger,
    DateTrigger,
    EventTrigger,
    InactivityTrigger,
    Outcome,
    ScheduleTrigger,
    Trigger,
    after_step,
    on_click,
    on_date,
    on_event,
    on_inactivity,
    on_open,
    on_schedule,
)
from regua.documents import LoadLimits

__all__ = [
    "AfterStepTrigger",
    "All",
    "AnyOf",
    "AttrOperand",
    "Cadence",
    "Channel",
    "ChannelKind",
    "Clicked",
    "Compare",
    "Condition",
    "DateTrigger",
    "DaysOff",
    "Digest",
    "Duration",
    "EventCountOperand",
    "EventTrigger",
    "FrequencyCap",
    "Goal",
    "HasEvent",
    "InactivityTrigger",
    "LoadLimits",
    "Not",
    "Opened",
    "Outcome",
    "Policy",
    "QuietHours",
    "Route",
    "ScheduleTrigger",
    "Step",
    "Trigger",
    "after_step",
    "attr",
    "clicked",
    "event_count",
    "has_event",
    "on_click",
    "on_date",
    "on_event",
    "on_inactivity",
    "on_open",
    "on_schedule",
    "opened",
    "schema",
]
