"""The public namespace: a curated top level, explicit namespaces, and nothing removed silently."""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys
import typing
import warnings
from datetime import datetime, timezone
from importlib import import_module
from types import ModuleType

import pytest

import regua
from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    DueAction,
    Event,
    Step,
    TemporaryFailure,
    on_event,
)
from regua.definitions import Duration, Goal

# What a user of regua's top level can count on; removing one of these is a breaking change.
STABLE = {
    "Cadence",
    "Step",
    "Channel",
    "Policy",
    "QuietHours",
    "FrequencyCap",
    "on_event",
    "on_date",
    "on_schedule",
    "on_inactivity",
    "after_step",
    "attr",
    "event_count",
    "has_event",
    "opened",
    "clicked",
    "Contact",
    "Event",
    "Delivery",
    "DueAction",
    "plan",
    "Scheduler",
    "InMemoryRepository",
}

# The whole top level: what nearly every application uses. Adding a name is a decision.
CURATED = STABLE | {
    "AsyncScheduler",
    "DaysOff",
    "DeliveryStatus",
    "Message",
    "OutboxSender",
    "PermanentFailure",
    "Plan",
    "ReguaError",
    "Repository",
    "RetryPolicy",
    "SQLRepository",
    "Sender",
    "Snapshot",
    "TemporaryFailure",
    "TickReport",
    "__version__",
    "explain",
    "fold",
    "forecast",
    "on_click",
    "on_open",
    "plan_contact",
    "report",
}

# Exported on first access, because they need an optional extra.
LAZY = {"SQLRepository"}

# Names the top level used to export, and the namespace that exports each one now.
MOVED = {
    **dict.fromkeys(
        [
            "AfterStepTrigger",
            "All",
            "AnyOf",
            "AttrOperand",
            "ChannelKind",
            "Clicked",
            "Compare",
            "Condition",
            "DateTrigger",
            "Digest",
            "Duration",
            "EventCountOperand",
            "EventTrigger",
            "Goal",
            "HasEvent",
            "InactivityTrigger",
            "LoadLimits",
            "Not",
            "Opened",
            "Outcome",
            "Route",
            "ScheduleTrigger",
            "Trigger",
            "schema",
        ],
        "regua.definitions",
    ),
    **dict.fromkeys(["CLICKED", "Fold", "OPENED", "idempotency_key"], "regua.records"),
    **dict.fromkeys(
        [
            "AsyncSender",
            "Backlog",
            "Claim",
            "ContactError",
            "DIRTY",
            "Wakeup",
        ],
        "regua.ports",
    ),
    **dict.fromkeys(
        [
            "FoldTooShallow",
            "InvalidRecordError",
            "LoadError",
            "MissingDependencyError",
            "OutcomeUnknown",
            "Throttled",
            "UnknownContactError",
        ],
        "regua.errors",
    ),
    **dict.fromkeys(
        [
            "Assumptions",
            "ChannelFailure",
            "EventRate",
            "Forecast",
            "ForecastDiff",
            "ForecastRow",
            "PeakDay",
            "forecast_diff",
        ],
        "regua.forecasting",
    ),
    **dict.fromkeys(["Explanation", "Occurrence", "OccurrenceState", "Reason"], "regua.planning"),
    **dict.fromkeys(["Report", "ReportRow", "wilson_interval"], "regua.reporting"),
    **dict.fromkeys(
        [
            "AsyncWebhookSender",
            "ConsoleSender",
            "RateLimited",
            "RenderedEmail",
            "SMTPSender",
            "WebhookSender",
        ],
        "regua.senders",
    ),
    "Health": "regua.health",
    "Shard": "regua.sharding",
    "redact": "regua.redaction",
}

# The public modules below the top level, each with a docstring and an explicit `__all__`.
NAMESPACES = [
    "regua.definitions",
    "regua.records",
    "regua.ports",
    "regua.errors",
    "regua.planning",
    "regua.senders",
    "regua.repositories",
    "regua.forecasting",
    "regua.reporting",
    "regua.health",
    "regua.sharding",
    "regua.redaction",
    "regua.testing",
]

# Packages whose namespace is nothing but what they export (and their submodules).
PACKAGES = [
    "regua.definitions",
    "regua.planning",
    "regua.senders",
    "regua.repositories",
    "regua.forecasting",
]


def _public(module: ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }


def _exported(module: ModuleType) -> list[tuple[str, object]]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return [(name, getattr(module, name)) for name in module.__all__]


def test_the_top_level_is_the_curated_list() -> None:
    assert set(regua.__all__) == CURATED
    assert len(regua.__all__) == len(set(regua.__all__))


def test_all_lists_exactly_the_public_names() -> None:
    # Helpers regua/__init__.py imports for itself.
    own = {"TYPE_CHECKING", "Any", "importlib", "logging", "warnings"}
    assert set(regua.__all__) - {"__version__"} - LAZY == _public(regua) - own


def test_dir_lists_only_the_curated_names() -> None:
    assert dir(regua) == sorted(regua.__all__)


