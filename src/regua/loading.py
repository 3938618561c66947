"""Loading cadences from where people keep them: YAML/JSON files and Python modules.

One place that turns a *cadence spec*, as typed on the command line, into cadences:

- ``shop.yaml``, ``shop.yml``, ``shop.json``: a cadence file (see `Cadence.from_file`);
- ``path/to/shop.py:cadence``: the attribute ``cadence`` of a Python file, loaded by path;
- ``package.module:cadence``: the attribute of an importable module;
- ``path/to/shop.py`` or ``package.module`` alone: the one `Cadence` the module defines.

The attribute may hold a `Cadence` or a list (or tuple) of them. Every problem (a missing file,
bad YAML, a file past its `LoadLimits`, a validation error, a module that fails to import, an
attribute that is not a cadence) raises `LoadError`, whose message names the spec and says what
is wrong.

>>> load_cadences("no/such/file.yaml")
Traceback (most recent call last):
...
regua.errors.LoadError: no/such/file.yaml: no such file
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import keyword
import os
import sys
import traceback
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from regua.definitions.cadence import Cadence
from regua.documents import LoadLimits, read_document
from regua.errors import InvalidArgumentError, LoadError, ReguaError

if TYPE_CHECKING:
    from regua.testing.scenario import Scenario

__all__ = [
    "CADENCE_SUFFIXES",
    "LoadError",
    "describe_error",
    "is_yaml_error",
    "load_cadences",
    "load_scenario",
    "load_senders",
]

CADENCE_SUFFIXES = (".yaml", ".yml", ".json")
"""The suffixes of cadence files, read by `Cadence.from_file`."""


def load_cadences(
    spec: str | os.PathLike[str], *, limits: LoadLimits | None = None
) -> list[Cadence]:
    """The cadences a spec names: a ``.yaml``/``.yml``/``.json`` file or ``module:attribute``.

    Args:
        spec: The file, or the module and attribute.
        limits: How large a cadence file may be (default `LoadLimits()`); a Python module is
            not limited.

    Raises:
        LoadError: the file or module is missing or invalid, a file is past one of its
            `limits`, or the attribute holds no cadence. The message starts with the spec.

    """
    text = os.fspath(spec)
    target, attribute = _split(text)
    if Path(target).is_dir():
        raise LoadError(f"{text}: a directory; name a cadence file or module:attribute")
    if Path(target).suffix.lower() in CADENCE_SUFFIXES:
        if attribute is not None:
            raise LoadError(
                f"{text}: a cadence file holds one cadence and has no attributes; "
                f"drop ':{attribute}'"
            )
        return [_load_file(Path(target), text, limits)]
    if _is_python_path(target):
        module = _import_path(Path(target), text)
    elif Path(target).exists():
        raise LoadError(
            f"{text}: not a cadence file (expected .yaml, .yml or .json) nor a Python file (.py)"
        )
    else:
        module = _import_module(target, text)
    return _cadences_of(module, attribute, text)


def describe_error(error: BaseException) -> str:
    """A one-paragraph account of a loading or validation error, without a traceback."""
    if isinstance(error, ValidationError):
        problems = []
        for item in error.errors(include_url=False):
            where = ".".join(str(part) for part in item["loc"])
            problems.append(f"  {where}: {item['msg']}" if where else f"  {item['msg']}")
        count = len(problems)
        return f"{count} validation error{'s' if count != 1 else ''}:\n" + "\n".join(problems)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error) or type(error).__name__


# --- the spec ----------------------------------------------------------------------------------


def _split(spec: str) -> tuple[str, str | None]:
    """``"a/b.py:cadence"`` -> ``("a/b.py", "cadence")``; no attribute -> ``(spec, None)``."""
    target, colon, attribute = spec.rpartition(":")
    if colon and target and _is_dotted_identifier(attribute):
        return target, attribute
    return spec, None


def _is_dotted_identifier(text: str) -> bool:
    parts = text.split(".")
    return all(part.isidentifier() and not keyword.iskeyword(part) for part in parts)


def _is_python_path(target: str) -> bool:
    return target.endswith(".py") or "/" in target or os.sep in target


# --- files -------------------------------------------------------------------------------------


def _load_file(path: Path, spec: str, limits: LoadLimits | None) -> Cadence:
    if not path.is_file():
        raise LoadError(f"{spec}: no such file")
    with _reading(spec, "cadence"):
        return Cadence.from_dict(read_document(path, limits=limits, source=spec, kind="cadence"))


@contextmanager
def _reading(spec: str, kind: str) -> Iterator[None]:
    """Turn what reading a `kind` file can raise into a `LoadError` that starts with `spec`."""
    try:
        yield
    except LoadError:  # a limit: the message already names the file
        raise
    except ValidationError as exc:
        raise LoadError(f"{spec}: invalid {kind}, {describe_error(exc)}") from None
    except UnicodeDecodeError as exc:
        raise LoadError(f"{spec}: not a UTF-8 text file ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise LoadError(f"{spec}: not valid JSON: {exc}") from None
    except InvalidArgumentError:  # an unknown suffix
        raise LoadError(f"{spec}: expected a .yaml, .yml or .json {kind} file") from None
    except ReguaError as exc:  # e.g. YAML support not installed
        raise LoadError(f"{spec}: {exc}") from None
    except ValueError:
        raise LoadError(f"{spec}: expected a .yaml, .yml or .json {kind} file") from None
    except OSError as exc:
        raise LoadError(f"{spec}: {describe_error(exc)}") from None
    except Exception as exc:
        if is_yaml_error(exc):
            raise LoadError(f"{spec}: not valid YAML: {exc}") from None
        raise


def is_yaml_error(error: BaseException) -> bool:
    """True for PyYAML's parse errors (without importing PyYAML when it is not loaded)."""
    yaml = sys.modules.get("yaml")
    return yaml is not None and isinstance(error, yaml.YAMLError)


