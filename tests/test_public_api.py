"""The public namespace is an explicit, complete and documented list."""

from __future__ import annotations

import inspect

import regua

# Exported on first access, because they need an optional extra.
LAZY = {"AsyncWebhookSender", "SQLRepository", "WebhookSender"}


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(regua) if not name.startswith("_")}
    hidden = {name for name in public if inspect.ismodule(getattr(regua, name))}
    hidden |= {"TYPE_CHECKING", "Any", "logging"}
    assert set(regua.__all__) - {"__version__"} - LAZY == public - hidden


def test_lazy_names_resolve() -> None:
    for name in LAZY:
        assert getattr(regua, name).__name__ == name


def test_all_has_no_duplicates() -> None:
    assert len(regua.__all__) == len(set(regua.__all__))


def test_every_public_name_has_a_docstring() -> None:
    missing = [
        name
        for name in regua.__all__
        if name != "__version__"
        and name not in LAZY
        and (inspect.isfunction(getattr(regua, name)) or inspect.isclass(getattr(regua, name)))
        and not inspect.getdoc(getattr(regua, name))
    ]
    assert missing == []


def test_package_is_typed() -> None:
    from importlib.resources import files

    assert files("regua").joinpath("py.typed").is_file()