def test_the_top_level_names_resolve_without_a_warning() -> None:
    for name, value in _exported(regua):
        assert value is not None, name
    assert regua.SQLRepository.__name__ == "SQLRepository"


@pytest.mark.parametrize("name", sorted(MOVED))
def test_a_moved_name_still_resolves_with_a_warning_naming_its_new_home(name: str) -> None:
    home = import_module(MOVED[name])
    expected = f"regua.{name} is deprecated; import it from {MOVED[name]}"
    with pytest.warns(DeprecationWarning, match=f"^{expected}$"):
        value = getattr(regua, name)
    assert value is getattr(home, name)
    assert name in home.__all__
    assert name not in dir(regua)


def test_a_moved_name_still_imports_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match="import it from regua.senders"):
        from regua import ConsoleSender  # noqa: F401 - the import under test
    with pytest.raises(AttributeError, match="no attribute 'Nonexistent'"):
        regua.Nonexistent  # noqa: B018 - the attribute access under test


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_every_namespace_exports_documented_names(namespace: str) -> None:
    module = import_module(namespace)
    assert inspect.getdoc(module)
    assert len(module.__all__) == len(set(module.__all__))
    undocumented = [
        name
        for name, value in _exported(module)
        if (inspect.isclass(value) or inspect.isfunction(value)) and not inspect.getdoc(value)
    ]
    assert undocumented == []


@pytest.mark.parametrize("namespace", PACKAGES)
def test_a_namespace_package_lists_every_public_name(namespace: str) -> None:
    module = import_module(namespace)
    lazy = set(module.__all__) - set(vars(module))
    assert set(module.__all__) - lazy == _public(module) - {"TYPE_CHECKING", "Any"}


def _published() -> list[tuple[str, str, object]]:
    found = []
    for namespace in ["regua", *NAMESPACES]:
        module = import_module(namespace)
        found += [
            (namespace, name, value)
            for name, value in _exported(module)
            if inspect.isclass(value) or inspect.isfunction(value)
        ]
    return found


def test_each_class_and_function_names_the_public_module_it_is_imported_from() -> None:
    # What reprs, tracebacks, pickles and the reference show: a module that exports it.
    public = {"regua", *NAMESPACES}
    for namespace, name, value in _published():
        module = typing.cast("str", getattr(value, "__module__", ""))
        if not module.startswith("regua"):
            continue  # re-exported from another library
        assert module in public, f"{namespace}.{name} says {module}"
        assert getattr(import_module(module), value.__qualname__) is value, name
        if namespace == "regua":
            assert module == "regua", name


def test_examples_of_the_public_paths() -> None:
    from regua.senders import SMTPSender, WebhookSender

    assert regua.Cadence.__module__ == "regua"
    assert repr(regua.Contact) == "<class 'regua.Contact'>"
    assert SMTPSender.__module__ == "regua.senders"
    assert WebhookSender.__module__ == "regua.senders"
    assert regua.SQLRepository.__module__ == "regua"
    assert Duration.__module__ == "regua.definitions"


def test_type_hints_of_published_classes_still_resolve() -> None:
    for _, name, value in _published():
        if inspect.isclass(value):
            typing.get_type_hints(value)  # raises NameError if an annotation is lost
        assert name


def test_records_and_definitions_survive_a_pickle() -> None:
    at = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)
    cadence = Cadence(
        "shop",
        channels=[Channel("email")],
        steps=[Step("welcome", trigger=on_event("signed_up"), delay="2d", channels=["email"])],
        goal=Goal("ordered", within="7d"),
    )
    delivery = Delivery(
        occurrence_key="shop:welcome:ana:1",
        contact_id="ana",
        cadence="shop",
        step="welcome",
        channel="email",
        status=DeliveryStatus.SENT,
        at=at,
    )
    due = DueAction(
        cadence="shop",
        step="welcome",
        contact_id="ana",
        occurrence_key="shop:welcome:ana:1",
        idempotency_key="k-1",
        due_at=at,
        channel="email",
        fallbacks=("sms",),
        message="welcome",
        payload={"name": "Ana"},
    )
    values = [
        Contact(
            "ana",
            timezone="America/Sao_Paulo",
            attributes={"tier": "gold"},
            consents=frozenset({"email"}),
            addresses={"email": "ana@example.com"},
        ),
        Event("ana", "signed_up", at, data={"cart": [1, 2]}),
        delivery,
        due,
        DeliveryStatus.SENT,
        cadence,
        Duration.parse("2d"),
        TemporaryFailure("try later"),
    ]
    for value in values:
        copy = pickle.loads(pickle.dumps(value))
        assert type(copy) is type(value)
        if isinstance(value, Exception):
            assert copy.args == value.args
        else:
            assert copy == value


def test_import_regua_does_not_load_the_testing_support() -> None:
    code = (
        "import regua, sys; "
        "loaded = [m for m in sys.modules if m.startswith('regua.testing')]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_package_is_typed() -> None:
    from importlib.resources import files

    assert files("regua").joinpath("py.typed").is_file()
