"""The one error hierarchy of regua: every error regua raises on purpose derives from `ReguaError`.

Catch `ReguaError` to catch them all, or one branch of the tree. A class marked
``(also KeyError)`` and the like subclasses that built-in exception too, so that
``except KeyError`` (or ``pytest.raises(ValueError)``) written before the class existed still
catches it::

    ReguaError
        LoadError
        ScenarioError
        SchemaVersionError
        InvalidRecordError (also ValueError)
        InvalidArgumentError (also ValueError)
            ConfigurationError
        ArgumentTypeError (also TypeError)
        NotFoundError (also KeyError)
            UnknownCadenceError
            UnknownStepError
            UnknownContactError
        MissingDependencyError (also ImportError)
        FoldTooShallow
        TemporaryFailure
            OutcomeUnknown
            Throttled
        PermanentFailure
        InvalidSignature
        InvalidUnsubscribeToken
        SimulationAssertionError (also AssertionError)
        ContactFileError
        ProjectionError (also RuntimeError)
        CommandError

An invalid cadence definition raises `pydantic.ValidationError` at construction (its message
names the field path and the problem): that is a `ValueError`, not a `ReguaError`.
Every class here is also importable from the module that raises it (`regua.ports`,
`regua.repositories.sql`, `regua.senders`, `regua.testing`, `regua.forecasting`,
`regua.cli`): the same class object.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Literal

__all__ = [
    "ArgumentTypeError",
    "CommandError",
    "ConfigurationError",
    "ContactFileError",
    "FoldTooShallow",
    "InvalidArgumentError",
    "InvalidRecordError",
    "InvalidSignature",
    "InvalidUnsubscribeToken",
    "LoadError",
    "MissingDependencyError",
    "NotFoundError",
    "OutcomeUnknown",
    "PermanentFailure",
    "ProjectionError",
    "ReguaError",
    "ScenarioError",
    "SchemaVersionError",
    "SimulationAssertionError",
    "TemporaryFailure",
    "Throttled",
    "UnknownCadenceError",
    "UnknownContactError",
    "UnknownStepError",
    "personal_value",
]


class ReguaError(Exception):
    """Base class of every error regua raises on purpose: catch it to catch them all."""


# --- reading definitions and data -------------------------------------------------------------


class LoadError(ReguaError):
    """A cadence or scenario could not be loaded; the message names the source and why.

    Raised by `regua.loading.load_cadences` and `regua.loading.load_scenario` for every
    problem with what they read, and by the YAML and JSON readers (`Cadence.from_file`,
    `Cadence.from_yaml`, `Cadence.from_json`...) for a document past one of its `LoadLimits`:
    too large, too many nodes once aliases are expanded, or nested too deeply.
    """


class ScenarioError(ReguaError):
    """A scenario cannot be played against these cadences; the message names the item.

    Raised by `regua.testing.Scenario.run` (and so by the ``regua`` commands that play a
    scenario) for an item that cannot apply: a consent on a channel no cadence declares, an
    open or click of a step no cadence has or of a message not sent by then, a stop before
    the scenario starts.
    """


class SchemaVersionError(ReguaError):
    """The database's regua schema is missing, or of a version this code cannot use.

    Raised by `regua.repositories.sql.SQLRepository` when it opens a database whose tables
    were not created, or are of an older version, without ``create=True`` (which creates or
    migrates them), or were made by a newer regua (upgrade regua before this worker runs).
    """


class InvalidRecordError(ReguaError, ValueError):
    """A runtime record (contact, event, delivery) holds data regua cannot use.

    Raised when a record is made (`regua.Contact`, `regua.Event`...), when a repository
    stores or reads one, and by `regua.plan` for a contact its repository could not read.
    The message names the record and the field, e.g. a naive datetime on an event or an
    unknown timezone on a contact, never the personal value itself.
    """


# --- calling regua ----------------------------------------------------------------------------


class InvalidArgumentError(ReguaError, ValueError):
    """A value passed to a regua function or method is not one it accepts.

    Raised on the call, before anything is done: a naive ``now`` given to `regua.plan`,
    `Scheduler.tick` or `regua.inspection.inspect_contact`, a non-positive ``interval`` to
    `Scheduler.run`, an unknown ``format`` or ``keep`` mode, an engagement kind other
    than ``opened`` or ``clicked``... The message names the argument and what it takes: fix
    the call. Also a `ValueError`.
    """


class ConfigurationError(InvalidArgumentError):
    """An object regua builds from settings cannot work with these settings.

    Raised by a constructor, at start-up rather than at the first message: `Scheduler` and
    `AsyncScheduler` (no cadence, two cadences of one name, a batch size or lease below 1),
    `RetryPolicy`, the senders (`SMTPSender`, `WebhookSender`, `RateLimited`...), their
    secrets and URLs, `Shard`, `LoadLimits`, `SQLRepository`'s ``lease_clock``. The message
    names the setting: fix the configuration. Also a `ValueError`.
    """


class ArgumentTypeError(ReguaError, TypeError):
    """An argument is of a type the call cannot use, or a value is used in a way it cannot be.

    Raised for a string where a list is expected (``lint(senders="email")``), a number that
    is not one, a sender without a ``send`` method, records of an unknown kind given to
    `regua.report`, and a condition used as a truth value (``attr("x") > 1 and ...`` instead
    of ``&``). Also a `TypeError`.
    """


class NotFoundError(ReguaError, KeyError):
    """A lookup names something that does not exist; the message lists what does.

    Raised as such for a channel a cadence does not declare (`Cadence.channel`), a
    delivery a repository does not hold (`Repository.record_engagement`), a report row
    (`Report.row`); its subclasses name the commoner lookups. Also a `KeyError`, whose
    message it prints as written (without the quotes `KeyError` adds).
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self._default

    _default = "not found"


