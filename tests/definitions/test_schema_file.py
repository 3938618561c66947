"""The checked-in JSON Schema is the one the models produce, and it describes the YAML form."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

import regua
import regua.definitions
from regua import Cadence

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "docs" / "cadence.schema.json"
EXPORT_SCRIPT = ROOT / "scripts" / "export_schema.py"
REGENERATE = "run `python scripts/export_schema.py` to regenerate it"


def expected_text() -> str:
    return json.dumps(regua.definitions.schema(), indent=2, sort_keys=True) + "\n"


def test_checked_in_schema_is_up_to_date() -> None:
    assert SCHEMA_FILE.is_file(), f"{SCHEMA_FILE} is missing: {REGENERATE}"
    current = SCHEMA_FILE.read_text(encoding="utf-8")
    assert current == expected_text(), (
        f"docs/cadence.schema.json differs from regua.definitions.schema(): {REGENERATE}"
    )


def test_export_script_writes_exactly_the_schema(tmp_path: Path) -> None:
    script = runpy.run_path(str(EXPORT_SCRIPT), run_name="export_schema")
    target = tmp_path / "schema.json"
    assert script["main"](["--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == expected_text()
    # --check passes on an up-to-date file and fails on a stale one.
    assert script["main"](["--check", "--output", str(target)]) == 0
    target.write_text("{}\n", encoding="utf-8")
    assert script["main"](["--check", "--output", str(target)]) == 1
    assert target.read_text(encoding="utf-8") == "{}\n"


def test_schema_is_json_and_describes_a_cadence() -> None:
    schema = regua.definitions.schema()
    json.dumps(schema)  # serialisable as is
    assert schema["title"] == "Cadence"
    assert set(schema["required"]) == {"name", "steps", "channels"}
    assert schema["additionalProperties"] is False
    step = schema["$defs"]["Step"]
    assert step["properties"]["delay"]["title"] == "Duration"
    # The YAML keys are the aliases (a negated condition is written `not:`).
    assert "not" in schema["$defs"]["Not"]["properties"]


def _validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft202012Validator(regua.definitions.schema())


RICH_YAML = """
name: service_recovery
timezone: America/Sao_Paulo
channels:
  - {name: email, cost: 0.001}
  - name: sms
    cost: 0.05
    quiet_hours: {start: '21:00', end: '08:00'}
  - {name: phone, cost: 2.0, kind: task}
policy:
  caps: [{max: 3, per: 7d}]
steps:
  - name: acknowledge
    trigger: {event: incident_opened, where: {severity: [high, critical]}}
    transactional: true
    channels: [email, sms]
    deadline: 4h
  - name: apology
    trigger: {after_step: acknowledge}
    delay: 1d
    at: '09:00'
    route:
      - when: {attr: tier, op: in, value: [gold, platinum]}
        channels: [phone]
    channels: [email]
    when:
      all:
        - {attr: email, op: exists}
        - not: {has_event: incident_closed, within: 1d}
        - any:
            - {event_count: complaint, within: 1y, op: '>=', value: 2}
            - {opened: acknowledge}
            - {clicked: acknowledge}
  - name: escalate
    trigger: {after_step: apology, outcome: expired}
    channels: [phone]
  - name: birthday
    trigger: {date: birth_date, every: year}
    channels: [email]
  - name: renewal
    trigger: {date: contract_end, offset: -30d}
    channels: [email]
  - name: digest
    trigger: {schedule: '0 9 * * MON'}
    channels: [email]
  - name: win_back
    trigger: {inactivity: 60d, activity: [login, order_placed]}
    channels: [email]
"""


def test_a_valid_cadence_satisfies_the_schema() -> None:
    validator = _validator()
    data = yaml.safe_load(RICH_YAML)
    Cadence.from_dict(data)  # valid for the models
    assert list(validator.iter_errors(data)) == []
    assert list(validator.iter_errors(Cadence.from_dict(data).to_dict())) == []


@pytest.mark.parametrize("outcome", ["failed", ["expired", "failed"], ["skipped"]])
def test_the_schema_takes_one_outcome_or_a_list(outcome: Any) -> None:
    validator = _validator()
    data = yaml.safe_load(RICH_YAML)
    data["steps"][2]["trigger"]["outcome"] = outcome
    Cadence.from_dict(data)
    assert list(validator.iter_errors(data)) == []
    assert list(validator.iter_errors(Cadence.from_dict(data).to_dict())) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("steps", 0, "dealy"), "1d"),  # unknown field
        (("steps", 0, "trigger"), {"evnt": "x"}),  # no trigger kind
        (("steps", 0, "delay"), "3 days"),  # not a duration
        (("steps", 0, "repeat"), "twice"),  # not an allowed value
        (("policy", "caps", 0, "max"), 0),  # below the minimum
        (("steps", 2, "trigger", "outcome"), "lost"),  # not an outcome
        (("steps", 2, "trigger", "outcome"), ["expired", "lost"]),  # one of them is not
        (("steps", 2, "trigger", "outcome"), ["expired", "expired"]),  # listed twice
        (("steps", 2, "trigger", "outcome"), []),  # none
    ],
)
def test_the_schema_rejects_what_the_models_reject(path: tuple[Any, ...], value: Any) -> None:
    validator = _validator()
    data = yaml.safe_load(RICH_YAML)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError):
        Cadence.from_dict(data)
    assert list(validator.iter_errors(data)) != []
