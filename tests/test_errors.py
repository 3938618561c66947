"""One error hierarchy: every error regua raises on purpose is a `ReguaError`, drawn in one tree.

The classes that replaced a built-in exception subclass it too, so that code written as
``except KeyError`` or ``pytest.raises(ValueError)`` keeps catching them.
"""

from __future__ import annotations

import asyncio
import builtins
import importlib
import inspect
import logging
import re
from collections.abc import Callable
from datetime import datetime, time, timedelta, timezone
from typing import Any

import pytest

from regua import (
    AsyncScheduler,
    Cadence,
    Channel,
    Contact,
    InMemoryRepository,
    RetryPolicy,
    Scheduler,
    Step,
    attr,
    errors,
    explain,
    on_date,
    on_event,
    plan,
    report,
)
from regua.definitions import LoadLimits
from regua.errors import (
    ArgumentTypeError,
    ConfigurationError,
    InvalidArgumentError,
    NotFoundError,
    PermanentFailure,
    ReguaError,
    UnknownCadenceError,
    UnknownContactError,
    UnknownStepError,
    personal_value,
)
from regua.inspection import inspect_contact
from regua.lint import lint
from regua.records import Snapshot
from regua.redaction import redact
from regua.reporting import wilson_interval
from regua.senders import ConsoleSender, RateLimited, SMTPSender, unsubscribe_token
from regua.sharding import Shard
from regua.testing import Simulation

UTC = timezone.utc
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
NAIVE = datetime(2026, 3, 2, 12)


def test_values_are_hidden_unless_debug_logging_is_on(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="regua")
    assert personal_value("31/02/1990") == (
        "a str of 10 characters (the value is shown only with DEBUG logging on)"
    )
    caplog.set_level(logging.DEBUG, logger="regua")
    assert personal_value("31/02/1990") == "str '31/02/1990'"
    assert personal_value("x" * 1000, limit=10) == "str 'xxxxxxxxx..."


# --- the tree -------------------------------------------------------------------------------------

CLASSES = {
    name: getattr(errors, name) for name in errors.__all__ if inspect.isclass(getattr(errors, name))
}


def test_every_exported_error_is_a_regua_error() -> None:
    assert "ReguaError" in CLASSES
    assert set(errors.__all__) - set(CLASSES) == {"personal_value"}
    for name, cls in CLASSES.items():
        assert issubclass(cls, ReguaError), name
        assert inspect.getdoc(cls), name


_NODE = re.compile(
    r"^(?P<indent> *)(?P<name>[A-Za-z]+)"
    r"(?: \(also (?P<also>[A-Za-z]+)\)| \(defined in (?P<module>[a-z_.]+)\))?$"
)


def _tree() -> list[tuple[int, str, str | None, str | None]]:
    """The nodes of the drawing in the errors module's docstring: (depth, name, also, module)."""
    doc = errors.__doc__ or ""
    block = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    nodes = []
    for line in block.splitlines():
        found = _NODE.match(line[4:])  # the literal block is indented by four spaces
        assert found, f"not a node of the tree: {line!r}"
        depth, rest = divmod(len(found["indent"]), 4)
        assert rest == 0, line
        nodes.append((depth, found["name"], found["also"], found["module"]))
    return nodes


def test_the_docstring_tree_lists_exactly_the_exported_errors() -> None:
    drawn = [name for _, name, _, module in _tree() if module is None]
    assert len(drawn) == len(set(drawn))
    assert set(drawn) == set(CLASSES)


def test_the_docstring_tree_draws_each_class_under_its_base() -> None:
    stack: list[type[BaseException]] = []
    for depth, name, also, module in _tree():
        cls = getattr(importlib.import_module(module or "regua.errors"), name)
        del stack[depth:]
        if stack:
            assert stack[-1] in cls.__bases__, f"{name} is drawn under {stack[-1].__name__}"
        else:
            assert cls is ReguaError
        builtin = {b for b in cls.__bases__ if b.__module__ == "builtins"} - {Exception}
        assert builtin == ({getattr(builtins, also)} if also else set()), name
        stack.append(cls)