class UnknownCadenceError(NotFoundError):
    """A call names a cadence the scheduler was not given.

    Raised by `Scheduler.explain` and `AsyncScheduler.explain`; the message lists the
    cadences it has.
    """

    _default = "unknown cadence"


class UnknownStepError(NotFoundError):
    """A call names a step its cadence does not have.

    Raised by `Cadence.step`, and so by `regua.explain` and `Scheduler.explain` for the step
    asked about; the message lists the cadence's steps.
    """

    _default = "unknown step"


class UnknownContactError(NotFoundError):
    """An operation names a contact the repository does not hold.

    Raised by a repository's methods that name one contact (`Repository.set_consent`,
    `Repository.suppress_address`, `Repository.history`), by `Repository.bulk_load` for an
    event of a contact it was not given, and by `regua.inspection.inspect_contact` and
    `Scheduler.explain` for a contact id they cannot load.
    """

    _default = "unknown contact"


class MissingDependencyError(ReguaError, ImportError):
    """An optional extra is needed for this feature and is not installed.

    Raised on first use of the feature (reading YAML, `SQLRepository`, `WebhookSender`,
    `JinjaRenderer`, the charts of a forecast...). The message names the extra to install,
    e.g. ``pip install 'regua[yaml]'``.
    """

    def __init__(self, feature: str, extra: str, module: str) -> None:
        self.feature = feature
        self.extra = extra
        super().__init__(
            f"{feature} needs the optional dependency {module!r}: "
            f"install it with `pip install 'regua[{extra}]'`",
            name=module,
        )


class FoldTooShallow(ReguaError):
    """A folded snapshot cannot answer this plan exactly: plan the whole history instead.

    Raised by `regua.plan` when a snapshot's `~regua.records.Fold` left out something the
    plan needs: the cadence changed since the fold, `now` is earlier than the fold allows,
    or a record stamped before the fold's cutoff arrived after it (an old event replayed, a
    worker clock far behind). The scheduler then loads the contact's whole history and folds
    it again; code calling `plan` directly does the same.
    """


# --- what a sender says -----------------------------------------------------------------------


