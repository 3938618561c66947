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

The top level holds what nearly every application uses; the rest lives in namespaces, each
with its own ``__all__``:

- `regua.definitions`: trigger and condition classes, `Route`, `Digest`, `Goal`, `Duration`,
  `LoadLimits`, `ChannelKind`, `schema`;
- `regua.records`: `Fold`, `OPENED`, `CLICKED`, `idempotency_key`;
- `regua.ports`: the adapter contract's types (`AsyncSender`, `Backlog`, `Claim`, `Wakeup`,
  `ContactError`, `DIRTY`);
- `regua.senders`, `regua.repositories`: the adapters regua ships;
- `regua.errors`: every exception, the failures a sender raises (`OutcomeUnknown`,
  `Throttled`) and the lookups (`UnknownContactError`, `UnknownStepError`...) included;
- `regua.planning`, `regua.forecasting`, `regua.reporting`, `regua.health`,
  `regua.sharding`, `regua.redaction`;
- `regua.testing`: simulations on a virtual clock (loaded only when imported).

A name that used to be exported here still resolves, with a `DeprecationWarning` naming its
new home.
"""

import importlib
import logging
import warnings
from typing import TYPE_CHECKING, Any

from regua import _exports
from regua.async_scheduler import AsyncScheduler
from regua.definitions.cadence import Cadence
from regua.definitions.channels import Channel
from regua.definitions.conditions import attr, clicked, event_count, has_event, opened
from regua.definitions.policy import DaysOff, FrequencyCap, Policy, QuietHours
from regua.definitions.steps import Step
from regua.definitions.triggers import (
    after_step,
    on_click,
    on_date,
    on_event,
    on_inactivity,
    on_open,
    on_schedule,
)
from regua.errors import PermanentFailure, ReguaError, TemporaryFailure
from regua.folding import fold
from regua.forecasting import forecast
from regua.planning.explain import explain
from regua.planning.occurrences import Plan
from regua.planning.planner import plan, plan_contact
from regua.ports import Message, Repository, Sender
from regua.records import Contact, Delivery, DeliveryStatus, DueAction, Event, Snapshot
from regua.reporting import report
from regua.repositories.memory import InMemoryRepository
from regua.scheduler import RetryPolicy, Scheduler, TickReport
from regua.senders.memory import OutboxSender

if TYPE_CHECKING:
    from regua.repositories.sql import SQLRepository

__version__ = "0.1.0.dev0"

# A library does not configure logging; applications that do see regua's records.
logging.getLogger("regua").addHandler(logging.NullHandler())

__all__ = [
    "AsyncScheduler",
    "Cadence",
    "Channel",
    "Contact",
    "DaysOff",
    "Delivery",
    "DeliveryStatus",
    "DueAction",
    "Event",
    "FrequencyCap",
    "InMemoryRepository",
    "Message",
    "OutboxSender",
    "PermanentFailure",
    "Plan",
    "Policy",
    "QuietHours",
    "ReguaError",
    "Repository",
    "RetryPolicy",
    "SQLRepository",
    "Scheduler",
    "Sender",
    "Snapshot",
    "Step",
    "TemporaryFailure",
    "TickReport",
    "__version__",
    "after_step",
    "attr",
    "clicked",
    "event_count",
    "explain",
    "fold",
    "forecast",
    "has_event",
    "on_click",
    "on_date",
    "on_event",
    "on_inactivity",
    "on_open",
    "on_schedule",
    "opened",
    "plan",
    "plan_contact",
    "report",
]

# Names once exported here, and the public module that exports them now.
_MOVED = {
    "AfterStepTrigger": "regua.definitions",
    "All": "regua.definitions",
    "AnyOf": "regua.definitions",
    "AttrOperand": "regua.definitions",
    "ChannelKind": "regua.definitions",
    "Clicked": "regua.definitions",
    "Compare": "regua.definitions",
    "Condition": "regua.definitions",
    "DateTrigger": "regua.definitions",
    "Digest": "regua.definitions",
    "Duration": "regua.definitions",
    "EventCountOperand": "regua.definitions",
    "EventTrigger": "regua.definitions",
    "Goal": "regua.definitions",
    "HasEvent": "regua.definitions",
    "InactivityTrigger": "regua.definitions",
    "LoadLimits": "regua.definitions",
    "Not": "regua.definitions",
    "Opened": "regua.definitions",
    "Outcome": "regua.definitions",
    "Route": "regua.definitions",
    "ScheduleTrigger": "regua.definitions",
    "Trigger": "regua.definitions",
    "schema": "regua.definitions",
    "FoldTooShallow": "regua.errors",
    "InvalidRecordError": "regua.errors",
    "LoadError": "regua.errors",
    "MissingDependencyError": "regua.errors",
    "Assumptions": "regua.forecasting",
    "ChannelFailure": "regua.forecasting",
    "EventRate": "regua.forecasting",
    "Forecast": "regua.forecasting",
    "ForecastDiff": "regua.forecasting",
    "ForecastRow": "regua.forecasting",
    "PeakDay": "regua.forecasting",
    "forecast_diff": "regua.forecasting",
    "Health": "regua.health",
    "Explanation": "regua.planning",
    "Occurrence": "regua.planning",
    "OccurrenceState": "regua.planning",
    "Reason": "regua.planning",
    "AsyncSender": "regua.ports",
    "Backlog": "regua.ports",
    "Claim": "regua.ports",
    "ContactError": "regua.ports",
    "DIRTY": "regua.ports",
    "OutcomeUnknown": "regua.errors",
    "Throttled": "regua.errors",
    "UnknownContactError": "regua.errors",
    "Wakeup": "regua.ports",
    "CLICKED": "regua.records",
    "Fold": "regua.records",
    "OPENED": "regua.records",
    "idempotency_key": "regua.records",
    "redact": "regua.redaction",
    "Report": "regua.reporting",
    "ReportRow": "regua.reporting",
    "wilson_interval": "regua.reporting",
    "AsyncWebhookSender": "regua.senders",
    "ConsoleSender": "regua.senders",
    "RateLimited": "regua.senders",
    "RenderedEmail": "regua.senders",
    "SMTPSender": "regua.senders",
    "WebhookSender": "regua.senders",
    "Shard": "regua.sharding",
}

# The public modules, in the order they claim what they export: a class or function reports
# the first one that exports it as its `__module__`.
_NAMESPACES = (
    "regua.definitions",
    "regua.records",
    "regua.errors",
    "regua.ports",
    "regua.planning",
    "regua.senders",
    "regua.repositories",
    "regua.forecasting",
    "regua.reporting",
    "regua.health",
    "regua.sharding",
    "regua.redaction",
)

_exports.publish(__name__, [globals()[name] for name in __all__ if name in globals()])
for _namespace in _NAMESPACES:
    _names = vars(importlib.import_module(_namespace))
    # vars(), not getattr(): a name that needs an optional extra stays unimported.
    _exports.publish(_namespace, [_names[name] for name in _names["__all__"] if name in _names])
del _namespace, _names


def __getattr__(name: str) -> Any:
    # SQLRepository needs the `sql` extra; import it only when asked for.
    if name == "SQLRepository":
        from regua.repositories.sql import SQLRepository

        return SQLRepository
    home = _MOVED.get(name)
    if home is None:
        raise AttributeError(f"module 'regua' has no attribute {name!r}")
    warnings.warn(
        f"regua.{name} is deprecated; import it from {home}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(home), name)


def __dir__() -> list[str]:
    return list(__all__)
