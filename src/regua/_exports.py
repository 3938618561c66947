"""Give exported classes and functions the public module they are documented under.

A class defined in ``regua.senders.smtp`` and exported from ``regua.senders`` reports
``__module__ == "regua.senders"``, so that reprs, tracebacks, pickles and documentation show
the path a user imports it from. A pickle stores ``module.qualname``: it loads as long as
the public module exports the name, whatever file defines it.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterable

__all__ = ["publish"]

_published: set[int] = set()


def publish(module: str, objects: Iterable[object]) -> None:
    """Set ``__module__`` to `module` on each class and function defined inside regua.

    An object is published once: the first public module to claim it keeps it (the top
    level claims first). The methods defined in a class move with it, so that doctest finds
    their examples under the class; the class's own annotations are evaluated first, in the
    module that defines it, so that `typing.get_type_hints` still works once ``__module__``
    names a module that does not import what they mention.
    """
    for obj in objects:
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        defined_in = getattr(obj, "__module__", "")
        if not defined_in.startswith("regua.") or id(obj) in _published:
            continue
        _published.add(id(obj))
        if inspect.isclass(obj):
            _resolve_annotations(obj)
            for member in _members(obj, defined_in):
                member.__module__ = module
        obj.__module__ = module


def _members(cls: type, defined_in: str) -> list[typing.Any]:
    found = []
    for value in vars(cls).values():
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        candidates = (
            [value.fget, value.fset, value.fdel] if isinstance(value, property) else [value]
        )
        found += [
            candidate
            for candidate in candidates
            if inspect.isfunction(candidate) and candidate.__module__ == defined_in
        ]
    return found


def _resolve_annotations(cls: type) -> None:
    own = inspect.get_annotations(cls)
    if not own or not any(isinstance(value, str) for value in own.values()):
        return
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except Exception:
        return
    cls.__annotations__ = {name: hints.get(name, value) for name, value in own.items()}