class TemporaryFailure(ReguaError):
    """Raised by a sender when delivery may succeed later ("try again later").

    For example a timeout, a 4xx SMTP reply, a 429 or 5xx HTTP status, a lost connection. The
    scheduler retries with exponential backoff and jitter up to its retry limit, then
    falls back to the next channel. `retry_after` (if the provider said so) is a lower bound
    for the next attempt.
    """

    def __init__(self, message: str, *, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OutcomeUnknown(TemporaryFailure):
    """Raised by a sender when the provider may have accepted the message after all.

    For example a timeout waiting for the answer, or a connection dropped after the request
    was written: nobody knows whether it was delivered. The scheduler retries on this
    channel only, with the same idempotency key, and moves the occurrence to no other
    channel until this one answers (a success: it was, or now is, delivered; a
    `PermanentFailure`: it was not). Raise plain `TemporaryFailure` when the message
    certainly did not reach the provider (the connection was refused).
    """


class Throttled(TemporaryFailure):
    """Raised by a sender that did not try: a rate limit has no room for the message yet.

    The provider never saw it, so it is not an attempt: the scheduler defers the occurrence
    on the same channel until `retry_after` (or its backoff, without one) and counts it
    toward neither `RetryPolicy.max_attempts` nor a move to the next channel. A provider's
    own 429 is a `TemporaryFailure` (the request was made); this is for a limit kept on the
    sending side (`regua.senders.RateLimited`, `SharedRateLimited`).
    """


class PermanentFailure(ReguaError):
    """Raised by a sender when delivery will never succeed as asked ("this will never work").

    For example an invalid address, a rejected recipient, a 4xx HTTP status other than 429, a
    template the provider refuses. The scheduler does not retry on this channel; it falls back
    to the next channel at once, and records the occurrence as failed when none is left.

    `suppress` says the failure is about the contact, not this message, so that later
    messages do not repeat it:

    - ``"address"``: the address does not exist (a hard bounce, SMTP ``5.1.1``). The
      scheduler removes it from the contact (`Repository.suppress_address`, when the
      repository has it), if it is still the address that failed: the channel is not used
      again until the application gives a new one.
    - ``"consent"``: the recipient complained (marked the message as spam) or asked to
      stop: the scheduler withdraws the contact's marketing consent on the channel
      (`Repository.set_consent`).
    """

    def __init__(
        self, message: str, *, suppress: Literal["address", "consent"] | None = None
    ) -> None:
        super().__init__(message)
        if suppress not in (None, "address", "consent"):
            raise InvalidArgumentError(
                f"suppress must be 'address', 'consent' or None, not {suppress!r}"
            )
        self.suppress = suppress


# --- requests from outside --------------------------------------------------------------------


class InvalidSignature(ReguaError):
    """A webhook request's signature or timestamp does not check out: reject the request.

    Raised by `regua.senders.webhook.verify_signature` (and so by the receiving side of
    `WebhookSender`). `reason` says why, for logs and metrics: ``"format"`` (a missing or
    malformed header), ``"mismatch"`` (not signed with this secret over this id, timestamp
    and body), ``"expired"`` (signed too long ago: perhaps a replay) or ``"future"`` (signed
    too far ahead of this clock).
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidUnsubscribeToken(ReguaError):
    """An unsubscribe token was refused: withdraw nothing, and answer the request with a 400.

    Raised by `regua.senders.read_unsubscribe_token` and `handle_unsubscribe`. `reason`
    says why, for logs and metrics: ``"format"`` (not a token: cut, mangled, or altered in
    its structure), ``"mismatch"`` (not signed with this secret: altered, forged, or signed
    with a secret no longer given) or ``"expired"`` (issued longer ago than the endpoint's
    ``max_age``). The message never quotes the token.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- testing ----------------------------------------------------------------------------------


class SimulationAssertionError(ReguaError, AssertionError):
    """An assertion about what a simulation sent did not hold; the message says what did.

    Raised by `regua.testing.Simulation`'s ``assert_*`` methods, and by a simulation that
    meets a contact its cadences cannot evaluate. Also an `AssertionError`, so that a test
    runner reports it as a failed test.
    """


# --- forecasts and the command line ------------------------------------------------------------


class ContactFileError(ReguaError):
    """A contacts file cannot be read; the message names the file, the line and the field.

    Raised by `regua.forecast` and ``regua forecast``/``regua diff`` reading a CSV or JSON
    Lines file of contacts (`regua.forecasting.contact_files`).
    """


class ProjectionError(ReguaError, RuntimeError):
    """A contact cannot be projected by a forecast.

    Its plans never settle at one instant (a cadence bug the scheduler would hit too), or
    its data cannot be planned (the error the scheduler would record against it, named in
    the message). Raised by `regua.forecasting.project`, hence by `regua.forecast`.
    """


class CommandError(ReguaError):
    """A command cannot do what it was asked; the message says why (printed, exit 1).

    Raised inside the ``regua`` command line (`regua.cli`), which prints it and exits 1.
    """


def personal_value(value: object, *, limit: int = 80) -> str:
    """How an error message may show a contact's data: ``str 31 chars``, never the value.

    Attribute values, addresses and event data are personal data: error messages and log
    records name the field and the type, and show the value (shortened) only when the
    ``regua`` logger is set to DEBUG, which a developer does on purpose.
    """
    kind = type(value).__name__
    size = f" of {len(value)} characters" if isinstance(value, str) else ""
    if logging.getLogger("regua").isEnabledFor(logging.DEBUG):
        text = repr(value)
        if len(text) > limit:
            text = text[:limit] + "..."
        return f"{kind} {text}"
    return f"a {kind}{size} (the value is shown only with DEBUG logging on)"
