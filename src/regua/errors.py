"""The one error hierarchy of regua: every error regua raises on purpose derives from `ReguaError`.

An invalid cadence definition raises `pydantic.ValidationError` at construction (its message
names the field path and the problem); everything else raises one of these.
"""

from __future__ import annotations

__all__ = [
    "InvalidRecordError",
    "MissingDependencyError",
    "ReguaError",
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


class InvalidRecordError(ReguaError, ValueError):
    """A runtime record (contact, event, delivery) holds data regua cannot use.

    The message names the record and the field, e.g. a naive datetime on an event or an
    unknown timezone on a contact.
    """