def test_the_errors_stay_importable_from_where_they_were() -> None:
    from regua import ports, senders, testing
    from regua.repositories import sql
    from regua.senders import unsubscribe, webhook

    assert ports.TemporaryFailure is errors.TemporaryFailure
    assert ports.OutcomeUnknown is errors.OutcomeUnknown
    assert ports.Throttled is errors.Throttled
    assert ports.PermanentFailure is errors.PermanentFailure
    assert ports.UnknownContactError is errors.UnknownContactError
    assert sql.SchemaVersionError is errors.SchemaVersionError
    assert webhook.InvalidSignature is errors.InvalidSignature
    assert unsubscribe.InvalidUnsubscribeToken is senders.InvalidUnsubscribeToken
    assert senders.InvalidUnsubscribeToken is errors.InvalidUnsubscribeToken
    assert testing.ScenarioError is errors.ScenarioError
    assert testing.SimulationAssertionError is errors.SimulationAssertionError
    assert errors.UnknownStepError is UnknownStepError


def test_a_lookup_error_prints_its_message_as_written() -> None:
    assert str(UnknownStepError("cadence 'a' has no step 'b'")) == "cadence 'a' has no step 'b'"
    assert str(KeyError("x")) == "'x'"  # what a plain KeyError would have printed


# --- the public calls that raise them -------------------------------------------------------------


def _cadence() -> Cadence:
    return Cadence(
        "onboarding",
        channels=[Channel("email")],
        steps=[Step("welcome", trigger=on_event("signed_up"), at=time(9), channels=["email"])],
    )


def _repository() -> InMemoryRepository:
    repository = InMemoryRepository()
    repository.upsert_contact(Contact("ana", addresses={"email": "ana@example.com"}))
    return repository


def _scheduler(**options: Any) -> Scheduler:
    return Scheduler(
        _cadence(), repository=_repository(), senders={"email": ConsoleSender()}, **options
    )


def _snapshot() -> Snapshot:
    return Snapshot(Contact("ana"), events=[], deliveries=[])


def _simulation() -> Simulation:
    return Simulation(_cadence(), start=NOW)


class _NoSend:
    pass


