"""Contacts files for forecasts: CSV and JSON Lines, defaults, and errors without personal data."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from regua.forecasting import ContactFileError, read_contacts
from regua.forecasting.contact_files import is_database_url

UTC = timezone.utc
START = datetime(2026, 3, 2, 12, tzinfo=UTC)
CHANNELS = ["email", "sms", "phone"]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "contacts.csv",
        "id,timezone,tier,ltv,vip,birth_date,zip,consents,preferences,address.email,address.sms,created_at\n"
        "ana,America/Sao_Paulo,gold,1250.5,true,1990-03-10,01310,email;sms,sms,ana@example.com,+5511,2025-01-01T00:00:00Z\n"
        "bia,,bronze,3,false,,,email,,bia@example.com,,\n",
    )
    ana, bia = read_contacts(path, CHANNELS, START)
    assert ana.contact.attributes == {
        "tier": "gold",
        "ltv": 1250.5,
        "vip": True,
        "birth_date": "1990-03-10",
        "zip": "01310",  # a code keeps its leading zero
    }
    assert ana.contact.timezone == "America/Sao_Paulo"
    assert ana.contact.consents == {"email", "sms"}
    assert ana.contact.preferences == ("sms",)
    assert ana.contact.addresses == {"email": "ana@example.com", "sms": "+5511"}
    assert ana.contact.created_at == datetime(2025, 1, 1, tzinfo=UTC)
    # Empty cells: no attribute, no consent beyond the one given, no address, default dates.
    assert bia.contact.attributes == {"tier": "bronze", "ltv": 3, "vip": False}
    assert bia.contact.timezone is None
    assert bia.contact.addresses == {"email": "bia@example.com"}
    assert bia.contact.created_at == START


def test_csv_defaults_without_consent_or_address_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "contacts.csv", "id,tier\nana,gold\n")
    (ana,) = read_contacts(path, CHANNELS, START)
    assert ana.contact.consents == set(CHANNELS)
    assert set(ana.contact.addresses) == set(CHANNELS)


def test_jsonl_with_events(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "contacts.jsonl",
        '{"id": "ana", "attributes": {"birth_date": "1990-03-10"}, "consents": ["email"],'
        ' "addresses": {"email": "ana@example.com"},'
        ' "events": [{"name": "signed_up", "at": "2026-03-01T12:00:00Z", "id": "s1"}]}\n'
        "\n"
        '{"id": "bia"}\n',
    )
    ana, bia = read_contacts(path, CHANNELS, START)
    assert [(e.name, e.id, e.at.date()) for e in ana.events] == [
        ("signed_up", "s1", date(2026, 3, 1))
    ]
    assert ana.contact.consents == {"email"}
    assert bia.events == ()


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("c.csv", "name\nana\n", "c.csv: the header row has no 'id' column"),
        ("c.csv", "id,timezone\nana,Mars/Base\n", "c.csv, line 2: timezone"),
        ("c.csv", "id\nana\nana\n", "c.csv, line 3: duplicate contact id 'ana' (first on line 2)"),
        ("c.csv", "id,tier\nana,gold,extra\n", "c.csv, line 2: more cells than the header"),
        ("c.jsonl", '{"id": "ana"}\n{"id": \n', "c.jsonl, line 2: not valid JSON"),
        (
            "c.jsonl",
            '{"id": "ana", "mood": "secret-value"}\n',
            "c.jsonl, line 1: mood: Extra inputs",
        ),
        ("c.txt", "id\n", "c.txt: expected a .csv or .jsonl contacts file"),
    ],
)
def test_errors_name_the_file_line_and_field(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ContactFileError) as raised:
        read_contacts(path, CHANNELS, START)
    assert str(raised.value).replace(str(tmp_path) + "/", "").startswith(message)
    assert "secret-value" not in str(raised.value)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ContactFileError, match="no such file"):
        read_contacts(tmp_path / "nope.csv", CHANNELS, START)


def test_database_urls_are_told_from_paths() -> None:
    assert is_database_url("sqlite:///regua.db")
    assert is_database_url("postgresql+psycopg://u@h/db")
    assert not is_database_url("contacts.csv")
    assert not is_database_url("C:/data/contacts.csv")
