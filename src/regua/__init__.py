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

import logging
from typing import TYPE_CHECKING, Any

from regua.async_scheduler import AsyncScheduler
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
from regua.errors import (
    FoldTooShallow,
    InvalidRecordError,
    LoadError,
    MissingDependencyError,
    NotFoundError,
    OutcomeUnknown,
    PermanentFailure,
    ReguaError,
    TemporaryFailure,
    Throttled,
    UnknownCadenceError,
    UnknownContactError,
    UnknownStepError,
)
from regua.folding import fold
from regua.forecasting import (
    Assumptions,
    ChannelFailure,
    EventRate,
    Forecast,
    ForecastDiff,
    ForecastRow,
    PeakDay,
    forecast,
    forecast_diff,
)
from regua.health import Health
from regua.planning.explain import Explanation, explain
from regua.planning.occurrences import Occurrence, OccurrenceState, Plan, Reason
from regua.planning.planner import plan, plan_contact
from regua.ports import (
    DIRTY,
    AsyncSender,
    Backlog,
    Claim,
    ContactError,
    Message,
    Repository,
    Sender,
    Wakeup,
)
from regua.records import (
    CLICKED,
    OPENED,
    Contact,
    Delivery,
    DeliveryStatus,
    DueAction,
    Event,
    Fold,
    Snapshot,
    idempotency_key,
)
from regua.redaction import redact
from regua.reporting import Report, ReportRow, report, wilson_interval
from regua.repositories.memory import InMemoryRepository
from regua.scheduler import RetryPolicy, Scheduler, TickReport
from regua.senders import ConsoleSender, OutboxSender, RateLimited, RenderedEmail, SMTPSender
from regua.sharding import Shard

if TYPE_CHECKING:
    from regua.repositories.sql import SQLRepository
    from regua.senders.webhook import AsyncWebhookSender, WebhookSender

__version__ = "0.1.0.dev0"

# A library does not configure logging; applications that do see regua's records.
logging.getLogger("regua").addHandler(logging.NullHandler())


def __getattr__(name: str) -> Any:
    # These need optional extras (`sql`, `http`); import them only when asked for.
    if name == "SQLRepository":
        from regua.repositories.sql import SQLRepository

        return SQLRepository
    if name == "WebhookSender":
        from regua.senders.webhook import AsyncWebhookSender, WebhookSender

        return WebhookSender
    if name == "AsyncWebhookSender":
        from regua.senders.webhook import AsyncWebhookSender

        return AsyncWebhookSender
    raise AttributeError(f"module 'regua' has no attribute {name!r}")


__all__ = [
    "CLICKED",
    "DIRTY",
    "OPENED",
    "AfterStepTrigger",
    "All",
    "AnyOf",
    "Assumptions",
    "AsyncScheduler",
    "AsyncSender",
    "AsyncWebhookSender",
    "AttrOperand",
    "Backlog",
    "Cadence",
    "Channel",
    "ChannelFailure",
    "ChannelKind",
    "Claim",
    "Clicked",
    "Compare",
    "Condition",
    "ConsoleSender",
    "Contact",
    "ContactError",
    "DateTrigger",
    "DaysOff",
    "Delivery",
    "DeliveryStatus",
    "Digest",
    "DueAction",
    "Duration",
    "Event",
    "EventCountOperand",
    "EventRate",
    "EventTrigger",
    "Explanation",
    "Fold",
    "FoldTooShallow",
    "Forecast",
    "ForecastDiff",
    "ForecastRow",
    "FrequencyCap",
    "Goal",
    "HasEvent",
    "Health",
    "InMemoryRepository",
    "InactivityTrigger",
    "InvalidRecordError",
    "LoadError",
    "LoadLimits",
    "Message",
    "MissingDependencyError",
    "Not",
    "NotFoundError",
    "Occurrence",
    "OccurrenceState",
    "Opened",
    "OutboxSender",
    "Outcome",
    "OutcomeUnknown",
    "PeakDay",
    "PermanentFailure",
    "Plan",
    "Policy",
    "QuietHours",
    "RateLimited",
    "Reason",
    "ReguaError",
    "RenderedEmail",
    "Report",
    "ReportRow",
    "Repository",
    "RetryPolicy",
    "Route",
    "SMTPSender",
    "SQLRepository",
    "ScheduleTrigger",
    "Scheduler",
    "Sender",
    "Shard",
    "Snapshot",
    "Step",
    "TemporaryFailure",
    "Throttled",
    "TickReport",
    "Trigger",
    "UnknownCadenceError",
    "UnknownContactError",
    "UnknownStepError",
    "Wakeup",
    "WebhookSender",
    "__version__",
    "after_step",
    "attr",
    "clicked",
    "event_count",
    "explain",
    "fold",
    "forecast",
    "forecast_diff",
    "has_event",
    "idempotency_key",
    "on_click",
    "on_date",
    "on_event",
    "on_inactivity",
    "on_open",
    "on_schedule",
    "opened",
    "plan",
    "plan_contact",
    "redact",
    "report",
    "schema",
    "wilson_interval",
]
