"""Loading cadences from files, and the error when the YAML extra is missing."""

from __future__ import annotations

import sys
from datetime import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from regua import Cadence, Channel, ReguaError, Step, on_event
from regua.errors import MissingDependencyError

YAML_TEXT = """\
name: onboarding
timezone: America/Sao_Paulo
channels:
  - {name: email, cost: 0.001}
steps:
  - name: welcome
    trigger: {event: signed_up}
    delay: 2d
    at: '09:00'
    channels: [email]
    description: Boas-vindas, olá!
"""


def expected() -> Cadence:
    return Cadence(
        "onboarding",
        timezone="America/Sao_Paulo",
        channels=[Channel("email", cost=0.001)],
        steps=[
            Step(
                "welcome",
                trigger=on_event("signed_up"),
                delay="2d",
                at=time(9),
                channels=["email"],
                description="Boas-vindas, olá!",
            )
        ],
    )


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".YAML"])
def test_from_file_reads_yaml(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"onboarding{suffix}"
    path.write_text(YAML_TEXT, encoding="utf-8")
    assert Cadence.from_file(path) == expected()
    assert Cadence.from_file(str(path)) == expected()


def test_from_file_reads_json(tmp_path: Path) -> None:
    path = tmp_path / "onboarding.json"
    path.write_text(expected().to_json(), encoding="utf-8")
    assert Cadence.from_file(path) == expected()


def test_from_file_reads_utf8_whatever_the_locale(tmp_path: Path) -> None:
    path = tmp_path / "onboarding.yaml"
    path.write_bytes(YAML_TEXT.encode("utf-8"))
    assert Cadence.from_file(path).step("welcome").description == "Boas-vindas, olá!"


@pytest.mark.parametrize("name", ["onboarding.toml", "onboarding.txt", "onboarding"])
def test_from_file_rejects_other_suffixes(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(YAML_TEXT, encoding="utf-8")
    with pytest.raises(ValueError, match=r"expected a \.yaml, \.yml or \.json file") as excinfo:
        Cadence.from_file(path)
    assert str(path) in str(excinfo.value)


def test_from_file_reports_invalid_content(tmp_path: Path) -> None:
    path = tmp_path / "onboarding.yaml"
    path.write_text(YAML_TEXT.replace("delay: 2d", "dealy: 2d"), encoding="utf-8")
    with pytest.raises(ValidationError, match=r"steps\.0\.dealy"):
        Cadence.from_file(path)


def test_from_file_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Cadence.from_file(tmp_path / "nowhere.yaml")


# --- the optional yaml extra ----------------------------------------------------------------------


def test_missing_dependency_error_is_an_import_error_and_a_regua_error() -> None:
    error = MissingDependencyError("YAML cadences", "yaml", "yaml")
    assert isinstance(error, ImportError)
    assert isinstance(error, ReguaError)
    assert error.name == "yaml"
    assert error.extra == "yaml"
    assert error.feature == "YAML cadences"
    assert str(error) == (
        "YAML cadences needs the optional dependency 'yaml': "
        "install it with `pip install 'regua[yaml]'`"
    )


def test_missing_dependency_error_is_caught_as_import_error() -> None:
    with pytest.raises(ImportError):
        raise MissingDependencyError("SQL repositories", "sql", "sqlalchemy")


@pytest.fixture
def without_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `import yaml` fail, as when the extra is not installed."""
    monkeypatch.setitem(sys.modules, "yaml", None)


@pytest.mark.usefixtures("without_yaml")
def test_to_yaml_without_pyyaml_names_the_extra() -> None:
    with pytest.raises(MissingDependencyError, match=r"pip install 'regua\[yaml\]'"):
        expected().to_yaml()


@pytest.mark.usefixtures("without_yaml")
def test_from_yaml_without_pyyaml_names_the_extra(tmp_path: Path) -> None:
    with pytest.raises(MissingDependencyError, match=r"regua\[yaml\]"):
        Cadence.from_yaml(YAML_TEXT)
    path = tmp_path / "onboarding.yml"
    path.write_text(YAML_TEXT, encoding="utf-8")
    with pytest.raises(ImportError):
        Cadence.from_file(path)


@pytest.mark.usefixtures("without_yaml")
def test_json_needs_no_extra(tmp_path: Path) -> None:
    path = tmp_path / "onboarding.json"
    path.write_text(expected().to_json(), encoding="utf-8")
    assert Cadence.from_file(path) == expected()
