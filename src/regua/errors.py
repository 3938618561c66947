"""The one error hierarchy of regua: every error regua raises on purpose derives from `ReguaError`.

An invalid cadence definition raises `pydantic.ValidationError` at construction (its message
names the field path and the problem); everything else raises one of these.
"""

from __future__ import annotations

import logging

__all__ = [
    "FoldTooShallow",
    "InvalidRecordError",
    "LoadError",
    "MissingDependencyError",
    "ReguaError",
    "personal_value",
]


class ReguaError(Exception):
    """Base class of every error regua raises on purpose."""


class MissingDependencyError(ReguaError, ImportError):
    """An optional extra is needed for this feature and is not installed.

    The message names the extra to install, e.g. ``pip install 'regua[yaml]'``.
    """

    def __init__(self, feature: str, extra: str, module: str) -> None:
        self.feature = feature
        self.extra = extra
        super().__init__(
            f"{feature} needs the optional dependency {module!r}: "
            f"install it with `pip install 'regua[{extra}]'`",
            name=module,
        )


class LoadError(ReguaError):
    """A cadence or scenario could not be loaded; the message names the source and why.

    Raised by `regua.loading.load_cadences` and `regua.loading.load_scenario` for every
    problem with what they read, and by the YAML and JSON readers (`Cadence.from_file`,
    `Cadence.from_yaml`, `Cadence.from_json`...) for a document past one of its `LoadLimits`:
    too large, too many nodes once aliases are expanded, or nested too deeply.
    """


class InvalidRecordError(ReguaError, ValueError):
    """A runtime record (contact, event, delivery) holds data regua cannot use.

    The message names the record and the field, e.g. a naive datetime on an event or an
    unknown timezone on a contact.
    """


class FoldTooShallow(ReguaError):
    """A folded snapshot cannot answer this plan exactly: plan the whole history instead.

    Raised by `regua.plan` when a snapshot's `~regua.records.Fold` left out something the
    plan needs: the cadence changed since the fold, `now` is earlier than the fold allows,
    or a record stamped before the fold's cutoff arrived after it (an old event replayed, a
    worker clock far behind). The scheduler then loads the contact's whole history and folds
    it again; code calling `plan` directly does the same.
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