# --- Python modules ----------------------------------------------------------------------------


@contextmanager
def _on_path(folder: str) -> Iterator[None]:
    """Make `folder` importable for the duration, as running a script there would."""
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)


def _import_path(path: Path, spec: str) -> ModuleType:
    if not path.is_file():
        raise LoadError(f"{spec}: no such file")
    if path.suffix != ".py":
        raise LoadError(f"{spec}: expected a Python file (.py), got {str(path)!r}")
    name = f"regua_loaded_{path.stem}_{uuid.uuid4().hex[:8]}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:  # pragma: no cover - .py always loads
        raise LoadError(f"{spec}: cannot load {str(path)!r} as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    # Registered while it runs, as an import would, so that what it defines can refer to it.
    sys.modules[name] = module
    try:
        with _on_path(str(path.resolve().parent)):
            module_spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(name, None)
        if not isinstance(exc, Exception):
            raise
        raise LoadError(f"{spec}: running {str(path)!r} failed: {_failure(exc)}") from None
    return module


def _import_module(name: str, spec: str) -> ModuleType:
    if not all(part.isidentifier() for part in name.split(".")):
        raise LoadError(
            f"{spec}: no such file, and not a module name; expected a .yaml, .yml or .json "
            "file, path/to/file.py:attribute or package.module:attribute"
        )
    try:
        with _on_path(os.getcwd()):
            return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise LoadError(f"{spec}: no such file, and no module named {exc.name!r}") from None
        raise LoadError(f"{spec}: importing {name!r} failed: {_failure(exc)}") from None
    except Exception as exc:
        raise LoadError(f"{spec}: importing {name!r} failed: {_failure(exc)}") from None


def _failure(exc: BaseException) -> str:
    """``ZeroDivisionError: division by zero (shop.py, line 12)``: where the user's code broke."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        where = f" ({Path(last.filename).name}, line {last.lineno})"
    if isinstance(exc, ValidationError):
        return f"invalid cadence, {describe_error(exc)}"
    return f"{type(exc).__name__}: {exc}{where}"


def load_senders(spec: str) -> dict[str, object]:
    """The application's senders that ``module:attribute`` names, for `regua check`.

    The attribute is a mapping of channel to sender, or a function of no arguments that
    returns one; ``path/to/file.py:attribute`` works too.

    Raises:
        LoadError: the module is missing or fails to import, the attribute is missing, or it
            is not such a mapping (one whose values all have a ``send`` method). The message
            starts with the spec.

    """
    target, attribute = _split(spec)
    if attribute is None:
        raise LoadError(f"{spec}: name the senders as module:attribute")
    module = _import_path(Path(target), spec) if _is_python_path(target) else None
    if module is None:
        module = _import_module(target, spec)
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise LoadError(f"{spec}: no attribute {attribute!r}")
        value = getattr(value, part)
    if callable(value) and not isinstance(value, Mapping):
        try:
            value = value()
        except Exception as exc:  # the application's factory: say so, without a traceback
            raise LoadError(f"{spec}: {attribute}() failed: {describe_error(exc)}") from None
    if not isinstance(value, Mapping):
        raise LoadError(
            f"{spec}: {attribute!r} is a {type(value).__name__}, not a mapping of channel to "
            "sender (or a function returning one)"
        )
    for channel, sender in value.items():
        if not callable(getattr(sender, "send", None)):
            raise LoadError(
                f"{spec}: the sender of channel {channel!r} has no send(message) method"
            )
    return {str(channel): sender for channel, sender in value.items()}


def _cadences_of(module: ModuleType, attribute: str | None, spec: str) -> list[Cadence]:
    found = sorted(name for name, value in vars(module).items() if isinstance(value, Cadence))
    if attribute is None:
        if len(found) == 1:
            return [getattr(module, found[0])]
        if not found:
            raise LoadError(f"{spec}: defines no Cadence at module level")
        raise LoadError(
            f"{spec}: defines several cadences ({', '.join(found)}); name one, "
            f"e.g. {spec}:{found[0]}"
        )
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            hint = f" (cadences there: {', '.join(found)})" if found else ""
            raise LoadError(f"{spec}: no attribute {attribute!r}{hint}")
        value = getattr(value, part)
    if isinstance(value, Cadence):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Cadence) for v in value):
        names = [cadence.name for cadence in value]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise LoadError(
                f"{spec}: cadence names must be unique; repeated: {', '.join(repeated)}"
            )
        return list(value)
    raise LoadError(
        f"{spec}: {attribute!r} is a {type(value).__name__}, not a Cadence or a list of Cadences"
    )


# --- scenarios ---------------------------------------------------------------------------------


def load_scenario(path: str | os.PathLike[str], *, limits: LoadLimits | None = None) -> Scenario:
    """Read a scenario file (`regua.testing.scenario.Scenario.from_file`).

    Args:
        path: The ``.yaml``/``.yml`` or ``.json`` file.
        limits: How large it may be (default `LoadLimits()`).

    Raises:
        LoadError: the file is missing, not YAML/JSON, past one of its `limits`, or not a
            valid scenario; the message starts with the path.

    """
    from regua.testing.scenario import Scenario

    spec = os.fspath(path)
    file = Path(spec)
    if not file.is_file():
        raise LoadError(f"{spec}: {'a directory' if file.is_dir() else 'no such file'}")
    with _reading(spec, "scenario"):
        return Scenario.from_dict(read_document(file, limits=limits, source=spec, kind="scenario"))
