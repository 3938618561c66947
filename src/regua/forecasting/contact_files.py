"""Contacts for a forecast from a file (CSV, JSON Lines) or a regua database URL.

* ``contacts.jsonl``: one JSON object per line, the fields of a scenario contact (``id``,
  ``timezone``, ``attributes``, ``consents``, ``preferences``, ``addresses``,
  ``created_at``) and, for contacts already in flight, their ``events``
  (``[{"name": "signed_up", "at": "2026-03-01T12:00:00Z", "id": "s-1", "data": {}}]``).
* ``contacts.csv``: a header row, then one contact per row. Columns ``id``, ``timezone``,
  ``created_at``, ``consents`` and ``preferences`` (channel names separated by ``;``,
  ``,``, ``|`` or spaces), ``address.<channel>`` (``address.email``), and any other column
  is an attribute (``attributes.<name>`` also works). Attribute cells that read as
  integers, decimals or ``true``/``false`` become numbers and booleans; an empty cell leaves
  the attribute out.
* ``sqlite:///regua.db`` or ``postgresql://...`` (any SQLAlchemy URL): the `SQLRepository`
  the scheduler runs on, with every contact's history, so the forecast starts from the real
  state (needs the ``sql`` extra).

As in scenario files, what a record leaves out gets a default: consent to every channel of
the cadences, a placeholder address on each (nothing is sent) and ``created_at`` at the
forecast's start, so that schedules do not catch up on firings from before it.
Errors name the file, the line and the field, never the value (personal data).
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from regua.contact_documents import ScenarioContact
from regua.errors import ContactFileError, ReguaError
from regua.records import Contact, Event, Snapshot

__all__ = ["ContactFileError", "ContactRecord", "RecordedEvent", "is_database_url", "read_contacts"]

_URL = re.compile(r"^[a-z][a-z0-9+]*://", re.IGNORECASE)
_RESERVED = ("id", "timezone", "created_at", "consents", "preferences")
_SEPARATORS = re.compile(r"[;,|\s]+")


class RecordedEvent(BaseModel):
    """An event a contact already had before the forecast starts (JSON Lines files)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    at: datetime
    id: str | None = Field(default=None, min_length=1)
    data: dict[str, Any] = Field(default_factory=dict)


class ContactRecord(ScenarioContact):
    """A contact as a contacts file gives it: a scenario contact with its past events."""

    events: list[RecordedEvent] = Field(default_factory=list)

    def snapshot(self, channels: Iterable[str], start: datetime) -> Snapshot:
        """The contact's `Snapshot`, with the defaults filled in (see the module)."""
        names = sorted(set(channels))
        contact = Contact(
            self.id,
            attributes=self.attributes,
            timezone=self.timezone,
            consents=set(names) if self.consents is None else set(self.consents),
            preferences=self.preferences,
            addresses=(
                dict.fromkeys(names, "(placeholder)") if self.addresses is None else self.addresses
            ),
            created_at=self.created_at if self.created_at is not None else start,
        )
        events = [
            Event(self.id, event.name, event.at, id=event.id, data=event.data)
            for event in self.events
        ]
        return Snapshot(contact, events)


def is_database_url(spec: str) -> bool:
    """True for ``sqlite:///...``, ``postgresql://...`` and other URLs; False for a path."""
    return bool(_URL.match(spec))


def read_contacts(
    spec: str | os.PathLike[str], channels: Iterable[str], start: datetime
) -> list[Snapshot]:
    """Read a ``.csv`` or ``.jsonl`` contacts file into snapshots (see the module).

    Raises:
        ContactFileError: the file is missing, of an unknown kind, or a record is invalid;
            the message names the file, the line and the field.

    """
    path = Path(spec)
    name = os.fspath(spec)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise ContactFileError(
            f"{name}: expected a .csv or .jsonl contacts file, or a database URL "
            "(sqlite:///regua.db)"
        )
    if not path.is_file():
        raise ContactFileError(f"{name}: {'a directory' if path.is_dir() else 'no such file'}")
    channel_names = list(channels)
    records = _csv_records(path) if suffix == ".csv" else _jsonl_records(path)
    snapshots: list[Snapshot] = []
    seen: dict[str, int] = {}
    try:
        for line, data in records:
            where = f"{name}, line {line}"
            try:
                record = ContactRecord.model_validate(data)
                snapshot = record.snapshot(channel_names, start)
            except ValidationError as exc:
                raise ContactFileError(f"{where}: {_problems(exc)}") from None
            except ReguaError as exc:
                raise ContactFileError(f"{where}: {exc}") from None
            first = seen.setdefault(record.id, line)
            if first != line:
                raise ContactFileError(
                    f"{where}: duplicate contact id {record.id!r} (first on line {first})"
                )
            snapshots.append(snapshot)
    except UnicodeDecodeError as exc:
        raise ContactFileError(f"{name}: not a UTF-8 text file ({exc.reason})") from None
    except OSError as exc:
        raise ContactFileError(f"{name}: {exc.strerror or exc}") from None
    return snapshots


def _problems(error: ValidationError) -> str:
    # Field paths and messages only: pydantic's default text quotes the input value.
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"])
        parts.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(parts)


def _jsonl_records(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, 1):
            if not text.strip():
                continue
            try:
                yield number, json.loads(text)
            except json.JSONDecodeError as exc:
                raise ContactFileError(
                    f"{path}, line {number}: not valid JSON ({exc.msg}, column {exc.colno})"
                ) from None


def _csv_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        if "id" not in header:
            raise ContactFileError(f"{path}: the header row has no 'id' column")
        for row in reader:
            if None in row:
                raise ContactFileError(
                    f"{path}, line {reader.line_num}: more cells than the header has columns"
                )
            yield reader.line_num, _csv_contact(row)


def _csv_contact(row: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    addresses: dict[str, str] = {}
    has_addresses = False
    for column, raw in row.items():
        cell = (raw or "").strip()
        if column in ("consents", "preferences"):
            data[column] = [part for part in _SEPARATORS.split(cell) if part]
        elif column in _RESERVED:
            if cell:
                data[column] = cell
        elif column.startswith(("address.", "addresses.")):
            has_addresses = True
            if cell:
                addresses[column.split(".", 1)[1]] = cell
        else:
            name = column.removeprefix("attributes.")
            if cell:
                attributes[name] = _scalar(cell)
    if attributes:
        data["attributes"] = attributes
    if has_addresses:
        data["addresses"] = addresses
    return data


def _scalar(cell: str) -> Any:
    lowered = cell.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INTEGER.fullmatch(cell):
        return int(cell)
    if _DECIMAL.fullmatch(cell):
        return float(cell)
    # Anything else stays text: "007" (a code, not a number), dates, names.
    return cell


_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)\.[0-9]+")