CASES: list[tuple[str, Callable[[], object], type[ReguaError], type[Exception]]] = [
    # lookups
    ("Cadence.step", lambda: _cadence().step("nope"), UnknownStepError, KeyError),
    ("Cadence.channel", lambda: _cadence().channel("sms"), NotFoundError, KeyError),
    ("explain", lambda: explain(_cadence(), _snapshot(), "nope", NOW), UnknownStepError, KeyError),
    (
        "Scheduler.explain cadence",
        lambda: _scheduler().explain("ana", "nope", "welcome", NOW),
        UnknownCadenceError,
        KeyError,
    ),
    (
        "Scheduler.explain contact",
        lambda: _scheduler().explain("bob", "onboarding", "welcome", NOW),
        UnknownContactError,
        KeyError,
    ),
    (
        "Scheduler.explain step",
        lambda: _scheduler().explain("ana", "onboarding", "nope", NOW),
        UnknownStepError,
        KeyError,
    ),
    (
        "InMemoryRepository.record_engagement key",
        lambda: _repository().record_engagement("a:b:c:d", "opened", NOW),
        NotFoundError,
        KeyError,
    ),
    ("Report.row", lambda: report([], _cadence()).row("nope"), NotFoundError, KeyError),
    # arguments of a call
    ("plan now", lambda: plan(_cadence(), _snapshot(), NAIVE), InvalidArgumentError, ValueError),
    ("Scheduler.tick now", lambda: _scheduler().tick(NAIVE), InvalidArgumentError, ValueError),
    (
        "Scheduler.run interval",
        lambda: _scheduler().run(interval=0),
        InvalidArgumentError,
        ValueError,
    ),
    (
        "AsyncScheduler.run interval",
        lambda: asyncio.run(
            AsyncScheduler(
                _cadence(), repository=_repository(), senders={"email": ConsoleSender()}
            ).run(interval=0)
        ),
        InvalidArgumentError,
        ValueError,
    ),
    (
        "InMemoryRepository.record_engagement kind",
        lambda: _repository().record_engagement("a:b:c:d", "replied", NOW),
        InvalidArgumentError,
        ValueError,
    ),
    (
        "InMemoryRepository.erase_contact keep",
        lambda: _repository().erase_contact("ana", keep="some"),  # type: ignore[arg-type]
        InvalidArgumentError,
        ValueError,
    ),
    (
        "inspect_contact now",
        lambda: inspect_contact(_repository(), _cadence(), "ana", NAIVE),
        InvalidArgumentError,
        ValueError,
    ),
    (
        "report confidence",
        lambda: report([], _cadence(), confidence=2),
        InvalidArgumentError,
        ValueError,
    ),
    ("wilson_interval", lambda: wilson_interval(1, 0), InvalidArgumentError, ValueError),
    ("redact limit", lambda: redact("text", limit=3), InvalidArgumentError, ValueError),
    (
        "Cadence.from_file suffix",
        lambda: Cadence.from_file("cadence.txt"),
        InvalidArgumentError,
        ValueError,
    ),
    (
        "unsubscribe_token",
        lambda: unsubscribe_token("", "email", "a secret"),
        InvalidArgumentError,
        ValueError,
    ),
    (
        "PermanentFailure suppress",
        lambda: PermanentFailure("bounced", suppress="everything"),  # type: ignore[arg-type]
        InvalidArgumentError,
        ValueError,
    ),
    (
        "on_date offset",
        lambda: on_date("renewal", before="-3d"),
        InvalidArgumentError,
        ValueError,
    ),
    (
        "Simulation.advance backwards",
        lambda: _simulation().advance_to(NOW - timedelta(days=1)),
        InvalidArgumentError,
        ValueError,
    ),
    (
        "Simulation.timeline format",
        lambda: _simulation().timeline(format="xml"),
        InvalidArgumentError,
        ValueError,
    ),
    # settings of a constructor
    (
        "Scheduler no cadence",
        lambda: Scheduler([], repository=_repository(), senders={}),
        ConfigurationError,
        ValueError,
    ),
    ("Scheduler lease", lambda: _scheduler(lease=timedelta(0)), ConfigurationError, ValueError),
    (
        "AsyncScheduler concurrency",
        lambda: AsyncScheduler(_cadence(), repository=_repository(), senders={}, concurrency=0),
        ConfigurationError,
        ValueError,
    ),
    ("RetryPolicy", lambda: RetryPolicy(max_attempts=0), ConfigurationError, ValueError),
    ("Shard", lambda: Shard(2, 2), ConfigurationError, ValueError),
    ("Shard.parse", lambda: Shard.parse("two"), ConfigurationError, ValueError),
    ("LoadLimits", lambda: LoadLimits(max_depth=0), ConfigurationError, ValueError),
    (
        "RateLimited rate",
        lambda: RateLimited(ConsoleSender(), per_second=0),
        ConfigurationError,
        ValueError,
    ),
    (
        "SMTPSender security",
        lambda: SMTPSender("localhost", security="tls"),
        ConfigurationError,
        ValueError,
    ),  # type: ignore[arg-type]
    # types
    (
        "AsyncScheduler sender",
        lambda: AsyncScheduler(_cadence(), repository=_repository(), senders={"email": _NoSend()}),  # type: ignore[dict-item]
        ArgumentTypeError,
        TypeError,
    ),
    ("redact text", lambda: redact(42), ArgumentTypeError, TypeError),  # type: ignore[arg-type]
    ("report records", lambda: report([object()], _cadence()), ArgumentTypeError, TypeError),  # type: ignore[list-item]
    ("lint senders", lambda: lint(_cadence(), senders="email"), ArgumentTypeError, TypeError),
    ("condition truth", lambda: bool(attr("tier") == "gold"), ArgumentTypeError, TypeError),
    ("in_ a string", lambda: attr("tier").in_("gold"), ArgumentTypeError, TypeError),
    (
        "on_date both offsets",
        lambda: on_date("renewal", before="3d", after="3d"),
        ArgumentTypeError,
        TypeError,
    ),
    (
        "RateLimited rate type",
        lambda: RateLimited(ConsoleSender(), per_second="9"),  # type: ignore[arg-type]
        ArgumentTypeError,
        TypeError,
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "builtin"),
    [pytest.param(call, error, builtin, id=name) for name, call, error, builtin in CASES],
)
def test_a_mistake_raises_a_regua_error_that_the_builtin_still_catches(
    call: Callable[[], object], error: type[ReguaError], builtin: type[Exception]
) -> None:
    with pytest.raises(error) as excinfo:
        call()
    assert type(excinfo.value) is error  # the class named, not a subclass of it
    assert isinstance(excinfo.value, builtin)
    with pytest.raises(builtin):  # what code written before these classes catches
        call()
