"""Reading YAML and JSON documents within limits, so that no file costs more than a bounded amount.

Cadence and scenario files are parsed into plain data (mappings, lists, scalars) before they
are validated. `LoadLimits` bounds what that costs, whoever wrote the file:

- ``max_bytes``: the size of the text. A file is not read past it.
- ``max_nodes``: the number of nodes (mappings, sequences and scalars, mapping keys included)
  once YAML aliases are expanded: an alias counts as every node of what it repeats. A few
  hundred bytes of nested aliases (an "alias bomb", or "billion laughs") expand to billions of
  nodes; counting stops at the first node past the limit, while the file is being read, so the
  work done is bounded by the text and the limit, however large the expansion would be.
- ``max_depth``: how deeply mappings and sequences nest (``[[1]]`` is two levels), aliases
  expanded. Checked as the document is read, before any recursive code sees it, so deep nesting
  is a `LoadError` and never a `RecursionError`.

Every limit exceeded raises `LoadError`, whose message names the source (the file, or "YAML
text"), where in it the limit was crossed and which limit it was.

>>> load_yaml("[[[1]]]", limits=LoadLimits(max_depth=2))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
regua.errors.LoadError: YAML text, line 1, column 3: ... nested deeper than 2 levels ...
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from regua.errors import ConfigurationError, InvalidArgumentError, LoadError, MissingDependencyError

if TYPE_CHECKING:
    import yaml

__all__ = ["LoadLimits", "load_json", "load_yaml", "read_document"]

_MIB = 1 << 20


def _positive(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"LoadLimits.{attribute.name} must be a whole number of at least 1, got {value!r}"
        )


@attrs.frozen(slots=True)
class LoadLimits:
    """How large a YAML or JSON document may be: bytes, nodes once aliases expand, nesting.

    The defaults are far above any real cadence or scenario (the largest example cadence is
    5 KB, 471 nodes and 7 levels deep) and far below what would strain a process.
    Raise one where a file legitimately needs more:

    >>> LoadLimits(max_nodes=1_000_000).max_nodes
    1000000

    Attributes:
        max_bytes: The size of the text, in bytes (default 1 MiB). A file is not read past it.
        max_nodes: Mappings, sequences and scalars (keys included) once YAML aliases are
            expanded, each alias counting as every node it repeats (default 100,000). Bounds
            the cost of an alias bomb, a few hundred bytes that expand to billions of nodes.
        max_depth: How deeply mappings and sequences nest, aliases expanded (default 64).
            Python code that walks the data recurses once per level.

    """

    max_bytes: int = attrs.field(default=_MIB, validator=_positive)
    max_nodes: int = attrs.field(default=100_000, validator=_positive)
    max_depth: int = attrs.field(default=64, validator=_positive)


_DEFAULT = LoadLimits()

_SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}


def read_document(
    path: str | os.PathLike[str],
    *,
    limits: LoadLimits | None = None,
    source: str | None = None,
    kind: str = "",
    feature: str = "",
) -> Any:
    """The data of a ``.yaml``/``.yml`` or ``.json`` file (by its suffix), within `limits`.

    Args:
        path: The file.
        limits: The limits (default `LoadLimits()`).
        source: How error messages name the file (default: the path).
        kind: What the file holds ("cadence", "scenario"), for the message on a wrong suffix.
        feature: What needs PyYAML, for the error when it is not installed (default: YAML
            files of that `kind`).

    Raises:
        InvalidArgumentError: the suffix is none of ``.yaml``, ``.yml`` and ``.json``.
        OSError: the file cannot be read.
        UnicodeDecodeError: the file is not UTF-8 text.
        LoadError: the file exceeds a limit.
        json.JSONDecodeError, yaml.YAMLError: the file is not valid JSON or YAML.

    """
    path = Path(path)
    form = _SUFFIXES.get(path.suffix.lower())
    if form is None:
        what = f"{kind} file" if kind else "file"
        raise InvalidArgumentError(f"{path}: expected a .yaml, .yml or .json {what}")
    limits = limits or _DEFAULT
    source = str(path) if source is None else source
    with path.open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        if size > limits.max_bytes:
            raise _too_large(source, limits, size)
        # Read one byte past the limit: a file that grows, or a pipe, has no size to trust.
        data = file.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise _too_large(source, limits, None)
    text = data.decode("utf-8")
    if form == "json":
        return load_json(text, limits=limits, source=source)
    feature = feature or (f"YAML {kind}s" if kind else "")
    return load_yaml(text, limits=limits, source=source, feature=feature)


def load_yaml(
    text: str | bytes,
    *,
    limits: LoadLimits | None = None,
    source: str = "YAML text",
    feature: str = "",
) -> Any:
    """Parse one YAML document, as `yaml.safe_load` would, within `limits`.

    Args:
        text: The YAML text.
        limits: The limits (default `LoadLimits()`).
        source: How error messages name the text.
        feature: What needs PyYAML, for the error when it is not installed.

    Raises:
        LoadError: the text exceeds a limit, or an alias repeats a node that contains it.
        yaml.YAMLError: the text is not valid YAML.
        MissingDependencyError: PyYAML (the ``yaml`` extra) is not installed.

    """
    limits = limits or _DEFAULT
    _check_size(text, limits, source)
    _require_yaml(feature or "Reading YAML")
    loader = _loader_class()(text)
    loader.regua_limits = limits
    loader.regua_source = source
    try:
        return loader.get_single_data()
    except RecursionError:  # only with a max_depth raised past what Python's stack allows
        raise LoadError(
            f"{source}: nested too deeply for Python's recursion limit; lower LoadLimits.max_depth"
        ) from None
    except ValueError as exc:  # a scalar PyYAML cannot convert, e.g. an integer of 5,000 digits
        raise LoadError(f"{source}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()


# A JSON string (escapes included) or a bracket; what lies between them does not nest.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def load_json(
    text: str | bytes,
    *,
    limits: LoadLimits | None = None,
    source: str = "JSON text",
) -> Any:
    """Parse JSON text, as `json.loads` would, within `limits`.

    The nesting is measured on the text before it is parsed (Python's JSON parser recurses
    once per level), and the nodes are counted as for YAML: every object, array and value,
    object keys included.

    Raises:
        LoadError: the text exceeds a limit.
        json.JSONDecodeError: the text is not valid JSON.

    """
    limits = limits or _DEFAULT
    _check_size(text, limits, source)
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode(json.detect_encoding(text), "surrogatepass")
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > limits.max_depth:
                raise _too_deep(_position(source, text, token.start()), limits)
        elif bracket in ("]", "}"):
            depth -= 1
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # e.g. an integer of 5,000 digits
        raise LoadError(f"{source}: not valid JSON: {exc}") from None
    _check_nodes(data, limits, source)
    return data


# --- the checks ---------------------------------------------------------------------------------


def _check_size(text: str | bytes, limits: LoadLimits, source: str) -> None:
    size = len(text)
    if isinstance(text, str) and limits.max_bytes // 4 < size <= limits.max_bytes:
        size = len(text.encode("utf-8", "surrogatepass"))  # a character is 1 to 4 bytes
    if size > limits.max_bytes:
        raise _too_large(source, limits, size)


def _too_large(source: str, limits: LoadLimits, size: int | None) -> LoadError:
    what = f"{size:,} bytes, larger" if size is not None else "larger"
    return LoadError(
        f"{source}: {what} than the limit of {limits.max_bytes:,} bytes "
        "(the limit LoadLimits.max_bytes)"
    )


def _too_deep(where: str, limits: LoadLimits) -> LoadError:
    return LoadError(
        f"{where}: mappings and sequences nested deeper than {limits.max_depth:,} levels "
        "(the limit LoadLimits.max_depth)"
    )


def _too_many(where: str, limits: LoadLimits) -> LoadError:
    return LoadError(
        f"{where}: more than {limits.max_nodes:,} nodes once aliases are expanded, each alias "
        "counting as all the nodes it repeats (the limit LoadLimits.max_nodes)"
    )


def _position(source: str, text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{source}, line {line}, column {column}"


def _check_nodes(data: Any, limits: LoadLimits, source: str) -> None:
    """Count the nodes of parsed JSON, without recursion, stopping past the limit."""
    count = 0
    pending = [data]
    while pending:
        value = pending.pop()
        count += 1
        if isinstance(value, dict):
            count += len(value)  # the keys
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        if count > limits.max_nodes:
            raise _too_many(source, limits)


def _require_yaml(feature: str) -> None:
    """Raise `MissingDependencyError` naming `feature` when PyYAML cannot be imported."""
    try:
        import yaml  # noqa: F401
    except ImportError:
        raise MissingDependencyError(feature, "yaml", "yaml") from None


@cache
def _loader_class() -> type[Any]:
    """PyYAML's safe loader, counting nodes and depth as it composes the document."""
    import yaml

    class _LimitedLoader(yaml.SafeLoader):
        """Counts each node it composes, and each alias as the nodes of what it repeats.

        ``regua_sizes`` holds, for each anchor composed so far, the nodes of its node with
        aliases expanded and how many levels of mappings and sequences it spans. An alias is
        then counted in constant time, whatever it expands to, and the count stops at the
        first node past ``max_nodes``: the work is bounded by the text and the limit, never by
        the expansion.
        """

        regua_limits: LoadLimits = _DEFAULT
        regua_source: str = "YAML text"

        def __init__(self, stream: str | bytes) -> None:
            super().__init__(stream)
            self.regua_nodes = 0
            self.regua_depth = 0  # levels of mappings and sequences around the current node
            self.regua_reach = 0  # the deepest level reached inside the current node
            self.regua_sizes: dict[str, tuple[int, int]] = {}

        def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
            event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
            limits = self.regua_limits
            if isinstance(event, yaml.AliasEvent):
                anchor = event.anchor
                size = self.regua_sizes.get(anchor) if anchor is not None else None
                if size is None:
                    if anchor in self.anchors:  # still being composed: the alias is inside it
                        raise LoadError(
                            f"{self.regua_where(event)}: the alias *{anchor} is inside the node it "
                            "repeats, so it would expand forever"
                        )
                    return super().compose_node(parent, index)  # PyYAML: undefined alias
                nodes, height = size
                self.regua_count(nodes, event)
                deepest = self.regua_depth + height
                if deepest > limits.max_depth:
                    raise _too_deep(self.regua_where(event), limits)
                self.regua_reach = max(self.regua_reach, deepest)
                return super().compose_node(parent, index)
            outer_depth, outer_reach = self.regua_depth, self.regua_reach
            depth = outer_depth
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > limits.max_depth:
                    raise _too_deep(self.regua_where(event), limits)
            before = self.regua_nodes
            self.regua_count(1, event)
            self.regua_depth = self.regua_reach = depth
            try:
                node = super().compose_node(parent, index)
            finally:
                self.regua_depth = outer_depth
            height = self.regua_reach - outer_depth
            self.regua_reach = max(outer_reach, self.regua_reach)
            anchor = getattr(event, "anchor", None)
            if anchor is not None:
                self.regua_sizes[anchor] = (self.regua_nodes - before, height)
            return node

        def regua_count(self, nodes: int, event: yaml.Event) -> None:
            self.regua_nodes += nodes
            if self.regua_nodes > self.regua_limits.max_nodes:
                raise _too_many(self.regua_where(event), self.regua_limits)

        def regua_where(self, event: yaml.Event) -> str:
            mark = event.start_mark
            if mark is None:  # pragma: no cover - PyYAML marks every event
                return self.regua_source
            return f"{self.regua_source}, line {mark.line + 1}, column {mark.column + 1}"

    return _LimitedLoader
