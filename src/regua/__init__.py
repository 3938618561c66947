"""regua: relationship cadences, computed exactly and delivered safely.

Describe, in code or YAML, when and how a company talks to each customer over the whole
relationship; regua computes which messages are due to whom, when and on which channel.

>>> from datetime import time
>>> from regua import Cadence, Channel, Step, on_event
>>> cadence = Cadence(
...     "onboarding",
...     channels=[Channel("email", cost=0.001)],
...     steps=[Step("welcome", trigger=on_event("signed_up"), delay="2d", at=time(9),
...                 channels=["email"])],
...     timezone="America/Sao_Paulo",
... )
>>> cadence.step("welcome").delay
Duration('2d')
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
from regua.definitions.durations import Duration
from regua.definitions.policy import FrequencyCap, Policy, QuietHours
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
    on_date,
    on_event,
    on_inactivity,
    on_schedule,
)
from regua.errors import InvalidRecordError, MissingDependencyError, ReguaError
from regua.planning.explain import Explanation, explain
from regua.planning.occurrences import Occurrence, OccurrenceState, Plan, Reason
from regua.planning.planner import plan
from regua.records import (
    CLICKED,
    OPENED,
    Contact,
    Delivery,
    DeliveryStatus,
    DueAction,
    Event,
    Snapshot,
    idempotency_key,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "CLICKED",
    "OPENED",
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
    "Contact",
    "DateTrigger",
    "Delivery",
    "DeliveryStatus",
    "DueAction",
    "Duration",
    "Event",
    "EventCountOperand",
    "EventTrigger",
    "Explanation",
    "FrequencyCap",
    "HasEvent",
    "InactivityTrigger",
    "InvalidRecordError",
    "MissingDependencyError",
    "Not",
    "Occurrence",
    "OccurrenceState",
    "Opened",
    "Outcome",
    "Plan",
    "Policy",
    "QuietHours",
    "Reason",
    "ReguaError",
    "Route",
    "ScheduleTrigger",
    "Snapshot",
    "Step",
    "Trigger",
    "__version__",
    "after_step",
    "attr",
    "clicked",
    "event_count",
    "explain",
    "has_event",
    "idempotency_key",
    "on_date",
    "on_event",
    "on_inactivity",
    "on_schedule",
    "opened",
    "plan",
    "schema",
]
